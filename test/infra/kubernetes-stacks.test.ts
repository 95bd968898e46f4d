/**
 * The Kubernetes stacks of both topologies: zones, NetworkPolicies, Istio, mesh policies and the runtime workloads.
 * Every object is also validated against its upstream schema (kubernetes-models, @kubernetes-models/istio,
 * @kubernetes-models/prometheus-operator).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { StorageClass } from 'kubernetes-models/storage.k8s.io/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication';
import { ServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1beta1/ServiceEntry';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { A2A_PORT, LABELS, portsOf } from '../../modules/zone-model';
import { findManifest, K8S_STACKS, manifests, resources, synthAll, type K8sManifest } from './helpers';
import { a2aZonesOf } from '../../stacks/platform-stack';

const { stacks, inputs } = synthAll();
interface PodSpec {
  securityContext: unknown;
  automountServiceAccountToken: boolean;
  affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: unknown } } };
  containers: Array<{ securityContext: unknown; image: string; env: Array<{ name: string; value: string }>; args: string[] }>;
}
const cfg = inputs.config;
const level = new Map(cfg.zones.map((z) => [z.name, z.isa95_level]));

type Model = new (data: never) => { validate(): void };
const MODELS: Record<string, Model> = {
  'v1/Namespace': Namespace as unknown as Model,
  'v1/ConfigMap': ConfigMap as unknown as Model,
  'v1/Service': Service as unknown as Model,
  'v1/ServiceAccount': ServiceAccount as unknown as Model,
  'apps/v1/StatefulSet': StatefulSet as unknown as Model,
  'storage.k8s.io/v1/StorageClass': StorageClass as unknown as Model,
  'networking.istio.io/v1beta1/ServiceEntry': ServiceEntry as unknown as Model,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler as unknown as Model,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as unknown as Model,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy as unknown as Model,
  'security.istio.io/v1/AuthorizationPolicy': AuthorizationPolicy as unknown as Model,
  // @kubernetes-models/istio 2.3 ships PeerAuthentication as v1beta1 only; Istio's v1 schema is the same.
  'security.istio.io/v1/PeerAuthentication': PeerAuthentication as unknown as Model,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor as unknown as Model,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule as unknown as Model,
};

for (const name of K8S_STACKS) {
  test(`GIVEN the ${name} stack WHEN every kubernetes_manifest is built into its upstream model THEN each validates against the schema`, () => {
    const all = manifests(stacks[name]!);
    assert.ok(all.length > 0);
    for (const { id, manifest } of all) {
      // Karpenter's CRDs ship in no model package: their fields are typed in modules/karpenter-node-pool.ts.
      if (manifest.apiVersion.startsWith('karpenter.')) continue;
      const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
      assert.ok(Model, `${id}: no schema model for ${manifest.apiVersion}/${manifest.kind}`);
      let data: K8sManifest = manifest.kind === 'PeerAuthentication' ? { ...manifest, apiVersion: 'security.istio.io/v1beta1' } : manifest;
      if (manifest.kind === 'ServiceEntry') {
        // An edge endpoint's port is one whole Terraform expression (a number once evaluated); the schema sees it then.
        const spec = manifest.spec as { ports: Array<{ number: unknown }> };
        data = { ...manifest, spec: { ...spec, ports: spec.ports.map((p) => ({ ...p, number: /^\$\{.*\}$/.test(String(p.number)) ? 443 : p.number })) } };
      }
      if (manifest.kind === 'StatefulSet') {
        // Edge agents' limits are one Terraform expression (the TPM device behind tpm_attestation.node_tpm): both of its
        // evaluated forms are validated in runtime-contract.test.ts; here the schema sees the CPU and memory limits.
        const spec = manifest.spec as { template: { spec: { containers: Array<{ resources: { limits: unknown } }> } } };
        const containers = spec.template.spec.containers.map((c) => (/^\$\{merge\(/.test(String(c.resources.limits)) ? { ...c, resources: { ...c.resources, limits: { cpu: '1', memory: '512Mi' } } } : c));
        data = { ...manifest, spec: { ...spec, template: { ...spec.template, spec: { ...spec.template.spec, containers } } } };
      }
      assert.doesNotThrow(() => new Model(data as never).validate(), `${id} (${manifest.kind} ${manifest.metadata.namespace}/${manifest.metadata.name})`);
    }
  });
}

test('GIVEN a manifest that breaks its schema WHEN validated THEN the model refuses it (the schema check is not vacuous)', () => {
  const np = findManifest(stacks.edge!, 'NetworkPolicy', 'default-deny', 'control');
  assert.throws(() => new NetworkPolicy({ ...np, spec: { podSelector: {}, policyTypes: 'Ingress' } } as never).validate());
});

for (const name of ['edge', 'cloud-platform']) {
  const stack = () => stacks[name]!;

  test(`GIVEN the zone model WHEN ${name} creates namespaces THEN each zone has one labelled with its ISA-95 level, IEC 62443 SL and Pod Security restricted`, () => {
    for (const zone of cfg.zones) {
      const ns = findManifest(stack(), 'Namespace', zone.name);
      assert.equal(ns.metadata.labels![LABELS.isa95Level], String(zone.isa95_level));
      assert.equal(ns.metadata.labels![LABELS.securityLevel], zone.name === 'safety' ? '${var.safety_zone_level}' : String(zone.security_level));
      assert.equal(ns.metadata.labels!['pod-security.kubernetes.io/enforce'], 'restricted');
      assert.equal(ns.metadata.labels!['istio-injection'], 'enabled');
    }
  });

  test(`GIVEN the zones WHEN ${name} creates NetworkPolicies THEN every zone has a default deny of ingress and egress`, () => {
    for (const zone of cfg.zones) {
      const np = findManifest(stack(), 'NetworkPolicy', 'default-deny', zone.name);
      assert.deepEqual(np.spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    }
  });

  test(`GIVEN the conduits WHEN ${name} opens cross-zone traffic THEN exactly the conduits are open, on their ports, and level 4 never reaches levels 0-2`, () => {
    const open: string[] = [];
    for (const { manifest } of manifests(stack()).filter((m) => m.manifest.kind === 'NetworkPolicy')) {
      const spec = manifest.spec as { ingress?: Array<{ from?: Array<Record<string, { matchLabels?: Record<string, string> }>>; ports?: Array<{ port: number }> }> };
      for (const rule of spec.ingress ?? []) {
        for (const peer of rule.from ?? []) {
          const fromZone = peer.namespaceSelector?.matchLabels?.[LABELS.zone];
          if (!fromZone) continue;
          const to = manifest.metadata.namespace!;
          open.push(`${fromZone}->${to}:${(rule.ports ?? []).map((p) => p.port).join(',')}`);
          const levels = [level.get(fromZone)!, level.get(to)!];
          assert.ok(!(levels.includes(4) && levels.some((l) => l <= 2)), `level 4 <-> 0-2 path ${fromZone}->${to}`);
        }
      }
    }
    // An a2a conduit also opens its A2A port the other way (either agent may call, as the runtime's PDP reads it),
    // into zones where an agent serves A2A (the data agent in the DMZ serves none: no port opens there for nothing).
    const a2aZones = a2aZonesOf(cfg.agents as never);
    const expected = cfg.conduits.flatMap((c) => [
      `${c.from}->${c.to}:${portsOf(c.protocols as never).join(',')}`,
      ...(c.protocols.includes('a2a') && a2aZones.includes(c.from) ? [`${c.to}->${c.from}:${A2A_PORT}`] : []),
    ]);
    assert.deepEqual(open.sort(), expected.sort());
  });

  test(`GIVEN the mesh namespaces WHEN ${name} closes them THEN istio-system and istio-ingress deny by default, istiod takes xDS and webhooks, the gateway reaches only the control zone`, () => {
    for (const ns of ['istio-system', 'istio-ingress']) assert.deepEqual(findManifest(stack(), 'NetworkPolicy', 'default-deny', ns).spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const istiod = findManifest(stack(), 'NetworkPolicy', 'allow-istiod', 'istio-system').spec as { ingress: Array<{ ports: Array<{ port: number }> }> };
    assert.deepEqual(istiod.ingress.flatMap((r) => r.ports.map((p) => p.port)), [15012, 15014, 15017]);
    const gw = findManifest(stack(), 'NetworkPolicy', 'allow-clients', 'istio-ingress').spec as { egress: Array<{ to: Array<{ namespaceSelector?: { matchLabels: Record<string, string> } }> }> };
    const targets = gw.egress.flatMap((r) => r.to.map((t) => t.namespaceSelector?.matchLabels['kubernetes.io/metadata.name']));
    assert.deepEqual(targets, ['istio-system', '${lower(var.control_zone)}', 'kube-system']);
  });

  test(`GIVEN the ingress gateway WHEN ${name} lets it in THEN only into the control_zone namespace (the DMZ)`, () => {
    const np = manifests(stack()).filter((m) => m.manifest.metadata.name === 'allow-ingress-gateway');
    assert.equal(np.length, 1);
    assert.equal(np[0]!.manifest.metadata.namespace, '${lower(var.control_zone)}');
  });

  test(`GIVEN Istio WHEN ${name} installs it THEN base -> cni -> istiod -> gateway, one pinned chart version, COMPLIANCE_POLICY on istiod, sidecars and gateway`, () => {
    const rel = Object.fromEntries(resources(stack(), 'helm_release').filter(([, r]) => String(r.name).startsWith('istio')).map(([id, r]) => [r.name as string, { id, r }]));
    assert.deepEqual(Object.keys(rel).sort(), ['istio-base', 'istio-cni', 'istio-ingressgateway', 'istiod']);
    const dep = (a: string, b: string) => assert.ok((rel[a]!.r.depends_on as string[]).includes(`helm_release.${rel[b]!.id}`), `${a} must wait for ${b}`);
    dep('istio-cni', 'istio-base');
    dep('istiod', 'istio-cni');
    dep('istio-ingressgateway', 'istiod');
    const policy = '(var.pq_mode == "pqc-only") ? "pqc" : ((var.pq_mode == "classical") && (var.service_mesh.encryption_mode == "FIPS_140_2")) ? "fips-140-2" : ""';
    for (const { r } of Object.values(rel)) {
      assert.equal(r.version, '${var.service_mesh.istio_version}');
      assert.equal(r.repository, 'https://istio-release.storage.googleapis.com/charts');
      assert.equal(r.atomic, true);
    }
    const istiod = (rel.istiod!.r.values as string[])[0]!;
    assert.ok(istiod.includes(`"pilot" = {"cni" = {"enabled" = true}, "env" = {"COMPLIANCE_POLICY" = ${policy}}}`), istiod);
    assert.ok(istiod.includes(`"proxyMetadata" = {"COMPLIANCE_POLICY" = ${policy}}`));
    assert.ok(istiod.includes('"trustDomain" = "glimmer.local"'));
    assert.ok((rel['istio-ingressgateway']!.r.values as string[])[0]!.includes(`"env" = {"COMPLIANCE_POLICY" = ${policy}}`));
  });
}

test('GIVEN the cloud topology WHEN its gateway Service is configured THEN the AWS Load Balancer Controller (installed first) makes it an internal NLB with IP targets, never the in-tree controller', () => {
  const releases = resources(stacks['cloud-platform']!, 'helm_release');
  const gw = releases.find(([, r]) => r.name === 'istio-ingressgateway')![1];
  const values = (gw.values as string[])[0]!;
  for (const a of ['"service.beta.kubernetes.io/aws-load-balancer-scheme" = "internal"', '"service.beta.kubernetes.io/aws-load-balancer-type" = "external"', '"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type" = "ip"', '"loadBalancerClass" = "service.k8s.aws/nlb"']) {
    assert.ok(values.includes(a), a);
  }
  const lbc = releases.find(([, r]) => r.name === 'aws-load-balancer-controller');
  assert.ok(lbc, 'the controller is installed');
  const base = releases.find(([, r]) => r.name === 'istio-base')![1];
  const ns = manifests(stacks['cloud-platform']!).find((m) => m.manifest.kind === 'Namespace' && m.manifest.metadata.name === 'istio-system')!;
  assert.ok((ns.resource.depends_on as string[]).includes(`helm_release.${lbc[0]}`), 'Istio (and its gateway Service) waits for the controller');
  assert.ok(base);
});

for (const name of ['edge-runtime', 'cloud-runtime']) {
  const stack = () => stacks[name]!;

  test(`GIVEN ${name} WHEN the mesh policies are created THEN mTLS is STRICT mesh-wide and an allow-nothing policy denies by default`, () => {
    assert.deepEqual(findManifest(stack(), 'PeerAuthentication', 'default', 'istio-system').spec, { mtls: { mode: 'STRICT' } });
    assert.deepEqual(findManifest(stack(), 'AuthorizationPolicy', 'allow-nothing', 'istio-system').spec, {});
  });

  test(`GIVEN ${name} WHEN AuthorizationPolicies allow traffic THEN one ALLOW per conduit admits only the source zone's identities on the conduit's ports`, () => {
    for (const c of cfg.conduits) {
      const ap = findManifest(stack(), 'AuthorizationPolicy', `conduit-${c.from}-to-${c.to}`, c.to);
      assert.deepEqual(ap.spec, {
        action: 'ALLOW',
        rules: [{ from: [{ source: { principals: [`glimmer.local/ns/${c.from}/sa/*`] } }], to: [{ operation: { ports: portsOf(c.protocols as never).map(String) } }] }],
      });
    }
    const allows = manifests(stack()).filter((m) => m.manifest.kind === 'AuthorizationPolicy' && m.manifest.metadata.name.startsWith('conduit-'));
    assert.equal(allows.length, cfg.conduits.length);
  });

  test(`GIVEN the agents WHEN ${name} deploys them THEN each has a ServiceAccount, StatefulSet, Service and PDB in its zone namespace`, () => {
    for (const a of cfg.agents) {
      for (const kind of ['ServiceAccount', 'StatefulSet', 'Service', 'PodDisruptionBudget']) findManifest(stack(), kind, a.name, a.zone);
      assert.equal(findManifest(stack(), 'ServiceAccount', a.name, a.zone).automountServiceAccountToken, false);
    }
  });

  test(`GIVEN the agents WHEN ${name} scales them THEN the industrial and cognitive agents run one fixed replica (their snapshot stream is per plant, no HPA) and the data agent's HPA scales its StatefulSet 2..6`, () => {
    for (const a of cfg.agents) {
      const hpa = manifests(stack()).find((m) => m.manifest.kind === 'HorizontalPodAutoscaler' && m.manifest.metadata.name === a.name);
      const sts = findManifest(stack(), 'StatefulSet', a.name, a.zone) as K8sManifest & { spec: { replicas: number } };
      if (a.kind === 'data') {
        const spec = hpa!.manifest.spec as { minReplicas: number; maxReplicas: number; scaleTargetRef: { kind: string } };
        assert.deepEqual([spec.minReplicas, spec.maxReplicas, spec.scaleTargetRef.kind], [2, 6, 'StatefulSet']);
        assert.ok((hpa!.resource.computed_fields as string[] | undefined) === undefined);
      } else {
        assert.equal(hpa, undefined, `${a.name} has no HPA`);
        assert.equal(sts.spec.replicas, 1);
      }
    }
  });

  test(`GIVEN ${name} WHEN the agent pods are specified THEN they run non-root, read-only, seccomp RuntimeDefault, all capabilities dropped, no privilege escalation`, () => {
    for (const a of cfg.agents) {
      const d = findManifest(stack(), 'StatefulSet', a.name, a.zone) as K8sManifest & { spec: { template: { spec: PodSpec } } };
      const pod = d.spec.template.spec;
      assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' } });
      assert.equal(pod.automountServiceAccountToken, false);
      for (const c of pod.containers) {
        assert.deepEqual(c.securityContext, { runAsNonRoot: true, allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
        assert.equal(c.image, '${var.runtime_image}');
        assert.equal(c.env.find((e) => e.name === 'GLIMMER_AGENT')?.value, a.name);
      }
    }
  });

  test(`GIVEN ${name} WHEN the runtime ConfigMaps are read THEN glimmer.yml carries the topology variables and the rule files are mounted verbatim (escaped for Terraform)`, () => {
    for (const zone of new Set(cfg.agents.map((a) => a.zone))) {
      const data = findManifest(stack(), 'ConfigMap', 'glimmer-config', zone).data as Record<string, string>;
      for (const v of ['var.deployment_model', 'var.control_zone', 'var.safety_zone_level']) assert.ok(data['glimmer.yml']!.includes(v), v);
      assert.ok(data['glimmer.yml']!.startsWith('${jsonencode('));
      const rules = findManifest(stack(), 'ConfigMap', 'glimmer-rules', zone).data as Record<string, string>;
      assert.ok(Object.keys(rules).includes('industrial_safety.pl'));
      findManifest(stack(), 'ConfigMap', 'glimmer-policies', zone);
    }
  });

  test(`GIVEN ${name} WHEN the pods' glimmer.yml is read THEN it runs the real plant of the plant variable (plant.mode external, PLC per zone, OPC UA endpoint), never the simulator`, () => {
    for (const zone of new Set(cfg.agents.map((a) => a.zone))) {
      const yml = (findManifest(stack(), 'ConfigMap', 'glimmer-config', zone).data as Record<string, string>)['glimmer.yml']!;
      assert.ok(yml.includes('"plant" = {"mode" = "external"'), yml);
      for (const v of ['var.plant.plcs.control.host', 'var.plant.plcs.control.port', 'var.plant.plcs.control.unit_id', 'var.plant.plcs.safety.host', 'var.plant.opcua.endpoint_url']) assert.ok(yml.includes(v), v);
      assert.ok(yml.includes('"gateway" = {"host" = "0.0.0.0", "ports" = {"operations" = 5020, "control" = 5021, "safety" = 5022}}'));
      assert.ok(!yml.includes('fault_schedule') && !yml.includes('"seed"'), 'no simulator settings reach the pods');
      const plantFiles = findManifest(stack(), 'ConfigMap', 'glimmer-plant', zone).data as Record<string, string>;
      assert.deepEqual(plantFiles, { 'opcua-server.pem': '${var.plant.opcua.server_certificate_pem}' });
    }
    const podIdentity = name === 'cloud-runtime' ? ['169.254.170.23/32'] : [];
    for (const a of cfg.agents) {
      const pod = (findManifest(stack(), 'StatefulSet', a.name, a.zone) as K8sManifest & { spec: { template: { spec: PodSpec & { volumes: Array<{ name: string; secret?: { secretName: string } }> } } } }).spec.template.spec;
      const secret = pod.volumes.find((v) => v.name === 'plant-credentials');
      const annotations = (findManifest(stack(), 'StatefulSet', a.name, a.zone) as K8sManifest & { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata.annotations;
      const egress = manifests(stack()).find((m) => m.manifest.kind === 'NetworkPolicy' && m.manifest.metadata.name === `${a.name}-plant-egress`)?.manifest as (K8sManifest & { spec: Record<string, unknown> }) | undefined;
      if (a.kind === 'industrial') {
        assert.deepEqual(secret, { name: 'plant-credentials', secret: { secretName: '${var.plant.opcua.credentials_secret}', defaultMode: 0o440 } });
        // Its way out to the plant network: egress to network_cidr on the PLC ports and the OPC UA port, outside the sidecar.
        assert.equal(annotations['traffic.sidecar.istio.io/excludeOutboundIPRanges'], ['${var.plant.network_cidr}', ...podIdentity].join(','));
        assert.equal(egress?.metadata.namespace, a.zone);
        assert.deepEqual(egress?.spec.egress, [{
          to: [{ ipBlock: { cidr: '${var.plant.network_cidr}' } }],
          ports: [{ protocol: 'TCP', port: '${var.plant.plcs.control.port}' }, { protocol: 'TCP', port: '${var.plant.plcs.safety.port}' }, { protocol: 'TCP', port: '${try(tonumber(regex("^opc\\\\.tcp://[^/:]+:([0-9]+)", var.plant.opcua.endpoint_url)[0]), 4840)}' }],
        }]);
      } else {
        assert.equal(secret, undefined, `${a.name} opens no OPC UA session: no credentials in its pod`);
        assert.equal(egress, undefined, `${a.name} never reaches the plant network`);
        assert.equal(annotations['traffic.sidecar.istio.io/excludeOutboundIPRanges'], podIdentity.length > 0 ? podIdentity.join(',') : undefined);
      }
      assert.ok(!pod.containers[0]!.args.includes('--modbus-port'), 'the gateway ports come from glimmer.yml');
    }
  });

  test(`GIVEN monitoring/prometheus/custom_rules.yml WHEN ${name} is synthesized THEN a PrometheusRule carries its alert groups and each agent zone has a ServiceMonitor, all counted by prometheus_operator (none plans no CR)`, () => {
    const rule = findManifest(stack(), 'PrometheusRule', 'glimmer', 'monitoring') as K8sManifest & { spec: { groups: Array<{ name: string; rules: Array<{ alert?: string }> }> } };
    for (const m of manifests(stack()).filter((x) => x.manifest.apiVersion.startsWith('monitoring.coreos.com'))) {
      assert.equal(m.resource.count, '${(var.prometheus_operator == "existing") ? 1 : 0}', m.id);
    }
    assert.deepEqual(rule.spec.groups.map((g) => g.name), inputs.ruleGroups.map((g) => g.name));
    assert.ok(rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert)).includes('SafetyIntegrityBreach'));
    for (const zone of new Set(cfg.agents.map((a) => a.zone))) findManifest(stack(), 'ServiceMonitor', 'glimmer', zone);
  });
}

test('GIVEN the edge topology WHEN agents are scheduled THEN they require nodes labelled with their zone; the cloud does not (its nodes are per AZ)', () => {
  const affinity = (s: string, a: { name: string; zone: string }) => (findManifest(stacks[s]!, 'StatefulSet', a.name, a.zone).spec as { template: { spec: PodSpec } }).template.spec.affinity!.nodeAffinity;
  for (const a of cfg.agents) {
    assert.deepEqual(affinity('edge-runtime', a)?.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms, [{ matchExpressions: [{ key: LABELS.zone, operator: 'In', values: [a.zone] }] }]);
    assert.equal(affinity('cloud-runtime', a), undefined);
  }
});

test('GIVEN the cloud runtime WHEN the agents get their AWS settings THEN they name the signing key alias and the audit bucket derived from cluster_name', () => {
  const d = findManifest(stacks['cloud-runtime']!, 'StatefulSet', cfg.agents[0]!.name, cfg.agents[0]!.zone).spec as { template: { spec: PodSpec } };
  const env = Object.fromEntries(d.template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
  assert.equal(env.GLIMMER_AUDIT_SIGNING_KEY, 'alias/${var.cluster_name}/audit-checkpoint');
  assert.match(String(env.GLIMMER_AUDIT_BUCKET), /^\$\{var\.cluster_name\}-audit-\$\{data\.aws_caller_identity\./);
});
