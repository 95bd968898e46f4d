/**
 * Decisions acknowledged but not durable after kill -9 of the supervisor under traffic. One client (its own loopback
 * address) alternates allowed setpoint writes and reads through the gateway; the supervisor is killed mid-stream.
 * Every write the client saw acknowledged must have its decision record in the store (write-ahead); acknowledged reads
 * without a record (individual or aggregate) are counted: the measured read loss.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { auditDbPath } from '../../runtime/audit/log';
import { ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import { waitUntil } from './helpers';
import { childPids, alive, startGlimmer } from './runtime-process';

const CLIENT = '127.0.0.9';

function operationsPort(stderr: string): number {
  const line = stderr.split('\n').find((l) => l.includes('"embedded plant started"')) ?? '';
  const m = /"modbus_operations":"[^"]*:(\d+)"/.exec(line);
  if (!m) throw new Error(`no operations listener in the log: ${stderr.slice(-2000)}`);
  return Number(m[1]);
}

test('GIVEN writes and reads through the gateway WHEN the supervisor is killed with SIGKILL mid-stream THEN no acknowledged write lacks its durable record, and the read loss is measured', { timeout: 240000 }, async (t) => {
  const g = startGlimmer();
  const agents: number[] = [];
  try {
    await g.consoleUrl();
    const port = operationsPort(g.output().stderr);
    const ackedWrites = new Set<number>();
    const ackedReads = new Set<number>();
    const c = new ModbusTcpClient('127.0.0.1', port, 2000);
    await c.connect({ localAddress: CLIENT });
    let tid = 0;
    const traffic = (async () => {
      try {
        for (let i = 0; i < 60000; i++) {
          // The client numbers its transactions from 1: the i-th request has transaction id i + 1.
          tid = i + 1;
          if (i % 2 === 0) {
            const r = await c.writeRegister(1, 1, (i / 2) % 1000);
            if (r.exception === 0) ackedWrites.add(tid);
          } else {
            const r = await c.readInputRegisters(1, 10, 2);
            if (r.exception === 0) ackedReads.add(tid);
          }
        }
      } catch {
        /* the gateway died with the supervisor */
      }
    })();
    await waitUntil('acknowledged writes', () => ackedWrites.size >= 100, 60000, 20);
    agents.push(...childPids(g.child.pid as number));
    process.kill(g.child.pid as number, 'SIGKILL');
    await traffic;
    await g.exited;
    c.close();

    const db = new Database(auditDbPath(g.stateDir));
    const records = (db.prepare('SELECT leaf FROM entries').pluck().all() as Buffer[]).map((l) => (JSON.parse(l.toString('utf8')) as { record: Record<string, unknown> }).record);
    db.close();
    const mine = records.filter((r) => r.type === 'modbus.decision' && r.peer === CLIENT);
    const writes = new Set(mine.filter((r) => r.function_code === 6 && r.decision === 'allow').map((r) => r.transaction as number));
    const reads = new Set(mine.filter((r) => r.function_code === 4).map((r) => r.transaction as number));
    const aggregatedReads = records.filter((r) => r.type === 'audit.aggregate' && r.source === `modbus:${CLIENT}`).reduce((n, r) => n + (r.count as number), 0);
    const lostWrites = [...ackedWrites].filter((x) => !writes.has(x));
    const unrecordedReads = [...ackedReads].filter((x) => !reads.has(x)).length;
    const lostReads = Math.max(0, unrecordedReads - aggregatedReads);
    t.diagnostic(`acknowledged writes ${ackedWrites.size}, lost ${lostWrites.length}; acknowledged reads ${ackedReads.size}, recorded one by one ${reads.size}, aggregated ${aggregatedReads}, lost ${lostReads}`);
    assert.deepEqual(lostWrites, [], 'every acknowledged write has its durable decision record');
    assert.ok(ackedWrites.size >= 100);
  } finally {
    for (const p of agents) if (alive(p)) process.kill(p, 'SIGKILL');
    if (g.child.exitCode === null) g.child.kill('SIGKILL');
  }
});
