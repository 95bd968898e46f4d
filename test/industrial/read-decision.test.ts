/**
 * The read decision at the running gateway: reads obey the zone model as writes do. The operations zone (security
 * level 2) may read the process PLC but not the safety PLC (level 3, Cedar `register-read`); the control zone (level 3)
 * may read both. Refused reads answer exception 02 and are audited through the audit governor, folded into
 * `audit.aggregate` records beyond a client's budget. The policy is asked once per range and asked again after a
 * policy change; a failing policy refuses the read.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import ModbusRTU from 'modbus-serial';
import { startRuntime } from '../../runtime/app';
import { readAuditRecords } from '../../runtime/audit/records';
import { ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import type { ReadPolicy } from '../../runtime/industrial/read-decision';
import { plantMap } from '../../runtime/model/plant-map';
import { silentLogger } from '../../runtime/observability/logger';
import { createFrameDecider, gatewayReadPolicy } from '../../runtime/trust/policy/frame-decider';
import { PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';
import { CONDUITS, flushAudit, freePort, resetAudit, startRig, ZONES } from './helpers';

const SAFETY_UNIT = 2;
const PROCESS_UNIT = 1;
const ILLEGAL_DATA_ADDRESS = 2;
const TD = 'glimmer.test';

/** A modbus-serial client (the library integrators use) connected to a gateway listener. */
async function modbusClient(endpoint: string | undefined, unitId: number): Promise<ModbusRTU> {
  const [host, port] = (endpoint as string).split(':');
  const client = new ModbusRTU();
  await client.connectTCP(host as string, { port: Number(port) });
  client.setID(unitId);
  client.setTimeout(3000);
  return client;
}

/** The Modbus exception code a modbus-serial call was answered with (0: it succeeded). */
async function exceptionOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 0;
  } catch (err) {
    const code = (err as { modbusCode?: number }).modbusCode;
    if (typeof code !== 'number') throw err;
    return code;
  }
}

test('GIVEN the running runtime and a modbus-serial client in the operations zone WHEN it reads the safety PLC THEN every read is refused with 02 while the control zone reads the same registers and operations reads the process PLC, and the refusals are audited and folded into an aggregate', { timeout: 120_000 }, async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-read-policy-'));
  const rt = await startRuntime({ stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: await freePort(), logger: silentLogger() });
  let stopped = false;
  t.after(async () => { if (!stopped) await rt.stop('test'); fs.rmSync(stateDir, { recursive: true, force: true }); });
  const operations = await modbusClient(rt.endpoints.modbus_operations, SAFETY_UNIT);
  const control = await modbusClient(rt.endpoints.modbus_control, SAFETY_UNIT);
  t.after(() => { operations.close(() => undefined); control.close(() => undefined); });

  // Refused: coils (emergency stop, bypass), the trip state, the trip setpoints.
  assert.equal(await exceptionOf(operations.readCoils(0, 2)), ILLEGAL_DATA_ADDRESS, 'coils of the safety PLC');
  assert.equal(await exceptionOf(operations.readDiscreteInputs(0, 1)), ILLEGAL_DATA_ADDRESS, 'trip state of the safety PLC');
  assert.equal(await exceptionOf(operations.readHoldingRegisters(0, 2)), ILLEGAL_DATA_ADDRESS, 'trip setpoints of the safety PLC');

  // Allowed: the control zone reads the same registers, with the values the PLC holds.
  const safety = rt.plant?.snapshot.assets.safety_1 as { emergency_stop: boolean; interlock_bypass: boolean };
  assert.deepEqual((await control.readCoils(0, 2)).data.slice(0, 2), [safety.emergency_stop, safety.interlock_bypass]);
  const setpoints = (await control.readHoldingRegisters(0, 2)).data;
  assert.equal(setpoints.length, 2);
  assert.ok(setpoints.every((v) => v > 0), `trip setpoints read from control: ${setpoints.join(', ')}`);
  // Allowed: the operations zone reads process values.
  operations.setID(PROCESS_UNIT);
  assert.equal((await operations.readInputRegisters(0, 8)).data.length, 8);
  operations.setID(SAFETY_UNIT);

  // A flood of refused reads from the same client: counted, not written one by one.
  const FLOOD = 300;
  for (let i = 0; i < FLOOD; i++) assert.equal(await exceptionOf(operations.readCoils(0, 1)), ILLEGAL_DATA_ADDRESS);

  const metrics = await (await fetch(`http://127.0.0.1:${rt.apiPort}/metrics`)).text();
  const denied = metrics.match(/^glimmer_gateway_decisions_total\{zone="safety",function="read_coils",decision="deny",reason="policy"\} (\d+)/m);
  assert.equal(Number(denied?.[1]), FLOOD + 1, 'every refused read_coils is counted');

  stopped = true;
  await rt.stop('test');
  const records: Record<string, unknown>[] = [];
  for await (const r of readAuditRecords({ stateDir })) records.push(r);
  const refusals = records.filter((r) => r.type === 'modbus.decision' && r.zone === 'operations' && r.unit === SAFETY_UNIT && r.decision === 'deny');
  assert.ok(refusals.length > 0, 'the first refusals are written one by one');
  for (const r of refusals) {
    assert.equal(r.reason, 'policy');
    assert.equal(r.exception, ILLEGAL_DATA_ADDRESS);
    assert.equal(r.code, 'GLM_ERR_MODBUS_ADDRESS_DENIED');
    assert.equal(r.safety, true);
  }
  const aggregates = records.filter((r) => r.type === 'audit.aggregate' && r.kind === 'operations:deny:policy');
  assert.ok(aggregates.length > 0, 'the flood is folded into audit.aggregate records');
  for (const a of aggregates) assert.equal((a.first as Record<string, unknown>).code, 'GLM_ERR_MODBUS_ADDRESS_DENIED');
  const folded = aggregates.reduce((n, a) => n + (a.count as number), 0);
  assert.equal(refusals.length + folded, FLOOD + 3, `${refusals.length} written + ${folded} folded = every refused read`);
  assert.ok(refusals.length <= 20, `only the budgeted first refusals are written one by one (${refusals.length})`);
  const allowed = records.filter((r) => r.type === 'modbus.decision' && r.zone === 'control' && r.unit === SAFETY_UNIT && r.function_code === 1);
  assert.equal(allowed[0]?.decision, 'allow');
  assert.equal(allowed[0]?.reason, 'policy');
  const policy = records.find((r) => r.type === 'policy.decision' && r.action === 'read' && r.decision === 'deny');
  assert.match(String(policy?.subject), /\/zone\/operations\/agent\/zone-client$/, 'the Cedar decision names the zone client');
  assert.deepEqual(policy?.reasons, ['default-deny'], 'no permit covers it: register-read needs the safety level');
});

test('GIVEN a gateway with the PDP read policy WHEN one range is read many times and then the policy model changes THEN Cedar is asked once per range, and the next read follows the new model', { timeout: 60_000 }, async (t) => {
  const model = (operationsLevel: number) => ({ trustDomain: TD, zones: ZONES.map((z) => (z.name === 'operations' ? { ...z, security_level: operationsLevel } : z)), conduits: CONDUITS, agents: [] });
  const pdp = await PolicyDecisionPoint.create({ model: model(2), audit: () => undefined });
  const frames = createFrameDecider(pdp, { plantMap: plantMap() });
  const rig = await startRig({ readPolicy: gatewayReadPolicy(frames, TD) });
  t.after(() => rig.stop());
  const client = new ModbusTcpClient('127.0.0.1', rig.ports.operations as number);
  await client.connect();
  t.after(() => client.close());

  for (let i = 0; i < 50; i++) assert.equal((await client.readCoils(SAFETY_UNIT, 0, 2)).exception, ILLEGAL_DATA_ADDRESS);
  assert.equal(frames.misses, 1, 'one policy evaluation for fifty reads of one range');
  assert.equal((await client.readInputRegisters(PROCESS_UNIT, 0, 8)).exception, 0);
  assert.equal(frames.misses, 2, 'another range, another evaluation');

  pdp.setModel(model(3));
  assert.equal((await client.readCoils(SAFETY_UNIT, 0, 2)).exception, 0, 'operations at level 3 may read the safety PLC');
  assert.equal(frames.misses, 3, 'the policy change dropped the cached answer');
});

test('GIVEN a read policy that fails WHEN a client reads THEN the read is refused with 02 (GLM_ERR_MODBUS_ADDRESS_DENIED) and the policy is asked again on the next read', { timeout: 60_000 }, async (t) => {
  let calls = 0;
  const failing: ReadPolicy = { decide: () => { calls += 1; throw new Error('policy decision point unavailable'); }, version: 0 };
  const rig = await startRig({ readPolicy: failing });
  t.after(() => rig.stop());
  resetAudit(rig);
  const client = new ModbusTcpClient('127.0.0.1', rig.ports.control as number);
  await client.connect();
  t.after(() => client.close());

  assert.equal((await client.readInputRegisters(PROCESS_UNIT, 0, 4)).exception, ILLEGAL_DATA_ADDRESS);
  assert.equal((await client.readInputRegisters(PROCESS_UNIT, 0, 4)).exception, ILLEGAL_DATA_ADDRESS);
  assert.equal(calls, 2, 'a failure is not cached');
  const records = flushAudit(rig).filter((r) => r.function_code === 4);
  assert.equal(records.length, 2);
  for (const r of records) assert.deepEqual([r.decision, r.reason, r.code], ['deny', 'policy', 'GLM_ERR_MODBUS_ADDRESS_DENIED']);
});
