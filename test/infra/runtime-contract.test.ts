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
import { findManifest, synthAll } from './helpers';
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
