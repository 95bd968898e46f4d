/**
 * The embedded plant as the runtime starts it (startRuntime, plant.mode embedded). The simulated PLC is reachable only
 * through the gateway: it listens on a Unix socket in a directory only the runtime's user may enter, and on no TCP
 * port. The safety-trip interlock of the running gateway. While a level interlock of the safety PLC is tripped, only tripping the emergency stop may be
 * written: resetting it, enabling the bypass and moving a trip setpoint are refused (exception 01, audited as
 * `interlock`), although the policy allows each of them from the safety zone.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

/** TCP ports this process listens on: LISTEN sockets of /proc/net/tcp{,6} whose inode is one of its descriptors. */
function listeningTcpPorts(): Set<number> {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch { /* closed meanwhile */ }
  }
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && inodes.has(cols[9] as string)) ports.add(parseInt((cols[1] as string).split(':')[1] as string, 16));
    }
  }
  return ports;
}

const portOf = (endpoint: string | undefined) => Number(new URL(`x://${endpoint as string}`).port);

test('GIVEN the embedded runtime WHEN anything but the gateway tries to reach the simulated PLC THEN the PLC has no TCP port, its Unix socket refuses another user, and a write through the gateway still reaches it', { timeout: 120_000 }, async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-embedded-plc-'));
  const opcuaPort = await freePort();
  const rt = await startRuntime({ stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort, logger: silentLogger() });
  t.after(async () => { await rt.stop('test'); fs.rmSync(stateDir, { recursive: true, force: true }); });

  const endpoint = rt.endpoints.plc_modbus as string;
  assert.match(endpoint, /^unix:\//, 'the PLC endpoint is a Unix socket');
  const socketPath = endpoint.slice('unix:'.length);
  assert.ok(fs.lstatSync(socketPath).isSocket());
  assert.equal(fs.statSync(socketPath).mode & 0o777, 0o600, 'socket mode');
  assert.equal(fs.statSync(path.dirname(socketPath)).mode & 0o777, 0o700, 'socket directory mode');

  // Every TCP listener of the process is a documented endpoint: none of them is the PLC.
  const gatewayPorts = Object.entries(rt.endpoints).filter(([k]) => k.startsWith('modbus_')).map(([, v]) => portOf(v));
  const known = new Set([rt.apiPort, rt.apiMtlsPort, opcuaPort, ...gatewayPorts]);
  const listening = listeningTcpPorts();
  for (const port of gatewayPorts) assert.ok(listening.has(port), `gateway listener ${port} found among ${[...listening].join(', ')}`);
  assert.deepEqual([...listening].filter((p) => !known.has(p)), [], `TCP listeners besides API, mTLS API, OPC UA and gateway (${[...known].join(', ')})`);

  // Another local user cannot connect to the socket (the runtime's own user is the boundary, as for its keys).
  const probe = spawnSync(process.execPath, ['-e', "require('net').connect({ path: process.argv[1] }).on('connect', () => { console.log('CONNECTED'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); })", socketPath], { uid: 65534, gid: 65534, cwd: '/', encoding: 'utf8', timeout: 20_000 });
  assert.equal(probe.stdout.trim(), 'EACCES', `another user connecting to the PLC socket: ${probe.stdout}${probe.stderr}`);

  // The gateway path works: a process write from the control zone reaches the PLC and reads back.
  const control = await connect(rt.endpoints.modbus_control);
  t.after(() => control.close());
  assert.equal((await control.writeRegister(1, 1, 450)).exception, 0);
  const back = await control.readHoldingRegisters(1, 1, 1);
  assert.equal(back.exception, 0);
  assert.equal(back.pdu.readUInt16BE(2), 450);
});

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
  assert.deepEqual(bits((await safety.readCoils(SAFETY_UNIT, ESTOP, 2)).pdu, 2), [true, false], 'the PLC still holds the trip and no bypass');
  assert.ok(tripped(rt), 'still tripped');
  assert.ok(await untilAsync(async () => (await interlockDenials(rt)).length === 4, 5000), 'the four refusals are audited as interlock');
});

async function untilAsync(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await check()) return true; await new Promise((r) => setTimeout(r, 50)); }
  return check();
}
