/**
 * The decision chain read back from a real audit log (SQLite, signed checkpoints): the records are the shapes a real
 * `glimmer run` wrote when a leak on pump_1 was injected through the API (copied from its log, ids and times kept), and
 * the shapes the runtime writes once every link carries the decision_id (order records, policy decisions with the id,
 * the gateway frame named by the Industrial agent, the PLC read-back and the acknowledgement).
 * `glimmer explain` prints the same chain from the state dir.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { entriesOf, explainDecision, formatChain, recentDecisions } from '../../runtime/audit/explain';
import { openAuditLog, type AuditLog } from '../../runtime/audit/log';
import { isGlimmerError } from '../../runtime/errors';
import { silentLogger } from '../../runtime/observability/logger';
import { AlarmBook } from '../../runtime/api/console/alarms';
import { decisionRoutes } from '../../runtime/api/routes/decisions';
import { createApiServer } from '../../runtime/api/server';
import { glimmer } from '../helpers/cli';
import { tempDir } from './helpers';

const ID = 'bc901d69-e790-4ff5-af8a-1a78e4eefc81';
const MODEL = { path: 'models/anomaly-int8.onnx', sha256: '4505c075845a467c44c9924b833f7a8aa40f21f5f699a071f4e7abf9681fe400' };
const COGNITIVE = 'spiffe://glimmer.local/zone/operations/agent/cognitive-1';
const INDUSTRIAL = 'spiffe://glimmer.local/zone/control/agent/industrial-1';
const call = { type: 'policy.decision', action: 'call', agent: 'cognitive-1', decision: 'allow', enforcement: 'a2a', errors: [], reasons: ['a2a-call-over-conduit'], resource: `Agent::${COGNITIVE}`, subject: INDUSTRIAL };
const read = (t: number) => ({ type: 'modbus.decision', address: 0, code: null, connection: 1, decision: 'allow', exception: 0, function_code: 1, peer: '127.0.0.1', quantity: 4, reason: 'policy', safety: false, time_ms: t, transaction: t, unit: 1, zone: 'control' });

/** The run's records in order, with the noise between them (A2A calls, reads, another asset's fault). */
function realRun(): Record<string, unknown>[] {
  return [
    { type: 'runtime.start', config: 'glimmer.yml', deployment_model: 'ISA95_ZONED' },
    { type: 'cognitive.started', agent: 'cognitive-1', model: MODEL, threshold: 0.2234 },
    { type: 'plant.fault.injected', asset: 'pump_1', by: 'fault_schedule', fault: 'bearing_wear' },
    call,
    { type: 'policy.decision', action: 'configure', decision: 'allow', enforcement: 'https', errors: [], reasons: ['engineer-may-configure'], resource: 'Asset::plant', subject: 'spiffe://glimmer.local/operator/admin' },
    { type: 'plant.fault.injected', asset: 'pump_1', by: 'admin', fault: 'leak' },
    read(1), call,
    { type: 'plant.fault.injected', asset: 'tank_2', by: 'fault_schedule', fault: 'leak' },
    { type: 'plant.fault.injected', asset: 'pump_1', by: 'fault_schedule', fault: 'stuck_sensor' },
    {
      type: 'cognitive.decision', agent: 'cognitive-1', clearances_sent: [], decision_id: ID, trigger: 'model', snapshot_time_ms: 1796501589151,
      fired: [{ bindings: { Asset: 'pump_1' }, rule: 'asset_risk_policy' }, { bindings: { Asset: 'pump_1' }, rule: 'leak_containment' }],
      model: MODEL, new_violations: [{ asset: 'pump_1', code: 'SIF-03-LEAK' }],
      scores: { anomaly: 0.9989, asset: 'pump_1', assets: { pump_1: 0.97, pump_2: 0.0008 }, mode: 'leak', threshold: 0.2234, window_end_ms: 1796501589151 },
      shutdowns: ['pump_1'], shutdowns_sent: ['pump_1'], orders: [{ target: 'pump_1', attempt: 1, reason: 'new' }], violations: [{ asset: 'pump_1', code: 'ISO55001-8.2.3' }, { asset: 'pump_1', code: 'SIF-03-LEAK' }],
    },
    call, read(2),
    { type: 'policy.decision', action: 'shutdown', agent: 'industrial-1', decision: 'allow', enforcement: 'a2a', errors: [], reasons: ['cognitive-may-shutdown'], resource: `Agent::${INDUSTRIAL}`, subject: COGNITIVE },
    { type: 'modbus.decision', address: 3, code: null, connection: 1, decision: 'allow', exception: 0, function_code: 5, peer: '127.0.0.1', quantity: 1, reason: 'policy', safety: false, time_ms: 1796501590080, transaction: 9, unit: 1, zone: 'operations' },
    { type: 'modbus.decision', address: 0, code: null, connection: 1, decision: 'allow', exception: 0, function_code: 5, peer: '127.0.0.1', quantity: 1, reason: 'policy', safety: false, time_ms: 1796501590087, transaction: 1, unit: 1, zone: 'control' },
    { type: 'industrial.shutdown', agent: 'industrial-1', codes: ['ISO55001-8.2.3', 'SIF-03-LEAK'], decision_id: ID, exception: 0, executed_at_ms: 1796501590133, outcome: 'executed', signal: 'pump_1.run', snapshot_time_ms: 1796501589151, target: 'pump_1', value: false, via: 'modbus' },
    call,
  ];
}

async function logWith(records: Record<string, unknown>[]): Promise<{ log: AuditLog; dir: string; at: (type: string, n?: number) => number }> {
  const dir = tempDir('glimmer-explain-');
  const log = await openAuditLog({ stateDir: dir, logger: silentLogger() });
  const indexes: { type: string; index: number }[] = [];
  for (const r of records) indexes.push({ type: String(r.type), index: (await log.append(r as { type: string })).index });
  return { log, dir, at: (type, n = 0) => (indexes.filter((i) => i.type === type)[n] as { index: number }).index };
}

test('GIVEN the records of a real leak shutdown WHEN the chain of its decision is assembled THEN every link is the right record: the admin injection of the class the model saw (not the scheduled faults before and after it), score, model, rules, the shutdown policy decision, the write to pump_1.run (not another coil) and the execution', async (t) => {
  const { log, dir, at } = await logWith(realRun());
  t.after(async () => { await log.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  const c = explainDecision(entriesOf(log), at('cognitive.decision'));
  assert.equal(c.decision_id, ID);
  assert.equal(c.agent, 'cognitive-1');
  assert.deepEqual(c.targets, ['pump_1']);
  assert.deepEqual([c.fault?.index, c.fault?.fault, c.fault?.by], [at('plant.fault.injected', 1), 'leak', 'admin']);
  assert.deepEqual(c.scores, { anomaly: 0.9989, mode: 'leak', asset: 'pump_1', target_score: 0.97, threshold: 0.2234 });
  assert.deepEqual(c.model, MODEL);
  assert.deepEqual(c.rules.map((f) => `${f.rule}(${f.bindings.Asset})`), ['asset_risk_policy(pump_1)', 'leak_containment(pump_1)']);
  assert.deepEqual(c.policy.map((p) => [p.index, p.action, p.reasons[0]]), [[at('policy.decision', 4), 'shutdown', 'cognitive-may-shutdown']]);
  assert.equal(c.write?.index, at('modbus.decision', 3), 'the write to unit 1 coil 0 (pump_1.run), not the coil 3 write before it');
  assert.deepEqual([c.execution?.index, c.execution?.signal, c.execution?.value, c.execution?.outcome], [at('industrial.shutdown'), 'pump_1.run', false, 'executed']);
  assert.deepEqual(c.missing, ['plc_after']);
  assert.deepEqual(c.orders.map((o) => [o.index, o.target, o.attempt, o.reason]), [[at('cognitive.decision'), 'pump_1', 1, 'new']], 'the orders the decision lists, at its own index');
  // Any record carrying the decision_id leads to the same chain.
  assert.deepEqual(explainDecision(entriesOf(log), at('industrial.shutdown')), c);
  assert.deepEqual(recentDecisions(entriesOf(log), 10), [at('cognitive.decision')]);
  const text = formatChain(c);
  for (const part of ['pump_1: leak injected by admin', MODEL.sha256, 'leak_containment(Asset=pump_1)', 'ALLOW shutdown', 'fc5 unit 1 @0', 'pump_1.run = false via modbus: executed']) assert.ok(text.includes(part), `${part} in:\n${text}`);
});

test('GIVEN every link carrying the decision_id (orders, policy, the gateway frame named by peer port and transaction, PLC read-back, acknowledgement) WHEN assembled THEN those records are used and nothing is missing', async (t) => {
  const records = realRun().map((r) => (r.type === 'industrial.shutdown' ? { ...r, modbus: { zone: 'control', peer_port: 40001, transaction: 1 }, plc_after: { signal: 'pump_1.running', value: false, at_ms: 1796501590140 } } : r.type === 'modbus.decision' && r.function_code === 5 ? { ...r, peer_port: 40001 } : r));
  const d = records.findIndex((r) => r.type === 'cognitive.decision');
  records.splice(d + 1, 0,
    { type: 'safety.order', agent: 'cognitive-1', decision_id: ID, action: 'hold', target: 'pump_1', to: 'industrial-1', codes: ['SIF-03-LEAK'], attempt: 1, reason: 'new' },
    { type: 'policy.decision', agent: 'industrial-1', decision_id: ID, action: 'call', decision: 'allow', enforcement: 'a2a', errors: [], reasons: ['a2a-call-over-conduit'], resource: `Agent::${INDUSTRIAL}`, subject: COGNITIVE });
  records.push({ type: 'safety.order_acked', agent: 'cognitive-1', decision_id: ID, target: 'pump_1', attempt: 1, outcome: 'executed', plc_after: { signal: 'pump_1.running', value: false, at_ms: 1796501590141 }, latency_ms: 52 });
  const { log, dir, at } = await logWith(records);
  t.after(async () => { await log.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  const c = explainDecision(entriesOf(log), at('cognitive.decision'));
  assert.deepEqual(c.orders.map((o) => [o.index, o.to, o.attempt, o.reason]), [[at('safety.order'), 'industrial-1', 1, 'new']]);
  assert.deepEqual(c.policy.map((p) => p.action), ['call'], 'records with the decision_id are preferred to a time match');
  assert.equal(c.write?.index, at('modbus.decision', 3));
  assert.deepEqual(c.plc_after, { signal: 'pump_1.running', value: false, at_ms: 1796501590141, source: 'safety.order_acked' });
  assert.deepEqual([c.ack?.index, c.ack?.latency_ms], [at('safety.order_acked'), 52]);
  assert.deepEqual(c.missing, []);
});

test('GIVEN a leak detected on a redundant tank in two consecutive decisions (no action: redundancy) WHEN the timeline is read THEN one row, kind no_action, with its fault, score and reason and no order links expected', async (t) => {
  const detection = (id: string, extra: Record<string, unknown> = {}) => ({
    type: 'cognitive.decision', agent: 'cognitive-1', decision_id: id, trigger: 'model', clearances_sent: [], shutdowns: [], shutdowns_sent: [], orders: [],
    fired: [{ rule: 'no_action_reason', bindings: { Asset: 'tank_2', Reason: 'redundancy' } }], violations: [], new_violations: [],
    no_action: [{ asset: 'tank_2', reason: 'redundancy', rule: 'leak_containment' }], model: MODEL,
    scores: { anomaly: 0.99, asset: 'tank_2', assets: { tank_2: 0.96 }, mode: 'leak', threshold: 0.2234, window_end_ms: 1 }, ...extra,
  });
  const { log, dir, at } = await logWith([
    { type: 'runtime.start' },
    { type: 'plant.fault.injected', asset: 'tank_2', by: 'fault_schedule', fault: 'leak' },
    detection('n-1'), call, detection('n-2', { trigger: 'snapshot' }),
  ]);
  t.after(async () => { await log.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  assert.deepEqual(recentDecisions(entriesOf(log), 10), [at('cognitive.decision')], 'one detection, one row');
  const c = explainDecision(entriesOf(log), at('cognitive.decision'));
  assert.deepEqual([c.kind, c.targets, c.assets, c.fault?.asset, c.scores?.target_score, c.orders, c.missing], ['no_action', [], ['tank_2'], 'tank_2', 0.96, [], []]);
  assert.deepEqual(c.no_action, [{ asset: 'tank_2', reason: 'redundancy', rule: 'leak_containment' }]);
  assert.match(formatChain(c), /^Detection without action n-1 [\s\S]*no action {2}tank_2: redundancy \(leak_containment\)\n$/);
});

test('GIVEN an index that is no safety decision or outside the log WHEN explained THEN GLM_ERR_EXPLAIN_NOT_A_DECISION and GLM_ERR_AUDIT_RANGE_INVALID name it', async (t) => {
  const { log, dir, at } = await logWith(realRun());
  t.after(async () => { await log.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  assert.throws(() => explainDecision(entriesOf(log), at('plant.fault.injected')), (e: unknown) => isGlimmerError(e, 'GLM_ERR_EXPLAIN_NOT_A_DECISION') && /plant\.fault\.injected/.test(e.message));
  assert.throws(() => explainDecision(entriesOf(log), log.size()), (e: unknown) => isGlimmerError(e, 'GLM_ERR_AUDIT_RANGE_INVALID'));
  assert.throws(() => explainDecision(entriesOf(log), -1), (e: unknown) => isGlimmerError(e, 'GLM_ERR_AUDIT_RANGE_INVALID'));
});

test('GIVEN arbitrary records around a decision (malformed fields of any type) WHEN assembled THEN it returns a chain or a typed error, never a crash', async (t) => {
  const junk = fc.record({ type: fc.constantFrom('policy.decision', 'modbus.decision', 'industrial.shutdown', 'safety.order', 'safety.order_acked', 'plant.fault.injected', 'x'), decision_id: fc.oneof(fc.constant(ID), fc.anything()), target: fc.anything(), function_code: fc.oneof(fc.constant(5), fc.anything()), plc_after: fc.anything(), modbus: fc.anything(), asset: fc.oneof(fc.constant('pump_1'), fc.anything()), fired: fc.anything() });
  await fc.assert(fc.asyncProperty(fc.array(junk, { maxLength: 12 }), async (noise) => {
    const run = realRun();
    const records = [...run.slice(0, run.findIndex((r) => r.type === 'cognitive.decision') + 1), ...noise.map((n) => JSON.parse(JSON.stringify(n, (_k, v: unknown) => (typeof v === 'bigint' || v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? null : v))) as Record<string, unknown>)];
    const dir = tempDir('glimmer-explain-fuzz-');
    const log = await openAuditLog({ stateDir: dir, logger: silentLogger() });
    let decision = -1;
    // A record the log itself refuses (not canonical JSON) never reaches a reader.
    for (const r of records) await log.append(r as { type: string }).then(({ index }) => { if (r.type === 'cognitive.decision') decision = index; }, () => undefined);
    try {
      const c = explainDecision(entriesOf(log), decision);
      assert.equal(c.decision_id, ID);
      formatChain(c);
    } finally {
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }), { numRuns: 15 });
  t.diagnostic('15 random neighbourhoods');
});

test('GIVEN a closed state dir WHEN `glimmer explain <index>` runs (text and --json) THEN it prints the chain; a non-decision index exits 2 with GLM_ERR_EXPLAIN_NOT_A_DECISION', { timeout: 120_000 }, async (t) => {
  const { log, dir, at } = await logWith(realRun());
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const decision = at('cognitive.decision');
  const fault = at('plant.fault.injected');
  await log.close();
  const text = await glimmer(['explain', String(decision), '--dir', dir]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`Safety decision ${ID} .*audit #${decision}`));
  assert.match(text.stdout, /write {6}ALLOW fc5 unit 1 @0/);
  const json = await glimmer(['explain', String(decision), '--dir', dir, '--json']);
  assert.equal((JSON.parse(json.stdout) as { decision_id: string }).decision_id, ID);
  const refused = await glimmer(['explain', String(fault), '--dir', dir]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /GLM_ERR_EXPLAIN_NOT_A_DECISION/);
  const usage = await glimmer(['explain', 'x', '--dir', dir]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /GLM_ERR_USAGE/);
});

test('GIVEN a running API over the log WHEN `glimmer explain <index> --url --token` runs THEN it prints what --dir prints (the route assembles with the same function); a non-decision index and a wrong token exit 2 with their codes', { timeout: 120_000 }, async (t) => {
  const { log, dir, at } = await logWith(realRun());
  const token = 'explain-test-token-0123456789abcdefghijkl';
  const api = createApiServer({ adminToken: token, logger: silentLogger(), routes: decisionRoutes(entriesOf(log), new AlarmBook(), log) });
  const port = await api.listen(0);
  t.after(async () => {
    await api.close();
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  const decision = String(at('cognitive.decision'));
  const remote = await glimmer(['explain', decision, '--url', url, '--token', token]);
  assert.equal(remote.code, 0, remote.stderr);
  assert.equal(remote.stdout, formatChain(explainDecision(entriesOf(log), Number(decision))));
  const refused = await glimmer(['explain', String(at('plant.fault.injected')), '--url', url, '--token', token]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /GLM_ERR_EXPLAIN_NOT_A_DECISION/);
  const denied = await glimmer(['explain', decision, '--url', url, '--token', 'wrong']);
  assert.equal(denied.code, 2);
  assert.match(denied.stderr, /GLM_ERR_API_UNAUTHENTICATED/);
});
