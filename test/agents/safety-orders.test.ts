/**
 * Routing of safety orders (runtime/agents/safety-orders.ts) over real A2A messengers (real SVIDs from the runtime's
 * CA, TLS 1.3 on loopback, the shipped Cedar policies): no order leaves without being delivered or audited as
 * `safety.order_failed`, whatever the target kind. Agent targets end to end: test/lifecycle/safety-holds.test.ts.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startAgentMessenger, TOPIC_SHUTDOWN, type AgentMessenger } from '../../runtime/trust/a2a/messenger';
import { parseSafetyAck, parseShutdownBody, SafetyOrderRouter, type OrderCommand } from '../../runtime/agents/safety-orders';
import { loadConfig } from '../../runtime/config/load';
import type { RuntimeConfig } from '../../runtime/config/types';
import { isGlimmerError } from '../../runtime/errors';
import type { SafetyOrder } from '../../runtime/lifecycle/ipc';
import type { AgentMessage, AuditRecordInput, SafetyAck } from '../../runtime/model/messages';
import { plantMap } from '../../runtime/model/plant-map';
import { silentLogger } from '../../runtime/observability/logger';
import { type Ca, ensureCa } from '../../runtime/trust/ca';
import { issueSvid } from '../../runtime/trust/svid';

let config: RuntimeConfig;
let ca: Ca;
let dir: string;
const open: AgentMessenger[] = [];
const units = new Set(['plant', ...plantMap().map((e) => e.asset)]);

before(async () => {
  config = loadConfig();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-orders-'));
  ca = await ensureCa(dir, config.topology.trust_domain);
});
after(async () => {
  for (const m of open) await m.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function messenger(name: string, delivered: AgentMessage[] = [], audits: AuditRecordInput[] = []): Promise<AgentMessenger> {
  const spec = config.agents.find((a) => a.name === name) as RuntimeConfig['agents'][number];
  const identity = async () => {
    const svid = await issueSvid(ca, { zone: spec.zone, agent: spec.name });
    return { certPem: svid.certPem, keyPem: svid.keyPem, bundlePem: ca.bundlePem };
  };
  const accepts = name === 'cognitive-1' ? [] : [{ topic: TOPIC_SHUTDOWN, action: 'shutdown' as const, description: 'orders' }];
  const m = await startAgentMessenger({ spec, config, identity: await identity(), renew: identity, accepts, audit: (r) => audits.push(r), logger: silentLogger(), deliver: (msg) => delivered.push(msg) });
  open.push(m);
  return m;
}

function router(send: AgentMessenger['send'], industrial: string | undefined) {
  const audit: AuditRecordInput[] = [];
  const orders: SafetyOrder[] = [];
  const r = new SafetyOrderRouter({
    self: 'cognitive-1', agents: new Set(config.agents.map((a) => a.name)), industrial, isPlantUnit: (t) => units.has(t),
    send: (to, topic, body, done) => send(to, topic, body, done), order: (o) => orders.push(o), audit: (x) => audit.push(x), logger: silentLogger(),
  });
  return { r, audit, orders };
}

const command = (target: string): OrderCommand => ({ target, codes: ['SIF-01-DRY-RUN'], decision_id: crypto.randomUUID(), snapshot_time_ms: 1 });

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('GIVEN a plant unit WHEN its shutdown is ordered THEN it reaches the Industrial agent, whose policy decisions on it (call, shutdown) carry the order\'s decision id; with that endpoint gone it is audited as undelivered, then delivered again as recovered', { timeout: 60_000 }, async () => {
  const delivered: AgentMessage[] = [];
  const industrialAudit: AuditRecordInput[] = [];
  const industrial = await messenger('industrial-1', delivered, industrialAudit);
  const cognitive = await messenger('cognitive-1');
  cognitive.setPeers({ 'industrial-1': industrial.url as string });
  const { r, audit } = router((...a) => cognitive.send(...a), 'industrial-1');
  const first = command('pump_2');
  r.hold(first);
  await until('the order at industrial-1', () => delivered.length === 1);
  assert.deepEqual(delivered[0]?.body, { action: 'hold', target: 'pump_2', decision_id: first.decision_id, codes: ['SIF-01-DRY-RUN'], snapshot_time_ms: 1, attempt: 1 });
  const decisions = industrialAudit.filter((a) => a.type === 'policy.decision' && a.decision_id === first.decision_id);
  assert.deepEqual(decisions.map((d) => [d.action, d.decision, d.enforcement]), [['call', 'allow', 'a2a'], ['shutdown', 'allow', 'a2a']]);
  assert.equal(delivered[0]?.from, 'cognitive-1');
  assert.equal(audit.length, 0, 'a delivered order needs no record beyond the decision');

  // The Industrial agent's endpoint is unknown (restarting): audited, not dropped.
  cognitive.setPeers({});
  const lost = command('pump_2');
  r.hold(lost);
  await until('the failure record', () => audit.length === 1);
  assert.deepEqual({ ...audit[0], message: undefined }, { type: 'safety.order_failed', target: 'pump_2', target_kind: 'plant', action: 'hold', decision_id: lost.decision_id, codes: ['SIF-01-DRY-RUN'], code: 'GLM_ERR_SAFETY_ORDER_UNDELIVERED', message: undefined });

  cognitive.setPeers({ 'industrial-1': industrial.url as string });
  r.hold(command('pump_2'));
  await until('the recovery record', () => audit.length === 2);
  assert.equal(audit[1]?.type, 'safety.order_delivered');
  assert.equal(audit[1]?.recovered, true);
});

test('GIVEN a plant unit and no Industrial agent in the configuration WHEN its shutdown is ordered THEN GLM_ERR_SAFETY_ORDER_UNDELIVERED is audited, and a release later withdraws it', async () => {
  const sent: string[] = [];
  const { r, audit } = router((to) => sent.push(to), undefined);
  r.hold(command('valve_1'));
  assert.equal(audit[0]?.code, 'GLM_ERR_SAFETY_ORDER_UNDELIVERED');
  assert.equal(audit[0]?.target_kind, 'plant');
  r.release(command('valve_1'));
  assert.equal(audit[1]?.type, 'safety.order_withdrawn');
  assert.deepEqual(sent, []);
});

test('GIVEN a target that is neither an agent nor a plant unit WHEN ordered THEN GLM_ERR_SAFETY_TARGET_UNKNOWN is audited and nothing is sent', async () => {
  const sent: string[] = [];
  const { r, audit, orders } = router((to) => sent.push(to), 'industrial-1');
  r.hold(command('pump_99'));
  assert.deepEqual([audit[0]?.type, audit[0]?.code, audit[0]?.target_kind], ['safety.order_failed', 'GLM_ERR_SAFETY_TARGET_UNKNOWN', 'unknown']);
  assert.deepEqual([sent, orders], [[], []]);
});

test('GIVEN the deciding agent itself WHEN ordered held and released THEN both go to its own supervisor as orders from itself, never over A2A', async () => {
  const sent: string[] = [];
  const { r, audit, orders } = router((to) => sent.push(to), 'industrial-1');
  const c = command('cognitive-1');
  r.hold(c);
  r.release({ ...c, codes: [] });
  assert.deepEqual(orders.map((o) => [o.action, o.target, o.from, o.decision_id]), [['hold', 'cognitive-1', 'cognitive-1', c.decision_id], ['release', 'cognitive-1', 'cognitive-1', c.decision_id]]);
  assert.deepEqual([sent, audit], [[], []]);
});

test('GIVEN an agent target WHEN its hold is delivered THEN the delivery is its acknowledgement (executed, no PLC reading); a release is not acknowledged', async () => {
  const acks: SafetyAck[] = [];
  const r = new SafetyOrderRouter({
    self: 'cognitive-1', agents: new Set(config.agents.map((a) => a.name)), industrial: 'industrial-1', isPlantUnit: (t) => units.has(t),
    send: (_to, _topic, _body, done) => done(), order: () => undefined, audit: () => undefined, logger: silentLogger(), delivered: (a) => acks.push(a),
  });
  const c = { ...command('data-1'), attempt: 3 };
  r.hold(c);
  r.release(c);
  r.hold(command('cognitive-1'));
  assert.deepEqual(acks.map((a) => [a.target, a.decision_id === c.decision_id, a.attempt, a.outcome, a.plc_after]), [['data-1', true, 3, 'executed', null], ['cognitive-1', false, 1, 'executed', null]]);
});

test('GIVEN acknowledgements with a missing decision id, a bad outcome, a bad attempt or a malformed PLC reading WHEN parsed THEN GLM_ERR_SAFETY_ORDER_INVALID names the field; a well-formed one parses', () => {
  const good = { decision_id: 'd-1', target: 'pump_1', attempt: 1, outcome: 'executed', plc_after: { signal: 'pump_1.run', value: false, at_ms: 5 } };
  assert.deepEqual(parseSafetyAck(good), good);
  assert.equal(parseSafetyAck({ ...good, attempt: undefined }).attempt, 1);
  for (const [bad, field] of [[{ ...good, decision_id: undefined }, /decision_id/], [{ ...good, outcome: 'done' }, /outcome/], [{ ...good, attempt: 0 }, /attempt/], [{ ...good, plc_after: { signal: 'x', value: 'off', at_ms: 1 } }, /plc_after/], [{ ...good, target: '../x' }, /target/], ['ack', /object/]] as const) {
    assert.throws(() => parseSafetyAck(bad), (err: unknown) => isGlimmerError(err) && err.code === 'GLM_ERR_SAFETY_ORDER_INVALID' && field.test(err.message));
  }
});

test('GIVEN random bodies WHEN parsed as received acknowledgements THEN each is an acknowledgement or GLM_ERR_SAFETY_ORDER_INVALID, never another error', () => {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;
  const values: unknown[] = [null, undefined, 0, -1, 1, 2.5, NaN, Infinity, '', 'x'.repeat(100), 'pump_2', 'executed', 'refused', [], {}, { signal: 'pump_2.run', value: false, at_ms: 1 }, { signal: 1 }, true];
  for (let i = 0; i < 5000; i++) {
    const body = Math.random() < 0.1 ? pick(values) : Object.fromEntries(['decision_id', 'target', 'attempt', 'outcome', 'plc_after', '__proto__'].filter(() => Math.random() < 0.7).map((k) => [k, pick(values)]));
    try {
      const a = parseSafetyAck(body);
      assert.ok(a.decision_id.length > 0 && Number.isInteger(a.attempt) && a.attempt >= 1);
    } catch (err) {
      assert.ok(isGlimmerError(err) && err.code === 'GLM_ERR_SAFETY_ORDER_INVALID', `${JSON.stringify(body)}: ${String(err)}`);
    }
  }
});

test('GIVEN another agent whose endpoint is unknown WHEN it is ordered held THEN the failure is audited with target_kind agent', async () => {
  const cognitive = await messenger('cognitive-1');
  cognitive.setPeers({});
  const { r, audit } = router((...a) => cognitive.send(...a), 'industrial-1');
  r.hold(command('data-1'));
  await until('the failure record', () => audit.length === 1);
  assert.deepEqual([audit[0]?.target, audit[0]?.target_kind, audit[0]?.code], ['data-1', 'agent', 'GLM_ERR_SAFETY_ORDER_UNDELIVERED']);
});

test('GIVEN random bodies WHEN parsed as received safety orders THEN each is an order or GLM_ERR_SAFETY_ORDER_INVALID, never another error', () => {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;
  const values: unknown[] = [null, undefined, 0, -1, 1.5, NaN, '', 'x'.repeat(100), 'pump_2', 'hold', 'release', 'stop', [], ['a'], Array(20).fill('c'), {}, { toString: 1 }, true];
  for (let i = 0; i < 5000; i++) {
    const body = Math.random() < 0.1 ? pick(values) : Object.fromEntries(['target', 'action', 'decision_id', 'codes', 'snapshot_time_ms', '__proto__', 'extra'].filter(() => Math.random() < 0.6).map((k) => [k, pick(values)]));
    try {
      const o = parseShutdownBody(body);
      assert.match(o.target, /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
      assert.ok(o.action === 'hold' || o.action === 'release');
      assert.ok(o.codes.length <= 16);
    } catch (err) {
      assert.ok(isGlimmerError(err) && err.code === 'GLM_ERR_SAFETY_ORDER_INVALID', `${JSON.stringify(body)}: ${String(err)}`);
    }
  }
});
