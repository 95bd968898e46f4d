/**
 * The deployment rehearsal end to end (`make rehearse` runs the same driver): the synthesized edge stacks rendered by
 * terraform, every agent workload a host in its own network namespace behind nftables rules made from the zone
 * NetworkPolicies, the plant in its own namespace, KMS and S3 endpoints on the node. Needs root, terraform and moto.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.join(__dirname, '..', '..');

test('GIVEN the synthesized edge and edge-runtime stacks WHEN the rehearsal deploys them onto network namespaces THEN every agent is ACTIVE, every hazard stops the pump across hosts, lower zones reach neither PLC nor control/safety listeners, a SIGKILLed industrial host keeps its log and key, the bucket verifies, and the latency and wall time are reported', { timeout: 240_000 }, async () => {
  const report = path.join(ROOT, 'rehearsal-report.json');
  fs.rmSync(report, { force: true });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'rehearse.ts')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-6000); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.ok(fs.existsSync(report), `no rehearsal-report.json: ${stderr}`);
  const r = JSON.parse(fs.readFileSync(report, 'utf8')) as {
    ok: boolean; checks: Record<string, boolean>; hosts: { state: string }[]; wall_time_s: number;
    hazards: { stopped: number; latency_ms: { p99: number }; p99_target_ms: number };
    isolation: { reachable: boolean; expected: boolean; to: string }[];
    restart: { consistency_proof_verified: boolean; same_checkpoint_key: boolean };
    bucket: { ok: boolean; segments: number };
  };
  // The latency and wall-time targets are measured figures (make rehearse exits 1 when one is missed); on a loaded
  // machine they vary with the load, so the test asserts every functional check and that the figures were measured.
  const TIMING = new Set(['hazard_p99_within_target', 'wall_time_within_target']);
  assert.deepEqual(Object.entries(r.checks).filter(([k, v]) => !v && !TIMING.has(k)).map(([k]) => k), [], stderr);
  assert.equal(code, Object.entries(r.checks).every(([, v]) => v) ? 0 : 1, stderr);
  assert.ok(r.hosts.length >= 3 && r.hosts.every((h) => h.state === 'ACTIVE'));
  assert.ok(r.hazards.stopped >= 20 && r.hazards.latency_ms.p99 > 0 && r.wall_time_s > 0);
  assert.ok(r.isolation.some((c) => c.to === 'PLC (Modbus)' && c.expected === false) && r.isolation.every((c) => c.reachable === c.expected));
  assert.ok(r.restart.consistency_proof_verified && r.restart.same_checkpoint_key);
  assert.ok(r.bucket.ok && r.bucket.segments > 0);
});
