import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { AlertEvaluator, RUNTIME_ALERT_RULES } from '../../runtime/observability/alerts';
import { createMetrics, LIFECYCLE_STATES } from '../../runtime/observability/metrics';

interface Rule { alert: string; for?: string; labels: { severity: string }; annotations: { response_plan: string } }
const yamlRules = (YAML.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'monitoring', 'prometheus', 'custom_rules.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const seconds = (d?: string) => (d === undefined ? 0 : Number(d.slice(0, -1)) * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[d.slice(-1)]!);

test('GIVEN custom_rules.yml WHEN compared with the runtime\'s alert table THEN names, for durations, severities and runbooks agree', () => {
  assert.deepEqual(
    RUNTIME_ALERT_RULES.map((r) => [r.name, r.forS, r.severity, r.responsePlan]),
    yamlRules.map((r) => [r.alert, seconds(r.for), r.labels.severity, r.annotations.response_plan]),
  );
});

test('GIVEN an agent below its required level WHEN evaluated over time THEN SafetyIntegrityBreach is pending, firing after 2 minutes, and gone once the level is restored', async () => {
  const m = createMetrics();
  const ev = new AlertEvaluator(m);
  m.safetyIntegrityLevel.set({ agent: 'industrial-1', zone: 'control' }, 3);
  m.requiredSafetyLevel.set({ agent: 'industrial-1', zone: 'control' }, 3);
  assert.deepEqual(await ev.evaluate(0), []);
  m.safetyIntegrityLevel.set({ agent: 'industrial-1', zone: 'control' }, 2);
  assert.equal((await ev.evaluate(1000))[0]?.state, 'pending');
  const firing = (await ev.evaluate(121_000))[0];
  assert.equal(firing?.state, 'firing');
  assert.equal(firing?.name, 'SafetyIntegrityBreach');
  assert.deepEqual(firing?.labels, { agent: 'industrial-1', zone: 'control' });
  m.safetyIntegrityLevel.set({ agent: 'industrial-1', zone: 'control' }, 3);
  assert.deepEqual(await ev.evaluate(122_000), []);
});

test('GIVEN agents below their required level in each lifecycle state WHEN evaluated past 2 minutes THEN SafetyIntegrityBreach fires for every state but TERMINATED, and stops once an agent is TERMINATED', async () => {
  const m = createMetrics();
  const ev = new AlertEvaluator(m);
  const agents = LIFECYCLE_STATES.map((state, i) => ({ agent: `agent-${i}`, zone: 'control', state }));
  const enter = (a: { agent: string; zone: string }, to: string) => {
    for (const state of LIFECYCLE_STATES) m.agentState.set({ agent: a.agent, kind: 'industrial', zone: a.zone, state }, state === to ? 1 : 0);
    m.safetyIntegrityLevel.set({ agent: a.agent, zone: a.zone }, to === 'ACTIVE' ? 2 : 0);
  };
  for (const a of agents) {
    m.requiredSafetyLevel.set({ agent: a.agent, zone: a.zone }, 3);
    enter(a, a.state);
  }
  await ev.evaluate(0);
  const firing = (await ev.evaluate(121_000)).filter((x) => x.name === 'SafetyIntegrityBreach' && x.state === 'firing');
  assert.deepEqual(firing.map((x) => agents.find((a) => a.agent === x.labels.agent)?.state).sort(), ['ACTIVE', 'BOOTSTRAPPING', 'INIT', 'PAUSED']);
  enter(agents[LIFECYCLE_STATES.indexOf('PAUSED')]!, 'TERMINATED');
  const after = (await ev.evaluate(122_000)).filter((x) => x.name === 'SafetyIntegrityBreach');
  assert.deepEqual(after.map((x) => agents.find((a) => a.agent === x.labels.agent)?.state).sort(), ['ACTIVE', 'BOOTSTRAPPING', 'INIT']);
});

test('GIVEN the gateway denies a safety-zone write WHEN evaluated THEN SafetyWriteDenied fires at once and clears 5 minutes later; control-zone denials do not fire', async () => {
  const m = createMetrics();
  const ev = new AlertEvaluator(m);
  m.gatewayDecisions.inc({ zone: 'control', function: 'write_single_register', decision: 'deny', reason: 'policy' });
  assert.deepEqual(await ev.evaluate(0), []);
  m.gatewayDecisions.inc({ zone: 'safety', function: 'write_single_coil', decision: 'deny', reason: 'interlock' });
  const [a] = await ev.evaluate(1000);
  assert.equal(a?.name, 'SafetyWriteDenied');
  assert.equal(a?.state, 'firing');
  assert.deepEqual(a?.labels, { zone: 'safety', function: 'write_single_coil', reason: 'interlock' });
  assert.equal((await ev.evaluate(2000))[0]?.name, 'SafetyWriteDenied', 'still firing at the next evaluation');
  await ev.evaluate(200_000);
  assert.deepEqual(await ev.evaluate(400_000), []);
});

test('GIVEN a PLC down, an agent paused, an old checkpoint and expiring certificates WHEN evaluated past their for durations THEN each alert fires', async () => {
  const m = createMetrics();
  const ev = new AlertEvaluator(m);
  const now = 1_700_000_000_000;
  m.plcUp.set({ plc: 'plc-1' }, 0);
  m.agentState.set({ agent: 'data-1', kind: 'data', zone: 'dmz', state: 'PAUSED' }, 1);
  m.auditCheckpointAge.set(1000);
  m.certificateExpiry.set({ agent: 'data-1' }, now / 1000 + 240);
  m.certificateExpiry.set({ agent: 'cognitive-1' }, now / 1000 + 3600);
  const first = await ev.evaluate(now);
  assert.deepEqual(first.filter((a) => a.state === 'firing').map((a) => a.name), ['CertificateExpiryImminent']);
  const later = await ev.evaluate(now + 1000 * 1000);
  assert.deepEqual(later.map((a) => `${a.name}:${a.state}`).sort(), [
    'AgentStuckPaused:firing', 'AuditCheckpointOverdue:firing', 'CertificateExpiringSoon:firing', 'CertificateExpiryImminent:firing', 'PlcUnreachable:firing',
  ]);
  assert.ok(later.every((a) => a.labels.agent !== 'cognitive-1'), 'a certificate with 43 minutes left raises nothing');
});

test('GIVEN an external plant whose process image is 61 s old WHEN evaluated THEN PlantProcessImageStale fires at once; at 60 s, or with no PLC polled, it does not', async () => {
  const m = createMetrics();
  const ev = new AlertEvaluator(m);
  assert.deepEqual(await ev.evaluate(0), [], 'no PLC polled: age 0');
  m.processImageAge.read = () => 60_000;
  assert.deepEqual(await ev.evaluate(1000), []);
  m.processImageAge.read = () => 61_000;
  const [a, ...rest] = await ev.evaluate(2000);
  assert.deepEqual(rest, []);
  assert.equal(a?.name, 'PlantProcessImageStale');
  assert.equal(a?.state, 'firing');
  assert.equal(a?.summary, 'no complete process image from the PLCs for 1m 1s: interlocked writes are refused');
});

test('GIVEN a started evaluator WHEN the alerts change THEN onChange is called with the new list', async () => {
  const m = createMetrics();
  const ev = new AlertEvaluator(m);
  const seen: string[][] = [];
  ev.start(20, (alerts) => seen.push(alerts.map((a) => a.name)));
  await new Promise((r) => setTimeout(r, 60));
  m.plcUp.set({ plc: 'plc-1' }, 0);
  for (let i = 0; i < 250 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  ev.stop();
  assert.deepEqual(seen, [['PlcUnreachable']]);
});

test('GIVEN an OPC UA server certificate with a 2000 s lead time that is never renewed and a client one renewed in time WHEN evaluated THEN OpcuaCertificateExpiringSoon is pending once half the lead time is left, firing 10 minutes later, for the server only', async () => {
  const m = createMetrics();
  const ev = new AlertEvaluator(m);
  const server = { role: 'server', application: 'plant-server' };
  const client = { role: 'client', application: 'industrial-1' };
  for (const l of [server, client]) { m.opcuaCertificateExpiry.set(l, 3600); m.opcuaCertificateRenewBefore.set(l, 2000); }
  const opcua = async (t: number) => (await ev.evaluate(t * 1000)).filter((a) => a.name === 'OpcuaCertificateExpiringSoon');
  assert.deepEqual(await opcua(2500), [], '1100 s left: more than half the lead time');
  m.opcuaCertificateExpiry.set(client, 7200);
  const pending = await opcua(2640);
  assert.deepEqual(pending.map((a) => [a.labels.application, a.state]), [['plant-server', 'pending']]);
  const firing = await opcua(2640 + 600);
  assert.deepEqual(firing.map((a) => [a.labels.application, a.state]), [['plant-server', 'firing']]);
  assert.match(firing[0]!.summary, /OPC UA server certificate of plant-server expires in 6m 0s: renewal is failing/);
  m.opcuaCertificateExpiry.set(server, 3240 + 3600);
  assert.deepEqual(await opcua(3241), [], 'renewed: resolved');
});
