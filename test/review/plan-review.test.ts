/**
 * glimmer plan-review on real plans (the real terraform binary, built-in resources, offline) and on hand-written
 * fixtures in the documented plan JSON format (test/fixtures/plans/README.md says where each came from).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isGlimmerError, type ErrorCode } from '../../runtime/errors';
import { reviewFile, reviewText, type PlanReviewReport } from '../../runtime/review/plan-review';
import { RULES } from '../../runtime/review/rules';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'plans');
const ZONES = new Map([['enterprise', 1], ['dmz', 2], ['operations', 2], ['control', 3], ['safety', 3]]);

function fixture(name: string): PlanReviewReport {
  return reviewFile(path.join(FIXTURES, name), { zoneLevels: ZONES });
}
function pairs(r: PlanReviewReport): string[] {
  return [...new Set(r.findings.map((f) => `${f.ruleId} ${f.address}`))].sort();
}
function assertRefused(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isGlimmerError(err), `expected a GlimmerError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

describe('plan-review on real terraform plans (terraform_data, offline)', () => {
  let dir: string;
  let createPlan: string;
  let replacePlan: string;
  let state: string;
  const env = { ...process.env, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1', TF_CLI_CONFIG_FILE: '/dev/null' };
  const tf = (...args: string[]) => execFileSync('terraform', args, { cwd: dir, env, encoding: 'utf8', maxBuffer: 64 << 20 });

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-tf-'));
    fs.cpSync(path.join(FIXTURES, 'terraform', 'protected'), dir, { recursive: true });
    tf('init', '-input=false', '-no-color');
    tf('plan', '-input=false', '-no-color', '-out=create.tfplan');
    createPlan = path.join(dir, 'create.json');
    fs.writeFileSync(createPlan, tf('show', '-json', 'create.tfplan'));
    tf('apply', '-input=false', '-no-color', '-auto-approve');
    state = path.join(dir, 'state.json');
    fs.writeFileSync(state, tf('show', '-json'));
    tf('plan', '-input=false', '-no-color', '-var', 'rev=2', '-var', 'keep=false', '-out=replace.tfplan');
    replacePlan = path.join(dir, 'replace.json');
    fs.writeFileSync(replacePlan, tf('show', '-json', 'replace.tfplan'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('GIVEN a real plan that only creates resources WHEN reviewed THEN it passes with exit code 0', () => {
    const r = reviewFile(createPlan);
    assert.equal(r.input.kind, 'terraform-plan');
    assert.match(r.input.formatVersion ?? '', /^1\.\d+$/);
    assert.equal(r.resourcesReviewed, 5);
    assert.deepEqual(r.findings, []);
    assert.equal(r.exitCode, 0);
  });

  test('GIVEN a real plan replacing and destroying protected resources WHEN reviewed THEN each is GLM-LIFE-001 and the unprotected replace is not', () => {
    const r = reviewFile(replacePlan);
    assert.deepEqual(pairs(r), [
      'GLM-LIFE-001 module.child.terraform_data.hsm_anchor',
      'GLM-LIFE-001 terraform_data.audit_anchor',
      'GLM-LIFE-001 terraform_data.kms_anchor[0]',
    ]);
    const byAddr = new Map(r.findings.map((f) => [f.address, f.message]));
    assert.match(byAddr.get('terraform_data.audit_anchor') ?? '', /replaces \(destroy, then create\).*replace_by_triggers/);
    assert.match(byAddr.get('module.child.terraform_data.hsm_anchor') ?? '', /replaces \(create before destroy\)/);
    assert.match(byAddr.get('terraform_data.kms_anchor[0]') ?? '', /destroys.*delete_because_count_index/);
    assert.equal(r.exitCode, 1);
  });

  test('GIVEN `terraform show -json` of a state, not a plan WHEN reviewed THEN it is refused as GLM_ERR_REVIEW_INPUT_UNRECOGNIZED', () => {
    assertRefused(() => reviewFile(state), 'GLM_ERR_REVIEW_INPUT_UNRECOGNIZED');
  });

  test('GIVEN a real plan whose format_version is rewritten to 2.0 WHEN reviewed THEN it is refused as GLM_ERR_REVIEW_FORMAT_VERSION', () => {
    const doc = JSON.parse(fs.readFileSync(createPlan, 'utf8'));
    doc.format_version = '2.0';
    assertRefused(() => reviewText(JSON.stringify(doc), 'v2.json'), 'GLM_ERR_REVIEW_FORMAT_VERSION');
  });
});

describe('plan-review rules on fixtures in the documented plan format', () => {
  test('GIVEN a secure cloud plan (HSM-backed key store, Object Lock audit bucket, private EKS) WHEN reviewed THEN nothing is found', () => {
    const r = fixture('cloud-clean.plan.json');
    assert.deepEqual(r.findings, []);
    assert.equal(r.resourcesReviewed, 12);
    assert.equal(r.exitCode, 0);
  });

  test('GIVEN a secure edge plan (zones, default deny, STRICT mTLS, hardened pods) WHEN reviewed THEN nothing is found', () => {
    const r = fixture('edge-clean.plan.json');
    assert.deepEqual(r.findings, []);
    assert.equal(r.exitCode, 0);
  });

  test('GIVEN unencrypted storage, keys without CMK and public endpoints WHEN reviewed THEN GLM-ENC-001/002, GLM-KMS-001 and GLM-NET-001 name each resource', () => {
    const r = fixture('cloud-insecure.plan.json');
    assert.deepEqual(pairs(r), [
      'GLM-ENC-001 aws_db_instance.historian',
      'GLM-ENC-001 aws_ebs_volume.scratch',
      'GLM-ENC-001 aws_eks_cluster.open',
      'GLM-ENC-001 aws_sns_topic.alerts',
      'GLM-ENC-002 aws_ebs_volume.default_key',
      'GLM-ENC-002 aws_s3_bucket.exports',
      'GLM-ENC-002 aws_s3_bucket.reports',
      'GLM-KMS-001 aws_kms_key.no_rotation',
      'GLM-NET-001 aws_eks_cluster.open',
      'GLM-NET-001 aws_lb.public',
      'GLM-NET-001 aws_security_group.ssh',
    ]);
    const msg = (addr: string, id: string) => r.findings.find((f) => f.address === addr && f.ruleId === id)?.message ?? '';
    assert.match(msg('aws_s3_bucket.reports', 'GLM-ENC-002'), /"AES256"/);
    assert.match(msg('aws_lb.public', 'GLM-NET-001'), /SL 2/);
    assert.match(msg('aws_security_group.ssh', 'GLM-NET-001'), /ports 22-22 from anywhere in a zone at SL 3/);
    assert.equal(r.findings.find((f) => f.ruleId === 'GLM-KMS-001')?.severity, 'warning');
    assert.equal(r.exitCode, 1);
  });

  test('GIVEN an internet-facing load balancer tagged with a zone at SL 1 WHEN reviewed THEN it is allowed', () => {
    const r = fixture('cloud-insecure.plan.json');
    assert.equal(r.findings.some((f) => f.address === 'aws_lb.enterprise_portal'), false);
  });

  test('GIVEN an audit bucket without Object Lock, a shortened retention, a 30-day retention and GOVERNANCE mode WHEN reviewed THEN GLM-S3-001/002/003', () => {
    const r = fixture('audit-bucket.plan.json');
    assert.deepEqual(r.findings.map((f) => [f.ruleId, f.address, f.severity]), [
      ['GLM-S3-001', 'aws_s3_bucket.audit_unlocked', 'blocking'],
      ['GLM-S3-002', 'aws_s3_bucket_object_lock_configuration.audit', 'blocking'],
      ['GLM-S3-002', 'aws_s3_bucket_object_lock_configuration.audit_archive', 'blocking'],
      ['GLM-S3-003', 'aws_s3_bucket_object_lock_configuration.audit', 'warning'],
    ]);
    assert.match(r.findings[1]?.message ?? '', /shortens .* from 2555 to 400 days/);
    assert.match(r.findings[2]?.message ?? '', /30 days, below the minimum of 365/);
  });

  test('GIVEN --min-retention-days 7 WHEN the 30-day audit bucket is reviewed THEN its retention is accepted', () => {
    const r = reviewFile(path.join(FIXTURES, 'audit-bucket.plan.json'), { minRetentionDays: 7 });
    assert.equal(r.findings.some((f) => f.address.endsWith('audit_archive')), false);
  });

  test('GIVEN a plan that replaces the HSM cluster, deletes an HSM and keys and replaces the audit bucket WHEN reviewed THEN each is GLM-LIFE-001 and the scratch bucket is not', () => {
    const r = fixture('destroy-keys.plan.json');
    assert.deepEqual(pairs(r), [
      'GLM-LIFE-001 aws_cloudhsm_v2_cluster.main',
      'GLM-LIFE-001 aws_cloudhsm_v2_hsm.az_b',
      'GLM-LIFE-001 aws_ecr_repository.runtime',
      'GLM-LIFE-001 aws_kms_key.audit_signing',
      'GLM-LIFE-001 aws_kms_key.data',
      'GLM-LIFE-001 aws_s3_bucket.audit',
    ]);
    const msg = (a: string) => r.findings.find((f) => f.address === a)?.message ?? '';
    assert.match(msg('aws_kms_key.data'), /create before destroy/);
    assert.match(msg('aws_cloudhsm_v2_cluster.main'), /CloudHSM resource.*replace_because_cannot_update/);
    assert.match(msg('aws_s3_bucket.audit'), /audit bucket/);
  });

  test('GIVEN an edge plan with weak mTLS, missing default deny, public Services and privileged pods WHEN reviewed THEN every violation is reported in both spellings', () => {
    const r = fixture('edge-insecure.plan.json');
    assert.deepEqual(pairs(r), [
      'GLM-MESH-001 kubernetes_manifest.peer_authentication_control_ports',
      'GLM-MESH-001 kubernetes_manifest.peer_authentication_default',
      'GLM-MESH-001 kubernetes_manifest.peer_authentication_safety_legacy',
      'GLM-MESH-002 kubernetes_manifest.peer_authentication_default',
      'GLM-NET-001 kubernetes_manifest.debug_nodeport',
      'GLM-NET-001 kubernetes_service_v1.hmi',
      'GLM-NETPOL-001 kubernetes_manifest.historian_job',
      'GLM-NETPOL-001 kubernetes_namespace_v1.istio_system',
      'GLM-NETPOL-001 kubernetes_namespace_v1.zone["control"]',
      'GLM-NETPOL-002 kubernetes_namespace_v1.zone["operations"]',
      'GLM-POD-001 kubernetes_deployment_v1.industrial',
      'GLM-POD-001 kubernetes_manifest.historian_job',
      'GLM-POD-001 kubernetes_manifest.plc_bridge',
      'GLM-POD-002 kubernetes_deployment_v1.cognitive',
      'GLM-POD-002 kubernetes_deployment_v1.industrial',
      'GLM-POD-002 kubernetes_manifest.historian_job',
    ]);
    const pod = r.findings.filter((f) => f.ruleId === 'GLM-POD-001').map((f) => f.message).join('\n');
    for (const needle of ['host_network: true', 'host_pid: true', 'privileged: true', 'allow_privilege_escalation: true', 'run_as_non_root: false', 'SYS_ADMIN', 'hostNetwork: true', 'hostIPC: true', 'user 0']) {
      assert.ok(pod.includes(needle), `missing ${needle} in\n${pod}`);
    }
    assert.equal(pod.includes('NET_BIND_SERVICE'), false);
    assert.match(r.findings.find((f) => f.address === 'kubernetes_manifest.debug_nodeport' && f.ruleId === 'GLM-NET-001')?.message ?? '', /unknown.*failing closed/);
    assert.equal(r.findings.some((f) => f.address === 'kubernetes_service_v1.portal'), false, 'a LoadBalancer in the SL 1 enterprise zone is allowed');
    const netpol = (a: string) => r.findings.find((f) => f.ruleId === 'GLM-NETPOL-001' && f.address === a);
    assert.match(netpol('kubernetes_manifest.historian_job')?.message ?? '', /namespace default/, 'deploying into `default` needs a default deny there');
    assert.equal(netpol('kubernetes_namespace_v1.istio_system')?.severity, 'warning', 'an explicit, labelled exemption is a warning with its reason');
    assert.equal(r.findings.some((f) => f.ruleId.startsWith('GLM-NETPOL') && f.message.includes('namespace unlabelled')), false, 'a namespace another stack manages is not judged here');
  });

  test('GIVEN a synthesized cdk.tf.json (blocks as objects, ${var.x} labels, namespace references) WHEN reviewed THEN the same rules apply', () => {
    const r = fixture('edge-insecure.cdk.tf.json');
    assert.equal(r.input.kind, 'cdktf-config');
    assert.deepEqual(pairs(r), [
      'GLM-MESH-001 kubernetes_manifest.mesh_peer-authentication_5A6B7C8D',
      'GLM-MESH-002 kubernetes_manifest.mesh_peer-authentication_5A6B7C8D',
      'GLM-NET-001 kubernetes_service_v1.runtime_safety_svc_7E8F9A0B',
      'GLM-NETPOL-001 kubernetes_namespace_v1.zones_safety_ns_1A2B3C4D',
      'GLM-POD-001 kubernetes_deployment_v1.runtime_safety_industrial_1C2D3E4F',
    ]);
    const net = r.findings.find((f) => f.ruleId === 'GLM-NET-001');
    assert.match(net?.message ?? '', /SL 3/, 'the safety namespace level comes from ${var.safety_zone_level} default 3');
    assert.equal(net?.constructPath, 'edge/runtime/safety/service');
    assert.ok((net?.line ?? 0) > 1);
  });

  test('GIVEN the rule catalogue WHEN listed THEN ids are unique and every finding above used a catalogued id', () => {
    assert.equal(new Set(RULES.map((r) => r.id)).size, RULES.length);
    for (const r of RULES) assert.match(r.id, /^GLM-[A-Z0-9]+-\d{3}$/);
  });
});

describe('plan-review refuses bad input with typed errors', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-badplan-'));
  const write = (name: string, content: string | Buffer) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, content);
    return f;
  };
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('GIVEN a file that is not JSON WHEN reviewed THEN GLM_ERR_REVIEW_INPUT_NOT_JSON', () => {
    assertRefused(() => reviewFile(write('plan.txt', 'Terraform will perform the following actions:\n')), 'GLM_ERR_REVIEW_INPUT_NOT_JSON');
  });
  test('GIVEN bytes that are not UTF-8 WHEN reviewed THEN GLM_ERR_REVIEW_INPUT_NOT_JSON', () => {
    assertRefused(() => reviewFile(write('latin1.json', Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]))), 'GLM_ERR_REVIEW_INPUT_NOT_JSON');
  });
  test('GIVEN format_version 0.2 or 2.0 or 1.x.y or a number WHEN reviewed THEN GLM_ERR_REVIEW_FORMAT_VERSION', () => {
    for (const v of ['"0.2"', '"2.0"', '"1.2.3"', '1.2']) {
      assertRefused(() => reviewText(`{"format_version":${v},"resource_changes":[]}`, 'x'), 'GLM_ERR_REVIEW_FORMAT_VERSION');
    }
  });
  test('GIVEN resource_changes without format_version WHEN reviewed THEN GLM_ERR_REVIEW_FORMAT_VERSION', () => {
    assertRefused(() => reviewText('{"resource_changes":[]}', 'x'), 'GLM_ERR_REVIEW_FORMAT_VERSION');
  });
  test('GIVEN JSON that is neither a plan nor a configuration (array, string, unrelated object) WHEN reviewed THEN GLM_ERR_REVIEW_INPUT_UNRECOGNIZED', () => {
    for (const t of ['[]', '"plan"', '{"name":"glimmer","version":"0.1.0"}']) assertRefused(() => reviewText(t, 'x'), 'GLM_ERR_REVIEW_INPUT_UNRECOGNIZED');
  });
  test('GIVEN a plan whose change has no actions or a non-object resource body WHEN reviewed THEN GLM_ERR_REVIEW_INPUT_UNRECOGNIZED names the path', () => {
    const bad = '{"format_version":"1.2","resource_changes":[{"address":"a.b","type":"a","name":"b","change":{"actions":"create"}}]}';
    assert.throws(() => reviewText(bad, 'x'), (e: unknown) => isGlimmerError(e, 'GLM_ERR_REVIEW_INPUT_UNRECOGNIZED') && /\/resource_changes\/0\/change\/actions/.test(e.message));
    assertRefused(() => reviewText('{"resource":{"aws_s3_bucket":{"b":"oops"}}}', 'x'), 'GLM_ERR_REVIEW_INPUT_UNRECOGNIZED');
  });
  test('GIVEN a file above 64 MiB WHEN reviewed THEN GLM_ERR_REVIEW_INPUT_TOO_LARGE before it is read', () => {
    const f = path.join(tmp, 'huge.json');
    fs.writeFileSync(f, '{}');
    fs.truncateSync(f, 64 * 1024 * 1024 + 1);
    assertRefused(() => reviewFile(f), 'GLM_ERR_REVIEW_INPUT_TOO_LARGE');
  });
  test('GIVEN JSON nested 10,000 levels deep WHEN reviewed THEN GLM_ERR_REVIEW_INPUT_TOO_LARGE', () => {
    assertRefused(() => reviewText(`{"format_version":"1.2","x":${'['.repeat(10000)}${']'.repeat(10000)}}`, 'x'), 'GLM_ERR_REVIEW_INPUT_TOO_LARGE');
  });
  test('GIVEN a missing file or a directory WHEN reviewed THEN GLM_ERR_REVIEW_INPUT_UNREADABLE', () => {
    assertRefused(() => reviewFile(path.join(tmp, 'nope.json')), 'GLM_ERR_REVIEW_INPUT_UNREADABLE');
    assertRefused(() => reviewFile(tmp), 'GLM_ERR_REVIEW_INPUT_UNREADABLE');
  });
  test('GIVEN __proto__ and constructor keys in a plan WHEN reviewed THEN they are plain data and the review completes', () => {
    const t = '{"format_version":"1.2","resource_changes":[{"address":"aws_ebs_volume.v","type":"aws_ebs_volume","name":"v","change":{"actions":["create"],"before":null,"after":{"__proto__":{"encrypted":true},"constructor":{"x":1}},"after_unknown":{"__proto__":true}}}]}';
    const r = reviewText(t, 'x');
    assert.deepEqual(r.findings.map((f) => f.ruleId), ['GLM-ENC-001']);
    assert.equal(({} as Record<string, unknown>).encrypted, undefined);
  });
  test('GIVEN an address with terminal escape sequences WHEN reported THEN control characters are replaced', () => {
    const t = '{"format_version":"1.2","resource_changes":[{"address":"aws_sns_topic.\\u001b[31mx","type":"aws_sns_topic","name":"x","change":{"actions":["create"],"before":null,"after":{}}}]}';
    const r = reviewText(t, 'x');
    assert.equal(r.findings[0]?.address, 'aws_sns_topic.?[31mx');
    assert.equal(r.findings.every((f) => [...f.message].every((ch) => ch.charCodeAt(0) >= 0x20)), true);
  });
});

describe('glimmer plan-review CLI exit codes', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'runtime/cli/entry.ts'), 'plan-review', ...args], { cwd: ROOT, encoding: 'utf8' });

  test('GIVEN a clean plan WHEN the CLI runs THEN exit 0 and PASS', () => {
    const p = cli(path.join(FIXTURES, 'cloud-clean.plan.json'));
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /0 blocking, 0 warnings: PASS/);
  });
  test('GIVEN blocking findings WHEN the CLI runs with --format json THEN exit 1 and the JSON report lists them', () => {
    const p = cli(path.join(FIXTURES, 'destroy-keys.plan.json'), '--format', 'json');
    assert.equal(p.status, 1, p.stderr);
    const report = JSON.parse(p.stdout) as PlanReviewReport;
    assert.equal(report.summary.blocking, 6);
    assert.equal(report.exitCode, 1);
  });
  test('GIVEN a file that is not JSON WHEN the CLI runs THEN exit 2 with the typed error on stderr', () => {
    const p = cli(path.join(ROOT, 'Makefile'));
    assert.equal(p.status, 2);
    assert.match(p.stderr, /GLM_ERR_REVIEW_INPUT_NOT_JSON/);
    assert.equal(p.stdout, '');
  });
  test('GIVEN an unknown --format WHEN the CLI runs THEN exit 2 GLM_ERR_USAGE', () => {
    const p = cli(path.join(FIXTURES, 'cloud-clean.plan.json'), '--format', 'html');
    assert.equal(p.status, 2);
    assert.match(p.stderr, /GLM_ERR_USAGE.*--format "html"/);
  });
});
