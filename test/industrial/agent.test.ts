/**
 * The Industrial Agent against the embedded plant (startEmbeddedPlant): OPC UA subscription -> snapshots to the
 * cognitive agent; safety.shutdown -> Modbus writes through the gateway, audited.
 */
import type { GlimmerError } from '../../runtime/errors';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import factory, { SNAPSHOT_INTERVAL_MS, shutdownWrite } from '../../runtime/agents/industrial';
import type { AgentBehaviour, AgentContext } from '../../runtime/agents/behaviour';
import type { AgentMessage, AuditRecordInput } from '../../runtime/model/messages';
import { loadConfig } from '../../runtime/config/load';
import type { RuntimeConfig } from '../../runtime/config/types';
import { startEmbeddedPlant, type EmbeddedPlant } from '../../runtime/industrial/embedded';
import { silentLogger } from '../../runtime/observability/logger';
import { createMetrics } from '../../runtime/observability/metrics';
import type { PlantSnapshot } from '../../runtime/model/plant';
import { freePort, until } from './helpers';

let dir: string;
let config: RuntimeConfig;
let embedded: EmbeddedPlant;
let agent: AgentBehaviour;
const gatewayAudit: AuditRecordInput[] = [];
const agentAudit: AuditRecordInput[] = [];
const sent: { to: string; topic: string; body: unknown; at: number }[] = [];
const published: Record<string, unknown>[] = [];
let deliver: ((m: AgentMessage) => void) | undefined;
const metrics = createMetrics();


before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-industrial-'));
  config = loadConfig();
  embedded = await startEmbeddedPlant({ config, stateDir: dir, logger: silentLogger(), metrics, audit: (b) => gatewayAudit.push(...b), modbusPort: 0, opcuaPort: await freePort() });
  const spec = config.agents.find((a) => a.kind === 'industrial')!;
  const ctx: AgentContext = {
    spec, config, stateDir: dir, logger: silentLogger(), endpoints: embedded.endpoints,
    audit: (r) => agentAudit.push(r), send: (to, topic, body) => sent.push({ to, topic, body, at: performance.now() }),
    onMessage: (h) => { deliver = h; }, publish: (p) => { published.push(p as Record<string, unknown>); }, hold: () => undefined, clear: () => undefined, order: () => undefined,
  };
  agent = factory(spec, config);
  await agent.start(ctx);
});
after(async () => {
  await agent.stop();
  await agent.stop(); // idempotent
  await embedded.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('GIVEN the embedded plant WHEN started THEN endpoints name the OPC UA server and one gateway listener per zone', () => {
  assert.match(embedded.endpoints.opcua!, /^opc\.tcp:\/\/localhost:\d+$/);
  for (const zone of ['operations', 'control', 'safety']) assert.match(embedded.endpoints[`modbus_${zone}`]!, /^127\.0\.0\.1:\d+$/);
  assert.equal(embedded.endpoints.modbus_enterprise, undefined);
});

test('GIVEN a running agent WHEN the plant ticks THEN periodic snapshots reach the cognitive agent never more often than the advertised snapshot_interval_ms (1000), change snapshots (trigger change) come between them as the plant changes, each with tank and pump values', async () => {
  const periodic = () => sent.filter((m) => m.topic === 'plant.snapshot' && (m.body as { trigger?: string }).trigger === undefined);
  assert.ok(await until(() => periodic().length >= 3, 15_000));
  assert.ok(published.some((p) => p.snapshot_interval_ms === SNAPSHOT_INTERVAL_MS), JSON.stringify(published));
  assert.equal(SNAPSHOT_INTERVAL_MS, 1000);
  // The plant's readings change every tick: the OPC UA server publishes them and each publish becomes a change snapshot.
  assert.ok(sent.some((m) => m.topic === 'plant.snapshot' && (m.body as { trigger?: string }).trigger === 'change'));
  // Node reschedules an interval from the event loop's cached clock, so a late tick shortens the next measured gap by
  // its lateness: a few milliseconds of slack, far from the half-interval gaps a second timer would make.
  const at = periodic().map((m) => m.at);
  for (let i = 1; i < at.length; i++) assert.ok((at[i] as number) - (at[i - 1] as number) >= SNAPSHOT_INTERVAL_MS - 20, `snapshot gap ${(at[i] as number) - (at[i - 1] as number)} ms`);
  const m = sent.find((x) => x.topic === 'plant.snapshot')!;
  assert.equal(m.to, 'cognitive-1');
  const snap = m.body as PlantSnapshot;
  assert.equal(typeof (snap.assets.tank_1!.values as { level_m: number }).level_m, 'number');
  assert.equal(snap.assets.pump_1!.kind, 'pump');
});

test('GIVEN shutdown targets WHEN mapped THEN pumps stop, valves close, anything else trips the emergency stop', () => {
  assert.deepEqual(shutdownWrite('pump_2'), ['pump_2.run', false]);
  assert.deepEqual(shutdownWrite('valve_1'), ['valve_1.open', false]);
  assert.deepEqual(shutdownWrite('tank_2'), ['safety_1.emergency_stop', true]);
  assert.deepEqual(shutdownWrite('plant'), ['safety_1.emergency_stop', true]);
  assert.equal(shutdownWrite('pump_9'), undefined);
  assert.equal(shutdownWrite('cognitive-1'), undefined);
});

test('GIVEN a safety.shutdown for pump_2 WHEN delivered THEN the gateway forwards the write, pump_2 stops, the record names the gateway decision (source port, transaction) and the PLC state after, and the sender gets one acknowledgement', async () => {
  deliver!({ from: 'cognitive-1', to: 'industrial-1', topic: 'safety.shutdown', body: { target: 'pump_2', codes: ['SIF-01'], decision_id: 'd-1', attempt: 2 } });
  assert.ok(await until(() => !(embedded.plant.snapshot.assets.pump_2 as { run_command: boolean }).run_command, 5000));
  assert.ok(await until(() => agentAudit.some((a) => a.type === 'industrial.shutdown' && a.outcome === 'executed' && a.target === 'pump_2'), 5000));
  const record = agentAudit.find((a) => a.type === 'industrial.shutdown' && a.decision_id === 'd-1') as Record<string, unknown>;
  const plcAfter = record.plc_after as { signal: string; value: boolean; at_ms: number };
  assert.deepEqual([record.attempt, plcAfter.signal, plcAfter.value], [2, 'pump_2.run', false]);
  assert.ok(plcAfter.at_ms >= (record.executed_at_ms as number));
  const ref = record.modbus as { zone: string; peer_port: number; transaction: number };
  embedded.gateway.inspector.audit.flush();
  const write = gatewayAudit.filter((a) => a.type === 'modbus.decision' && a.peer_port === ref.peer_port && a.transaction === ref.transaction);
  assert.deepEqual(write.map((w) => [w.zone, w.function_code, w.decision]), [['control', 5, 'allow']], 'exactly one gateway decision joins the record');
  const acks = sent.filter((s) => s.topic === 'safety.ack');
  assert.equal(acks.length, 1);
  assert.deepEqual({ ...(acks[0]?.body as object), plc_after: undefined }, { decision_id: 'd-1', target: 'pump_2', attempt: 2, outcome: 'executed', plc_after: undefined });
  assert.equal(acks[0]?.to, 'cognitive-1');
});

test('GIVEN a safety.shutdown for the plant WHEN delivered THEN the emergency stop trips through the gateway (fail-safe decision) and the decision is audited', async () => {
  deliver!({ from: 'cognitive-1', to: 'industrial-1', topic: 'safety.shutdown', body: { target: 'plant', decision_id: 'd-2' } });
  assert.ok(await until(() => (embedded.plant.snapshot.assets.safety_1 as { emergency_stop: boolean }).emergency_stop, 5000));
  assert.ok(await until(() => agentAudit.some((a) => a.type === 'industrial.shutdown' && a.outcome === 'executed' && a.target === 'plant'), 5000));
  embedded.gateway.inspector.audit.flush();
  assert.ok(gatewayAudit.some((a) => a.type === 'modbus.decision' && a.zone === 'control' && a.unit === 2 && a.decision === 'allow' && a.safety === true));
});

test('GIVEN a malformed shutdown message WHEN delivered THEN it is refused with GLM_ERR_SAFETY_ORDER_INVALID and nothing is written', async () => {
  const before = agentAudit.length;
  assert.throws(() => deliver!({ from: 'x', to: 'industrial-1', topic: 'safety.shutdown', body: { target: 42 } }), (e: GlimmerError) => e.code === 'GLM_ERR_SAFETY_ORDER_INVALID');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(agentAudit.length, before);
});

test('GIVEN a release order for a plant unit WHEN delivered THEN it is audited as release_ignored and the unit is not restarted', async () => {
  deliver!({ from: 'cognitive-1', to: 'industrial-1', topic: 'safety.shutdown', body: { action: 'release', target: 'pump_2', decision_id: 'd-1' } });
  assert.ok(await until(() => agentAudit.some((a) => a.type === 'industrial.shutdown' && a.outcome === 'release_ignored' && a.target === 'pump_2' && a.decision_id === 'd-1'), 2000));
});
