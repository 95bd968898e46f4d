/**
 * The audit writer thread dies mid-run, under traffic, on the real runtime: the log fails closed (appends refused with
 * GLM_ERR_AUDIT_STORAGE_FAILED), the evidence paths refuse what depends on it (gateway writes answer exception 04,
 * fault injection 503 and nothing applied), /readyz says the audit log cannot commit; then the log starts a new writer,
 * recovers the store, records `audit.recovered` and continues. Every write and append acknowledged before, during and
 * after the crash is in the store.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { startRuntime, type Runtime } from '../../runtime/app';
import { auditDbPath } from '../../runtime/audit/log';
import { isGlimmerError } from '../../runtime/errors';
import { ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import { silentLogger } from '../../runtime/observability/logger';
import { waitUntil } from './helpers';

const CLIENT = '127.0.0.11';

test('GIVEN the runtime under write and append traffic WHEN its audit writer thread dies THEN evidence paths fail closed (exception 04, 503, not ready), the log restarts its writer, records audit.recovered and continues, and no acknowledged write or append is lost', { timeout: 240_000 }, async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-writer-crash-'));
  const workers: Worker[] = [];
  const onWorker = (w: Worker) => workers.push(w);
  process.on('worker', onWorker);
  let rt: Runtime | undefined;
  let client: ModbusTcpClient | undefined;
  let probe: ModbusTcpClient | undefined;
  try {
    rt = await startRuntime({ stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
    const r = rt;
    // The runtime's only thread is the audit writer, the newest one running (tsx's module hooks have their own, from
    // the process start); that it was the writer shows in the health reason below.
    const writer = workers.filter((w) => w.threadId !== -1).sort((a, b) => b.threadId - a.threadId)[0] as Worker;
    assert.ok(writer, 'the audit writer thread');
    const started = workers.length;
    const base = `http://127.0.0.1:${r.apiPort}`;
    const auth = { authorization: `Bearer ${r.adminToken}`, 'content-type': 'application/json' };
    const port = Number(new URL(`tcp://${r.endpoints.modbus_operations}`).port);
    client = new ModbusTcpClient('127.0.0.1', port, 3000);
    await client.connect({ localAddress: CLIENT });
    const c = client;
    // A second client for the probe during the outage: the first numbers its transactions by its loop counter.
    probe = new ModbusTcpClient('127.0.0.1', port, 3000);
    await probe.connect({ localAddress: '127.0.0.12' });

    const ackedWrites = new Set<number>();
    const refusedWrites: number[] = [];
    const ackedAppends = new Map<number, number>();
    let refusedAppends = 0;
    let stop = false;
    let tid = 0;
    const writes = (async () => {
      for (let i = 0; !stop; i++) {
        tid = i + 1;
        const res = await c.writeRegister(1, 1, i % 1000);
        if (res.exception === 0) ackedWrites.add(tid);
        else refusedWrites.push(res.exception);
      }
    })();
    const appends = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const { index } = await r.audit.append({ type: 'test.traffic', i });
          ackedAppends.set(index, i);
        } catch (err) {
          assert.ok(isGlimmerError(err, 'GLM_ERR_AUDIT_STORAGE_FAILED'), String(err));
          refusedAppends += 1;
          await new Promise((res) => setTimeout(res, 5));
        }
      }
    })();
    await waitUntil('traffic acknowledged', () => ackedWrites.size >= 50 && ackedAppends.size >= 50, 60_000, 20);

    // The thread dies: no close, no final checkpoint, whatever it was committing.
    const exited = new Promise<number>((res) => writer.once('exit', res));
    await writer.terminate();
    assert.equal(await exited, 1);
    await waitUntil('the log failing closed', () => !r.audit.health().committing, 5000, 2);
    // Evidence paths refuse while it cannot commit (the first recovery attempt comes a second later): the gateway
    // (exception 04), fault injection (503, nothing applied), readiness.
    const [write, ready, fault] = await Promise.all([
      probe.writeRegister(1, 1, 7),
      fetch(`${base}/readyz`),
      fetch(`${base}/v1/plant/faults`, { method: 'POST', headers: auth, body: JSON.stringify({ asset: 'tank_2', fault: 'stuck_sensor' }) }),
    ]);
    assert.equal(write.exception, 4, 'a gateway write during the outage is refused');
    assert.equal(ready.status, 503);
    const down = ((await ready.json()) as { conditions: Record<string, { ok: boolean; reason?: string }> }).conditions;
    assert.equal(down.audit?.ok, false);
    assert.match(down.audit?.reason ?? '', /writer thread exited/);
    assert.equal(fault.status, 503);
    assert.equal(((await fault.json()) as { error: { code: string } }).error.code, 'GLM_ERR_AUDIT_STORAGE_FAILED');
    assert.ok(!r.plant!.sim.activeFaults().some((f) => f.asset === 'tank_2'), 'a fault whose record cannot be durable is not applied');

    // The log starts a new writer, reads the store back and continues.
    await waitUntil('the audit log committing again', () => r.audit.health().committing, 30_000, 20);
    assert.equal(workers.length, started + 1, 'a new writer thread');
    const after = ackedWrites.size;
    await waitUntil('traffic acknowledged after recovery', () => ackedWrites.size >= after + 50, 60_000, 20);
    const readyAgain = await fetch(`${base}/readyz`);
    const conditions = ((await readyAgain.json()) as { conditions: Record<string, { ok: boolean }> }).conditions;
    assert.equal(conditions.audit?.ok, true);
    stop = true;
    await Promise.all([writes, appends]);
    await r.stop();
    rt = undefined;

    const db = new Database(auditDbPath(stateDir), { readonly: true });
    const rows = db.prepare('SELECT idx, leaf FROM entries ORDER BY idx').raw(true).all() as [number, Buffer][];
    db.close();
    const byIndex = new Map(rows.map(([idx, leaf]) => [idx, (JSON.parse(leaf.toString('utf8')) as { record: Record<string, unknown> }).record]));
    // Indexes are contiguous across the crash: nothing reused, nothing skipped.
    assert.deepEqual(rows.map(([idx]) => idx), rows.map((_, i) => i));
    const lostAppends = [...ackedAppends].filter(([index, i]) => byIndex.get(index)?.type !== 'test.traffic' || byIndex.get(index)?.i !== i);
    const decided = new Set([...byIndex.values()].filter((x) => x.type === 'modbus.decision' && x.peer === CLIENT && x.function_code === 6 && x.decision === 'allow').map((x) => x.transaction as number));
    const lostWrites = [...ackedWrites].filter((x) => !decided.has(x));
    const recovered = [...byIndex.values()].find((x) => x.type === 'audit.recovered');
    t.diagnostic(`acknowledged writes ${ackedWrites.size} (refused ${refusedWrites.length}), appends ${ackedAppends.size} (refused ${refusedAppends}); lost writes ${lostWrites.length}, lost appends ${lostAppends.length}`);
    assert.ok(recovered, 'an audit.recovered record states the outage');
    assert.match(String(recovered.error), /writer thread exited/);
    assert.deepEqual(lostWrites, [], 'every acknowledged write has its durable decision record');
    assert.deepEqual(lostAppends, [], 'every acknowledged append is in the store at its index');
    // 04 while the log cannot commit; 06 when the audit governor rate-limits this client for flooding refusals (a
    // refusal too, and the one a loaded run reaches); anything else would be a write path that did not fail closed.
    const answers = new Map<number, number>();
    for (const e of refusedWrites) answers.set(e, (answers.get(e) ?? 0) + 1);
    assert.ok([...answers.keys()].every((e) => e === 4 || e === 6), `refused writes answer exception 04 or 06: ${JSON.stringify([...answers])}`);
    assert.ok((answers.get(4) ?? 0) > 0, 'writes during the outage answer exception 04');
  } finally {
    process.off('worker', onWorker);
    client?.close();
    probe?.close();
    await rt?.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});
