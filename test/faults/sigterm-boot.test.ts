/**
 * SIGTERM at several moments of start-up (Kubernetes stops pods that are still starting): as soon as /healthz
 * answers, while agents boot, and once running. Each time: exit 0, every agent TERMINATED (or never started), the
 * runtime's final audit record written, no EPIPE crash of a booting agent, no agent left behind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitUntil } from './helpers';
import { alive, auditTypes, childPids, startGlimmer } from './runtime-process';

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`)).status === 200;
  } catch {
    return false;
  }
}

for (const [moment, delayMs] of [['as soon as /healthz answers', 0], ['400 ms later (agents booting)', 400], ['1500 ms later', 1500]] as const) {
  test(`GIVEN glimmer run starting WHEN SIGTERM arrives ${moment} THEN it exits 0 with every agent TERMINATED, a final runtime.stop record and no EPIPE`, { timeout: 120000 }, async () => {
    const g = startGlimmer();
    const seen = new Set<number>();
    try {
      const url = await g.apiUrl();
      await waitUntil('/healthz', () => healthy(url), 60000, 10);
      const watch = setInterval(() => { if (g.child.exitCode === null) for (const p of childPids(g.child.pid as number)) seen.add(p); }, 20);
      await new Promise((r) => setTimeout(r, delayMs));
      g.child.kill('SIGTERM');
      const { code, signal } = await g.exited;
      clearInterval(watch);
      assert.equal(signal, null, g.output().stderr.slice(-3000));
      assert.equal(code, 0, g.output().stderr.slice(-3000));
      assert.doesNotMatch(g.output().stderr, /EPIPE|Unhandled|uncaught/i);
      assert.match(g.output().stdout, /stopped: /);
      for (const state of g.output().stdout.match(/stopped: (.*)/)?.[1]?.split(' ') ?? []) assert.match(state, /=TERMINATED$/);
      const types = auditTypes(g.stateDir);
      assert.equal(types.at(-1), 'runtime.stop', types.slice(-5).join(', '));
      await waitUntil('no agent process left', () => [...seen].every((p) => !alive(p)), 2000);
    } finally {
      for (const p of seen) if (alive(p)) process.kill(p, 'SIGKILL');
      if (g.child.exitCode === null) g.child.kill('SIGKILL');
    }
  });
}
