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
import { SIMULATED_PLANT_PROFILE } from '../../runtime/model/plant';
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

test('GIVEN pump_2 running while tank_2 drains below 50 cm WHEN the snapshots reach the core THEN pump_2 is shut down (again every 2 s while it runs) and the audit record explains it with the rule, its binding, the code and the model hash', async () => {
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
  for (let i = 0; i < 5; i++) plant.tick(1000);
  await c.idle();
  assert.ok(rec.shutdowns.every((x) => x.target === 'pump_2'), 'only pump_2 is commanded');
  assert.ok(rec.shutdowns[0]?.codes.includes('SIF-01-DRY-RUN'), 'the command carries the safety function that fired');
  const before = rec.shutdowns.length;
  clock = 2000;
  plant.tick(1000);
  assert.equal(rec.shutdowns.length, before + 1, 'sent again after 2 s while the pump still runs');
  const decision = rec.audits.find((a) => a.type === 'cognitive.decision' && (a.shutdowns_sent as string[]).includes('pump_2')) as Record<string, unknown>;
  assert.ok(decision, 'a decision record names the shutdown');
  assert.equal(decision.decision_id, rec.shutdowns[0]?.decision_id);
  assert.deepEqual((decision.fired as unknown[]).filter((f) => (f as { rule: string }).rule === 'dry_run_protection'), [{ rule: 'dry_run_protection', bindings: { Pump: 'pump_2' } }]);
  assert.ok((decision.violations as { code: string }[]).some((v) => v.code === 'SIF-01-DRY-RUN'));
  assert.deepEqual(decision.model, { sha256: model.sha256, path: 'models/anomaly-int8.onnx' });
  assert.ok(decision.scores !== null, 'the model had scored a window by then');
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
