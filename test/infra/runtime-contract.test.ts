/**
 * The runtime uses what the stacks provision: each agent pod of edge-runtime, rendered by terraform with the example
 * var file, runs in cluster mode with a durable state volume at its --state-dir, the names of its KMS signing key, its
 * Object Lock bucket (and retention) and its data key, and the rules and policies mounted in the repository's layout,
 * pinned for measured boot. The env names and paths are the contract the runtime's cluster mode reads.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { loadConfig } from '../../runtime/config/load';
import { findManifest, manifests, synthAll } from './helpers';
import { restrictedViolations } from './pod-security';
import { renderWorkloads, type RenderedWorkload } from './render-workloads';
import { TerraformSandbox } from './terraform';

const ROOT = path.resolve(__dirname, '..', '..');
const { stacks, inputs } = synthAll();
const sandbox = new TerraformSandbox();
test.after(() => sandbox.dispose());
const varFile = path.join(ROOT, 'deploy', 'tfvars', 'edge-runtime.tfvars.json');
const tfvars = JSON.parse(fs.readFileSync(varFile, 'utf8')) as { audit_store: Record<string, unknown> };
let rendered: RenderedWorkload[] | undefined;
const workloads = (): RenderedWorkload[] => (rendered ??= renderWorkloads(sandbox, stacks['edge-runtime']!, [varFile]));
const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest('hex');

test('GIVEN edge-runtime rendered with its var file WHEN each agent pod is read THEN it runs in cluster mode with its state dir on its own volume claim', () => {
  assert.deepEqual(workloads().map((w) => w.agent).sort(), inputs.config.agents.map((a) => a.name).sort());
  for (const w of workloads()) {
    assert.equal(w.env.GLIMMER_RUNTIME_MODE, 'cluster');
    assert.equal(w.env.GLIMMER_AGENT, w.agent);
    const stateDir = w.args[w.args.indexOf('--state-dir') + 1];
    assert.equal(stateDir, '/var/lib/glimmer');
    assert.equal(w.stateMountPath, stateDir, `${w.agent}: the audit store (<state-dir>/audit) is on the volume claim, not an emptyDir`);
    const sts = findManifest(stacks['edge-runtime']!, 'StatefulSet', w.agent, w.zone).spec as { volumeClaimTemplates: Array<{ spec: { accessModes: string[] } }>; persistentVolumeClaimRetentionPolicy: unknown };
    assert.deepEqual(sts.volumeClaimTemplates[0]!.spec.accessModes, ['ReadWriteOnce']);
    assert.deepEqual(sts.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
  }
});

test('GIVEN the audit_store of the var file WHEN the pods\' environment is rendered THEN it names the signing key, the bucket with its retention, the data key and the KMS/S3 endpoints, one object prefix per agent', () => {
  const s = tfvars.audit_store;
  for (const w of workloads()) {
    assert.equal(w.env.GLIMMER_AUDIT_SIGNING_KEY, s.signing_key);
    assert.equal(w.env.GLIMMER_AUDIT_COSIGNING_KEY, s.cosigning_key);
    // The agents' shared CA (A2A across pods), from an operator-created Secret the pod waits for.
    assert.equal(w.env.GLIMMER_TRUST_CA_DIR, '/etc/glimmer/trust');
    assert.deepEqual(w.secrets.find((x) => x.mountPath === '/etc/glimmer/trust'), { mountPath: '/etc/glimmer/trust', secretName: 'glimmer-trust-ca', optional: false });
    assert.equal(w.env.GLIMMER_AUDIT_BUCKET, s.bucket);
    assert.equal(w.env.GLIMMER_AUDIT_RETENTION_MODE, s.retention_mode);
    assert.equal(w.env.GLIMMER_AUDIT_RETENTION_DAYS, String(s.retention_days));
    assert.equal(w.env.GLIMMER_AUDIT_PREFIX, `segments/${w.agent}/`);
    assert.equal(w.env.GLIMMER_DATA_KEY, s.data_key);
    assert.equal(w.env.AWS_REGION, s.region);
    assert.equal(w.env.AWS_ENDPOINT_URL_KMS, s.kms_endpoint);
    assert.equal(w.env.AWS_ENDPOINT_URL_S3, s.s3_endpoint);
    assert.equal(w.env.AWS_SHARED_CREDENTIALS_FILE, '/etc/glimmer/aws/credentials');
    assert.deepEqual(w.secrets.find((x) => x.mountPath === '/etc/glimmer/aws'), { mountPath: '/etc/glimmer/aws', secretName: s.credentials_secret, optional: true });
    assert.equal(w.env.GLIMMER_TLS_PQ_MODE, 'hybrid-preferred');
  }
});

test('GIVEN the repository\'s rules/ WHEN a pod\'s mounted files are rendered THEN GLIMMER_RULES_DIR holds the same tree (rules, policies/, compliance/) and GLIMMER_RULES_SHA256 pins each file', () => {
  const repoFiles = (dir: string, prefix = ''): Record<string, string> => Object.fromEntries(fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? Object.entries(repoFiles(path.join(dir, e.name), `${prefix}${e.name}/`)) : [[`${prefix}${e.name}`, fs.readFileSync(path.join(dir, e.name), 'utf8')]]));
  // The agents load rules/*.pl, rules/policies/* and rules/<dir>/*; deeper trees (the compliance catalogue, read by
  // the `glimmer compliance` CLI on an operator's machine) are not shipped to the pods.
  const repo = Object.fromEntries(Object.entries(repoFiles(path.join(ROOT, 'rules'))).filter(([rel]) => rel.split('/').length <= 2));
  for (const w of workloads()) {
    const dir = w.env.GLIMMER_RULES_DIR!;
    assert.equal(dir, '/etc/glimmer/rules');
    const mounted = Object.fromEntries(Object.entries(w.files).filter(([p]) => p.startsWith(`${dir}/`)).map(([p, c]) => [p.slice(dir.length + 1), c]));
    assert.deepEqual(Object.keys(mounted).sort(), Object.keys(repo).sort());
    for (const [rel, content] of Object.entries(repo)) assert.equal(mounted[rel], content, rel);
    const pins = Object.fromEntries(w.env.GLIMMER_RULES_SHA256!.split(',').map((e) => e.split('=') as [string, string]));
    assert.deepEqual(pins, Object.fromEntries(Object.entries(repo).map(([rel, c]) => [rel, sha256(c)])));
    const config = w.args[w.args.indexOf('--config') + 1]!;
    assert.ok(w.files[config], `${config} is mounted`);
    const configPins = Object.fromEntries(w.env.GLIMMER_CONFIG_SHA256!.split(',').map((e) => e.split('=') as [string, string]));
    assert.equal(configPins['glimmer.yml'], sha256(w.files[config]!));
  }
});

test('GIVEN the cloud runtime WHEN the agents get their AWS settings THEN they name the signing key alias, the bucket of the cloud stack, its retention and the data key alias, and credentials come from Pod Identity', () => {
  const sts = findManifest(stacks['cloud-runtime']!, 'StatefulSet', 'industrial-1', 'control').spec as { template: { spec: { containers: Array<{ env: Array<{ name: string; value: string }> }>; volumes: Array<{ name: string }> } } };
  const env = Object.fromEntries(sts.template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
  assert.equal(env.GLIMMER_AUDIT_SIGNING_KEY, 'alias/${var.cluster_name}/audit-checkpoint');
  assert.equal(env.GLIMMER_AUDIT_COSIGNING_KEY, 'alias/${var.cluster_name}/audit-cosigner');
  assert.match(env.GLIMMER_AUDIT_BUCKET!, /^\$\{var\.cluster_name\}-audit-\$\{data\.aws_caller_identity\./);
  assert.equal(env.GLIMMER_AUDIT_RETENTION_DAYS, '${var.audit_retention_days}');
  assert.equal(env.GLIMMER_AUDIT_RETENTION_MODE, '${var.audit_object_lock_mode}');
  assert.equal(env.GLIMMER_DATA_KEY, 'alias/${trimprefix(var.tpm_attestation.root_key_handle, "aws-kms:///keys/")}');
  assert.equal(env.AWS_SHARED_CREDENTIALS_FILE, undefined, 'EKS Pod Identity injects the container credentials');
  assert.equal(env.AWS_ENDPOINT_URL_KMS, undefined);
});

test('GIVEN an audit_store without endpoints WHEN the pods\' environment is rendered THEN the SDK endpoint variables name AWS\'s regional endpoints (never an empty, invalid URL) and there is no cosigner', () => {
  const values = JSON.parse(fs.readFileSync(varFile, 'utf8')) as { audit_store: Record<string, unknown> };
  const { kms_endpoint: _k, s3_endpoint: _s, cosigning_key: _c, ...store } = values.audit_store;
  const file = path.join(sandbox.root, 'no-endpoints.tfvars.json');
  fs.writeFileSync(file, JSON.stringify({ ...values, audit_store: store }));
  const [w] = renderWorkloads(sandbox, stacks['edge-runtime']!, [file]);
  assert.equal(w!.env.AWS_ENDPOINT_URL_KMS, `https://kms.${String(store.region)}.amazonaws.com`);
  assert.equal(w!.env.AWS_ENDPOINT_URL_S3, `https://s3.${String(store.region)}.amazonaws.com`);
  assert.equal(w!.env.GLIMMER_AUDIT_COSIGNING_KEY, '');
});

// ---- tpm_attestation.node_tpm: the edge pods' TPM attestation, both renderings -----------------------------------

/** A self-signed CA certificate standing in for a TPM manufacturer's EK CA (public: it goes into a ConfigMap). */
function ekCaPem(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-ek-ca-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=Test TPM EK CA', '-days', '2', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' });
    return fs.readFileSync(path.join(dir, 'c.pem'), 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The edge-runtime var file with tpm_attestation extended by `extra`. */
function tpmVarFile(name: string, extra: Record<string, unknown>): string {
  const values = JSON.parse(fs.readFileSync(varFile, 'utf8')) as { tpm_attestation: Record<string, unknown> };
  const file = path.join(sandbox.root, `${name}.tfvars.json`);
  fs.writeFileSync(file, JSON.stringify({ ...values, tpm_attestation: { ...values.tpm_attestation, ...extra } }));
  return file;
}

interface PodTemplate { spec: { containers: Array<{ resources: { limits: Record<string, string> } }>; volumes: Array<Record<string, unknown>> } & Record<string, unknown> }

/** Every agent StatefulSet of edge-runtime as terraform evaluates it with these var files. */
function renderedStatefulSets(varFiles: readonly string[]): Array<{ metadata: { name: string }; spec: { template: PodTemplate } }> {
  const sets = manifests(stacks['edge-runtime']!).filter((m) => m.manifest.kind === 'StatefulSet');
  const values = sandbox.render(stacks['edge-runtime']!, Object.fromEntries(sets.map((m, i) => [`s${i}`, m.manifest])), varFiles);
  return sets.map((_, i) => values[`s${i}`] as { metadata: { name: string }; spec: { template: PodTemplate } });
}

/** The pod's glimmer.yml as the runtime loads it (beside its cognitive.yml). */
function loadRendered(w: RenderedWorkload): ReturnType<typeof loadConfig> {
  const config = w.args[w.args.indexOf('--config') + 1]!;
  const dir = fs.mkdtempSync(path.join(sandbox.root, 'pod-'));
  fs.writeFileSync(path.join(dir, 'glimmer.yml'), w.files[config]!);
  fs.writeFileSync(path.join(dir, 'cognitive.yml'), w.files[path.posix.join(path.posix.dirname(config), 'cognitive.yml')]!);
  return loadConfig(path.join(dir, 'glimmer.yml'));
}

test('GIVEN edge-runtime with tpm_attestation.node_tpm off (the default) WHEN terraform renders the pods THEN glimmer.yml says attestation none, the loader takes it, and each agent container asks for CPU and memory only', () => {
  for (const w of workloads()) {
    const config = w.args[w.args.indexOf('--config') + 1]!;
    assert.deepEqual((JSON.parse(w.files[config]!) as { attestation: unknown }).attestation, { mode: 'none' });
    assert.deepEqual(loadRendered(w).attestation, { mode: 'none' });
  }
  for (const sts of renderedStatefulSets([varFile])) {
    assert.deepEqual(sts.spec.template.spec.containers[0]!.resources.limits, { cpu: '1', memory: '512Mi' }, sts.metadata.name);
    assert.doesNotThrow(() => new StatefulSet(sts as never).validate(), sts.metadata.name);
    assert.deepEqual(restrictedViolations(sts.spec.template.spec), [], sts.metadata.name);
  }
});

test('GIVEN edge-runtime with tpm_attestation.node_tpm and the EK CAs WHEN terraform renders the pods THEN glimmer.yml says attestation tpm on /dev/tpmrm0 with the mounted EK CA file, the config pin covers it, and each container requests the device plugin\'s TPM while Pod Security restricted still admits the pod', () => {
  const pem = ekCaPem();
  const file = tpmVarFile('node-tpm', { node_tpm: true, ek_ca_pem: pem });
  const rendered = renderWorkloads(sandbox, stacks['edge-runtime']!, [file]);
  assert.equal(rendered.length, inputs.config.agents.length);
  for (const w of rendered) {
    const config = w.args[w.args.indexOf('--config') + 1]!;
    assert.deepEqual((JSON.parse(w.files[config]!) as { attestation: unknown }).attestation, { mode: 'tpm', tcti: 'device:/dev/tpmrm0', ek_ca_file: '/etc/glimmer/tpm/ek-ca.pem' });
    assert.deepEqual(loadRendered(w).attestation, { mode: 'tpm', tcti: 'device:/dev/tpmrm0', ekCaFile: '/etc/glimmer/tpm/ek-ca.pem' });
    assert.equal(w.files['/etc/glimmer/tpm/ek-ca.pem'], pem, `${w.agent}: the EK CAs are mounted where glimmer.yml names them`);
    const configPins = Object.fromEntries(w.env.GLIMMER_CONFIG_SHA256!.split(',').map((e) => e.split('=') as [string, string]));
    assert.equal(configPins['glimmer.yml'], sha256(w.files[config]!), `${w.agent}: measured boot pins the glimmer.yml with attestation tpm`);
  }
  for (const sts of renderedStatefulSets([file])) {
    const pod = sts.spec.template.spec;
    assert.deepEqual(pod.containers[0]!.resources.limits, { cpu: '1', memory: '512Mi', 'smarter-devices/tpmrm0': '1' }, sts.metadata.name);
    assert.deepEqual(pod.volumes.filter((v) => 'hostPath' in v), [], `${sts.metadata.name}: no hostPath volume`);
    assert.doesNotThrow(() => new StatefulSet(sts as never).validate(), sts.metadata.name);
    assert.deepEqual(restrictedViolations(pod), [], sts.metadata.name);
  }
  // The synthesized JSON holds the variable's reference, never a certificate or a key.
  const json = JSON.stringify(stacks['edge-runtime']);
  assert.ok(json.includes('var.tpm_attestation.ek_ca_pem'));
  assert.ok(!/-----BEGIN [A-Z ]+-----(\\n|\s)*[A-Za-z0-9+/]{40}/.test(json), 'no PEM body (certificate or key) in the synthesized stack');
});

test('GIVEN tpm_attestation.node_tpm without EK CAs, or on the cloud topology WHEN planned THEN terraform refuses it with a message naming the fix', () => {
  const noCa = sandbox.plan('edge-runtime', stacks['edge-runtime']!, {}, [tpmVarFile('node-tpm-no-ca', { node_tpm: true })]);
  assert.notEqual(noCa.status, 0);
  assert.ok(noCa.output.includes("tpm_attestation.node_tpm needs ek_ca_pem: the PEM certificates of the TPM manufacturers' EK CAs"), noCa.output);
  const cloudFile = path.join(ROOT, 'deploy', 'tfvars', 'cloud-runtime.tfvars.json');
  const cloudValues = JSON.parse(fs.readFileSync(cloudFile, 'utf8')) as { tpm_attestation?: Record<string, unknown> };
  const cloudTpm = path.join(sandbox.root, 'cloud-node-tpm.tfvars.json');
  fs.writeFileSync(cloudTpm, JSON.stringify({ ...cloudValues, tpm_attestation: { ...(cloudValues.tpm_attestation ?? {}), node_tpm: true, ek_ca_pem: ekCaPem() } }));
  const cloud = sandbox.plan('cloud-runtime', stacks['cloud-runtime']!, {}, [cloudTpm]);
  assert.notEqual(cloud.status, 0);
  assert.ok(cloud.output.includes('tpm_attestation.node_tpm is for edge nodes with a TPM 2.0 (ISA95_ZONED, make synth TOPOLOGY=edge)'), cloud.output);
  // Without the extra field both plan (the refusals above are about node_tpm, nothing else).
  assert.equal(sandbox.plan('edge-runtime', stacks['edge-runtime']!, {}, [varFile]).status, 0);
  assert.equal(sandbox.plan('cloud-runtime', stacks['cloud-runtime']!, {}, [cloudFile]).status, 0);
});
