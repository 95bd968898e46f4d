/** Each live check fails on the evidence it exists for, and never passes on missing input. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runChecks } from '../../runtime/compliance/checks';
import { synthAll } from '../infra/helpers';

const ROOT = path.join(__dirname, '..', '..');
const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));

function stacksDir(stacks: Record<string, unknown>): string {
  const dir = tmp('glimmer-checks-stacks-');
  for (const [name, json] of Object.entries(stacks)) {
    fs.mkdirSync(path.join(dir, 'stacks', name), { recursive: true });
    fs.writeFileSync(path.join(dir, 'stacks', name, 'cdk.tf.json'), JSON.stringify(json));
  }
  return dir;
}

test('GIVEN no state dir, URL or stacks WHEN the checks run THEN those needing them are not-run (never pass), an unknown check fails, and the release checks run', async () => {
  const r = await runChecks(['audit-log-verifies', 'state-dir-private', 'stacks-default-deny', 'no-such-check', 'policies-default-deny'], { root: ROOT });
  assert.deepEqual(Object.fromEntries([...r].map(([id, c]) => [id, c.outcome])), {
    'audit-log-verifies': 'not-run',
    'state-dir-private': 'not-run',
    'stacks-default-deny': 'not-run',
    'no-such-check': 'fail',
    'policies-default-deny': 'pass',
  });
  assert.match(r.get('no-such-check')?.detail ?? '', /unknown live check "no-such-check"/);
});

test('GIVEN stacks without any NetworkPolicy, or with a one-year audit retention WHEN checked THEN stacks-default-deny and stacks-audit-retention-5y fail and say why', async () => {
  const { stacks } = synthAll();
  type Manifests = { resource?: Record<string, Record<string, { manifest?: { kind?: string; metadata?: { name?: string } } }>> };
  const without = (drop: (m: { kind?: string; metadata?: { name?: string } }) => boolean): Manifests => {
    const edge = structuredClone(stacks['edge']) as Manifests;
    for (const [name, r] of Object.entries(edge.resource?.kubernetes_manifest ?? {})) if (r.manifest && drop(r.manifest)) delete edge.resource?.kubernetes_manifest?.[name];
    return edge;
  };
  const edge = without((m) => m.kind === 'NetworkPolicy' && /default-deny/.test(m.metadata?.name ?? ''));
  type Rule = { default_retention?: Record<string, unknown> };
  const cloud = structuredClone(stacks['cloud']) as { resource?: Record<string, Record<string, { rule?: Rule | Rule[] }>> };
  const locks = Object.values(cloud.resource?.aws_s3_bucket_object_lock_configuration ?? {});
  assert.ok(locks.length > 0);
  for (const l of locks) for (const rule of [l.rule ?? []].flat()) rule.default_retention = { mode: 'COMPLIANCE', days: 365 };
  const r = await runChecks(['stacks-default-deny', 'stacks-audit-retention-5y'], { root: ROOT, stacksDir: stacksDir({ edge, cloud }) });
  assert.equal(r.get('stacks-default-deny')?.outcome, 'fail');
  assert.match(r.get('stacks-default-deny')?.detail ?? '', /GLM-NETPOL-001 edge: /);
  assert.equal(r.get('stacks-audit-retention-5y')?.outcome, 'fail');
  assert.match(r.get('stacks-audit-retention-5y')?.detail ?? '', /GLM-S3-002 cloud: /);
  const noPolicies = await runChecks(['stacks-default-deny'], { root: ROOT, stacksDir: stacksDir({ edge: without((m) => m.kind === 'NetworkPolicy') }) });
  assert.deepEqual(noPolicies.get('stacks-default-deny'), { id: 'stacks-default-deny', outcome: 'fail', detail: 'no NetworkPolicy in 1 stacks' });
  const none = await runChecks(['stacks-default-deny'], { root: ROOT, stacksDir: stacksDir({}) });
  assert.match(none.get('stacks-default-deny')?.detail ?? '', /no synthesized stack/);
});

test('GIVEN a world-readable admin token WHEN state-dir-private runs THEN it fails naming the mode', async () => {
  const dir = tmp('glimmer-checks-state-');
  fs.chmodSync(dir, 0o700);
  fs.writeFileSync(path.join(dir, 'admin-token'), 'x'.repeat(43), { mode: 0o644 });
  const r = await runChecks(['state-dir-private'], { root: ROOT, stateDir: dir });
  assert.deepEqual(r.get('state-dir-private'), { id: 'state-dir-private', outcome: 'fail', detail: 'admin-token is 644' });
});

test('GIVEN a release root with an unconditional permit WHEN policies-default-deny runs THEN it fails naming the file; a commented-out one does not count', async () => {
  const root = tmp('glimmer-checks-root-');
  fs.mkdirSync(path.join(root, 'rules', 'policies'), { recursive: true });
  fs.writeFileSync(path.join(root, 'rules', 'policies', 'ok.cedar'), '// permit(principal, action, resource);\npermit(principal, action, resource) when { context.zone == "dmz" };\n');
  assert.equal((await runChecks(['policies-default-deny'], { root })).get('policies-default-deny')?.outcome, 'pass');
  fs.writeFileSync(path.join(root, 'rules', 'policies', 'open.cedar'), 'permit (\n  principal,\n  action,\n  resource\n);\n');
  assert.deepEqual((await runChecks(['policies-default-deny'], { root })).get('policies-default-deny'), { id: 'policies-default-deny', outcome: 'fail', detail: 'unconditional permit in open.cedar' });
});

test('GIVEN a state dir without an audit log WHEN audit-log-verifies runs THEN it fails with a typed error, not a pass', async () => {
  const r = await runChecks(['audit-log-verifies', 'agents-have-identities'], { root: ROOT, stateDir: tmp('glimmer-checks-empty-') });
  assert.equal(r.get('audit-log-verifies')?.outcome, 'fail');
  assert.equal(r.get('agents-have-identities')?.outcome, 'fail');
  assert.match(r.get('agents-have-identities')?.detail ?? '', /^GLM_ERR_/);
});
