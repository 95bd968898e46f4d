/**
 * The offline checks of what `cdktf deploy` would hand to Helm and to the API server, on every Kubernetes stack:
 *   - Helm values, as terraform evaluates them, against the pinned charts' values schema constraints;
 *   - every pod spec (the agents' StatefulSets, the gateway chart's pod template with our values) against Pod Security
 *     `restricted`, and the gateway pod against istiod's injection webhooks (an uninjected pod keeps `image: auto`);
 *   - NetworkPolicy and AuthorizationPolicy ports against the ports the Services send to.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import test from 'node:test';
import {
  AWS_LOAD_BALANCER_CONTROLLER_SCHEMA, injectingWebhooks, ISTIO_GATEWAY_POD_LABELS, ISTIO_GATEWAY_SCHEMA, ISTIO_GATEWAY_SERVICE_PORTS,
  istioGatewayPodSpec, schemaViolations,
} from './chart-constraints';
import { findManifest, manifests, resources, synthAll, type K8sManifest } from './helpers';
import { restrictedViolations } from './pod-security';
import { TerraformSandbox } from './terraform';
import { ClusterAddons } from '../../modules/cluster-addons';
import { TerraformStack, Testing } from '../../modules/tf';

const ROOT = path.resolve(__dirname, '..', '..');
const { stacks } = synthAll();
const sandbox = new TerraformSandbox();
test.after(() => sandbox.dispose());
const varFile = (stack: string) => path.join(ROOT, 'deploy', 'tfvars', `${stack}.tfvars.json`);

/** The Istio releases' values as Helm receives them: the synthesized jsonencode(...) evaluated by terraform. */
const valuesCache = new Map<string, Record<string, Record<string, unknown>>>();
function istioValues(stack: 'edge' | 'cloud-platform', vars: Record<string, string> = {}): Record<string, Record<string, unknown>> {
  const key = `${stack}${JSON.stringify(vars)}`;
  const cached = valuesCache.get(key);
  if (cached) return cached;
  const releases = resources(stacks[stack]!, 'helm_release').filter(([, r]) => String(r.name).startsWith('istio'));
  const rendered = sandbox.render(stacks[stack]!, Object.fromEntries(releases.map(([, r]) => [String(r.name), (r.values as string[])[0]])), [varFile(stack)], vars);
  const out = Object.fromEntries(Object.entries(rendered).map(([k, v]) => [k, JSON.parse(v as string) as Record<string, unknown>]));
  valuesCache.set(key, out);
  return out;
}

for (const stack of ['edge', 'cloud-platform'] as const) {
  test(`GIVEN ${stack} WHEN terraform evaluates the ingress gateway's Helm values THEN the gateway chart 1.30.3 schema (additionalProperties: false) accepts them`, () => {
    const gateway = istioValues(stack)['istio-ingressgateway']!;
    assert.deepEqual(schemaViolations(gateway, ISTIO_GATEWAY_SCHEMA), []);
  });

  test(`GIVEN ${stack} WHEN the gateway chart renders its pod with our values THEN Pod Security restricted admits it, and istiod injects it in its namespace`, () => {
    const gateway = istioValues(stack)['istio-ingressgateway']!;
    assert.deepEqual(restrictedViolations(istioGatewayPodSpec(gateway)), []);
    const ns = findManifest(stacks[stack]!, 'Namespace', 'istio-ingress').metadata.labels ?? {};
    assert.equal(ns['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.deepEqual(injectingWebhooks(ns, ISTIO_GATEWAY_POD_LABELS), ['object.sidecar-injector.istio.io']);
  });

  test(`GIVEN ${stack} WHEN the zone namespaces label injection THEN istiod's namespace webhook injects the agents`, () => {
    for (const m of manifests(stacks[stack]!).filter((x) => x.manifest.kind === 'Namespace' && x.manifest.metadata.labels?.['glimmer.io/zone'])) {
      assert.deepEqual(injectingWebhooks(m.manifest.metadata.labels!, {}), ['namespace.sidecar-injector.istio.io'], m.manifest.metadata.name);
    }
  });

  test(`GIVEN ${stack} WHEN the gateway's NetworkPolicy and AuthorizationPolicy are read THEN they open exactly the ports the chart's Service targets (clients: 80/443; the LB health check: 15021)`, () => {
    const np = findManifest(stacks[stack]!, 'NetworkPolicy', 'allow-clients', 'istio-ingress').spec as { ingress: Array<{ ports: Array<{ port: number }> }> };
    const opened = np.ingress.flatMap((r) => r.ports.map((p) => p.port)).sort((a, b) => a - b);
    assert.deepEqual(opened, ISTIO_GATEWAY_SERVICE_PORTS.map((p) => p.targetPort).sort((a, b) => a - b));
    const runtime = stack === 'edge' ? 'edge-runtime' : 'cloud-runtime';
    const ap = findManifest(stacks[runtime]!, 'AuthorizationPolicy', 'allow-inbound', 'istio-ingress').spec as { rules: Array<{ to: Array<{ operation: { ports: string[] } }> }> };
    const client = ISTIO_GATEWAY_SERVICE_PORTS.filter((p) => p.name !== 'status-port').map((p) => String(p.targetPort));
    assert.deepEqual(ap.rules.flatMap((r) => r.to.flatMap((t) => t.operation.ports)), client);
  });

  test(`GIVEN pq_mode WHEN ${stack} renders istiod and the gateway THEN pqc-only sets COMPLIANCE_POLICY=pqc everywhere, hybrid-preferred offers X25519MLKEM768 first with classical fallback and no policy, classical+FIPS sets fips-140-2`, () => {
    const env = (v: Record<string, Record<string, unknown>>) => ({
      pilot: ((v.istiod!.pilot as { env: Record<string, string> }).env.COMPLIANCE_POLICY),
      proxy: ((v.istiod!.meshConfig as { defaultConfig: { proxyMetadata: Record<string, string> } }).defaultConfig.proxyMetadata.COMPLIANCE_POLICY),
      gateway: (v['istio-ingressgateway']!.env as Record<string, string>).COMPLIANCE_POLICY,
      curves: (v.istiod!.meshConfig as { tlsDefaults: { ecdhCurves: string[] } }).tlsDefaults.ecdhCurves,
    });
    assert.deepEqual(env(istioValues(stack)), { pilot: '', proxy: '', gateway: '', curves: ['X25519MLKEM768', 'X25519', 'P-256'] });
    assert.deepEqual(env(istioValues(stack, { pq_mode: 'pqc-only' })), { pilot: 'pqc', proxy: 'pqc', gateway: 'pqc', curves: [] });
    assert.deepEqual(env(istioValues(stack, { pq_mode: 'classical', service_mesh: '{encryption_mode="FIPS_140_2"}' })), { pilot: 'fips-140-2', proxy: 'fips-140-2', gateway: 'fips-140-2', curves: [] });
    assert.deepEqual(env(istioValues(stack, { pq_mode: 'classical' })), { pilot: '', proxy: '', gateway: '', curves: [] });
  });
}

test('GIVEN the edge on k3s WHEN the Istio CNI chart is rendered with istio_platform=k3s THEN global.platform is k3s (the CNI writes where k3s reads); EKS gets eks', () => {
  assert.deepEqual(istioValues('edge')['istio-cni']!.global, { platform: 'k3s' });
  assert.deepEqual(istioValues('cloud-platform')['istio-cni']!.global, { platform: 'eks' });
});

for (const stack of ['edge-runtime', 'cloud-runtime']) {
  test(`GIVEN ${stack} WHEN every agent pod template is evaluated THEN Pod Security restricted admits it`, () => {
    const sets = manifests(stacks[stack]!).filter((m) => m.manifest.kind === 'StatefulSet');
    assert.ok(sets.length > 0);
    for (const { manifest } of sets) assert.deepEqual(restrictedViolations(((manifest.spec as { template: { spec: Record<string, unknown> } }).template.spec)), [], manifest.metadata.name);
  });

  test(`GIVEN ${stack} WHEN the zone NetworkPolicies and AuthorizationPolicies open ports in a namespace with agents THEN each port is one an agent Service there targets`, () => {
    const all = [...manifests(stacks[stack]!), ...manifests(stacks[stack === 'edge-runtime' ? 'edge' : 'cloud-platform']!)];
    const targets = new Map<string, Set<number>>();
    for (const { manifest } of all.filter((m) => m.manifest.kind === 'Service')) {
      const set = targets.get(manifest.metadata.namespace!) ?? new Set<number>();
      for (const p of (manifest.spec as { ports: Array<{ targetPort: number }> }).ports) set.add(p.targetPort);
      targets.set(manifest.metadata.namespace!, set);
    }
    const checked: string[] = [];
    for (const { manifest } of all) {
      const ns = manifest.metadata.namespace ?? '';
      const served = targets.get(ns);
      if (!served) continue;
      const ports: number[] = manifest.kind === 'NetworkPolicy'
        ? ((manifest.spec as { ingress?: Array<{ ports?: Array<{ port: number }> }> }).ingress ?? []).flatMap((r) => (r.ports ?? []).map((p) => p.port))
        : manifest.kind === 'AuthorizationPolicy'
          ? ((manifest.spec as { rules?: Array<{ to?: Array<{ operation: { ports: string[] } }> }> }).rules ?? []).flatMap((r) => (r.to ?? []).flatMap((t) => t.operation.ports.map(Number)))
          : [];
      for (const p of ports) {
        assert.ok(served.has(p), `${manifest.kind} ${ns}/${manifest.metadata.name} opens ${p}, which no Service in ${ns} targets (${[...served].join(', ')})`);
        checked.push(`${ns}:${p}`);
      }
    }
    assert.ok(checked.length > 10, 'the check saw the policies');
  });
}

test('GIVEN the AWS Load Balancer Controller release WHEN its values are checked THEN the chart schema accepts them (cluster, region, VPC, its Pod Identity service account)', () => {
  const addons = new ClusterAddons(new TerraformStack(Testing.app(), 's'), 'addons', { clusterName: 'glimmer', region: 'eu-central-1', volumeKmsKeyAlias: 'alias/glimmer/platform' });
  assert.deepEqual(schemaViolations(addons.values.loadBalancerController, AWS_LOAD_BALANCER_CONTROLLER_SCHEMA), []);
  assert.deepEqual(schemaViolations({ ...addons.values.loadBalancerController, serviceAccount: { create: 'yes' } }, AWS_LOAD_BALANCER_CONTROLLER_SCHEMA), ['serviceAccount.create: string is not boolean']);
});

test('GIVEN the values the gateway shipped with before (a top-level seccompProfile, no pod securityContext) WHEN checked THEN the schema and Pod Security reject them (the checks are not vacuous)', () => {
  const old = { env: { COMPLIANCE_POLICY: 'pqc' }, service: { type: 'LoadBalancer', annotations: {} }, seccompProfile: { type: 'RuntimeDefault' } };
  assert.deepEqual(schemaViolations(old, ISTIO_GATEWAY_SCHEMA), ['seccompProfile: not allowed (additionalProperties: false)']);
  assert.ok(restrictedViolations(istioGatewayPodSpec(old)).some((v) => v.startsWith('Seccomp: istio-proxy')));
  assert.deepEqual(injectingWebhooks({ 'istio-injection': 'disabled' }, ISTIO_GATEWAY_POD_LABELS), []);
  const k: K8sManifest = { apiVersion: 'v1', kind: 'x', metadata: { name: 'x' } };
  assert.ok(k);
});
