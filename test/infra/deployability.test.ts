/**
 * What a real `cdktf deploy` needs that the synthesized JSON must already say: network policy enforcement on EKS, a
 * way for Terraform to reach and authenticate to a private cluster for the whole Helm wait, a way out of a
 * REGISTRY_ONLY mesh to the AWS APIs, autoscaling that adds and removes nodes, rollouts and drains that a
 * single-replica agent survives, supported versions, and the smaller deployment hazards (state with secrets, the HSM
 * CSR, logs kept, the plant route).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { findManifest, manifests, one, policyOf, resources, synthAll, type K8sManifest } from './helpers';
import { DEFAULT_ISTIO_VERSION } from '../../modules/topology-variables';

const { stacks, inputs } = synthAll();
const cloud = stacks.cloud!;

test('GIVEN the vpc-cni add-on WHEN synthesized THEN it enables the network policy agent (else EKS ignores every zone NetworkPolicy) and caps the warm IP pool', () => {
  const cni = resources(cloud, 'aws_eks_addon').find(([, a]) => a.addon_name === 'vpc-cni')![1];
  assert.deepEqual(JSON.parse(cni.configuration_values as string), { enableNetworkPolicy: 'true', env: { WARM_IP_TARGET: '2' } });
});

for (const name of ['cloud-platform', 'cloud-runtime']) {
  test(`GIVEN ${name} WHEN its kubernetes and helm providers connect THEN they run aws eks get-token per connection (exec), never a token read once at plan`, () => {
    const s = stacks[name]!;
    assert.equal(Object.keys(s.data?.aws_eks_cluster_auth ?? {}).length, 0);
    const exec = { api_version: 'client.authentication.k8s.io/v1beta1', command: 'aws', args: ['eks', 'get-token', '--cluster-name', '${var.cluster_name}', '--region', '${var.region}', '--output', 'json'] };
    const k8s = (s.provider as Record<string, Array<Record<string, unknown>>>).kubernetes![0]!;
    assert.deepEqual(k8s.exec, [exec]);
    assert.equal(k8s.token, undefined);
    const helm = (s.provider as Record<string, Array<{ kubernetes: Record<string, unknown> }>>).helm![0]!;
    assert.deepEqual(helm.kubernetes.exec, exec);
  });
}

test('GIVEN a private EKS endpoint WHEN the cloud stack is read THEN the identity running Terraform gets cluster-admin (cluster_creator_admin, default true) and deployer_cidrs open 443 on the cluster security group', () => {
  const entry = one(cloud, 'aws_eks_access_entry', 'eks_creator-entry');
  assert.equal(entry.count, '${var.cluster_creator_admin ? 1 : 0}');
  assert.match(entry.principal_arn as string, /data\.aws_iam_session_context\.eks_session_[0-9A-F]+\.issuer_arn/);
  assert.equal(cloud.variable!.cluster_creator_admin!.default, true);
  const rule = one(cloud, 'aws_vpc_security_group_ingress_rule', 'eks_deployer-https');
  assert.equal(rule.for_each, '${toset(var.deployer_cidrs)}');
  assert.deepEqual([rule.from_port, rule.to_port, rule.ip_protocol], [443, 443, 'tcp']);
  assert.match(rule.security_group_id as string, /vpc_config\[0\]\.cluster_security_group_id/);
});

for (const name of ['edge-runtime', 'cloud-runtime']) {
  test(`GIVEN ${name} under REGISTRY_ONLY egress and default-deny zones WHEN the agents call KMS, S3 and STS THEN ServiceEntries name those hosts and an egress NetworkPolicy opens their port`, () => {
    const entries = manifests(stacks[name]!).filter((m) => m.manifest.kind === 'ServiceEntry').map((m) => m.manifest as K8sManifest & { spec: { hosts: string[]; location: string; ports: Array<{ protocol: string }> } });
    const hosts = entries.flatMap((e) => e.spec.hosts).join(' ');
    for (const service of name === 'cloud-runtime' ? ['kms', 'sts', 's3'] : ['kms', 's3']) assert.ok(entries.some((e) => e.metadata.name === `glimmer-${service}`), service);
    if (name === 'cloud-runtime') {
      for (const h of ['kms.${var.region}.amazonaws.com', 'sts.${var.region}.amazonaws.com', 's3.${var.region}.amazonaws.com']) assert.ok(hosts.includes(h), h);
    }
    for (const e of entries) assert.deepEqual([e.spec.location, e.spec.ports[0]!.protocol], ['MESH_EXTERNAL', 'TLS']);
    for (const zone of new Set(inputs.config.agents.map((a) => a.zone))) {
      const np = findManifest(stacks[name]!, 'NetworkPolicy', 'allow-aws-apis', zone).spec as { egress: Array<{ to: Array<{ ipBlock: { cidr: string } }>; ports: Array<{ port: unknown }> }> };
      const podIdentity = np.egress.find((r) => r.to[0]!.ipBlock.cidr === '169.254.170.23/32');
      if (name === 'cloud-runtime') assert.deepEqual(podIdentity?.ports, [{ protocol: 'TCP', port: 80 }], 'the Pod Identity agent');
      else assert.equal(podIdentity, undefined);
    }
  });
}

test('GIVEN pending pods and CPU-based HPAs WHEN cloud-platform installs the cluster add-ons THEN Karpenter and metrics-server are installed from pinned charts, and cloud-runtime gives Karpenter a NodePool bounded by max_size', () => {
  const releases = Object.fromEntries(resources(stacks['cloud-platform']!, 'helm_release').map(([, r]) => [r.name as string, r]));
  for (const n of ['karpenter', 'metrics-server', 'aws-load-balancer-controller']) assert.match(String(releases[n]?.version), /^\d+\.\d+\.\d+$/, n);
  const pool = findManifest(stacks['cloud-runtime']!, 'NodePool', 'glimmer') as K8sManifest & { spec: { limits: { nodes: string }; disruption: { consolidationPolicy: string; consolidateAfter: string } } };
  assert.equal(pool.spec.limits.nodes, '${max(var.cluster_autoscaling.max_size - ceil(var.cluster_autoscaling.min_size / 3) * 3, 0)}');
  assert.equal(pool.spec.disruption.consolidationPolicy, '${var.cluster_autoscaling.scaling_policy == "AI_PREDICTIVE_2023" ? "WhenEmptyOrUnderutilized" : "WhenEmpty"}');
  const nodeClass = findManifest(stacks['cloud-runtime']!, 'EC2NodeClass', 'glimmer').spec as { metadataOptions: Record<string, unknown>; role: string; kubelet: { maxPods: number } };
  assert.deepEqual(nodeClass.metadataOptions, { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1 });
  assert.equal(nodeClass.role, '${var.cluster_name}-karpenter-node');
  assert.equal(nodeClass.kubelet.maxPods, 29);
});

for (const name of ['edge-runtime', 'cloud-runtime']) {
  test(`GIVEN the single-replica industrial agent in ${name} WHEN it rolls or its node drains THEN the old pod stops before the new one starts (StatefulSet) and its PDB allows the drain (maxUnavailable 1, no minAvailable)`, () => {
    for (const a of inputs.config.agents) {
      const sts = findManifest(stacks[name]!, 'StatefulSet', a.name, a.zone).spec as { updateStrategy: { type: string }; podManagementPolicy: string };
      assert.equal(sts.updateStrategy.type, 'RollingUpdate');
      const pdb = findManifest(stacks[name]!, 'PodDisruptionBudget', a.name, a.zone).spec as Record<string, unknown>;
      assert.equal(pdb.maxUnavailable, 1);
      assert.equal(pdb.minAvailable, undefined);
    }
  });
}

test('GIVEN the defaults WHEN synthesized THEN Kubernetes and Istio are in support: EKS 1.35 with the STANDARD upgrade policy (never extended-support billing) and Istio 1.30.3', () => {
  assert.equal(cloud.variable!.kubernetes_version!.default, '1.35');
  assert.deepEqual(one(cloud, 'aws_eks_cluster', 'eks_cluster').upgrade_policy, { support_type: 'STANDARD' });
  assert.equal(DEFAULT_ISTIO_VERSION, '1.30.3');
  assert.match(stacks.edge!.variable!.service_mesh!.type as string, /istio_version = optional\(string, "1\.30\.3"\)/);
});

test('GIVEN the CloudHSM cluster WHEN its CSR is published THEN it is read back after the HSMs exist (a data source), not the cluster attribute that stays empty until a refresh', () => {
  const out = cloud.output!.hsm_cluster_csr!.value as string;
  assert.match(out, /^\$\{data\.aws_cloudhsm_v2_cluster\.hsm-state\.cluster_certificates\[0\]\.cluster_csr\}$/);
  const data = (cloud.data!.aws_cloudhsm_v2_cluster as Record<string, { depends_on: string[] }>)['hsm-state']!;
  assert.equal(data.depends_on.filter((d) => d.startsWith('aws_cloudhsm_v2_hsm.')).length, 2);
  assert.ok(cloud.output!.hsm_cluster_state);
});

test('GIVEN the cloud stack WHEN its logs are read THEN VPC flow logs and the EKS control-plane log group keep log_retention_days and are encrypted with the platform key', () => {
  const groups = resources(cloud, 'aws_cloudwatch_log_group');
  assert.equal(groups.length, 2);
  for (const [, g] of groups) {
    assert.equal(g.retention_in_days, '${var.log_retention_days}');
    assert.match(g.kms_key_id as string, /aws_kms_key\.platform-key/);
  }
  assert.equal(resources(cloud, 'aws_flow_log')[0]![1].traffic_type, 'ALL');
  assert.deepEqual(one(cloud, 'aws_cloudwatch_log_group', 'eks_log-group').name, '/aws/eks/${var.cluster_name}/cluster');
});

test('GIVEN the cloud topology WHEN plant_network is set THEN a transit gateway attachment and a route in every private route table reach the plant; unset, none is created', () => {
  const attachment = one(cloud, 'aws_ec2_transit_gateway_vpc_attachment', 'network_plant-attachment');
  assert.equal(attachment.count, '${var.plant_network == null ? 0 : 1}');
  const routes = resources(cloud, 'aws_route').filter(([id]) => id.startsWith('network_plant-route'));
  assert.equal(routes.length, 3);
  for (const [, r] of routes) assert.equal(r.destination_cidr_block, '${try(var.plant_network.cidr, "")}');
});

test('GIVEN no GLIMMER_STATE_BUCKET WHEN the cloud stack (whose state holds the key store password) is synthesized THEN its backend is encrypted S3 and terraform init refuses to run without a bucket: never local state', () => {
  const backend = (cloud.terraform as { backend: Record<string, Record<string, unknown>> }).backend;
  assert.deepEqual(Object.keys(backend), ['s3']);
  assert.deepEqual(backend.s3, { encrypt: true, key: 'glimmer/cloud.tfstate', use_lockfile: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-backend-'));
  try {
    fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify({ terraform: { backend } }));
    const rc = path.join(dir, 'rc');
    fs.writeFileSync(rc, '');
    const init = spawnSync('terraform', ['init', '-input=false', '-no-color'], { cwd: dir, encoding: 'utf8', env: { ...process.env, TF_CLI_CONFIG_FILE: rc, TF_IN_AUTOMATION: '1' } });
    assert.notEqual(init.status, 0);
    assert.match(`${init.stdout}${init.stderr}`.replace(/\s+/g, ' '), /bucket/i);
    assert.ok(!fs.existsSync(path.join(dir, 'terraform.tfstate')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(Object.keys((stacks.edge!.terraform as { backend: object }).backend), ['local'], 'edge stacks hold no secret: local state stays possible');
});

test('GIVEN the agents\' state volume claims on EKS WHEN they are provisioned THEN the EBS CSI driver add-on (with its Pod Identity) exists after the nodes, and the StorageClass they name is gp3, encrypted with the platform key and Retain', () => {
  const csi = resources(cloud, 'aws_eks_addon').find(([, a]) => a.addon_name === 'aws-ebs-csi-driver')![1];
  assert.deepEqual((csi.pod_identity_association as Array<Record<string, unknown>>)[0]!.service_account, 'ebs-csi-controller-sa');
  assert.equal((csi.depends_on as string[]).filter((d) => d.startsWith('aws_eks_node_group.')).length, 3);
  const sc = findManifest(stacks['cloud-platform']!, 'StorageClass', 'glimmer-gp3') as K8sManifest & { parameters: Record<string, string>; reclaimPolicy: string; provisioner: string };
  assert.equal(sc.provisioner, 'ebs.csi.aws.com');
  assert.deepEqual({ ...sc.parameters, kmsKeyId: /data\.aws_kms_alias\.addons_volume-key_[0-9A-F]+\.target_key_arn/.test(sc.parameters.kmsKeyId!) }, { type: 'gp3', encrypted: 'true', kmsKeyId: true });
  assert.equal(sc.reclaimPolicy, 'Retain');
  for (const a of inputs.config.agents) {
    const sts = findManifest(stacks['cloud-runtime']!, 'StatefulSet', a.name, a.zone).spec as { volumeClaimTemplates: Array<{ spec: { storageClassName?: string } }> };
    assert.equal(sts.volumeClaimTemplates[0]!.spec.storageClassName, 'glimmer-gp3');
    const edge = findManifest(stacks['edge-runtime']!, 'StatefulSet', a.name, a.zone).spec as { volumeClaimTemplates: Array<{ spec: { storageClassName?: string } }> };
    assert.equal(edge.volumeClaimTemplates[0]!.spec.storageClassName, undefined, 'the edge cluster\'s default class');
  }
  const ebs = policyOf(one(cloud, 'aws_kms_key', 'platform-key')).Statement.find((st) => st.Sid === 'NodeVolumesThroughEc2Only')!;
  assert.match(JSON.stringify(ebs.Principal), /aws_iam_role\.addon-identities_ebs-csi-role/);
});
