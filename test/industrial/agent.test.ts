/**
 * The Industrial Agent against the embedded plant (startEmbeddedPlant): OPC UA subscription -> snapshots to the
 * cognitive agent; safety.shutdown -> Modbus writes through the gateway, audited.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import factory, { shutdownWrite } from '../../runtime/agents/industrial';
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
const sent: { to: string; topic: string; body: unknown }[] = [];
let deliver: ((m: AgentMessage) => void) | undefined;
const metrics = createMetrics();
const holds: string[] = [];


before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-industrial-'));
  config = loadConfig();
  embedded = await startEmbeddedPlant({ config, stateDir: dir, logger: silentLogger(), metrics, audit: (b) => gatewayAudit.push(...b), modbusPort: 0, opcuaPort: await freePort() });
  const spec = config.agents.find((a) => a.kind === 'industrial')!;
  const ctx: AgentContext = {
    spec, config, stateDir: dir, logger: silentLogger(), endpoints: embedded.endpoints,
    audit: (r) => agentAudit.push(r), send: (to, topic, body) => sent.push({ to, topic, body }),
    onMessage: (h) => { deliver = h; }, publish: () => undefined, hold: (reason) => { holds.push(reason); }, clear: () => undefined,
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

test('GIVEN a running agent WHEN the plant ticks THEN snapshots reach the cognitive agent about once a second', async () => {
  assert.ok(await until(() => sent.filter((m) => m.topic === 'plant.snapshot').length >= 2, 15_000));
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

test('GIVEN a safety.shutdown for pump_2 WHEN delivered THEN the gateway forwards the write and pump_2 stops', async () => {
  deliver!({ from: 'cognitive-1', to: 'industrial-1', topic: 'safety.shutdown', body: { target: 'pump_2', codes: ['SIF-01'], decision_id: 'd-1' } });
  assert.ok(await until(() => !(embedded.plant.snapshot.assets.pump_2 as { run_command: boolean }).run_command, 5000));
  assert.ok(await until(() => agentAudit.some((a) => a.type === 'industrial.shutdown' && a.outcome === 'executed' && a.target === 'pump_2'), 5000));
});

test('GIVEN a safety.shutdown for the plant WHEN delivered THEN the emergency stop trips through the gateway (fail-safe decision) and the decision is audited', async () => {
  deliver!({ from: 'cognitive-1', to: 'industrial-1', topic: 'safety.shutdown', body: { target: 'plant', decision_id: 'd-2' } });
  assert.ok(await until(() => (embedded.plant.snapshot.assets.safety_1 as { emergency_stop: boolean }).emergency_stop, 5000));
  assert.ok(await until(() => agentAudit.some((a) => a.type === 'industrial.shutdown' && a.outcome === 'executed' && a.target === 'plant'), 5000));
  embedded.gateway.inspector.audit.flush();
  assert.ok(gatewayAudit.some((a) => a.type === 'modbus.decision' && a.zone === 'control' && a.unit === 2 && a.decision === 'allow' && a.safety === true));
});

test('GIVEN a malformed shutdown message WHEN delivered THEN it is ignored without a write', async () => {
  const before = agentAudit.length;
  deliver!({ from: 'x', to: 'industrial-1', topic: 'safety.shutdown', body: { target: 42 } });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(agentAudit.length, before);
  assert.ok(!agentAudit.some((a) => typeof a.target !== 'string'));
});

test('GIVEN a safety.shutdown naming the industrial agent itself WHEN delivered THEN the agent holds and the plant is not tripped by it', async () => {
  deliver!({ from: 'cognitive-1', to: 'industrial-1', topic: 'safety.shutdown', body: { target: 'industrial-1', codes: ['IEC61508-SIL'] } });
  assert.ok(await until(() => holds.length === 1, 2000));
  assert.match(holds[0]!, /IEC61508-SIL/);
  assert.ok(agentAudit.some((a) => a.outcome === 'agent_hold'));
});
