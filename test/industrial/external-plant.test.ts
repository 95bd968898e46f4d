/**
 * plant.mode external end to end: a PLC that is not ours (pymodbus, Debian's python3-pymodbus, in its own process on a
 * loopback port) and the real runtime (startRuntime) in front of it: no simulator, no simulated PLC, no OPC UA server of
 * ours; the zone gateway forwards to the PLC, the interlocks read the image polled from it and fail closed without it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startRuntime, type Runtime } from '../../runtime/app';
import { loadConfig, REPO_ROOT } from '../../runtime/config/load';
import { startExternalPlant } from '../../runtime/industrial/external';
import { createMetrics } from '../../runtime/observability/metrics';
import { PUBLIC_KEY_FILE } from '../../runtime/lifecycle/release';
import YAML from 'yaml';
import { testRelease } from '../lifecycle/fixtures';
import { isGlimmerError } from '../../runtime/errors';
import { bits, ModbusTcpClient, registers } from '../../runtime/industrial/modbus/client';
import { createLogger, silentLogger } from '../../runtime/observability/logger';
import { externalConfig, startPeer, waitListening, writeConfig } from '../helpers/external-plant';
import { freePort, until } from './helpers';
import { restartablePort } from '../helpers/ports';

const DATA_ONLY = [{ name: 'data-1', kind: 'data', zone: 'dmz', required_safety_level: 2 }];

/** TCP ports this process listens on (ss shows the owning pid). */
function ownListeningPorts(): number[] {
  const out = spawnSync('ss', ['-Hltnp'], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((l) => l.includes(`pid=${process.pid},`)).map((l) => Number(/:(\d+)\s/.exec(l.split(/\s+/)[3] + ' ')?.[1])).sort((a, b) => a - b);
}

async function connect(endpoint: string | undefined): Promise<ModbusTcpClient> {
  const [host, port] = (endpoint as string).split(':');
  const c = new ModbusTcpClient(host as string, Number(port));
  await c.connect();
  return c;
}

async function api(rt: Runtime, method: string, pathname: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> & { error?: { code: string } } }> {
  const res = await fetch(`http://127.0.0.1:${rt.apiPort}${pathname}`, {
    method, headers: { authorization: `Bearer ${rt.adminToken}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> & { error?: { code: string } } };
}

async function auditRecords(rt: Runtime): Promise<Record<string, unknown>[]> {
  const r = await fetch(`http://127.0.0.1:${rt.apiPort}/v1/audit/entries?start=0&end=100000`, { headers: { authorization: `Bearer ${rt.adminToken}` } });
  return ((await r.json()) as { record: Record<string, unknown> }[]).map((e) => e.record);
}

test('GIVEN plant.mode external and a pymodbus PLC in its own process WHEN the runtime runs THEN no simulator listens, reads pass through, a denied write is 01 and audited, the interlocks read the real PLC and fail closed when it stops', async (t) => {
  const plcPort = await restartablePort();
  let peer = await startPeer(plcPort);
  t.after(() => { peer.kill('SIGKILL'); });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-ext-run-'));
  const opcuaPort = await freePort();
  const file = writeConfig(externalConfig({ host: '127.0.0.1', port: plcPort }, { poll_interval_ms: 100, stale_after_ms: 600 }, DATA_ONLY));
  const rt = await startRuntime({ configFile: file, stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort, logger: process.env.DEBUG_EXT ? createLogger() : silentLogger() });
  t.after(async () => { await rt.stop(); fs.rmSync(stateDir, { recursive: true, force: true }); });

  // Nothing of the simulated plant: no simulation, no simulated PLC, no OPC UA server; only the API and the gateway.
  assert.equal(rt.plant, undefined);
  assert.deepEqual(Object.keys(rt.endpoints).sort(), ['modbus_control', 'modbus_operations', 'modbus_safety', 'plc_control', 'plc_safety']);
  assert.equal(rt.endpoints.plc_control, `127.0.0.1:${plcPort}`);
  const gatewayPorts = ['operations', 'control', 'safety'].map((z) => Number(rt.endpoints[`modbus_${z}`]!.split(':')[1]));
  assert.deepEqual(ownListeningPorts(), [rt.apiPort, rt.apiMtlsPort, ...gatewayPorts].sort((a, b) => a - b), 'the process listens on the API, its mTLS port and the three gateway listeners only');
  assert.equal(await waitListening(opcuaPort, 200), false, 'no embedded OPC UA server');

  // The process image is polled from the real PLC.
  assert.ok(await until(() => rt.processImage?.snapshot !== undefined, 5000), 'process image polled');
  const image = rt.processImage!.snapshot!;
  assert.equal((image.assets.tank_1 as { values: { level_m: number } }).values.level_m, 1.5);
  assert.equal((image.assets.safety_1 as { values: { tank_1_level_high_high_m: number } }).values.tank_1_level_high_high_m, 3);
  const plantApi = await api(rt, 'GET', '/v1/plant');
  assert.equal(plantApi.status, 200);
  assert.equal(((plantApi.json.assets as Record<string, { values: { level_m?: number } }>).tank_2)!.values.level_m, 0.1);

  // An allowed read through the gateway returns the peer's registers (the same as reading the PLC directly).
  const operations = await connect(rt.endpoints.modbus_operations);
  const direct = await connect(`127.0.0.1:${plcPort}`);
  const viaGateway = await operations.readInputRegisters(1, 0, 16);
  assert.equal(viaGateway.exception, 0);
  assert.deepEqual(registers(viaGateway.pdu), registers((await direct.readInputRegisters(1, 0, 16)).pdu));
  assert.deepEqual(registers(viaGateway.pdu).slice(10, 12), [1500, 100]);

  // A safety write from a zone that may not make it: exception 01, audited as a deny.
  const estopFromOperations = await operations.writeCoil(2, 0, true);
  assert.equal(estopFromOperations.exception, 0x01);
  assert.deepEqual(bits((await direct.readCoils(2, 0, 1)).pdu, 1), [false], 'the write never reached the PLC');
  assert.ok(await untilAsync(async () => (await auditRecords(rt)).some((r) => r.type === 'modbus.decision' && r.decision === 'deny' && r.zone === 'operations' && r.unit === 2), 5000), 'deny audited');

  // Interlocks on the real image: starting pump_2 while tank_2 (0.1 m) is below its suction limit is refused (IL-01);
  // starting pump_1 (no interlock) reaches the PLC.
  const control = await connect(rt.endpoints.modbus_control);
  assert.equal((await control.writeCoil(1, 1, true)).exception, 0x01, 'IL-01 from the polled image');
  assert.equal((await control.writeCoil(1, 0, true)).exception, 0);
  assert.deepEqual(bits((await direct.readCoils(1, 0, 2)).pdu, 2), [true, false], 'pump_1 started on the PLC, pump_2 not');
  assert.ok(await untilAsync(async () => (await auditRecords(rt)).some((r) => r.type === 'modbus.decision' && r.decision === 'deny' && r.reason === 'interlock'), 5000), 'interlock deny audited');
  // No level interlock tripped on the PLC: resetting the emergency stop reaches it.
  assert.equal((await control.writeCoil(2, 0, false)).exception, 0, 'e-stop reset passes while the safety PLC reports no trip');

  // Fault injection needs the simulator.
  const fault = await api(rt, 'POST', '/v1/plant/faults', { asset: 'pump_1', fault: 'leak' });
  assert.equal(fault.status, 409);
  assert.equal(fault.json.error?.code, 'GLM_ERR_PLANT_SIMULATOR_ABSENT');

  // The PLC stops: the image goes stale, interlocked writes fail closed (01 by interlock, never reaching upstream);
  // tripping the emergency stop is still tried (0A/0B: the PLC is gone).
  direct.close();
  peer.kill('SIGKILL');
  assert.ok(await until(() => rt.processImage?.snapshot === undefined, 3000), 'image stale after stale_after_ms');
  assert.equal((await control.writeCoil(1, 0, false)).exception, 0x01, 'stopping pump_1 refused without a fresh image');
  assert.ok([0x0a, 0x0b].includes((await control.writeCoil(2, 0, true)).exception), 'the emergency stop trip passes the interlocks and meets the dead PLC');
  const stale = await api(rt, 'GET', '/v1/plant');
  assert.equal(stale.status, 503);
  assert.equal(stale.json.error?.code, 'GLM_ERR_PLANT_IMAGE_STALE');

  // The PLC comes back on the same port: the gateway reconnects, the image is fresh again, reads flow.
  peer = await startPeer(plcPort);
  assert.ok(await until(() => rt.processImage?.snapshot !== undefined, 15_000), `image fresh again after the PLC restarted (${rt.processImage?.error})`);
  assert.equal((await control.readInputRegisters(1, 10, 1)).exception, 0);
  operations.close();
  control.close();
});

test('GIVEN plant.mode external and a safety PLC reporting a tripped level interlock WHEN the running gateway gets writes THEN resetting the emergency stop, enabling the bypass and moving a trip setpoint are refused with 01 (audited as interlock, never reaching the PLC) while tripping the emergency stop passes', async (t) => {
  const plcPort = await freePort();
  const peer = await startPeer(plcPort, { tripped: true });
  t.after(() => { peer.kill('SIGKILL'); });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-ext-trip-'));
  const file = writeConfig(externalConfig({ host: '127.0.0.1', port: plcPort }, { poll_interval_ms: 100, stale_after_ms: 5000 }, DATA_ONLY));
  const rt = await startRuntime({ configFile: file, stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, logger: silentLogger() });
  t.after(async () => { await rt.stop(); fs.rmSync(stateDir, { recursive: true, force: true }); });
  // The refusals below are the trip's, not a stale image's: the image is fresh and reports the trip.
  assert.ok(await until(() => rt.processImage?.snapshot !== undefined, 5000), 'process image polled');
  assert.equal((rt.processImage!.snapshot!.assets.safety_1 as { interlock_tripped: boolean }).interlock_tripped, true);
  const control = await connect(rt.endpoints.modbus_control);
  const safety = await connect(rt.endpoints.modbus_safety);
  const direct = await connect(`127.0.0.1:${plcPort}`);
  t.after(() => { control.close(); safety.close(); direct.close(); });

  assert.equal((await control.writeCoil(2, 0, true)).exception, 0, 'tripping the emergency stop is never blocked');
  assert.equal((await control.writeCoil(2, 0, false)).exception, 0x01, 'reset refused while tripped');
  assert.equal((await safety.writeCoil(2, 0, false)).exception, 0x01, 'reset refused from the safety zone too');
  assert.equal((await safety.writeCoil(2, 1, true)).exception, 0x01, 'bypass refused while tripped');
  assert.equal((await safety.writeRegister(2, 0, 4000)).exception, 0x01, 'setpoint change refused while tripped');
  assert.ok(rt.processImage?.snapshot !== undefined, 'the image was still fresh');
  assert.deepEqual(bits((await direct.readCoils(2, 0, 2)).pdu, 2), [true, false], 'the PLC holds the trip and no bypass');
  assert.deepEqual(registers((await direct.readHoldingRegisters(2, 0, 1)).pdu), [3000], 'the setpoint never reached the PLC');
  assert.ok(await untilAsync(async () => (await auditRecords(rt)).filter((r) => r.type === 'modbus.decision' && r.decision === 'deny' && r.reason === 'interlock' && r.unit === 2).length === 4, 5000), 'the four refusals are audited as interlock');
});

test('GIVEN the process PLC up but the safety PLC unreachable WHEN the runtime runs THEN there is no process image (only a complete one counts): process reads pass, safety reads get 0A, interlocked writes are refused', async (t) => {
  const plcPort = await restartablePort();
  const peer = await startPeer(plcPort);
  t.after(() => { peer.kill('SIGKILL'); });
  const deadPort = await restartablePort();
  const doc = externalConfig({ host: '127.0.0.1', port: plcPort }, { poll_interval_ms: 100, stale_after_ms: 600 }, DATA_ONLY);
  (doc.plant as { external: { plcs: { safety: { port: number } } } }).external.plcs.safety.port = deadPort;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-ext-half-'));
  const rt = await startRuntime({ configFile: writeConfig(doc), stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, logger: silentLogger() });
  t.after(async () => { await rt.stop(); fs.rmSync(stateDir, { recursive: true, force: true }); });
  const control = await connect(rt.endpoints.modbus_control);
  assert.equal((await control.readInputRegisters(1, 10, 2)).exception, 0, 'the process PLC answers through the gateway');
  assert.equal((await control.readCoils(2, 0, 1)).exception, 0x0a, 'the safety PLC is not connected');
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(rt.processImage?.snapshot, undefined, 'half an image is no image');
  assert.match(rt.processImage?.error ?? '', /plc-safety/);
  assert.equal((await control.writeCoil(1, 0, true)).exception, 0x01, 'interlocks cannot be checked: refused');
  // The safety PLC's state is unknown, which counts as tripped (as in embedded mode): a reset of the emergency stop is
  // refused by the decision, while the trip passes it and meets the unreachable PLC.
  assert.equal((await control.writeCoil(2, 0, false)).exception, 0x01, 'reset refused while the safety state is unknown');
  assert.equal((await control.writeCoil(2, 0, true)).exception, 0x0a, 'the trip passes the decision');
  control.close();
});

test('GIVEN a plant in its own process (PLC on Modbus, OPC UA server) WHEN the runtime supervises the Industrial Agent in external mode THEN the agent opens its session to the configured server with the configured certificates, and no OPC UA server of ours runs', async (t) => {
  const peerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-remote-plant-'));
  const [modbusPort, opcuaPort, ownOpcuaPort] = [await freePort(), await freePort(), await freePort()];
  const peer = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'peers', 'remote-plant.ts'), peerDir, String(modbusPort), String(opcuaPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { peer.kill('SIGKILL'); fs.rmSync(peerDir, { recursive: true, force: true }); });
  let stderr = '';
  peer.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  const ready = await new Promise<Record<string, string>>((resolve, reject) => {
    let out = ''; // node-opcua writes to stdout too: the peer's answer is the line starting with READY
    const timer = setTimeout(() => reject(new Error(`remote plant did not start: ${stderr}`)), 60_000);
    peer.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('READY '));
      if (line !== undefined) { clearTimeout(timer); resolve(JSON.parse(line.slice(6)) as Record<string, string>); }
    });
  });
  const { modbus_port: _port, ...opcua } = ready;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-ext-ind-'));
  // Measured boot covers the config the agent loads: a throwaway release root with this config, signed by a test key.
  const root = signedRelease(externalConfig({ host: '127.0.0.1', port: modbusPort }, { opcua }));
  const rt = await startRuntime({ configFile: path.join(root, 'config', 'glimmer.yml'), root, stateDir, agent: 'industrial-1', apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: ownOpcuaPort, logger: silentLogger() });
  t.after(async () => { await rt.stop(); fs.rmSync(stateDir, { recursive: true, force: true }); fs.rmSync(root, { recursive: true, force: true }); });

  assert.ok(await rt.supervisor.waitFor(['ACTIVE', 'TERMINATED'], 60_000), 'agent settled');
  const [agent] = rt.supervisor.agents();
  assert.equal(agent?.state, 'ACTIVE', JSON.stringify(agent?.last_error));
  assert.equal(rt.endpoints.opcua, opcua.endpoint_url);
  assert.equal(await waitListening(ownOpcuaPort, 200), false, 'no OPC UA server of ours');
  // The agent's store holds the configured client certificate (the one the plant trusts), not a fresh self-signed one.
  const own = fs.readFileSync(path.join(stateDir, 'opcua', 'pki', 'industrial-1', 'own', 'certs', 'certificate.pem'));
  assert.equal(new crypto.X509Certificate(own).fingerprint256, new crypto.X509Certificate(fs.readFileSync(opcua.client_certificate as string)).fingerprint256);
  // The gateway in this pod forwards to the plant's PLC; the interlocks have its image.
  assert.ok(await until(() => rt.processImage?.snapshot !== undefined, 5000), 'process image polled from the plant');
  const control = await connect(rt.endpoints.modbus_control);
  const r = await control.readInputRegisters(1, 10, 2);
  assert.equal(r.exception, 0);
  control.close();
});

test('GIVEN the external plant polling a pymodbus PLC WHEN /metrics is scraped before and after the PLC stops THEN glimmer_plant_process_image_age_seconds stays under stale_after_ms while it answers and keeps growing while it is down', async (t) => {
  const plcPort = await restartablePort();
  const peer = await startPeer(plcPort);
  t.after(() => { peer.kill('SIGKILL'); });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-ext-age-'));
  const metrics = createMetrics();
  const plant = await startExternalPlant({
    config: loadConfig(writeConfig(externalConfig({ host: '127.0.0.1', port: plcPort }, { poll_interval_ms: 100, stale_after_ms: 600 }, DATA_ONLY))),
    stateDir, logger: silentLogger(), metrics, audit: () => undefined, modbusPort: 0,
  });
  t.after(async () => { await plant.stop(); fs.rmSync(stateDir, { recursive: true, force: true }); });
  const age = async () => Number(/^glimmer_plant_process_image_age_seconds (\S+)$/m.exec(await metrics.registry.metrics())?.[1]);
  assert.ok(await until(() => plant.image?.snapshot !== undefined, 5000), 'process image polled');
  // While the PLC answers, a scrape taken while the image is fresh reports under stale_after_ms (a late poll on a loaded
  // machine may age one sample past it; the image is then stale too, and the next poll refreshes both).
  assert.ok(await untilAsync(async () => {
    const a = await age();
    return plant.image?.snapshot !== undefined && a < 0.6;
  }, 5000), `fresh image: ${await age()} s`);
  peer.kill('SIGKILL');
  assert.ok(await until(() => plant.image?.snapshot === undefined, 3000), 'image stale');
  const first = await age();
  assert.ok(first > 0.6, `stale image: ${first} s`);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok((await age()) >= first + 0.25, 'the age grows while the PLC is down');
  await plant.stop();
  assert.equal(await age(), 0, 'no PLC polled after stop');
});

test('GIVEN an external plant config with a bad PLC endpoint WHEN startRuntime is called THEN it refuses with GLM_ERR_CONFIG_PLANT_ENDPOINT_INVALID before anything starts', async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-ext-bad-'));
  const stateDir = path.join(parent, 'state');
  const apiPort = await freePort();
  const file = writeConfig(externalConfig({ host: 'plc .local', port: 502 }, {}, DATA_ONLY));
  await assert.rejects(
    startRuntime({ configFile: file, stateDir, apiPort, apiMtlsPort: 0, modbusPort: 0, logger: silentLogger() }),
    (err) => isGlimmerError(err, 'GLM_ERR_CONFIG_PLANT_ENDPOINT_INVALID') && err.message.includes('at /plant/external/plcs/control/host: received "plc .local"'),
  );
  assert.equal(fs.existsSync(stateDir), false, 'no state dir, no audit log, no keys');
  assert.equal(await waitListening(apiPort, 200), false, 'no API');
  fs.rmSync(parent, { recursive: true, force: true });
});

async function untilAsync(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await check()) return true; await new Promise((r) => setTimeout(r, 100)); }
  return check();
}

/** A release root (the industrial bundle of `make build`, this config, the rules) with a manifest signed by a test key. */
function signedRelease(doc: Record<string, unknown>): string {
  const release = testRelease([]);
  const bundle = path.join(REPO_ROOT, 'dist', 'agent-industrial.js');
  assert.ok(fs.existsSync(bundle), 'dist/agent-industrial.js is missing: run `make build` first (make test does)');
  fs.copyFileSync(bundle, path.join(release.root, 'dist', 'agent-industrial.js'));
  fs.writeFileSync(release.configFile, YAML.stringify(doc));
  release.sign();
  // startRuntime pins the release key it finds in the root.
  fs.writeFileSync(path.join(release.root, PUBLIC_KEY_FILE), release.publicKeyPem);
  fs.rmSync(release.stateDir, { recursive: true, force: true });
  return release.root;
}
