/**
 * ISA-18.2 alarms: the state machine of the alarm book, and the acknowledge/shelve routes on the real API server with
 * the real PDP (Cedar, action `acknowledge`) and a real audit log: audited with the operator's identity before they
 * apply, refused as a whole when the policy denies or the log cannot commit.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';
import { AlarmBook } from '../../runtime/api/console/alarms';
import { routePolicyCheck } from '../../runtime/api/auth';
import { decisionRoutes } from '../../runtime/api/routes/decisions';
import { createApiServer } from '../../runtime/api/server';
import { entriesOf } from '../../runtime/audit/explain';
import { openAuditLog } from '../../runtime/audit/log';
import { loadConfig } from '../../runtime/config/load';
import type { ActiveAlert } from '../../runtime/observability/alerts';
import { silentLogger } from '../../runtime/observability/logger';
import { createApiAuthorizer } from '../../runtime/trust/policy/api';
import { PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';
import { tempDir } from '../audit/helpers';

const alert = (name: string, labels: Record<string, string> = {}): ActiveAlert => ({ name, severity: 'warning', state: 'firing', since: 1, summary: `${name} holds`, labels, response_plan: '/docs/response/iec61508.md#x' });

test('GIVEN the alarm book WHEN conditions come, go and are acknowledged THEN the states follow ISA-18.2: unack, acked, normal; unack, rtn_unack, normal; a returning condition needs a new acknowledgement', () => {
  let now = 1000;
  const book = new AlarmBook(undefined, () => now);
  book.syncAlerts([alert('SafetyWriteDenied', { zone: 'safety' })]);
  const [a] = book.list();
  assert.deepEqual([a?.state, a?.active], ['unack', true]);
  book.acknowledge(a?.id as string, 'admin');
  assert.deepEqual([book.get(a?.id as string).state, book.get(a?.id as string).acked_by], ['acked', 'admin']);
  book.syncAlerts([]);
  assert.equal(book.list().length, 0, 'acknowledged and cleared: back to normal, off the list');

  book.syncAlerts([alert('PlcUnreachable', { plc: 'plc-1' })]);
  const id = (book.list()[0] as { id: string }).id;
  book.syncAlerts([]);
  assert.equal(book.get(id).state, 'rtn_unack', 'cleared before anyone acknowledged: stays until acknowledged');
  book.syncAlerts([alert('PlcUnreachable', { plc: 'plc-1' })]);
  assert.equal(book.get(id).state, 'unack');
  book.acknowledge(id, 'admin');
  book.syncAlerts([]);
  assert.equal(book.list().length, 0);

  book.raiseSafety('pump_1', 'cognitive-1 ordered pump_1 shut down', 42, 'd-1');
  assert.deepEqual(pick(book.get('safety:pump_1')), { state: 'unack', asset: 'pump_1', decision_index: 42, decision_id: 'd-1' });
  book.acknowledge('safety:pump_1', 'admin');
  book.raiseSafety('pump_1', 'cognitive-1 ordered pump_1 shut down', 57, 'd-2');
  assert.deepEqual(pick(book.get('safety:pump_1')), { state: 'unack', asset: 'pump_1', decision_index: 57, decision_id: 'd-2' }, 'a new decision on the same target needs a new acknowledgement');
  book.shelve('safety:pump_1', 1);
  assert.equal(book.get('safety:pump_1').state, 'shelved');
  now += 61_000;
  assert.equal(book.get('safety:pump_1').state, 'unack', 'shelving ends by itself');
  book.clearSafety('pump_1');
  assert.equal(book.get('safety:pump_1').state, 'rtn_unack');
  assert.throws(() => book.acknowledge('safety:nothing', 'admin'), { code: 'GLM_ERR_ALARM_UNKNOWN' });
});

function pick(a: { state: string; asset: string | null; decision_index: number | null; decision_id: string | null }) {
  return { state: a.state, asset: a.asset, decision_index: a.decision_index, decision_id: a.decision_id };
}

async function rig(t: TestContext, operators?: { name: string; zone: string; roles: string[] }[]) {
  const config = loadConfig();
  const dir = tempDir('glimmer-alarms-');
  const log = await openAuditLog({ stateDir: dir, logger: silentLogger() });
  const pdp = await PolicyDecisionPoint.create({ model: { trustDomain: config.topology.trust_domain, zones: config.zones, conduits: config.conduits, agents: config.agents, topology: config.topology, ...(operators ? { operators } : {}) }, audit: (r) => void log.append(r).catch(() => undefined) });
  const book = new AlarmBook();
  const token = 'alarm-test-token-0123456789abcdefghijklmn';
  const api = createApiServer({ adminToken: token, logger: silentLogger(), routes: decisionRoutes(entriesOf(log), book, log), authorize: routePolicyCheck(createApiAuthorizer(pdp)) });
  const port = await api.listen(0);
  t.after(async () => {
    await api.close();
    await log.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const post = async (p: string, body: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${p}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } & Record<string, unknown> };
  };
  // An empty log has no range to read (the PDP's own records are appended without waiting).
  const records = () => (log.size() === 0 ? [] : log.entries(0, log.size() - 1)).map((e) => (JSON.parse(e.leaf.toString('utf8')) as { record: Record<string, unknown> }).record);
  return { book, log, post, records };
}

test('GIVEN a safety alarm WHEN the admin operator acknowledges and shelves it over the API THEN the PDP allows it (operator-may-acknowledge), the audit log holds who did what before the alarm changes', async (t) => {
  const { book, post, records, log } = await rig(t);
  book.raiseSafety('pump_1', 'cognitive-1 ordered pump_1 shut down', 7, 'd-7');
  const ack = await post('/v1/alarms/ack', { id: 'safety:pump_1' });
  assert.equal(ack.status, 200, JSON.stringify(ack.body));
  assert.equal(book.get('safety:pump_1').state, 'acked');
  await log.checkpoint();
  const rs = records();
  assert.deepEqual(rs.find((r) => r.type === 'alarm.acknowledged'), { type: 'alarm.acknowledged', alarm: 'safety:pump_1', name: 'SafetyShutdown', asset: 'pump_1', state: 'unack', decision_id: 'd-7', decision_index: 7, by: 'admin' });
  assert.ok(rs.some((r) => r.type === 'policy.decision' && r.action === 'acknowledge' && r.decision === 'allow' && (r.reasons as string[]).includes('operator-may-acknowledge')));
  const shelved = await post('/v1/alarms/shelve', { id: 'safety:pump_1', minutes: 30 });
  assert.equal(shelved.status, 200);
  assert.equal(book.get('safety:pump_1').state, 'shelved');
  assert.equal((await post('/v1/alarms/unshelve', { id: 'safety:pump_1' })).status, 200);
  assert.equal(book.get('safety:pump_1').state, 'acked');
  assert.deepEqual(records().filter((r) => String(r.type).startsWith('alarm.')).map((r) => r.type), ['alarm.acknowledged', 'alarm.shelved', 'alarm.unshelved']);
});

test('GIVEN bad requests WHEN acknowledging or shelving THEN GLM_ERR_ALARM_UNKNOWN (404) and GLM_ERR_API_BODY_INVALID (400) name the value, and nothing is audited', async (t) => {
  const { book, post, records } = await rig(t);
  book.raiseSafety('pump_1', 's', 1, 'd');
  const unknown = await post('/v1/alarms/ack', { id: 'safety:pump_9' });
  assert.deepEqual([unknown.status, unknown.body.error?.code], [404, 'GLM_ERR_ALARM_UNKNOWN']);
  assert.match(unknown.body.error?.message ?? '', /safety:pump_9/);
  const noId = await post('/v1/alarms/ack', { alarm: 1 });
  assert.deepEqual([noId.status, noId.body.error?.code], [400, 'GLM_ERR_API_BODY_INVALID']);
  for (const minutes of [0, 481, 1.5, '60']) {
    const r = await post('/v1/alarms/shelve', { id: 'safety:pump_1', minutes });
    assert.deepEqual([r.status, r.body.error?.code], [400, 'GLM_ERR_API_BODY_INVALID'], String(minutes));
  }
  assert.equal(book.get('safety:pump_1').state, 'unack');
  assert.equal(records().filter((r) => String(r.type).startsWith('alarm.')).length, 0);
});

test('GIVEN an admin operator with the auditor role only WHEN she acknowledges THEN the PDP denies it (GLM_ERR_API_FORBIDDEN) and the alarm stays unacknowledged', async (t) => {
  const { book, post } = await rig(t, [{ name: 'admin', zone: 'dmz', roles: ['auditor'] }]);
  book.raiseSafety('pump_1', 's', 1, 'd');
  const r = await post('/v1/alarms/ack', { id: 'safety:pump_1' });
  assert.deepEqual([r.status, r.body.error?.code], [403, 'GLM_ERR_API_FORBIDDEN']);
  assert.equal(book.get('safety:pump_1').state, 'unack');
});

test('GIVEN an audit log that cannot commit WHEN the operator acknowledges THEN the request fails with the log\'s error and the alarm is unchanged (no unaudited acknowledgement)', async (t) => {
  const { book, post, log } = await rig(t);
  book.raiseSafety('pump_1', 's', 1, 'd');
  await log.close();
  const r = await post('/v1/alarms/ack', { id: 'safety:pump_1' });
  assert.deepEqual([r.status, r.body.error?.code], [503, 'GLM_ERR_AUDIT_CLOSED']);
  assert.equal(book.get('safety:pump_1').state, 'unack');
});
