/**
 * Crashes of the process tree under Modbus traffic: kill -9 of the supervisor (every agent must be gone within 1 s,
 * not linger as an orphan), and kill -9 of each agent (the supervisor restarts it and audits the crash).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import { waitUntil } from './helpers';
import { alive, auditTypes, childPids, startGlimmer } from './runtime-process';

interface AgentRow { id: string; kind: string; state: string }

async function agents(url: string, token: string): Promise<AgentRow[]> {
  const res = await fetch(`${url}/v1/agents`, { headers: { authorization: `Bearer ${token}` } });
  return (await res.json()) as AgentRow[];
}

/** Reads the plant through the operations listener in a loop until stopped; counts answers. */
function traffic(port: number): { stop(): Promise<number> } {
  let running = true;
  let answered = 0;
  const loop = (async () => {
    while (running) {
      const c = new ModbusTcpClient('127.0.0.1', port, 1000);
      try {
        await c.connect();
        while (running) {
          await c.readInputRegisters(1, 10, 2);
          answered += 1;
        }
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        c.close();
      }
    }
  })();
  return { async stop() { running = false; await loop; return answered; } };
}

/** The operations listener of the gateway, from the "embedded plant started" log line. */
function modbusPort(stderr: string): number {
  const line = stderr.split('\n').find((l) => l.includes('"embedded plant started"'));
  const endpoints = line ? (JSON.parse(line) as { endpoints: Record<string, string> }).endpoints : {};
  const m = /:(\d+)$/.exec(endpoints.modbus_operations ?? '');
  if (!m) throw new Error(`no operations listener in the log: ${line ?? stderr.slice(-2000)}`);
  return Number(m[1]);
}

test('GIVEN a running swarm under Modbus traffic WHEN each agent is killed with SIGKILL THEN the supervisor restarts it to ACTIVE and audits agent.crash; WHEN the supervisor is killed with SIGKILL THEN no agent is alive 1 s later', { timeout: 240000 }, async () => {
  const g = startGlimmer();
  let agentPids: number[] = [];
  try {
    const consoleUrl = await g.consoleUrl();
    const url = consoleUrl.origin;
    const token = consoleUrl.hash.replace('#token=', '');
    await waitUntil('every agent ACTIVE', async () => (await agents(url, token)).every((a) => a.state === 'ACTIVE'), 60000, 200);
    const load = traffic(modbusPort(g.output().stderr));
    const pid = g.child.pid as number;
    // kill -9 of each agent, one at a time, under traffic.
    for (const victim of childPids(pid)) {
      process.kill(victim, 'SIGKILL');
      await waitUntil(`agent ${victim} restarted`, async () => !childPids(pid).includes(victim) && childPids(pid).length === 3 && (await agents(url, token)).every((a) => a.state === 'ACTIVE'), 60000, 200);
    }
    assert.ok((await load.stop()) > 0, 'traffic was answered while agents were killed');
    agentPids = childPids(pid);
    assert.equal(agentPids.length, 3);
    const before = Date.now();
    process.kill(pid, 'SIGKILL');
    await g.exited;
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - before))));
    const survivors = agentPids.filter(alive);
    assert.deepEqual(survivors, [], `agents alive 1 s after the supervisor's SIGKILL: ${survivors.join(', ')}`);
    const types = auditTypes(g.stateDir);
    assert.equal(types.filter((t) => t === 'agent.crash').length, 3);
  } finally {
    for (const p of agentPids) if (alive(p)) process.kill(p, 'SIGKILL');
    if (g.child.exitCode === null) g.child.kill('SIGKILL');
  }
});

test('GIVEN agents still booting WHEN the supervisor is killed with SIGKILL THEN no agent is alive 1 s later (a booting agent busy in its OPC UA handshake included)', { timeout: 180000 }, async () => {
  const g = startGlimmer();
  let agentPids: number[] = [];
  try {
    await g.apiUrl();
    const pid = g.child.pid as number;
    // Killed once an agent is booting (its code loaded, its boot under way): the state the watch must cover.
    await waitUntil('three agent processes, one of them booting', () => childPids(pid).length === 3 && /"to":"BOOTSTRAPPING"/.test(g.output().stderr), 60000, 20);
    agentPids = childPids(pid);
    const before = Date.now();
    process.kill(pid, 'SIGKILL');
    await g.exited;
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - before))));
    assert.deepEqual(agentPids.filter(alive), [], 'agents alive 1 s after the supervisor\'s SIGKILL during boot');
  } finally {
    for (const p of agentPids) if (alive(p)) process.kill(p, 'SIGKILL');
    if (g.child.exitCode === null) g.child.kill('SIGKILL');
  }
});
