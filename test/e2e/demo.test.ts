/**
 * The shipped demo (config/glimmer.yml's fault schedule) on the real swarm, as `make run` runs it: the runtime, its
 * agent processes, the simulated plant on wall-clock time. A leak on tank_1 (critical, redundant) is detected and left
 * alone with redundancy as the recorded reason; a seal leak on pump_2 (critical, no redundancy) is shut down once,
 * acknowledged, and every link of that decision is in the audit log. The model's live attribution over the run is held
 * to its held-out figures (models/anomaly-eval.json, written by `make model`). About five minutes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startRuntime } from '../../runtime/app';
import { readAuditRecords } from '../../runtime/audit/records';
import { REPO_ROOT } from '../../runtime/config/load';
import { silentLogger } from '../../runtime/observability/logger';
import { WINDOW_LENGTH } from '../../runtime/reasoning/model-contract';
import { MIN_FAULT_SECONDS } from '../../runtime/industrial/plant/dataset';
import { waitFor } from '../helpers/wait';

type Rec = Record<string, unknown>;
interface Status { readonly anomaly: number | null; readonly mode: string; readonly asset: string | null; readonly window_end_ms: number | null; readonly model_sha256: string | null }

/** Largest count k of misses still consistent with a per-trial miss rate p over n trials (P(X >= k+1) < 1 %). */
export function allowedMisses(n: number, p: number): number {
  const choose = (k: number) => { let c = 1; for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1); return c; };
  let tail = 1;
  for (let k = 0; k <= n; k++) {
    tail -= choose(k) * p ** k * (1 - p) ** (n - k);
    if (tail < 0.01) return k;
  }
  return n;
}

test('GIVEN allowedMisses WHEN asked for a rate of zero or one THEN none or all are allowed, and a 1 % rate over 10 trials allows one', () => {
  assert.equal(allowedMisses(10, 0), 0);
  assert.equal(allowedMisses(10, 1), 10);
  assert.equal(allowedMisses(10, 0.01), 1);
});

test('GIVEN the shipped fault schedule WHEN the swarm runs it THEN the tank_1 leak is detected without action (redundancy), the pump_2 leak stops pump_2 with exactly one acknowledged order whose chain is joinable from the audit log, and the live attribution is consistent with the held-out figures', { timeout: 480_000 }, async (t) => {
  const evaluation = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'models', 'anomaly-eval.json'), 'utf8')) as { threshold: number; model: { int8_sha256: string }; test: { int8_wire_resolution: { fpr: number; classified: Record<string, number> } } };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-demo-'));
  const stateDir = path.join(dir, 'state');
  const rt = await startRuntime({ stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
  t.after(async () => {
    await rt.stop('test');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const statuses: Status[] = [];
  rt.supervisor.on('status', (agent: string, status: unknown) => {
    if (agent === 'cognitive-1' && (status as Status).anomaly !== undefined && (status as Status).anomaly !== null) statuses.push(status as Status);
  });
  const records = async () => { const out: Rec[] = []; for await (const r of readAuditRecords({ stateDir })) out.push(r); return out; };
  const schedule = rt.config.plant.faultSchedule;
  const tank = schedule.find((e) => e.asset === 'tank_1');
  const pump = schedule.find((e) => e.asset === 'pump_2');
  assert.ok(tank && pump && tank.fault === 'leak' && pump.fault === 'leak' && tank.clear_at_s !== undefined, 'the shipped schedule: a leak on tank_1 (repaired), then one on pump_2');

  // pump_2 stopped by the agents, then long enough for full windows of the stopped pump.
  const stopped = await waitFor('pump_2 shut down', async () => (await records()).find((r) => r.type === 'industrial.shutdown' && r.target === 'pump_2' && r.outcome === 'executed'), (pump.at_s + 120) * 1000, { intervalMs: 2000 });
  const stoppedAt = (stopped.plc_after as { at_ms: number }).at_ms;
  await new Promise((r) => setTimeout(r, (WINDOW_LENGTH + 25) * 1000));
  const log = await records();

  // The detection without action.
  const injected = (asset: string) => log.find((r) => r.type === 'plant.fault.injected' && r.asset === asset) as Rec;
  const cleared = log.find((r) => r.type === 'plant.fault.cleared' && r.asset === 'tank_1') as Rec;
  assert.ok(injected('tank_1') && cleared && injected('pump_2'), 'both injections and the repair are audited');
  const decisions = log.filter((r) => r.type === 'cognitive.decision');
  const redundant = decisions.find((d) => (d.no_action as { asset: string; reason: string }[]).some((n) => n.asset === 'tank_1' && n.reason === 'redundancy'));
  assert.ok(redundant, 'a decision records the tank_1 leak and redundancy as the reason for no action');
  assert.deepEqual((redundant.scores as { mode: string }).mode, 'leak');
  assert.ok(!decisions.some((d) => (d.shutdowns as string[]).includes('tank_1')), 'tank_1 is never ordered shut down');

  // Exactly one order, acknowledged, and the chain joinable by its decision id.
  const orders = log.filter((r) => r.type === 'safety.order');
  assert.deepEqual(orders.map((o) => [o.target, o.attempt, o.reason]), [['pump_2', 1, 'new']], 'one order for the whole run');
  const id = orders[0]?.decision_id as string;
  const decision = decisions.find((d) => d.decision_id === id) as Rec;
  assert.deepEqual((decision.fired as { rule: string; bindings: Rec }[]).filter((f) => f.rule === 'leak_containment'), [{ rule: 'leak_containment', bindings: { Asset: 'pump_2' } }]);
  const scores = decision.scores as { mode: string; assets: Record<string, number> };
  assert.equal(scores.mode, 'leak');
  assert.ok((scores.assets.pump_2 as number) >= 0.9, `the model is sure of the leak on pump_2 (${scores.assets.pump_2})`);
  assert.equal((decision.model as { sha256: string }).sha256, evaluation.model.int8_sha256, 'the decision names the evaluated model');
  const policy = log.filter((r) => r.type === 'policy.decision' && r.decision_id === id);
  assert.deepEqual(policy.filter((p) => p.agent === 'industrial-1').map((p) => [p.action, p.decision]), [['call', 'allow'], ['shutdown', 'allow']], 'the order, at the Industrial agent');
  assert.deepEqual(policy.filter((p) => p.agent === 'cognitive-1').map((p) => [p.action, p.decision]), [['call', 'allow']], 'the acknowledgement, at the Cognitive agent');
  const shutdown = log.find((r) => r.type === 'industrial.shutdown' && r.decision_id === id) as Rec;
  assert.deepEqual([shutdown.signal, shutdown.value, shutdown.outcome, (shutdown.plc_after as Rec).value], ['pump_2.run', false, 'executed', false]);
  const ref = shutdown.modbus as { peer_port: number; transaction: number };
  assert.equal(log.filter((r) => r.type === 'modbus.decision' && r.peer_port === ref.peer_port && r.transaction === ref.transaction && r.decision === 'allow').length, 1, 'the gateway write joins the order');
  const acks = log.filter((r) => r.type === 'safety.order_acked');
  assert.deepEqual(acks.map((a) => [a.decision_id, a.outcome]), [[id, 'executed']]);
  assert.equal((rt.plant?.snapshot.assets.pump_2 as { run_command: boolean }).run_command, false);

  // Live attribution against the held-out figures: windows with >= MIN_FAULT_SECONDS of the tank_1 leak (ending while
  // it is active) must be classified leak on tank_1; windows with no visible fault must not be flagged.
  const held = evaluation.test.int8_wire_resolution;
  const startMs = injected('tank_1').at_ms as number - tank.at_s * 1000;
  const span = WINDOW_LENGTH * 1000;
  const leak = { from: injected('tank_1').at_ms as number, to: cleared.at_ms as number };
  const fault: Status[] = [];
  const normal: Status[] = [];
  for (const s of statuses) {
    const end = s.window_end_ms as number;
    if (end >= leak.from + MIN_FAULT_SECONDS * 1000 && end <= leak.to) fault.push(s);
    // Fault-free windows: before the first injection, or a full window after pump_2 stopped (its leak can no longer show).
    else if ((end - span >= startMs && end <= leak.from) || end - span >= stoppedAt) normal.push(s);
  }
  const misses = fault.filter((s) => !((s.anomaly as number) >= evaluation.threshold && s.mode === 'leak' && s.asset === 'tank_1'));
  const flagged = normal.filter((s) => (s.anomaly as number) >= evaluation.threshold);
  const figures = JSON.stringify({ fault: fault.length, misses: misses.map((s) => [s.anomaly, s.mode, s.asset]), normal: normal.length, flagged: flagged.map((s) => [s.anomaly, s.mode, s.asset]), held });
  t.diagnostic(`live attribution: ${figures}`);
  assert.ok(fault.length >= 4 && normal.length >= 2, `enough live windows to judge (${figures})`);
  assert.ok(statuses.every((s) => s.model_sha256 === evaluation.model.int8_sha256), 'every live score comes from the evaluated model');
  assert.ok(misses.length <= allowedMisses(fault.length, 1 - (held.classified.leak as number)), `live tank_1 leak attribution below the held-out rate (${figures})`);
  assert.ok(flagged.length <= allowedMisses(normal.length, held.fpr), `live false positives above the held-out rate (${figures})`);
});
