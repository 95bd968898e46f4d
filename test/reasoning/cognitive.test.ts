import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { AuditRecordInput, ShutdownOrder } from '../../runtime/model/messages';
import cognitiveFactory from '../../runtime/agents/cognitive';
import { loadConfig } from '../../runtime/config/load';
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import { CognitiveCore } from '../../runtime/reasoning/cognitive-core';
import { reasoningSettings } from '../../runtime/reasoning/config';
import { RuleEngine } from '../../runtime/reasoning/engine';
import { loadAnomalyModel, type AnomalyModel } from '../../runtime/reasoning/anomaly-model';
import { SIMULATED_PLANT_PROFILE, type PumpSnapshot } from '../../runtime/model/plant';
import { staticFacts } from '../../runtime/reasoning/plant-facts';
import { INT8_MODEL, sha256Of } from '../../bench/scenarios/inference';
import { RULES_DIR, RULESETS } from './engines';

const config = loadConfig();
const settings = reasoningSettings(config.cognitive);
let model: AnomalyModel;
before(async () => {
  model = await loadAnomalyModel({ file: INT8_MODEL, expectedSha256: sha256Of(INT8_MODEL) });
});

function recorder() {
  const shutdowns: ShutdownOrder[] = [];
  const audits: AuditRecordInput[] = [];
  const statuses: Record<string, unknown>[] = [];
  return { shutdowns, audits, statuses, sinks: { shutdown: (c: ShutdownOrder) => shutdowns.push(c), audit: (r: AuditRecordInput) => audits.push(r), publish: (s: Record<string, unknown>) => statuses.push(s) } };
}

async function core(rec: ReturnType<typeof recorder>, now?: () => number): Promise<CognitiveCore> {
  const engine = await RuleEngine.create({ rulesDir: RULES_DIR, rulesets: RULESETS });
  return new CognitiveCore({ engine, model, modelPath: 'models/anomaly-int8.onnx', threshold: settings.threshold, staticFacts: staticFacts(SIMULATED_PLANT_PROFILE, config.agents, config.zones), sinks: rec.sinks, stride: 10, now });
}

test('GIVEN the default configuration WHEN the cognitive behaviour is built THEN it declares the three rule files, the int8 model and the policies of its A2A endpoint as its artifacts', () => {
  const spec = config.agents.find((a) => a.kind === 'cognitive') ?? { name: 'cognitive-1', kind: 'cognitive' as const, zone: 'control', required_safety_level: 2 };
  assert.deepEqual(cognitiveFactory(spec, config).artifacts, [
    'rules/industrial_safety.pl', 'rules/iso55001_asset_rules.pl', 'rules/compliance/iso55001_checks.pl', 'models/anomaly-int8.onnx',
    'rules/policies/agents.cedar', 'rules/policies/audit.cedar', 'rules/policies/copilots.cedar', 'rules/policies/northbound.cedar', 'rules/policies/registers.cedar', 'rules/policies/schema.cedarschema',
  ]);
});

test('GIVEN pump_2 running while tank_2 drains below 50 cm WHEN the snapshots reach the core THEN pump_2 is ordered shut down once, the order and the decision record carry one decision id, and the record explains it with the rule, its binding, the code and the model hash', async () => {
  const rec = recorder();
  let clock = 0;
  const c = await core(rec, () => clock);
  const plant = new PlantRuntime({ seed: 3 });
  plant.onSnapshot((s) => c.onSnapshot(s));
  for (let i = 0; i < 70; i++) plant.tick(1000);
  await c.idle();
  assert.equal(rec.shutdowns.length, 0, 'nothing while the tank is full');
  plant.sim.closeValve('valve_1');
  for (let i = 0; i < 400 && rec.shutdowns.length === 0; i++) plant.tick(1000);
  clock = 1999;
  for (let i = 0; i < 5; i++) plant.tick(1000);
  await c.idle();
  assert.equal(rec.shutdowns.length, 1, 'once, not again while its acknowledgement is awaited');
  assert.deepEqual([rec.shutdowns[0]?.target, rec.shutdowns[0]?.attempt, rec.shutdowns[0]?.reason], ['pump_2', 1, 'new']);
  assert.ok(rec.shutdowns[0]?.codes.includes('SIF-01-DRY-RUN'), 'the command carries the safety function that fired');
  const decision = rec.audits.find((a) => a.type === 'cognitive.decision' && (a.shutdowns_sent as string[]).includes('pump_2')) as Record<string, unknown>;
  assert.ok(decision, 'a decision record names the shutdown');
  assert.equal(decision.decision_id, rec.shutdowns[0]?.decision_id);
  assert.deepEqual(decision.orders, [{ target: 'pump_2', attempt: 1, reason: 'new' }]);
  const order = rec.audits.find((a) => a.type === 'safety.order') as Record<string, unknown>;
  assert.deepEqual([order.decision_id, order.target, order.attempt, order.reason], [decision.decision_id, 'pump_2', 1, 'new']);
  assert.deepEqual((decision.fired as unknown[]).filter((f) => (f as { rule: string }).rule === 'dry_run_protection'), [{ rule: 'dry_run_protection', bindings: { Pump: 'pump_2' } }]);
  assert.ok((decision.violations as { code: string }[]).some((v) => v.code === 'SIF-01-DRY-RUN'));
  assert.deepEqual(decision.model, { sha256: model.sha256, path: 'models/anomaly-int8.onnx' });
  assert.ok(decision.scores !== null, 'the model had scored a window by then');
});

/** A core fed hand-made snapshots: pump_2 running above its pressure limit (SIF-02) at plant time `t`. */
async function overpressured(rec: ReturnType<typeof recorder>, clock: () => number) {
  const c = await core(rec, clock);
  const base = new PlantRuntime({ seed: 4 }).snapshot;
  const at = (t: number, pump: Partial<{ running: boolean; run_command: boolean }> = {}) => {
    const p = base.assets.pump_2 as PumpSnapshot;
    c.onSnapshot({ ...base, time_ms: t, assets: { ...base.assets, pump_2: { ...p, running: true, run_command: true, ...pump, values: { ...p.values, discharge_pressure_bar: 3.5 } } } }, { window: false });
  };
  return { c, at };
}

test('GIVEN an order awaiting its acknowledgement WHEN the timeout passes THEN it goes again under the same decision id as attempt 2, the timeout audited; once acknowledged as executed it is never sent again while the rule fires', async () => {
  const rec = recorder();
  let clock = 0;
  const { c, at } = await overpressured(rec, () => clock);
  at(1000);
  assert.equal(rec.shutdowns.length, 1);
  const first = rec.shutdowns[0] as ShutdownOrder;
  clock = 1500; at(1100);
  assert.equal(rec.shutdowns.length, 1, 'within the timeout: not again');
  clock = 2000; at(1200);
  assert.deepEqual(rec.shutdowns.map((o) => [o.decision_id, o.attempt, o.reason]), [[first.decision_id, 1, 'new'], [first.decision_id, 2, 'ack_timeout']]);
  const timeout = rec.audits.find((a) => a.type === 'safety.order_timeout') as Record<string, unknown>;
  assert.deepEqual([timeout.decision_id, timeout.target, timeout.attempt, timeout.waited_ms], [first.decision_id, 'pump_2', 1, 2000]);
  clock = 2100;
  c.onAck({ decision_id: first.decision_id, target: 'pump_2', attempt: 2, outcome: 'executed', plc_after: { signal: 'pump_2.run', value: false, at_ms: 1250 } });
  const acked = rec.audits.find((a) => a.type === 'safety.order_acked') as Record<string, unknown>;
  assert.deepEqual([acked.decision_id, acked.attempt, acked.outcome, acked.latency_ms, (acked.plc_after as { value: boolean }).value], [first.decision_id, 2, 'executed', 100, false]);
  // Snapshots still in flight from before the stop show it running: they are older than the PLC reading, so no change.
  for (let i = 0; i < 10; i++) { clock += 5000; at(1240); }
  at(1300, { running: false, run_command: false });
  clock += 60_000; at(1400, { running: false, run_command: false });
  assert.equal(rec.shutdowns.length, 2, 'acknowledged: not again while the rule keeps firing');
  assert.equal(c.stats.acks, 1);
});

test('GIVEN an acknowledged order WHEN a later snapshot shows the pump commanded to run again while the rule fires THEN a new decision sends a new order for the state change', async () => {
  const rec = recorder();
  const { c, at } = await overpressured(rec, () => 0);
  at(1000);
  const first = rec.shutdowns[0] as ShutdownOrder;
  c.onAck({ decision_id: first.decision_id, target: 'pump_2', attempt: 1, outcome: 'executed', plc_after: { signal: 'pump_2.run', value: false, at_ms: 1010 } });
  // (A stopped pump ends the overpressure rule's firing; a rule that keeps firing, like leak_containment, meets this.)
  at(2000, { running: true, run_command: true });
  assert.equal(rec.shutdowns.length, 2);
  const second = rec.shutdowns[1] as ShutdownOrder;
  assert.notEqual(second.decision_id, first.decision_id);
  assert.deepEqual([second.attempt, second.reason], [1, 'state_change']);
  const decision = rec.audits.filter((a) => a.type === 'cognitive.decision').at(-1) as Record<string, unknown>;
  assert.deepEqual([decision.decision_id, decision.orders], [second.decision_id, [{ target: 'pump_2', attempt: 1, reason: 'state_change' }]]);
});

test('GIVEN an order the gateway refused WHEN the rule keeps firing past the timeout THEN it is not sent again; an acknowledgement of no awaited order is audited as ignored', async () => {
  const rec = recorder();
  let clock = 0;
  const { c, at } = await overpressured(rec, () => clock);
  at(1000);
  const first = rec.shutdowns[0] as ShutdownOrder;
  c.onAck({ decision_id: first.decision_id, target: 'pump_2', attempt: 1, outcome: 'refused', plc_after: null });
  for (let i = 0; i < 5; i++) { clock += 5000; at(1100 + i); }
  assert.equal(rec.shutdowns.length, 1);
  c.onAck({ decision_id: 'not-sent', target: 'pump_2', attempt: 1, outcome: 'executed', plc_after: null });
  c.onAck({ decision_id: first.decision_id, target: 'pump_1', attempt: 1, outcome: 'executed', plc_after: null });
  assert.deepEqual(rec.audits.filter((a) => a.type === 'safety.ack_ignored').map((a) => [a.decision_id, a.target]), [['not-sent', 'pump_2'], [first.decision_id, 'pump_1']]);
});

test('GIVEN an order acknowledged as unconfirmed (written, not seen in the PLC) WHEN the timeout passes THEN it is sent again', async () => {
  const rec = recorder();
  let clock = 0;
  const { c, at } = await overpressured(rec, () => clock);
  at(1000);
  const first = rec.shutdowns[0] as ShutdownOrder;
  c.onAck({ decision_id: first.decision_id, target: 'pump_2', attempt: 1, outcome: 'unconfirmed', plc_after: null });
  clock = 2500; at(1100);
  assert.deepEqual(rec.shutdowns.map((o) => [o.decision_id, o.attempt]), [[first.decision_id, 1], [first.decision_id, 2]]);
});

test('GIVEN a stuck level sensor on tank_1 WHEN a full window has been scored THEN the published status names stuck_sensor on tank_1 above the threshold', async () => {
  const rec = recorder();
  const c = await core(rec);
  const plant = new PlantRuntime({ seed: 11 });
  plant.tick(120_000);
  plant.sim.injectFault('tank_1', 'stuck_sensor');
  plant.onSnapshot((s) => c.onSnapshot(s));
  for (let i = 0; i < 70; i++) plant.tick(1000);
  await c.idle();
  const last = rec.statuses.filter((s) => s.anomaly !== null).at(-1) as Record<string, unknown>;
  assert.ok(last, 'the model published scores');
  assert.equal(last.mode, 'stuck_sensor');
  assert.equal(last.asset, 'tank_1');
  assert.ok((last.anomaly as number) >= settings.threshold);
});

test('GIVEN a healthy plant WHEN windows are scored THEN no shutdown is sent and the mode stays normal', async () => {
  const rec = recorder();
  const c = await core(rec);
  const plant = new PlantRuntime({ seed: 5 });
  plant.tick(120_000);
  plant.onSnapshot((s) => c.onSnapshot(s));
  for (let i = 0; i < 90; i++) plant.tick(1000);
  await c.idle();
  assert.deepEqual(rec.shutdowns, []);
  assert.equal(rec.statuses.filter((s) => s.anomaly !== null).at(-1)?.mode, 'normal');
});

test('GIVEN rules that run away WHEN a snapshot arrives THEN the core audits cognitive.error with GLM_ERR_RULES_INFERENCE_LIMIT for each and keeps running, and drops a body that is not a snapshot', async () => {
  const rec = recorder();
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-core-'));
  fs.writeFileSync(path.join(dir, 'spin.pl'), 'spin(X) :- spin(X).\n');
  const engine = await RuleEngine.create({ rulesDir: RULES_DIR, rulesets: [...RULESETS, path.join(dir, 'spin.pl')], inferenceLimit: 10_000, entries: [{ rule: 'spin', params: ['X'] }] });
  const c = new CognitiveCore({ engine, threshold: 0.5, staticFacts: [], sinks: rec.sinks });
  c.onSnapshot(new PlantRuntime({ seed: 1 }).snapshot);
  c.onSnapshot({ not: 'a snapshot' });
  c.onSnapshot(new PlantRuntime({ seed: 2 }).snapshot);
  assert.deepEqual(rec.audits.map((a) => [a.type, a.code]), [['cognitive.error', 'GLM_ERR_RULES_INFERENCE_LIMIT'], ['cognitive.error', 'GLM_ERR_RULES_INFERENCE_LIMIT']]);
  assert.equal(c.stats.rejected, 1, 'a body that is not a snapshot is dropped');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('GIVEN an order acknowledged by its delivery only (an agent\'s hold: no PLC reading) WHEN the rule still fires past the timeout THEN it is renewed under the same decision id, without a timeout record', async () => {
  const rec = recorder();
  let clock = 0;
  const { c, at } = await overpressured(rec, () => clock);
  at(1000);
  const first = rec.shutdowns[0] as ShutdownOrder;
  c.onAck({ decision_id: first.decision_id, target: 'pump_2', attempt: 1, outcome: 'executed', plc_after: null });
  clock = 1999; at(1100);
  assert.equal(rec.shutdowns.length, 1);
  clock = 2000; at(1200);
  assert.deepEqual(rec.shutdowns.map((o) => [o.decision_id, o.attempt, o.reason]), [[first.decision_id, 1, 'new'], [first.decision_id, 2, 'renewal']]);
  assert.equal(rec.audits.filter((a) => a.type === 'safety.order_timeout').length, 0);
});

test('GIVEN an order whose rule stopped firing before its acknowledgement arrived WHEN the acknowledgement comes THEN it is still audited as acknowledged, once', async () => {
  const rec = recorder();
  const { c, at } = await overpressured(rec, () => 0);
  at(1000);
  const first = rec.shutdowns[0] as ShutdownOrder;
  at(1010, { running: false, run_command: false });
  const ack = { decision_id: first.decision_id, target: 'pump_2', attempt: 1, outcome: 'executed' as const, plc_after: { signal: 'pump_2.run', value: false, at_ms: 1005 } };
  c.onAck(ack);
  c.onAck(ack);
  assert.deepEqual(rec.audits.filter((a) => a.type === 'safety.order_acked').map((a) => [a.decision_id, a.outcome]), [[first.decision_id, 'executed']]);
  assert.deepEqual(rec.audits.filter((a) => a.type === 'safety.ack_ignored').map((a) => a.why), ['already acknowledged']);
});
