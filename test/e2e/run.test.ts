/**
 * The embedded default end to end: the real `glimmer run` process (built bundle), real agent processes, the simulated
 * plant on loopback (ports picked by the OS), then SIGTERM.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startGlimmerRun } from '../helpers/run';

test('GIVEN a fresh state dir WHEN glimmer run starts THEN three agents are ACTIVE via the API, and SIGTERM ends with all TERMINATED and exit 0', { timeout: 120000 }, async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-e2e-'));
  const run = await startGlimmerRun(stateDir);
  let stopped;
  try {
    const { url, token } = run;
    assert.equal(token, fs.readFileSync(path.join(stateDir, 'admin-token'), 'utf8').trim());
    assert.equal(fs.statSync(path.join(stateDir, 'admin-token')).mode & 0o777, 0o600);
    assert.ok(!run.output().stderr.includes(token), 'the token never goes into a log');
    const res = await fetch(new URL('/v1/agents', url), { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const agents = (await res.json()) as { id: string; kind: string; state: string }[];
    assert.deepEqual(agents.map((a) => `${a.kind}:${a.state}`).sort(), ['cognitive:ACTIVE', 'data:ACTIVE', 'industrial:ACTIVE'], run.output().stderr.slice(-3000));
  } finally {
    stopped = await run.stop();
  }
  assert.equal(stopped.code, 0, stopped.stderr.slice(-3000));
  assert.match(stopped.stdout, /stopped: .*industrial-1=TERMINATED/);
  assert.match(stopped.stdout, /cognitive-1=TERMINATED/);
  assert.match(stopped.stdout, /data-1=TERMINATED/);
});
