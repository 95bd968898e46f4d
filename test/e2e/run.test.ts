/**
 * The embedded default end to end: the real `glimmer run` process (built bundle), real agent processes, the simulated
 * plant on loopback (ports picked by the OS), then SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.join(__dirname, '..', '..');

test('GIVEN a fresh state dir WHEN glimmer run starts THEN three agents are ACTIVE via the API, and SIGTERM ends with all TERMINATED and exit 0', { timeout: 120000 }, async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-e2e-'));
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'glimmer'), 'run', '--state-dir', stateDir, '--api-port', '0', '--api-mtls-port', '0', '--modbus-port', '0', '--opcua-port', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GLIMMER_LOG_LEVEL: 'warn' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<URL>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no console address in time\nstdout:${stdout}\nstderr:${stderr.slice(-4000)}`)), 90000);
      const poll = setInterval(() => {
        const m = /Operator console: (http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]+)/.exec(stdout);
        if (m?.[1]) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve(new URL(m[1]));
        }
      }, 50);
    });
    const token = url.hash.replace('#token=', '');
    assert.equal(token, fs.readFileSync(path.join(stateDir, 'admin-token'), 'utf8').trim());
    assert.equal(fs.statSync(path.join(stateDir, 'admin-token')).mode & 0o777, 0o600);
    assert.ok(!stderr.includes(token), 'the token never goes into a log');
    const res = await fetch(new URL('/v1/agents', url), { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const agents = (await res.json()) as { id: string; kind: string; state: string }[];
    assert.deepEqual(agents.map((a) => `${a.kind}:${a.state}`).sort(), ['cognitive:ACTIVE', 'data:ACTIVE', 'industrial:ACTIVE'], stderr.slice(-3000));
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr.slice(-3000));
  assert.match(stdout, /stopped: .*industrial-1=TERMINATED/);
  assert.match(stdout, /cognitive-1=TERMINATED/);
  assert.match(stdout, /data-1=TERMINATED/);
});
