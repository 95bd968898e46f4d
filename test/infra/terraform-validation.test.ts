/**
 * Bad variable values fail at `terraform plan` with messages naming the allowed values, proved with the real
 * terraform binary offline: each stack's synthesized `variable` blocks plus a built-in `terraform_data` (no provider
 * to download), planned with good and bad `-var` values. (Provider resources cannot be planned here: see
 * docs/infrastructure.md and the terraform-validate CI workflow.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { synthAll } from './helpers';

const { stacks } = synthAll();
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-tfvars-'));
test.after(() => fs.rmSync(root, { recursive: true, force: true }));
const cliConfig = path.join(root, 'terraformrc');
fs.writeFileSync(cliConfig, '');
const PCR = 'a'.repeat(96);
const IMAGE = '123456789012.dkr.ecr.eu-central-1.amazonaws.com/glimmer/runtime@sha256:' + 'b'.repeat(64);
/** edge-runtime's durable signer and store (required: the runtime refuses cluster mode without them). */
const AUDIT_STORE = '{signing_key="alias/glimmer/audit-checkpoint", bucket="glimmer-audit-site-1", data_key="alias/root-key-001"}';
/** The runtime stacks' `plant` (the real PLCs and OPC UA server the pods talk to), as a -var value. */
const CERT_PEM = '-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n';
function plantVar(control = 'plc-control.plant.local', extra = ''): string {
  return `{network_cidr="10.10.0.0/16", plcs={control={host="${control}"}, safety={host="10.10.0.10", port=5502, unit_id=1}}, opcua={endpoint_url="opc.tcp://plc-control.plant.local:4840", server_certificate_pem="${CERT_PEM}"}${extra}}`;
}

const dirs = new Map<string, string>();
function variablesOnly(stack: string): string {
  const existing = dirs.get(stack);
  if (existing) return existing;
  const dir = path.join(root, stack);
  fs.mkdirSync(dir);
  const variable = stacks[stack]!.variable ?? {};
  const input = Object.fromEntries(Object.keys(variable).map((v) => [v, `\${var.${v}}`]));
  fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify({ variable, resource: { terraform_data: { probe: { input } } } }, null, 2));
  const init = terraform(dir, ['init', '-input=false', '-no-color', '-backend=false']);
  assert.equal(init.status, 0, init.output);
  dirs.set(stack, dir);
  return dir;
}

function terraform(dir: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync('terraform', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, TF_CLI_CONFIG_FILE: cliConfig, TF_IN_AUTOMATION: '1', TF_INPUT: '0' } });
  assert.ok(!r.error, `cannot run terraform (${String(r.error)}): these tests need the terraform >= 1.9 binary on PATH (the README says where it comes from)`);
  const output = `${r.stdout}${r.stderr}`.replace(/[│╷╵]/g, ' ').replace(/\s+/g, ' ');
  return { status: r.status, output };
}

function plan(stack: string, vars: Record<string, string>): { status: number | null; output: string } {
  const args = ['plan', '-input=false', '-no-color', '-lock=false', ...Object.entries(vars).flatMap(([k, v]) => ['-var', `${k}=${v}`])];
  return terraform(variablesOnly(stack), args);
}

test('GIVEN the seed command (ISA95_ZONED, DMZ, safety_zone_level=3) WHEN terraform plans the edge stacks THEN the variables are accepted', () => {
  const seed = { deployment_model: 'ISA95_ZONED', control_zone: 'DMZ', safety_zone_level: '3', tpm_attestation: `{pcr_policy_hash="${PCR}"}` };
  const edge = plan('edge', seed);
  assert.equal(edge.status, 0, edge.output);
  const runtime = plan('edge-runtime', { ...seed, runtime_image: IMAGE, plant: plantVar(), audit_store: AUDIT_STORE });
  assert.equal(runtime.status, 0, runtime.output);
});

test('GIVEN the defaults and a measured-boot hash WHEN terraform plans every cloud stack THEN they are accepted', () => {
  const vars = { tpm_attestation: `{pcr_policy_hash="${PCR}"}` };
  assert.equal(plan('cloud', vars).status, 0, plan('cloud', vars).output);
  assert.equal(plan('cloud-platform', vars).status, 0);
  assert.equal(plan('cloud-runtime', { ...vars, runtime_image: IMAGE, plant: plantVar() }).status, 0);
});

test('GIVEN bad topology values (the seed 1.18.2-hardened and FIPS_140_3_LEVEL4 among them) WHEN terraform plans edge THEN it fails naming each allowed value', () => {
  const r = plan('edge', {
    deployment_model: 'HYPERSCALE',
    control_zone: 'control',
    safety_zone_level: '7',
    service_mesh: '{istio_version="1.18.2-hardened",encryption_mode="FIPS_140_3_LEVEL4"}',
    tpm_attestation: '{pcr_policy_hash="abc",root_key_handle="root-key-001"}',
  });
  assert.equal(r.status, 1);
  for (const message of [
    'deployment_model must be ISA95_ZONED in this stack, received "HYPERSCALE"',
    'control_zone must be one of DMZ (the zones at ISA-95 level 3.5), received "control"',
    'safety_zone_level must be an integer 1..4 (IEC 62443 SL), received 7',
    'service_mesh.istio_version must be a pinned Istio release 1.29.0 or later (like 1.30.3; 1.27 and 1.28 are end of life), received "1.18.2-hardened"',
    'service_mesh.encryption_mode must be one of FIPS_140_2, PQC_HYBRID (or unset), received "FIPS_140_3_LEVEL4"',
    'tpm_attestation.pcr_policy_hash must be a TPM2 PolicyPCR digest (SHA-256, 64 hex characters) or, for Nitro Enclaves, an image SHA-384 (96 hex characters) when enforce_measured_boot is true, received "abc"',
    'tpm_attestation.root_key_handle must look like aws-kms:///keys/<name>',
  ]) assert.ok(r.output.includes(message), `missing: ${message}\n${r.output}`);
});

test('GIVEN a deployment_model that is no model at all WHEN planned THEN the message lists ISA95_ZONED and HYPERSCALE', () => {
  const r = plan('edge', { deployment_model: 'CLOUD', tpm_attestation: `{pcr_policy_hash="${PCR}"}` });
  assert.equal(r.status, 1);
  assert.ok(r.output.includes('deployment_model must be one of ISA95_ZONED, HYPERSCALE, received "CLOUD"'), r.output);
});

test('GIVEN bad cluster and storage values WHEN terraform plans cloud THEN each is refused with its allowed values', () => {
  const r = plan('cloud', {
    cluster_autoscaling: '{min_size=1000,max_size=10,scaling_policy="AI_MAGIC",metrics_window="5h"}',
    cloudhsm_stage: 'ALL',
    audit_retention_days: '30',
    region: 'mars',
    cluster_admin_role_arns: '["root"]',
    kubernetes_version: '1.18',
    tpm_attestation: `{pcr_policy_hash="${PCR}"}`,
  });
  assert.equal(r.status, 1);
  for (const message of [
    'cluster_autoscaling: min_size must be an integer >= 1 and max_size an integer >= min_size, received min_size=1000, max_size=10',
    'cluster_autoscaling.scaling_policy must be one of AI_PREDICTIVE_2023, PREDICTIVE_FORECAST_ONLY, NONE, received "AI_MAGIC"',
    'cluster_autoscaling.metrics_window must be a duration like 300s or 5m, at most 60m',
    'cloudhsm_stage must be one of CLUSTER, KEY_STORE, KEYS, received "ALL"',
    'audit_retention_days must be an integer 365..36500 in COMPLIANCE mode (1..36500 in GOVERNANCE mode), received 30 with COMPLIANCE',
    'region must be an AWS region name like eu-central-1, received "mars"',
    'cluster_admin_role_arns must hold IAM role ARNs',
    'kubernetes_version must be a minor version in EKS standard support, 1.34..1.39',
  ]) assert.ok(r.output.includes(message), `missing: ${message}\n${r.output}`);
  // Planned alone: cluster_autoscaling's budget validations read vpc_cidr, and terraform skips them when it is invalid.
  const cidr = plan('cloud', { vpc_cidr: '10.0.0.0/8', tpm_attestation: `{pcr_policy_hash="${PCR}"}` });
  assert.ok(cidr.output.includes('vpc_cidr must be an IPv4 CIDR with a prefix /16../20, received "10.0.0.0/8"'), cidr.output);
});

test('GIVEN cloudhsm_stage KEYS without key store password or trust anchor WHEN planned THEN both are refused', () => {
  const r = plan('cloud', { cloudhsm_stage: 'KEYS', tpm_attestation: `{pcr_policy_hash="${PCR}"}` });
  assert.equal(r.status, 1);
  assert.ok(r.output.includes('custom_key_store_password must be set (the kmsuser password, 7..32 characters) once cloudhsm_stage is KEY_STORE or KEYS'), r.output);
  assert.ok(r.output.includes('hsm_trust_anchor_certificate must be a PEM certificate once cloudhsm_stage is KEY_STORE or KEYS'));
});

test('GIVEN a key store password WHEN terraform plans with it, valid or not THEN it never appears in the output', () => {
  const common = { cloudhsm_stage: 'KEYS', tpm_attestation: `{pcr_policy_hash="${PCR}"}` };
  const refused = plan('cloud', { ...common, custom_key_store_password: 'Sh0rt-Secret-1' });
  assert.equal(refused.status, 1, 'the missing trust anchor must still fail the plan');
  assert.ok(!refused.output.includes('Sh0rt-Secret-1'), 'the password leaked into a failed plan');
  const ok = plan('cloud', { ...common, custom_key_store_password: 'Correct-Horse-9', hsm_trust_anchor_certificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' });
  assert.equal(ok.status, 0, ok.output);
  assert.ok(!ok.output.includes('Correct-Horse-9'), 'the password leaked into the plan');
});

test('GIVEN a validation on a sensitive variable WHEN it fails under this terraform THEN the value is printed (why the password has no length validation)', () => {
  const dir = path.join(root, 'sensitive-probe');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify({ variable: { pw: { type: 'string', sensitive: true, validation: [{ condition: '${length(var.pw) >= 7}', error_message: 'short' }] } } }));
  const r = terraform(dir, ['plan', '-input=false', '-no-color', '-lock=false', '-var', 'pw=Leaky']);
  assert.equal(r.status, 1);
  // If a future terraform redacts it, this documents the reason to reinstate the length check in stacks/cloud-stack.ts.
  assert.ok(r.output.includes('Leaky'), 'terraform now redacts sensitive values in validation errors: the length check can come back');
});

test('GIVEN a runtime image by tag instead of digest WHEN planned THEN runtime_image is refused', () => {
  const r = plan('edge-runtime', { runtime_image: 'glimmer/runtime:latest', tpm_attestation: `{pcr_policy_hash="${PCR}"}`, plant: plantVar(), audit_store: AUDIT_STORE });
  assert.equal(r.status, 1);
  assert.ok(r.output.includes('runtime_image must be an image reference pinned by digest, <registry>/<repository>@sha256:<64 lower-case hex>, received "glimmer/runtime:latest"'), r.output);
});

test('GIVEN a TPM2 PolicyPCR digest (64 hex) WHEN planned THEN it is accepted for measured boot, but the enclave option needs the 96-hex image SHA-384', () => {
  const tpm = 'c'.repeat(64);
  assert.equal(plan('edge', { tpm_attestation: `{pcr_policy_hash="${tpm}"}` }).status, 0);
  const enclave = plan('edge', { tpm_attestation: `{pcr_policy_hash="${tpm}", enclave_attestation=true}` });
  assert.equal(enclave.status, 1);
  assert.ok(enclave.output.includes('tpm_attestation.enclave_attestation needs pcr_policy_hash to be the enclave image SHA-384 (96 hex characters)'), enclave.output);
});

test('GIVEN measured boot switched off explicitly WHEN planned THEN no PCR hash is needed (the opt-out is visible in the plan)', () => {
  const r = plan('edge', { tpm_attestation: '{enforce_measured_boot=false}' });
  assert.equal(r.status, 0, r.output);
  assert.ok(r.output.includes('enforce_measured_boot'));
});

test('GIVEN -var safety_zone_level=4 WHEN terraform renders the pods\' glimmer.yml THEN the runtime loader accepts it with the same zone model and the variables applied', async () => {
  const { findManifest } = await import('./helpers');
  const { loadConfig } = await import('../../runtime/config/load');
  const rendered = findManifest(stacks['edge-runtime']!, 'ConfigMap', 'glimmer-config', 'control').data as Record<string, string>;
  const dir = path.join(root, 'render');
  fs.mkdirSync(dir);
  const env = (findManifest(stacks['edge-runtime']!, 'StatefulSet', 'industrial-1', 'control').spec as { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } })
    .template.spec.containers[0]!.env;
  const pinExpr = env.find((e) => e.name === 'GLIMMER_CONFIG_SHA256')?.value;
  assert.ok(pinExpr, 'the pod pins its configuration');
  fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify({ variable: stacks['edge-runtime']!.variable, output: { glimmer_yml: { value: rendered['glimmer.yml'] }, pins: { value: pinExpr } } }));
  const vars = ['-var', 'safety_zone_level=4', '-var', 'control_zone=dmz', '-var', `runtime_image=${IMAGE}`, '-var', `tpm_attestation={pcr_policy_hash="${PCR}"}`, '-var', `plant=${plantVar()}`, '-var', `audit_store=${AUDIT_STORE}`];
  const apply = terraform(dir, ['apply', '-auto-approve', '-input=false', '-no-color', '-lock=false', ...vars]);
  assert.equal(apply.status, 0, apply.output);
  const out = spawnSync('terraform', ['output', '-raw', 'glimmer_yml'], { cwd: dir, encoding: 'utf8', env: { ...process.env, TF_CLI_CONFIG_FILE: cliConfig } });
  assert.equal(out.status, 0, out.stderr);
  const configDir = path.join(root, 'pod-config');
  fs.mkdirSync(configDir);
  fs.writeFileSync(path.join(configDir, 'glimmer.yml'), out.stdout);
  fs.writeFileSync(path.join(configDir, 'cognitive.yml'), rendered['cognitive.yml']!);
  const cfg = loadConfig(path.join(configDir, 'glimmer.yml'));
  // The pin Terraform computes is the sha256 of the very files the pod reads: measured boot accepts them.
  const pins = spawnSync('terraform', ['output', '-raw', 'pins'], { cwd: dir, encoding: 'utf8', env: { ...process.env, TF_CLI_CONFIG_FILE: cliConfig } });
  assert.equal(pins.status, 0, pins.stderr);
  const { parseConfigPins } = await import('../../runtime/lifecycle/config-pins');
  const { sha256File } = await import('../../runtime/lifecycle/manifest');
  assert.deepEqual(parseConfigPins(pins.stdout), { 'glimmer.yml': sha256File(path.join(configDir, 'glimmer.yml')), 'cognitive.yml': sha256File(path.join(configDir, 'cognitive.yml')) });
  // Agents reach each other's A2A endpoints through their Services (safety orders reach the data agent there too).
  assert.deepEqual(cfg.a2a, { host: '0.0.0.0', port: 9443, peers: { 'industrial-1': 'https://industrial-1.control.svc:9443', 'cognitive-1': 'https://cognitive-1.operations.svc:9443', 'data-1': 'https://data-1.dmz.svc:9443' } });
  assert.deepEqual(cfg.topology, { deployment_model: 'ISA95_ZONED', control_zone: 'dmz', safety_zone_level: 4, trust_domain: 'glimmer.local' });
  assert.equal(cfg.zones.find((z) => z.name === 'safety')?.security_level, 4);
  assert.equal(cfg.api.host, '0.0.0.0');
  assert.equal(cfg.api.port, 8080);
  const source = synthAll().inputs.config;
  assert.deepEqual(cfg.conduits, source.conduits);
  assert.deepEqual(cfg.agents, source.agents);
  // The pods run against the real plant of the `plant` variable, never the simulator.
  assert.equal(cfg.plant.mode, 'external');
  assert.deepEqual(cfg.plant.faultSchedule, []);
  assert.deepEqual(cfg.plant.external?.plcs, { control: { host: 'plc-control.plant.local', port: 502, unitId: 1 }, safety: { host: '10.10.0.10', port: 5502, unitId: 1 } });
  assert.deepEqual(cfg.plant.external?.gateway, { host: '0.0.0.0', ports: { operations: 5020, control: 5021, safety: 5022 } });
  assert.equal(cfg.plant.external?.opcua?.endpointUrl, 'opc.tcp://plc-control.plant.local:4840');
  assert.equal(cfg.plant.external?.opcua?.serverCertificate, '/etc/glimmer/plant/opcua-server.pem');
  assert.equal(cfg.plant.external?.opcua?.passwordFile, '/etc/glimmer/plant-credentials/password');
});

const badPlants: [string, string, RegExp][] = [
  ['a PLC host with a scheme', plantVar('tcp://plc'), /plant\.plcs\.control and plant\.plcs\.safety need host \(a host name or an IP address\), port 1\.\.65535 and unit_id 0\.\.255, received control tcp:\/\/plc:502 unit 1/],
  ['an OPC UA endpoint over http', plantVar().replace('opc.tcp://', 'http://'), /plant\.opcua\.endpoint_url must be an opc\.tcp:\/\/host\[:port\]\[\/path\] URL without credentials, received "http:\/\/plc-control\.plant\.local:4840"/],
  ['a server certificate that is no PEM', plantVar().replace(CERT_PEM, 'not a cert'), /plant\.opcua\.server_certificate_pem must be the PEM/],
  ['a plant network that is no CIDR', plantVar().replace('10.10.0.0/16', '10.10.0.0'), /plant\.network_cidr must be an IPv4 CIDR like 10\.10\.0\.0\/16 \(the plant network holding the PLCs and the OPC UA server\), received "10\.10\.0\.0"/],
  ['stale_after_ms below poll_interval_ms', plantVar(undefined, ', poll_interval_ms=500, stale_after_ms=100'), /plant\.poll_interval_ms must be >= 20 and plant\.stale_after_ms above it/],
];
for (const [what, value, message] of badPlants) {
  test(`GIVEN a runtime stack planned with ${what} in plant WHEN planned THEN the plant variable is refused naming the value`, () => {
    const r = plan('edge-runtime', { runtime_image: IMAGE, tpm_attestation: `{pcr_policy_hash="${PCR}"}`, plant: value, audit_store: AUDIT_STORE });
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, message);
  });
}

test('GIVEN a runtime stack planned without plant WHEN planned THEN terraform asks for it (no pod is deployed without saying where its PLCs are)', () => {
  const r = plan('edge-runtime', { runtime_image: IMAGE, tpm_attestation: `{pcr_policy_hash="${PCR}"}`, audit_store: AUDIT_STORE });
  assert.equal(r.status, 1);
  assert.match(r.output, /input variable "plant" is not set/);
});

test('GIVEN an edge runtime planned without audit_store WHEN planned THEN terraform asks for it (no pod runs without a durable signer and store)', () => {
  const r = plan('edge-runtime', { runtime_image: IMAGE, tpm_attestation: `{pcr_policy_hash="${PCR}"}`, plant: plantVar() });
  assert.equal(r.status, 1);
  assert.match(r.output, /input variable "audit_store" is not set/);
});

test('GIVEN an audit_store with a plain-http endpoint or a 30-day COMPLIANCE lock WHEN planned THEN each is refused; GOVERNANCE (non-production) accepts 1 day', () => {
  const base = { runtime_image: IMAGE, tpm_attestation: `{pcr_policy_hash="${PCR}"}`, plant: plantVar() };
  const http = plan('edge-runtime', { ...base, audit_store: AUDIT_STORE.replace('}', ', s3_endpoint="http://minio.plant.local:9000"}') });
  assert.equal(http.status, 1);
  assert.match(http.output, /audit_store\.kms_endpoint and s3_endpoint must be https:\/\/host\[:port\] URLs \(TLS only\)/);
  const short = plan('edge-runtime', { ...base, audit_store: AUDIT_STORE.replace('}', ', retention_days=30}') });
  assert.equal(short.status, 1);
  assert.match(short.output, /audit_store\.retention_mode must be COMPLIANCE \(retention_days 365\.\.36500\) or GOVERNANCE \(1\.\.36500\), received COMPLIANCE 30 days/);
  const test = plan('edge-runtime', { ...base, audit_store: AUDIT_STORE.replace('}', ', retention_mode="GOVERNANCE", retention_days=1}') });
  assert.equal(test.status, 0, test.output);
  const cloud = plan('cloud', { tpm_attestation: `{pcr_policy_hash="${PCR}"}`, audit_object_lock_mode: 'GOVERNANCE', audit_retention_days: '1' });
  assert.equal(cloud.status, 0, cloud.output);
});

test('GIVEN the seed\'s 1,000..10,000 nodes WHEN terraform plans cloud THEN the node budget refuses them: 334 per managed group is fine, 10,000 nodes need more pod addresses than the private /19s hold', () => {
  const r = plan('cloud', { tpm_attestation: `{pcr_policy_hash="${PCR}"}`, cluster_autoscaling: '{min_size=1000,max_size=10000}' });
  assert.equal(r.status, 1);
  assert.ok(!r.output.includes('above the default quota of 450'), r.output);
  assert.ok(r.output.includes('cluster_autoscaling.max_size=10000 nodes need 320000 pod network addresses (32 per node: 29 pods, the node, 2 warm), the private subnets of vpc_cidr 10.42.0.0/16 hold 24561'), r.output);
  const quota = plan('cloud', { tpm_attestation: `{pcr_policy_hash="${PCR}"}`, cluster_autoscaling: '{min_size=1500,max_size=1500}', vpc_cidr: '10.0.0.0/16' });
  assert.ok(quota.output.includes('cluster_autoscaling.min_size=1500 puts 500 nodes in each of the 3 managed node groups, above the default quota of 450 nodes per group'), quota.output);
  const fits = plan('cloud', { tpm_attestation: `{pcr_policy_hash="${PCR}"}`, cluster_autoscaling: '{min_size=30,max_size=700}' });
  assert.equal(fits.status, 0, fits.output);
});

test('GIVEN pq_mode WHEN it contradicts encryption_mode FIPS_140_2 or kyber_512_hybrid THEN terraform refuses the pair explaining that COMPLIANCE_POLICY holds one value', () => {
  const pcr = `{pcr_policy_hash="${PCR}"}`;
  const fips = plan('edge', { tpm_attestation: pcr, service_mesh: '{encryption_mode="FIPS_140_2"}' });
  assert.equal(fips.status, 1);
  assert.ok(fips.output.includes('pq_mode hybrid-preferred conflicts with service_mesh.encryption_mode FIPS_140_2'), fips.output);
  assert.equal(plan('edge', { tpm_attestation: pcr, service_mesh: '{encryption_mode="FIPS_140_2"}', pq_mode: 'classical' }).status, 0);
  const kyber = plan('edge', { tpm_attestation: pcr, quantum_safe: '{kyber_512_hybrid=false}' });
  assert.equal(kyber.status, 1);
  assert.ok(kyber.output.includes('quantum_safe.kyber_512_hybrid disagrees with pq_mode=hybrid-preferred'), kyber.output);
  const bad = plan('edge', { tpm_attestation: pcr, pq_mode: 'kyber512' });
  assert.ok(bad.output.includes('pq_mode must be one of pqc-only, hybrid-preferred, classical, received "kyber512"'), bad.output);
});
