/**
 * The plant's OPC UA server and our OPC UA client over loopback: SignAndEncrypt with username login, subscriptions,
 * a server restart mid-subscription, an untrusted client certificate, security None refused at SL 3.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import { startPlantOpcuaServer, type PlantOpcuaServer } from '../../runtime/industrial/plant/plc-opcua';
import { connectPlantOpcua, provisionOpcuaTrust, type PlantOpcuaClient } from '../../runtime/industrial/opcua/client';
import { certificateManager, identityFor, trustPeer } from '../../runtime/industrial/opcua/pki';
import { opcuaSecurityFor } from '../../runtime/industrial/opcua/security';
import { isGlimmerError } from '../../runtime/errors';
import { CONDUITS, ZONES, freePort, until } from './helpers';

const security = opcuaSecurityFor({ zones: ZONES, conduits: CONDUITS }, 'control');
let dir: string;
let port: number;
let plant: PlantRuntime;
let server: PlantOpcuaServer;
let client: PlantOpcuaClient | undefined;


const start = () => startPlantOpcuaServer({ plant, stateDir: dir, port, security, users: [{ name: 'industrial-1', zone: 'control' }], agents: ['industrial-1'] });

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-opcua-'));
  port = await freePort();
  plant = new PlantRuntime({ seed: 3, tickMs: 100 });
  plant.start();
  await provisionOpcuaTrust(dir, 'industrial-1');
  server = await start();
});
after(async () => {
  await client?.close();
  await server.stop();
  plant.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('GIVEN the zone model WHEN the server zone is at SL 3 THEN only SignAndEncrypt without anonymous; None only through an explicit conduit below SL 3', () => {
  assert.deepEqual(security.modes, ['SignAndEncrypt']);
  assert.equal(security.allowAnonymous, false);
  const sl3 = opcuaSecurityFor({ zones: ZONES, conduits: CONDUITS.map((c) => ({ ...c, allow_insecure_opcua: true })) }, 'control');
  assert.deepEqual(sl3.modes, ['SignAndEncrypt']);
  const sl2 = opcuaSecurityFor({ zones: ZONES, conduits: [...CONDUITS, { from: 'dmz', to: 'operations', protocols: ['opcua'], allow_insecure_opcua: true }] }, 'operations');
  assert.ok(sl2.modes.includes('None'));
});

test('GIVEN a client asking for security None at SL 3 WHEN it connects THEN GLM_ERR_OPCUA_SECURITY_REFUSED before any packet (a listener standing in for the server sees no connection)', async () => {
  await assert.rejects(
    connectPlantOpcua({ endpointUrl: server.endpointUrl, stateDir: dir, name: 'industrial-1', user: 'industrial-1', security, requested: { mode: 'None', policy: 'None' } }),
    (e) => isGlimmerError(e, 'GLM_ERR_OPCUA_SECURITY_REFUSED'),
  );
  let connections = 0;
  const listener = net.createServer((s) => { connections += 1; s.destroy(); });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
  try {
    const endpointUrl = `opc.tcp://127.0.0.1:${(listener.address() as net.AddressInfo).port}`;
    await assert.rejects(
      connectPlantOpcua({ endpointUrl, stateDir: dir, name: 'industrial-1', user: 'industrial-1', security, requested: { mode: 'None', policy: 'None' } }),
      (e) => isGlimmerError(e, 'GLM_ERR_OPCUA_SECURITY_REFUSED'),
    );
    // Any TCP connect would have been accepted (and counted) by now: the refusal came first.
    await new Promise((r) => setImmediate(r));
    assert.equal(connections, 0);
  } finally {
    await new Promise((r) => listener.close(r));
  }
});

test('GIVEN a provisioned client WHEN it subscribes THEN monitored items push plant values with SignAndEncrypt', async () => {
  const seen = new Set<string>();
  client = await connectPlantOpcua({ endpointUrl: server.endpointUrl, stateDir: dir, name: 'industrial-1', user: 'industrial-1', security, onValue: (s) => seen.add(s) });
  assert.ok(await until(() => seen.has('tank_1.level_m') && seen.has('safety_1.emergency_stop'), 10_000));
  const before = client.values.get('pump_1.flow_m3h');
  assert.ok(await until(() => client!.values.get('pump_1.flow_m3h') !== before, 10_000), 'values keep changing');
});

test('GIVEN the OPC UA write decision WHEN the client bypasses the interlocks THEN it is refused with GLM_ERR_INDUSTRIAL_COMMAND_FAILED and the plant is unchanged', async () => {
  assert.ok(client);
  await assert.rejects(client.write('safety_1.interlock_bypass', true), (e) => isGlimmerError(e, 'GLM_ERR_INDUSTRIAL_COMMAND_FAILED'));
  assert.equal((plant.snapshot.assets.safety_1 as { interlock_bypass: boolean }).interlock_bypass, false);
});

test('GIVEN a client whose certificate the server does not trust WHEN it connects THEN it is refused and its certificate lands in rejected/, never auto-accepted', async () => {
  const rogue = identityFor(dir, 'rogue');
  const rogueCm = await certificateManager(rogue);
  await trustPeer(rogueCm, identityFor(dir, 'plant-server')); // the rogue trusts the server; the server does not trust it
  await rogueCm.dispose();
  await assert.rejects(
    connectPlantOpcua({ endpointUrl: server.endpointUrl, stateDir: dir, name: 'rogue', user: 'industrial-1', security, connectTimeoutMs: 8000 }),
    (e) => isGlimmerError(e, 'GLM_ERR_OPCUA_CERT_UNTRUSTED'),
  );
  const rejected = path.join(identityFor(dir, 'plant-server').rootFolder, 'rejected');
  assert.ok(await until(() => fs.existsSync(rejected) && fs.readdirSync(rejected).length > 0, 5000), 'the rogue certificate is in rejected/');
  const trusted = path.join(identityFor(dir, 'plant-server').rootFolder, 'trusted', 'certs');
  assert.equal(fs.readdirSync(trusted).length, 1, 'only the provisioned client is trusted');
});

test('GIVEN a live subscription WHEN the OPC UA server restarts THEN the session recovers and values flow again', async () => {
  assert.ok(client);
  await server.stop();
  await new Promise((r) => setTimeout(r, 500));
  server = await start();
  plant.write('pump_1.speed_setpoint_pct', 42);
  assert.ok(await until(() => client!.values.get('pump_1.speed_setpoint_pct') === 42, 40_000), 'value written after the restart arrives');
});

test('GIVEN the OPC UA port is taken WHEN a second plant server starts on it THEN GLM_ERR_OPCUA_SERVER_START_FAILED', async () => {
  await assert.rejects(start(), (e) => isGlimmerError(e, 'GLM_ERR_OPCUA_SERVER_START_FAILED'));
});

test('GIVEN a user without provisioned credentials WHEN the client connects THEN GLM_ERR_OPCUA_CONNECT_FAILED before any session', async () => {
  await assert.rejects(
    connectPlantOpcua({ endpointUrl: server.endpointUrl, stateDir: dir, name: 'industrial-1', user: 'nobody', security }),
    (e) => isGlimmerError(e, 'GLM_ERR_OPCUA_CONNECT_FAILED'),
  );
});
