/**
 * The Modbus/TCP security gateway over real sockets on loopback: our client, and the independent peers mbpoll
 * (libmodbus) and pymodbus, against the gateway in front of the simulated PLC.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { ModbusTcpClient, bits, registers } from '../../runtime/industrial/modbus/client';
import { adu, requestPdu } from '../../runtime/industrial/modbus/frame';
import { failSafeOnly } from '../../runtime/industrial/write-decision';
import { mapEntry } from '../../runtime/industrial/plant/map';
import { toRaw } from '../../runtime/model/plant-map';
import { flushAudit, resetAudit, startRig, type Rig } from './helpers';

const run = promisify(execFile);
let rig: Rig;
before(async () => { rig = await startRig(); });
after(async () => { await rig.stop(); });
// Each test asserts on its own audit records only, never on ones an earlier test left.
beforeEach(() => { resetAudit(rig); });

async function client(zone: string): Promise<ModbusTcpClient> {
  const c = new ModbusTcpClient('127.0.0.1', rig.ports[zone] as number, 3000);
  await c.connect();
  return c;
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => { if (socket.destroyed) resolve(); else socket.once('close', () => resolve()); });
}

test('GIVEN the operations listener WHEN our client reads the input registers THEN it gets the plant values', async () => {
  const c = await client('operations');
  const r = await c.readInputRegisters(1, 10, 2);
  assert.equal(r.exception, 0);
  const snap = rig.plant.snapshot;
  assert.deepEqual(registers(r.pdu), [toRaw(mapEntry('tank_1.level_m'), (snap.assets.tank_1!.values as { level_m: number }).level_m), toRaw(mapEntry('tank_2.level_m'), (snap.assets.tank_2!.values as { level_m: number }).level_m)]);
  const d = await c.readDiscreteInputs(2, 0, 1);
  assert.deepEqual(bits(d.pdu, 1), [false]);
  c.close();
});

test('GIVEN the operations zone WHEN it writes the emergency stop coil THEN exception 01 and a GLM_ERR_MODBUS_WRITE_DENIED audit record', async () => {
  const c = await client('operations');
  const r = await c.writeCoil(2, 0, true);
  assert.equal(r.exception, 0x01);
  assert.equal(rig.plant.snapshot.assets.safety_1!.kind === 'safety' && rig.plant.snapshot.assets.safety_1!.emergency_stop, false);
  const a = flushAudit(rig).filter((x) => x.code === 'GLM_ERR_MODBUS_WRITE_DENIED' && x.unit === 2).at(-1);
  assert.ok(a);
  assert.equal(a.decision, 'deny');
  assert.equal(a.safety, true);
  c.close();
});

test('GIVEN the default decision (no policy decision point) WHEN the control zone writes the emergency stop THEN exception 01 GLM_ERR_MODBUS_POLICY_DENIED', async () => {
  const c = await client('control');
  const r = await c.writeCoil(2, 0, true);
  assert.equal(r.exception, 0x01);
  const a = flushAudit(rig).filter((x) => x.code === 'GLM_ERR_MODBUS_POLICY_DENIED').at(-1);
  assert.ok(a);
  assert.equal(a.reason, 'policy');
  c.close();
});

test('GIVEN the operations zone WHEN it writes a process setpoint THEN the write reaches the plant', async () => {
  const c = await client('operations');
  const r = await c.writeRegister(1, 1, 550);
  assert.equal(r.exception, 0);
  assert.equal(rig.plant.sim.snapshot().assets.pump_2!.kind === 'pump' && (rig.plant.sim.snapshot().assets.pump_2 as { speed_setpoint_pct: number }).speed_setpoint_pct, 55);
  c.close();
});

test('GIVEN requests the rules refuse WHEN sent THEN each gets its own exception and error code', async () => {
  const c = await client('operations');
  const cases: [Buffer, number, number, string][] = [
    [Buffer.from([0x2b, 0x0e, 0x01, 0x00]), 1, 0x01, 'GLM_ERR_MODBUS_FUNCTION_DENIED'], // unknown / not allowed function
    [requestPdu.read(3, 0, 0), 1, 0x03, 'GLM_ERR_MODBUS_VALUE_INVALID'], // quantity 0
    [requestPdu.read(3, 0, 126), 1, 0x03, 'GLM_ERR_MODBUS_VALUE_INVALID'], // quantity above 125
    [requestPdu.read(4, 10, 10), 1, 0x02, 'GLM_ERR_MODBUS_ADDRESS_DENIED'], // beyond the map
    [requestPdu.read(4, 0, 1), 7, 0x0a, 'GLM_ERR_MODBUS_UNIT_UNKNOWN'], // no such unit
    [requestPdu.writeRegister(0, 2000), 1, 0x03, 'GLM_ERR_MODBUS_VALUE_INVALID'], // speed 200 %
    [requestPdu.writeRegister(0, 500), 2, 0x01, 'GLM_ERR_MODBUS_WRITE_DENIED'], // trip setpoint from operations
    [requestPdu.writeCoil(9, true), 1, 0x02, 'GLM_ERR_MODBUS_ADDRESS_DENIED'],
  ];
  for (const [pdu, unit, exception, code] of cases) {
    const r = await c.request(unit, pdu);
    assert.equal(r.exception, exception, `${code} ${pdu.toString('hex')}`);
    const a = flushAudit(rig).filter((x) => x.zone === 'operations' && x.unit === unit && x.code === code);
    assert.ok(a.length > 0, code);
  }
  c.close();
});

test('GIVEN a frame with protocol id 1 WHEN sent THEN only that connection is closed and another client keeps being served', async () => {
  const good = await client('operations');
  for (const bad of [Buffer.from('000100010006010400000001', 'hex'), Buffer.from('000100000000', 'hex'), Buffer.from('00010000ffff01', 'hex')]) {
    const s = net.connect(rig.ports.operations as number, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.on('error', () => undefined);
    s.write(bad);
    await closed(s);
    assert.equal((await good.readInputRegisters(1, 0, 2)).exception, 0);
  }
  const codes = flushAudit(rig).filter((a) => a.reason === 'malformed').map((a) => a.code);
  assert.ok(codes.includes('GLM_ERR_MODBUS_FRAME_MALFORMED'));
  assert.ok(codes.includes('GLM_ERR_MODBUS_FRAME_OVERSIZE'));
  good.close();
});

test('GIVEN a slowloris client WHEN it leaves a partial frame THEN the gateway closes it with GLM_ERR_MODBUS_CLIENT_TIMEOUT and others are served', async () => {
  const r2 = await startRig({ limits: { frameTimeoutMs: 200 } });
  try {
    const s = net.connect(r2.ports.operations as number, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.on('error', () => undefined);
    const frame = adu(1, 1, requestPdu.read(4, 0, 1));
    s.write(frame.subarray(0, 5));
    const t = setInterval(() => { if (!s.destroyed) s.write(Buffer.alloc(0)); }, 50);
    const good = new ModbusTcpClient('127.0.0.1', r2.ports.operations as number);
    await good.connect();
    for (let i = 0; i < 5; i++) assert.equal((await good.readInputRegisters(1, 0, 1)).exception, 0);
    await closed(s);
    clearInterval(t);
    assert.ok(flushAudit(r2).some((a) => a.code === 'GLM_ERR_MODBUS_CLIENT_TIMEOUT'));
    good.close();
  } finally { await r2.stop(); }
});

test('GIVEN a client over its rate WHEN it keeps sending THEN it gets exception 06 GLM_ERR_MODBUS_RATE_LIMITED', async () => {
  const r2 = await startRig({ limits: { ratePerSecond: 5, burst: 3 } });
  try {
    const c = new ModbusTcpClient('127.0.0.1', r2.ports.operations as number);
    await c.connect();
    const results = await Promise.all(Array.from({ length: 10 }, () => c.readInputRegisters(1, 0, 1)));
    assert.ok(results.some((r) => r.exception === 0x06));
    assert.ok(results.some((r) => r.exception === 0));
    assert.ok(flushAudit(r2).some((a) => a.code === 'GLM_ERR_MODBUS_RATE_LIMITED'));
    c.close();
  } finally { await r2.stop(); }
});

test('GIVEN the upstream PLC is killed WHEN clients read THEN 0A/0B come back; WHEN it restarts THEN reads recover', async () => {
  const r2 = await startRig();
  try {
    const c = new ModbusTcpClient('127.0.0.1', r2.ports.operations as number);
    await c.connect();
    assert.equal((await c.readInputRegisters(1, 0, 1)).exception, 0);
    await r2.plc.close();
    await new Promise((r) => setTimeout(r, 100));
    const down = await c.readInputRegisters(1, 0, 1);
    assert.ok(down.exception === 0x0a || down.exception === 0x0b, `exception ${down.exception}`);
    assert.ok(flushAudit(r2).some((a) => a.reason === 'upstream'));
    await r2.restartPlc();
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = (await c.readInputRegisters(1, 0, 1)).exception === 0;
      if (!ok) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(ok, 'reads recover after the PLC restarts');
    c.close();
  } finally { await r2.stop(); }
});

test('GIVEN a fail-safe decision function WHEN the control zone trips the emergency stop THEN it reaches the PLC; a reset is refused', async () => {
  const r2 = await startRig({ decide: failSafeOnly });
  try {
    const c = new ModbusTcpClient('127.0.0.1', r2.ports.control as number);
    await c.connect();
    assert.equal((await c.writeCoil(2, 0, true)).exception, 0);
    assert.equal((r2.plant.snapshot.assets.safety_1 as { emergency_stop: boolean }).emergency_stop, true);
    assert.equal((await c.writeCoil(2, 0, false)).exception, 0x01);
    assert.equal((await c.writeCoil(2, 1, true)).exception, 0x01); // bypass: not writable from control
    assert.equal((r2.plant.snapshot.assets.safety_1 as { emergency_stop: boolean }).emergency_stop, true);
    c.close();
  } finally { await r2.stop(); }
});

test('GIVEN mbpoll (libmodbus) WHEN it reads input registers and writes the emergency stop from operations THEN the read succeeds and the write fails with Illegal function, audited', async () => {
  const port = String(rig.ports.operations);
  const read = await run('mbpoll', ['-m', 'tcp', '-a', '1', '-t', '3', '-r', '11', '-c', '2', '-1', '-p', port, '127.0.0.1']);
  assert.match(read.stdout, /\[11\]:\s+\d+/);
  assert.match(read.stdout, /\[12\]:\s+\d+/);
  const write = await run('mbpoll', ['-m', 'tcp', '-a', '2', '-t', '0', '-r', '1', '-p', port, '127.0.0.1', '1']).then(() => assert.fail('write must fail'), (err: { stderr: string; stdout: string }) => `${err.stdout}${err.stderr}`);
  assert.match(write, /Illegal function/i);
  assert.ok(flushAudit(rig).some((a) => a.code === 'GLM_ERR_MODBUS_WRITE_DENIED' && a.unit === 2 && a.function_code === 5));
});

test('GIVEN pymodbus WHEN it reads coils and writes the emergency stop from operations THEN the read succeeds and the write gets exception 01', async () => {
  const script = `
import sys
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient('127.0.0.1', port=int(sys.argv[1]))
assert c.connect()
r = c.read_coils(0, 4, slave=1)
print('read', r.isError(), [int(b) for b in r.bits[:4]])
w = c.write_coil(0, True, slave=2)
print('write', w.isError(), getattr(w, 'exception_code', None))
c.close()
`;
  const { stdout } = await run('/usr/bin/python3', ['-c', script, String(rig.ports.operations)]);
  assert.match(stdout, /read False \[\d, \d, \d, \d\]/);
  assert.match(stdout, /write True 1/);
});

test('GIVEN inconsistent gateway options WHEN constructed THEN GLM_ERR_MODBUS_CONFIG_INVALID names the value', async () => {
  const { compileRules } = await import('../../runtime/industrial/modbus/rules');
  const { ModbusGateway } = await import('../../runtime/industrial/modbus/gateway');
  const { isGlimmerError } = await import('../../runtime/errors');
  const bad = (fn: () => unknown) => assert.throws(fn, (e) => isGlimmerError(e, 'GLM_ERR_MODBUS_CONFIG_INVALID'));
  bad(() => compileRules([{ zone: 'a', functions: [3], units: [1] }, { zone: 'a', functions: [3], units: [1] }]));
  bad(() => compileRules([{ zone: 'a', functions: [0x2b], units: [1] }]));
  bad(() => compileRules([{ zone: 'a', functions: [3], units: [300] }]));
  const rules = compileRules([{ zone: 'a', functions: [3], units: [1] }]);
  bad(() => new ModbusGateway({ listeners: [], routes: [], rules, audit: () => undefined }));
  bad(() => new ModbusGateway({ listeners: [{ zone: 'nowhere', port: 0 }], routes: [], rules, audit: () => undefined }));
  bad(() => new ModbusGateway({ listeners: [{ zone: 'a', port: 0 }], routes: [{ unitId: 1, host: '127.0.0.1', port: 1 }, { unitId: 1, host: '127.0.0.1', port: 2 }], rules, audit: () => undefined }));
});

test('GIVEN a client that never reads its responses WHEN it keeps sending THEN the gateway closes it with GLM_ERR_MODBUS_BUFFER_OVERFLOW and keeps serving others', async () => {
  const r2 = await startRig({ limits: { maxWriteBufferBytes: 16 * 1024, ratePerSecond: 1e9, burst: 1e9 } });
  try {
    const s = net.connect({ port: r2.ports.operations as number, host: '127.0.0.1' });
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    s.pause(); // never read
    // Requests the gateway answers itself (address beyond the map: exception 02), so answers pile up fast.
    const burst = Buffer.concat(Array.from({ length: 10_000 }, (_, i) => adu(i, 1, requestPdu.read(4, 100, 1))));
    for (let writes = 0; !s.destroyed && writes < 400; writes++) {
      if (!s.write(burst)) await new Promise((r) => { s.once('drain', r); s.once('close', r); });
      if (flushAudit(r2).some((a) => a.code === 'GLM_ERR_MODBUS_BUFFER_OVERFLOW')) break;
    }
    assert.ok(await (async () => { for (let i = 0; i < 100; i++) { if (flushAudit(r2).some((a) => a.code === 'GLM_ERR_MODBUS_BUFFER_OVERFLOW')) return true; await new Promise((r) => setTimeout(r, 50)); } return false; })());
    s.destroy();
    const good = new ModbusTcpClient('127.0.0.1', r2.ports.operations as number);
    await good.connect();
    assert.equal((await good.readInputRegisters(1, 0, 1)).exception, 0);
    good.close();
  } finally { await r2.stop(); }
});

test('GIVEN a policy that allows every write WHEN an interlock is tripped THEN resetting the emergency stop is refused as an interlock (01) and tripping it is not', async () => {
  const { composeWriteDecision } = await import('../../runtime/industrial/write-decision');
  const { SIMULATED_PLANT_PROFILE } = await import('../../runtime/model/plant');
  const { PlantSimulation } = await import('../../runtime/industrial/plant/simulation');
  const snap = new PlantSimulation({ seed: 1 }).snapshot();
  const safety = snap.assets.safety_1;
  assert.ok(safety?.kind === 'safety');
  let trip = true;
  const image = () => ({ ...snap, assets: { ...snap.assets, safety_1: { ...safety, interlock_tripped: trip } } });
  const r2 = await startRig({ decide: composeWriteDecision({ policy: () => ({ allow: true }), profile: SIMULATED_PLANT_PROFILE, image }) });
  try {
    const c = new ModbusTcpClient('127.0.0.1', r2.ports.safety as number);
    await c.connect();
    assert.equal((await c.writeCoil(2, 0, true)).exception, 0);
    assert.equal((await c.writeCoil(2, 0, false)).exception, 0x01);
    assert.equal((await c.writeCoil(2, 1, true)).exception, 0x01);
    const a = flushAudit(r2).filter((x) => x.code === 'GLM_ERR_MODBUS_POLICY_DENIED');
    assert.ok(a.length >= 2 && a.every((x) => x.reason === 'interlock'));
    trip = false;
    assert.equal((await c.writeCoil(2, 0, false)).exception, 0);
    c.close();
  } finally { await r2.stop(); }
});

test('GIVEN a silent PLC and one that is down WHEN clients read through the gateway THEN 0B GLM_ERR_MODBUS_UPSTREAM_TIMEOUT and 0A GLM_ERR_MODBUS_UPSTREAM_UNAVAILABLE', async () => {
  const { ModbusGateway } = await import('../../runtime/industrial/modbus/gateway');
  const { compileRules, defaultZoneRules } = await import('../../runtime/industrial/modbus/rules');
  const { CONDUITS, ZONES } = await import('./helpers');
  const silent = net.createServer((s) => { s.on('error', () => undefined); s.resume(); }); // reads, never answers
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const audit: { code: string | null; exception: number }[] = [];
  const gw = new ModbusGateway({
    listeners: [{ zone: 'operations', port: 0 }], rules: compileRules(defaultZoneRules({ zones: ZONES, conduits: CONDUITS })), audit: (b) => { audit.push(...b); },
    routes: [{ unitId: 1, host: '127.0.0.1', port: (silent.address() as net.AddressInfo).port }, { unitId: 2, host: '127.0.0.1', port: 1 }],
    limits: { upstreamTimeoutMs: 200 },
  });
  const ports = await gw.start();
  try {
    await gw.ready(1000);
    const c = new ModbusTcpClient('127.0.0.1', ports.operations as number);
    await c.connect();
    assert.equal((await c.readInputRegisters(1, 0, 1)).exception, 0x0b);
    assert.equal((await c.readCoils(2, 0, 1)).exception, 0x0a);
    gw.inspector.audit.flush();
    assert.ok(audit.some((a) => a.code === 'GLM_ERR_MODBUS_UPSTREAM_TIMEOUT' && a.exception === 0x0b));
    assert.ok(audit.some((a) => a.code === 'GLM_ERR_MODBUS_UPSTREAM_UNAVAILABLE' && a.exception === 0x0a));
    c.close();
  } finally {
    await gw.stop();
    await new Promise((r) => silent.close(r));
  }
});

test('GIVEN a write decision that throws (a failing policy decision point) WHEN the safety zone resets the emergency stop or the operations zone writes a setpoint THEN each is refused with 01 GLM_ERR_MODBUS_POLICY_DENIED, audited, and never reaches the PLC', async () => {
  let calls = 0;
  const r2 = await startRig({ decide: () => { calls += 1; throw new TypeError('decision point crashed'); } });
  try {
    r2.plant.write('safety_1.emergency_stop', true);
    const setpoint = (r2.plant.snapshot.assets.pump_1 as { speed_setpoint_pct: number }).speed_setpoint_pct;
    const safety = new ModbusTcpClient('127.0.0.1', r2.ports.safety as number);
    const operations = new ModbusTcpClient('127.0.0.1', r2.ports.operations as number);
    await safety.connect();
    await operations.connect();
    assert.equal((await safety.writeCoil(2, 0, false)).exception, 0x01);
    assert.equal((await operations.writeRegister(1, 0, toRaw(mapEntry('pump_1.speed_setpoint_pct'), setpoint === 20 ? 30 : 20))).exception, 0x01);
    assert.equal(calls, 2, 'the decision was asked for both writes');
    assert.equal((r2.plant.snapshot.assets.safety_1 as { emergency_stop: boolean }).emergency_stop, true, 'the reset never reached the PLC');
    assert.equal((r2.plant.snapshot.assets.pump_1 as { speed_setpoint_pct: number }).speed_setpoint_pct, setpoint, 'the setpoint never reached the PLC');
    const denied = flushAudit(r2).filter((x) => x.decision === 'deny');
    assert.deepEqual(denied.map((x) => [x.unit, x.code, x.reason]), [[2, 'GLM_ERR_MODBUS_POLICY_DENIED', 'policy'], [1, 'GLM_ERR_MODBUS_POLICY_DENIED', 'policy']]);
    // Reads do not ask the decision and still pass.
    assert.equal((await operations.readInputRegisters(1, 10, 1)).exception, 0);
    safety.close();
    operations.close();
  } finally { await r2.stop(); }
});

test('GIVEN a write decision that answers without a boolean allow (undefined, "yes", 1) WHEN the control zone writes THEN refused with 01 (only allow === true lets a write through)', async () => {
  const answers = [{}, { allow: 'yes' }, { allow: 1 }] as unknown as { allow: boolean }[];
  let next = 0;
  const r2 = await startRig({ decide: () => answers[next++ % answers.length] as { allow: boolean } });
  try {
    const c = new ModbusTcpClient('127.0.0.1', r2.ports.control as number);
    await c.connect();
    const command = (r2.plant.snapshot.assets.pump_1 as { run_command: boolean }).run_command;
    for (let i = 0; i < answers.length; i++) assert.equal((await c.writeCoil(1, 0, !command)).exception, 0x01, `answer ${JSON.stringify(answers[i])}`);
    assert.equal((r2.plant.snapshot.assets.pump_1 as { run_command: boolean }).run_command, command, 'the run command never reached the PLC');
    c.close();
  } finally { await r2.stop(); }
});
