/**
 * The embedded plant as the runtime starts it (startRuntime, plant.mode embedded): the safety-trip interlock of the
 * running gateway. While a level interlock of the safety PLC is tripped, only tripping the emergency stop may be
 * written: resetting it, enabling the bypass and moving a trip setpoint are refused (exception 01, audited as
 * `interlock`), although the policy allows each of them from the safety zone.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startRuntime, type Runtime } from '../../runtime/app';
import { bits, ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import { silentLogger } from '../../runtime/observability/logger';
import { freePort, until } from './helpers';

const SAFETY_UNIT = 2;
const ESTOP = 0;
const BYPASS = 1;
const HIGH_HIGH = 0;

async function connect(endpoint: string | undefined): Promise<ModbusTcpClient> {
  const [host, port] = (endpoint as string).split(':');
  const c = new ModbusTcpClient(host as string, Number(port));
  await c.connect();
  return c;
}

async function interlockDenials(rt: Runtime): Promise<Record<string, unknown>[]> {
  const r = await fetch(`http://127.0.0.1:${rt.apiPort}/v1/audit/entries?start=0&end=100000`, { headers: { authorization: `Bearer ${rt.adminToken}` } });
  return ((await r.json()) as { record: Record<string, unknown> }[]).map((e) => e.record)
    .filter((r) => r.type === 'modbus.decision' && r.decision === 'deny' && r.reason === 'interlock' && r.unit === SAFETY_UNIT);
}

const tripped = (rt: Runtime) => (rt.plant?.snapshot.assets.safety_1 as { interlock_tripped?: boolean } | undefined)?.interlock_tripped === true;

test('GIVEN the embedded runtime and its gateway WHEN a level interlock trips THEN resetting the emergency stop, enabling the bypass and moving a trip setpoint are refused with 01 and audited as interlock, and tripping the emergency stop still passes; before the trip the same reset passes', { timeout: 120_000 }, async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-embedded-trip-'));
  const rt = await startRuntime({ stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: await freePort(), logger: silentLogger() });
  t.after(async () => { await rt.stop('test'); fs.rmSync(stateDir, { recursive: true, force: true }); });
  const control = await connect(rt.endpoints.modbus_control);
  const safety = await connect(rt.endpoints.modbus_safety);
  t.after(() => { control.close(); safety.close(); });

  // Not tripped: the policy allows the control zone to trip and reset the emergency stop; both reach the PLC.
  assert.equal(tripped(rt), false, 'the plant starts with no level interlock tripped');
  assert.equal((await control.writeCoil(SAFETY_UNIT, ESTOP, true)).exception, 0);
  assert.equal((await control.writeCoil(SAFETY_UNIT, ESTOP, false)).exception, 0, 'reset allowed while nothing is tripped');
  assert.equal((rt.plant?.snapshot.assets.safety_1 as { emergency_stop?: boolean } | undefined)?.emergency_stop, false);

  // Trip T-1's high-high interlock: its setpoint (0.5 m, written by the safety zone) below the tank's level.
  assert.equal((await safety.writeRegister(SAFETY_UNIT, HIGH_HIGH, 500)).exception, 0);
  assert.ok(await until(() => tripped(rt), 5000), 'the high-high interlock trips at the next plant tick');

  assert.equal((await control.writeCoil(SAFETY_UNIT, ESTOP, true)).exception, 0, 'tripping the emergency stop is never blocked');
  assert.equal((await control.writeCoil(SAFETY_UNIT, ESTOP, false)).exception, 0x01, 'reset refused while tripped');
  assert.equal((await safety.writeCoil(SAFETY_UNIT, ESTOP, false)).exception, 0x01, 'reset refused from the safety zone too');
  assert.equal((await safety.writeCoil(SAFETY_UNIT, BYPASS, true)).exception, 0x01, 'bypass refused while tripped');
  assert.equal((await safety.writeRegister(SAFETY_UNIT, HIGH_HIGH, 4000)).exception, 0x01, 'setpoint change refused while tripped');
  const plc = await connect(rt.endpoints.plc_modbus);
  t.after(() => plc.close());
  assert.deepEqual(bits((await plc.readCoils(SAFETY_UNIT, ESTOP, 2)).pdu, 2), [true, false], 'the PLC still holds the trip and no bypass');
  assert.ok(tripped(rt), 'still tripped');
  assert.ok(await untilAsync(async () => (await interlockDenials(rt)).length === 4, 5000), 'the four refusals are audited as interlock');
});

async function untilAsync(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await check()) return true; await new Promise((r) => setTimeout(r, 50)); }
  return check();
}
