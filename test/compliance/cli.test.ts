/**
 * `glimmer compliance` against a real run: the state dir of `glimmer run` (real agents, real audit log), its live API,
 * and the synthesized stacks of both topologies; then the same state dir tampered.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { auditDbPath } from '../../runtime/audit/log';
import { glimmer } from '../helpers/cli';
import { startGlimmerRun } from '../helpers/run';
import { synthAll } from '../infra/helpers';

interface JsonReport {
  ok: boolean;
  counts: Record<string, number>;
  requirements: { id: string; label: string; status: string; failed: boolean; live: { id: string; outcome: string; detail: string }[] }[];
}

function writeStacks(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-compliance-stacks-'));
  for (const [name, json] of Object.entries(synthAll().text)) {
    fs.mkdirSync(path.join(dir, 'stacks', name), { recursive: true });
    fs.writeFileSync(path.join(dir, 'stacks', name, 'cdk.tf.json'), json);
  }
  return dir;
}

/** One real run, shared by the tests below: its state dir after a clean SIGTERM, and what the live API answered. */
const run = (async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-compliance-'));
  const running = await startGlimmerRun(stateDir);
  let live;
  try {
    for (let i = 0; i < 600; i++) {
      const res = await fetch(new URL('/v1/agents', running.url), { headers: { authorization: `Bearer ${running.token}` } });
      const agents = (await res.json()) as { state: string }[];
      if (agents.length === 3 && agents.every((a) => a.state === 'ACTIVE')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    live = await glimmer(['compliance', '--standard', 'iec62443-3-3', '--url', running.url.origin, '--token', running.token, '--format', 'json']);
  } finally {
    const stopped = await running.stop();
    assert.equal(stopped.code, 0, stopped.stderr.slice(-2000));
  }
  return { stateDir, live, stacksDir: writeStacks() };
})();

test('GIVEN a clean run\'s state dir and the synthesized stacks WHEN glimmer compliance --standard iec62443-3-3 --sl 3 runs THEN it exits 0 and every live check passes', { timeout: 180000 }, async () => {
  const { stateDir, stacksDir, live } = await run;
  const r = await glimmer(['compliance', '--standard', 'iec62443-3-3', '--sl', '3', '--state-dir', stateDir, '--stacks', stacksDir, '--format', 'json']);
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  const report = JSON.parse(r.stdout) as JsonReport;
  assert.equal(report.ok, true);
  assert.equal(report.requirements.length, 51);
  const outcomes = report.requirements.flatMap((q) => q.live.map((c) => `${c.id}=${c.outcome}`));
  assert.ok(outcomes.length > 20);
  assert.deepEqual(outcomes.filter((o) => !o.endsWith('=pass')), [], 'every live check ran and passed');
  const sr39 = report.requirements.find((q) => q.id === 'SR 3.9');
  assert.deepEqual(sr39?.live.map((c) => c.id), ['audit-log-verifies', 'stacks-audit-retention-5y']);
  // The same checks answered through the running runtime's API (stack checks not requested there: not run).
  assert.equal(live?.code, 0, live?.stderr);
  const viaUrl = JSON.parse(live?.stdout ?? '{}') as JsonReport;
  const byId = new Map(viaUrl.requirements.flatMap((q) => q.live).map((c) => [c.id, c.outcome]));
  assert.equal(byId.get('audit-log-verifies'), 'pass');
  assert.equal(byId.get('agents-have-identities'), 'pass');
  assert.equal(byId.get('stacks-default-deny'), 'not-run');
});

test('GIVEN a tampered audit store WHEN glimmer compliance runs on it THEN it exits 1 naming SR 3.9 protection of audit information', { timeout: 180000 }, async () => {
  const { stateDir } = await run;
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-compliance-tampered-'));
  fs.cpSync(stateDir, copy, { recursive: true });
  const db = new Database(auditDbPath(copy));
  db.exec('DROP TRIGGER IF EXISTS entries_append_only_u; DROP TRIGGER IF EXISTS entries_append_only_d;');
  const leaf = db.prepare('SELECT leaf FROM entries WHERE idx = 3').pluck().get() as Buffer;
  const flipped = Buffer.from(leaf);
  flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x01;
  db.prepare('UPDATE entries SET leaf = ? WHERE idx = 3').run(flipped);
  db.close();
  const r = await glimmer(['compliance', '--standard', 'iec62443-3-3', '--sl', '3', '--state-dir', copy]);
  assert.equal(r.code, 1, r.stdout.slice(-2000) + r.stderr);
  assert.match(r.stderr, /compliance FAILED: SR 3\.9 Protection of audit information: audit-log-verifies: /);
  assert.match(r.stdout, /\| SR 3\.9 \*\*FAILED\*\* \|/);
  // The untouched original still passes: the failure is the tampering, not the check.
  assert.equal((await glimmer(['compliance', '--standard', 'iec62443-3-3', '--state-dir', stateDir])).code, 0);
});

test('GIVEN --format oscal WHEN rendered THEN it is an OSCAL component definition with the required fields, one implemented requirement per SR and valid UUIDs', { timeout: 60000 }, async () => {
  const r = await glimmer(['compliance', '--standard', 'iec62443-3-3', '--format', 'oscal']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { 'component-definition': Record<string, unknown> };
  const cd = doc['component-definition'] as { uuid: string; metadata: Record<string, string>; components: Record<string, unknown>[] };
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  assert.match(cd.uuid, uuid);
  for (const k of ['title', 'last-modified', 'version', 'oscal-version']) assert.equal(typeof cd.metadata[k], 'string', k);
  assert.match(cd.metadata['oscal-version'] as string, /^1\.1\.\d+$/);
  assert.ok(!Number.isNaN(Date.parse(cd.metadata['last-modified'] as string)));
  const [component] = cd.components as { uuid: string; type: string; title: string; description: string; 'control-implementations': { uuid: string; source: string; description: string; 'implemented-requirements': { uuid: string; 'control-id': string; description: string; props: { name: string; ns: string; value: string }[] }[] }[] }[];
  assert.ok(component);
  for (const k of ['uuid', 'type', 'title', 'description'] as const) assert.ok(component[k], k);
  const [impl] = component['control-implementations'];
  assert.ok(impl?.source && impl.description);
  const reqs = impl['implemented-requirements'];
  assert.equal(reqs.length, 51);
  assert.equal(new Set(reqs.map((q) => q.uuid)).size, 51);
  for (const q of reqs) {
    assert.match(q.uuid, uuid);
    assert.match(q['control-id'], /^[a-z_][a-z0-9._-]*$/, 'an OSCAL token');
    assert.ok(q.description.length > 0);
    assert.ok(q.props.every((p) => p.ns === 'https://glimmer.dev/ns/oscal' && p.value.length > 0));
  }
  assert.deepEqual(reqs.find((q) => q['control-id'] === 'sr-3.9')?.props.find((p) => p.name === 'status')?.value, 'implemented');
  // Name-based UUIDs: the same catalogue gives the same document.
  const again = JSON.parse((await glimmer(['compliance', '--standard', 'iec62443-3-3', '--format', 'oscal'])).stdout) as typeof doc;
  assert.equal((again['component-definition'] as { uuid: string }).uuid, cd.uuid);
});

test('GIVEN bad arguments WHEN glimmer compliance runs THEN exit 2 with GLM_ERR_USAGE naming the value', async () => {
  const cases: [string[], RegExp][] = [
    [[], /--standard is required/],
    [['--standard', 'iso9001'], /unknown standard "iso9001", allowed: iec62443-3-3, /],
    [['--standard', 'iec62443-3-3', '--sl', '5'], /--sl must be 1\.\.4, received "5"/],
    [['--standard', 'nist-csf-2.0', '--sl', '3'], /--sl applies to iec62443-3-3 only/],
    [['--standard', 'iec62443-3-3', '--format', 'pdf'], /unknown format "pdf"/],
    [['--standard', 'iec62443-3-3', '--url', 'http://127.0.0.1:1'], /--url needs --token/],
    [['--standard', 'iec62443-3-3', '--stacks', '/nonexistent-glimmer'], /stacks dir "\/nonexistent-glimmer" does not exist/],
  ];
  for (const [args, message] of cases) {
    const r = await glimmer(['compliance', ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /GLM_ERR_USAGE/);
    assert.match(r.stderr, message);
  }
});
