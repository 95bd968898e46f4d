/** The `cloud` stack (HYPERSCALE on AWS): every security property of the HSM, keys, cluster, nodes, bucket and registry. */
import assert from 'node:assert/strict';
import test from 'node:test';
import { assertResource, one, policyOf, resources, synthAll } from './helpers';

const { stacks, inputs } = synthAll();
const cloud = stacks.cloud!;
const roleRef = (prefix: string) => {
  const id = resources(cloud, 'aws_iam_role').find(([k]) => k.startsWith(prefix))?.[0];
  assert.ok(id, `no IAM role ${prefix}*`);
  return `\${aws_iam_role.${id}.arn}`;
};
const keyRef = (prefix: string, attr = 'arn') => `\${aws_kms_key.${resources(cloud, 'aws_kms_key').find(([k]) => k.startsWith(prefix))?.[0]}.${attr}}`;
const USE_ACTIONS = ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:Sign', 'kms:ReEncrypt*', 'kms:*'];

test('GIVEN the cloud stack WHEN synthesized THEN a CloudHSM v2 cluster of hsm2m.medium in FIPS mode is protected from destroy', () => {
  assertResource(cloud, 'aws_cloudhsm_v2_cluster', { hsm_type: 'hsm2m.medium', mode: 'FIPS', lifecycle: { prevent_destroy: true } });
});

test('GIVEN the HSM cluster WHEN its HSMs are placed THEN there are two, in the private subnets of two different AZs', () => {
  const hsms = resources(cloud, 'aws_cloudhsm_v2_hsm').map(([, r]) => r.subnet_id as string);
  assert.equal(hsms.length, 2);
  const subnetOf = (ref: string) => /aws_subnet\.([^.]+)\.id/.exec(ref)?.[1];
  const azs = hsms.map((ref) => resources(cloud, 'aws_subnet').find(([id]) => id === subnetOf(ref))?.[1].availability_zone);
  assert.equal(azs.length, 2);
  azs.forEach((az, i) => assert.match(String(az), new RegExp(`^\\$\\{element\\(data\\.aws_availability_zones\\.network_azs_[0-9A-F]+\\.names, ${i}\\)\\}$`)));
});

test('GIVEN the KMS custom key store WHEN synthesized THEN its password is only a reference to a sensitive variable without default', () => {
  const store = one(cloud, 'aws_kms_custom_key_store', 'hsm-keys_store');
  assert.equal(store.key_store_password, '${var.custom_key_store_password}');
  assert.equal(store.custom_key_store_type, 'AWS_CLOUDHSM');
  assert.match(store.cloud_hsm_cluster_id as string, /aws_cloudhsm_v2_cluster\./);
  const v = cloud.variable!.custom_key_store_password!;
  assert.equal(v.sensitive, true);
  assert.equal(v.default, null);
});

test('GIVEN the HSM data key WHEN synthesized THEN it is symmetric, lives in the key store, cannot auto-rotate and waits for cloudhsm_stage KEYS', () => {
  const key = one(cloud, 'aws_kms_key', 'hsm-keys_data-key');
  assert.equal(key.customer_master_key_spec, 'SYMMETRIC_DEFAULT');
  assert.equal(key.enable_key_rotation, false);
  assert.match(key.custom_key_store_id as string, /^\$\{one\(aws_kms_custom_key_store\.hsm-keys_store_[0-9A-F]+\[\*\]\.id\)\}$/);
  assert.equal(key.count, '${contains(["KEYS"], var.cloudhsm_stage) ? 1 : 0}');
  assert.deepEqual(key.lifecycle, { prevent_destroy: true });
});

test('GIVEN EKS pods (no Nitro enclave attestation on their requests) WHEN the data key policy is rendered THEN use is bound to the agents\' Pod Identity session tags, and the enclave condition only follows tpm_attestation.enclave_attestation (default false)', () => {
  const policy = one(cloud, 'aws_kms_key', 'hsm-keys_data-key').policy as string;
  const workload = '"Condition" = {"StringEquals" = {"aws:PrincipalTag/eks-cluster-name" = var.cluster_name, "aws:PrincipalTag/kubernetes-namespace" = ["control", "operations", "dmz"], "aws:PrincipalTag/kubernetes-service-account" = ["industrial-1", "cognitive-1", "data-1"]}';
  assert.ok(!policy.includes('var.tpm_attestation.enforce_measured_boot'), 'measured boot no longer gates the key: pods carry no attestation');
  assert.ok(policy.includes('var.tpm_attestation.enclave_attestation ? [{"Sid" = "RuntimeDataKeyUseOnlyFromAttestedEnclave"'), policy);
  assert.ok(policy.includes(`"Sid" = "RuntimeDataKeyUseFromItsWorkload", "Effect" = "Allow", "Principal" = {"AWS" = ${roleRef('runtime-identity_role').slice(2, -1)}}, "Action" = ["kms:Decrypt", "kms:GenerateDataKey"], "Resource" = "*", ${workload}}}`), policy);
  assert.ok(policy.includes('"StringEqualsIgnoreCase" = {"kms:RecipientAttestation:ImageSha384" = var.tpm_attestation.pcr_policy_hash}'));
  const tpm = cloud.variable!.tpm_attestation!.type as string;
  assert.match(tpm, /enclave_attestation = optional\(bool, false\)/);
  assert.ok(policy.includes(`"Principal" = {"AWS" = ${roleRef('runtime-identity_role').slice(2, -1)}}`));
  const admin = /"Sid" = "KeyAdministrationWithoutUse".*?"Action" = \[(.*?)\]/.exec(policy)?.[1] ?? '';
  for (const a of USE_ACTIONS) assert.ok(!admin.includes(`"${a}"`), `admin statement grants ${a}`);
});

test('GIVEN dilithium_aes_fusion WHEN it is toggled THEN no prevent_destroy key changes spec (that would replace it): both signing keys exist with fixed specs and only the alias moves', () => {
  const keys = resources(cloud, 'aws_kms_key').filter(([id]) => id.startsWith('audit-signing-key'));
  // ML_DSA_44 is the post-quantum cosigner, always present beside the active key.
  assert.deepEqual(keys.map(([, k]) => k.customer_master_key_spec).sort(), ['ECC_NIST_P384', 'ML_DSA_44', 'ML_DSA_65']);
  for (const [, key] of keys) {
    assert.equal(key.key_usage, 'SIGN_VERIFY');
    assert.deepEqual(key.lifecycle, { prevent_destroy: true });
    const signers = policyOf(key).Statement.filter((st) => JSON.stringify(st.Action).includes('kms:Sign'));
    assert.equal(signers.length, 1);
    assert.deepEqual(signers[0]!.Principal, { AWS: roleRef('runtime-identity_role') });
    assert.deepEqual(signers[0]!.Action, ['kms:Sign']);
    assert.deepEqual(signers[0]!.Condition, { StringEquals: { 'kms:SigningAlgorithm': key.customer_master_key_spec === 'ECC_NIST_P384' ? 'ECDSA_SHA_384' : 'ML_DSA_SHAKE_256' } });
  }
  const alias = one(cloud, 'aws_kms_alias', 'audit-signing-key_alias');
  // The ECC key keeps its pre-existing logical id: deployments made before the ML-DSA key existed keep their key.
  assert.equal(alias.target_key_id, `\${(tostring(var.quantum_safe.dilithium_aes_fusion ? "ML_DSA_65" : "ECC_NIST_P384") == "ML_DSA_65") ? ${keyRef('audit-signing-key_key-ml-dsa', 'key_id').slice(2, -1)} : ${keyRef('audit-signing-key_B', 'key_id').slice(2, -1)}}`);
});

test('GIVEN every KMS key WHEN its policy is read THEN the account root administers but never uses it, and no statement grants kms:*', () => {
  for (const [id, key] of resources(cloud, 'aws_kms_key')) {
    const text = key.policy as string;
    assert.ok(!text.includes('"kms:*"'), `${id} grants kms:*`);
    if (text.startsWith('{')) {
      const admin = policyOf(key).Statement.find((s) => s.Sid === 'KeyAdministrationWithoutUse');
      for (const a of USE_ACTIONS) assert.ok(!(admin!.Action as string[]).includes(a), `${id}: admin grants ${a}`);
    }
  }
});

test('GIVEN the platform key WHEN synthesized THEN it rotates, and EKS and S3 may use it only through their services', () => {
  const key = one(cloud, 'aws_kms_key', 'platform-key');
  assert.equal(key.enable_key_rotation, true);
  const st = policyOf(key).Statement;
  assert.deepEqual(st.find((s) => s.Sid === 'EksSecretsEnvelopeEncryption')!.Condition, { StringEquals: { 'kms:ViaService': 'eks.${var.region}.amazonaws.com' } });
  assert.deepEqual(st.find((s) => s.Sid === 'AuditBucketThroughS3Only')!.Condition, { StringEquals: { 'kms:ViaService': 's3.${var.region}.amazonaws.com' } });
});

test('GIVEN the runtime role WHEN its IAM policies are read THEN its only KMS right is Sign/GetPublicKey on the signing key and it assumes through EKS Pod Identity', () => {
  const role = one(cloud, 'aws_iam_role', 'runtime-identity_role');
  assert.deepEqual(JSON.parse(role.assume_role_policy as string).Statement[0].Principal, { Service: 'pods.eks.amazonaws.com' });
  const statements = resources(cloud, 'aws_iam_role_policy').filter(([id]) => id.startsWith('runtime-identity')).flatMap(([, p]) => policyOf(p).Statement);
  const kms = statements.filter((s) => JSON.stringify(s.Action).includes('kms:'));
  assert.deepEqual(kms, [{ Sid: 'SignAuditCheckpoints', Effect: 'Allow', Action: ['kms:Sign', 'kms:GetPublicKey'], Resource: [keyRef('audit-signing-key_B'), keyRef('audit-signing-key_key-ml-dsa'), keyRef('audit-signing-key_key-cosigner')] }]);
  // Sealed segments carry their own retain-until date: PutObjectRetention, under segments/ only.
  assert.deepEqual(statements.find((st) => st.Sid === 'WriteSealedSegments')!.Action, ['s3:PutObject', 's3:PutObjectRetention', 's3:GetObject']);
});

test('GIVEN the agents of config/glimmer.yml WHEN the cloud stack is synthesized THEN each agent service account has a pod identity association with the runtime role', () => {
  const runtime = resources(cloud, 'aws_eks_pod_identity_association').filter(([id]) => id.startsWith('runtime-identity'));
  assert.deepEqual(runtime.map(([, r]) => `${r.namespace}/${r.service_account}`).sort(), inputs.config.agents.map((a) => `${a.zone}/${a.name}`).sort());
  for (const [, r] of runtime) assert.equal(r.role_arn, roleRef('runtime-identity_role'));
  const addons = resources(cloud, 'aws_eks_pod_identity_association').filter(([id]) => id.startsWith('addon-identities'));
  assert.deepEqual(addons.map(([, r]) => `${r.namespace}/${r.service_account}`).sort(), ['kube-system/aws-load-balancer-controller', 'kube-system/karpenter']);
});

test('GIVEN the VPC WHEN synthesized THEN it spans three AZs with private subnets that never map public IPs', () => {
  const priv = resources(cloud, 'aws_subnet').filter(([id]) => id.startsWith('network_private'));
  assert.equal(priv.length, 3);
  assert.deepEqual(priv.map(([, s]) => s.map_public_ip_on_launch), [false, false, false]);
  assert.equal(new Set(priv.map(([, s]) => s.availability_zone)).size, 3);
});

test('GIVEN the EKS cluster WHEN synthesized THEN its endpoint is private, secrets are encrypted with our key, access is API-mode entries and audit logs are on', () => {
  const c = one(cloud, 'aws_eks_cluster', 'eks_cluster');
  assert.deepEqual({ ...(c.vpc_config as Record<string, unknown>), subnet_ids: undefined }, { endpoint_private_access: true, endpoint_public_access: false, subnet_ids: undefined });
  assert.deepEqual(c.encryption_config, { provider: { key_arn: keyRef('platform-key') }, resources: ['secrets'] });
  assert.deepEqual(c.access_config, { authentication_mode: 'API', bootstrap_cluster_creator_admin_permissions: false });
  assert.ok((c.enabled_cluster_log_types as string[]).includes('audit'));
  assertResource(cloud, 'aws_eks_access_entry', { principal_arn: '${each.value}', type: 'STANDARD' });
  assertResource(cloud, 'aws_eks_access_policy_association', { access_scope: { type: 'cluster' } });
});

test('GIVEN cluster_autoscaling WHEN node groups are synthesized THEN one fixed-size group per AZ holds the floor ceil(min_size/3), after the before-compute add-ons', () => {
  const groups = resources(cloud, 'aws_eks_node_group');
  assert.equal(groups.length, 3);
  const addons = resources(cloud, 'aws_eks_addon');
  const before = addons.filter(([, a]) => ['vpc-cni', 'kube-proxy', 'eks-pod-identity-agent'].includes(a.addon_name as string)).map(([id]) => `aws_eks_addon.${id}`);
  for (const [, g] of groups) {
    const floor = '${ceil((var.cluster_autoscaling.min_size / 3))}';
    assert.deepEqual(g.scaling_config, { desired_size: floor, max_size: floor, min_size: floor });
    for (const b of before) assert.ok((g.depends_on as string[]).includes(b), `node group does not wait for ${b}`);
  }
  const coredns = addons.find(([, a]) => a.addon_name === 'coredns')![1];
  assert.equal((coredns.depends_on as string[]).filter((d) => d.startsWith('aws_eks_node_group.')).length, 3);
});

test('GIVEN the nodes WHEN their launch template is read THEN IMDSv2 is required with hop limit 1 and root volumes are encrypted with our key', () => {
  assertResource(cloud, 'aws_launch_template', { metadata_options: { http_tokens: 'required', http_put_response_hop_limit: 1 }, block_device_mappings: [{ ebs: { encrypted: 'true', kms_key_id: keyRef('platform-key') } }] });
  const st = policyOf(one(cloud, 'aws_kms_key', 'platform-key')).Statement;
  const ebs = st.find((s) => s.Sid === 'NodeVolumesThroughEc2Only')!;
  assert.match(JSON.stringify(ebs.Principal), /AWSServiceRoleForAutoScaling/);
  assert.deepEqual(ebs.Condition, { StringEquals: { 'kms:ViaService': 'ec2.${var.region}.amazonaws.com' } });
  assert.deepEqual(st.find((s) => s.Sid === 'NodeVolumeGrantsForAwsResourcesOnly')!.Condition, { Bool: { 'kms:GrantIsForAWSResource': 'true' } });
});

test('GIVEN pending pods or idle nodes WHEN the cloud cluster scales THEN Karpenter does it (no ASG predictive policy, which never scales in): its roles, node access entry, interruption queue and discovery tags exist', () => {
  assert.equal(resources(cloud, 'aws_autoscaling_policy').length, 0);
  assertResource(cloud, 'aws_iam_role', { name: '${var.cluster_name}-karpenter-node' });
  assertResource(cloud, 'aws_eks_access_entry', { type: 'EC2_LINUX' });
  assertResource(cloud, 'aws_sqs_queue', { name: '${var.cluster_name}-karpenter', kms_master_key_id: keyRef('platform-key') });
  assert.equal(resources(cloud, 'aws_cloudwatch_event_target').length, 4);
  for (const [, subnet] of resources(cloud, 'aws_subnet').filter(([id]) => id.includes('private'))) assert.equal((subnet.tags as Record<string, string>)['karpenter.sh/discovery'], '${var.cluster_name}');
  assertResource(cloud, 'aws_ec2_tag', { key: 'karpenter.sh/discovery', value: '${var.cluster_name}' });
  // Karpenter launches nodes with its controller role: the platform key must admit it for encrypted volumes.
  const ebs = policyOf(one(cloud, 'aws_kms_key', 'platform-key')).Statement.find((st) => st.Sid === 'NodeVolumesThroughEc2Only')!;
  assert.match(JSON.stringify(ebs.Principal), /aws_iam_role\.addon-identities_karpenter-role/);
});

test('GIVEN the audit bucket WHEN synthesized THEN Object Lock is COMPLIANCE for audit_retention_days, SSE-KMS with our key, public access blocked and TLS-only', () => {
  assertResource(cloud, 'aws_s3_bucket', { object_lock_enabled: true, force_destroy: false, lifecycle: { prevent_destroy: true } });
  assertResource(cloud, 'aws_s3_bucket_object_lock_configuration', { object_lock_enabled: 'Enabled', rule: { default_retention: { mode: '${var.audit_object_lock_mode}', days: '${var.audit_retention_days}' } } });
  assert.equal(cloud.variable!.audit_object_lock_mode!.default, 'COMPLIANCE');
  assertResource(cloud, 'aws_s3_bucket_server_side_encryption_configuration', { rule: [{ bucket_key_enabled: true, apply_server_side_encryption_by_default: { sse_algorithm: 'aws:kms', kms_master_key_id: keyRef('platform-key') } }] });
  assertResource(cloud, 'aws_s3_bucket_public_access_block', { block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
  assertResource(cloud, 'aws_s3_bucket_versioning', { versioning_configuration: { status: 'Enabled' } });
  const st = policyOf(one(cloud, 'aws_s3_bucket_policy', 'audit-bucket')).Statement;
  assert.deepEqual(st.find((s) => s.Sid === 'DenyInsecureTransport')!.Condition, { Bool: { 'aws:SecureTransport': 'false' } });
  assert.equal(st.find((s) => s.Sid === 'DenyUploadsNotEncryptedWithOurKey')!.Effect, 'Deny');
});

test('GIVEN the image repository WHEN synthesized THEN tags are immutable, images are scanned on push and encrypted with our KMS key', () => {
  assertResource(cloud, 'aws_ecr_repository', {
    image_tag_mutability: 'IMMUTABLE',
    image_scanning_configuration: { scan_on_push: true },
    encryption_configuration: [{ encryption_type: 'KMS', kms_key: keyRef('platform-key') }],
    force_delete: false,
  });
});

test('GIVEN the cloud stack WHEN its outputs are read THEN the HSM CSR, key ARNs, bucket and repository URL are published', () => {
  for (const name of ['cluster_name', 'hsm_cluster_csr', 'data_key_arn', 'signing_key_arn', 'audit_bucket', 'ecr_repository_url', 'runtime_role_arn']) {
    assert.ok(cloud.output?.[name], `missing output ${name}`);
  }
});
