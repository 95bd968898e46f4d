/** plant.mode external in glimmer.yml: defaults, and every refusal with its code, the field path and the value. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../runtime/config/load';
import { checkExternalPlantFiles } from '../../runtime/config/plant';
import { isGlimmerError } from '../../runtime/errors';
import { BASE_CONFIG, externalConfig, selfSigned, writeConfig } from '../helpers/external-plant';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-plant-cfg-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const server = selfSigned(dir, 'plant-server');
const client = selfSigned(dir, 'industrial-1');
const other = selfSigned(dir, 'other');
fs.writeFileSync(path.join(dir, 'password'), 's3cret\n');
const OPCUA = { endpoint_url: 'opc.tcp://plc-1.plant.local:4840', server_certificate: server.cert, password_file: path.join(dir, 'password') };

function external(extra: Record<string, unknown> = { opcua: OPCUA }, plc = { host: '10.20.0.10', port: 502 }) {
  return externalConfig(plc, extra);
}

test('GIVEN plant.mode external with PLCs and an OPC UA server WHEN loaded THEN defaults are applied once (gateway 127.0.0.1:5020.., poll 250 ms, stale 1000 ms) and paths are absolute', () => {
  const file = writeConfig(external({ opcua: { ...OPCUA, server_certificate: 'certs/server.pem', password_file: 'password' } }));
  const cfg = loadConfig(file);
  assert.equal(cfg.plant.mode, 'external');
  assert.deepEqual(cfg.plant.external?.plcs, { control: { host: '10.20.0.10', port: 502, unitId: 1 }, safety: { host: '10.20.0.10', port: 502, unitId: 2 } });
  assert.deepEqual(cfg.plant.external?.gateway, { host: '127.0.0.1', ports: { operations: 5020, control: 5021, safety: 5022 } });
  assert.equal(cfg.plant.external?.pollIntervalMs, 250);
  assert.equal(cfg.plant.external?.staleAfterMs, 1000);
  assert.equal(cfg.plant.external?.opcua?.serverCertificate, path.join(path.dirname(file), 'certs', 'server.pem'));
  assert.equal(cfg.plant.external?.opcua?.passwordFile, path.join(path.dirname(file), 'password'));
});

test('GIVEN the embedded default WHEN loaded THEN the plant mode is embedded (the simulated plant of make run)', () => {
  assert.equal(loadConfig().plant.mode, 'embedded');
  assert.equal(loadConfig().plant.external, undefined);
});

test('GIVEN a PLC unit id and gateway ports WHEN loaded THEN they are taken, the other listeners keep their defaults', () => {
  const doc = externalConfig({ host: 'plc.example', port: 1502 }, { opcua: OPCUA, gateway: { host: '0.0.0.0', ports: { operations: 15020 } } });
  (doc.plant as { external: { plcs: { safety: { unit_id: number } } } }).external.plcs.safety.unit_id = 7;
  const cfg = loadConfig(writeConfig(doc));
  assert.deepEqual(cfg.plant.external?.plcs.safety, { host: 'plc.example', port: 1502, unitId: 7 });
  assert.deepEqual(cfg.plant.external?.gateway, { host: '0.0.0.0', ports: { operations: 15020, control: 5021, safety: 5022 } });
});

const refusals: [string, () => Record<string, unknown>, string, RegExp][] = [
  ['a PLC host with a scheme', () => external(undefined, { host: 'tcp://10.0.0.1', port: 502 }), 'GLM_ERR_CONFIG_PLANT_ENDPOINT_INVALID', /at \/plant\/external\/plcs\/control\/host: received "tcp:\/\/10\.0\.0\.1", allowed: a host name or an IP address/],
  ['a PLC port 70000', () => external(undefined, { host: '10.0.0.1', port: 70000 }), 'GLM_ERR_CONFIG_INVALID', /at \/plant\/external\/plcs\/control\/port: received 70000, allowed: <= 65535/],
  ['an OPC UA endpoint over http', () => external({ opcua: { ...OPCUA, endpoint_url: 'http://plc:4840' } }), 'GLM_ERR_CONFIG_PLANT_ENDPOINT_INVALID', /at \/plant\/external\/opcua\/endpoint_url: received "http:\/\/plc:4840", allowed: an opc\.tcp:\/\/host:port/],
  ['an OPC UA endpoint with credentials', () => external({ opcua: { ...OPCUA, endpoint_url: 'opc.tcp://op:pw@plc:4840' } }), 'GLM_ERR_CONFIG_PLANT_ENDPOINT_INVALID', /endpoint_url: received "opc\.tcp:\/\/op:pw@plc:4840"/],
  ['a gateway port for a zone without a listener', () => external({ opcua: OPCUA, gateway: { ports: { enterprise: 5020 } } }), 'GLM_ERR_CONFIG_PLANT_ENDPOINT_INVALID', /at \/plant\/external\/gateway\/ports\/enterprise: received "enterprise", allowed: a zone with a gateway listener: one of operations, control, safety/],
  ['two listeners on one port', () => external({ opcua: OPCUA, gateway: { ports: { operations: 5021 } } }), 'GLM_ERR_CONFIG_PLANT_ENDPOINT_INVALID', /at \/plant\/external\/gateway\/ports\/control: received 5021, allowed: a port no other listener uses \(zone operations listens on it\)/],
  ['a gateway host with a port', () => external({ opcua: OPCUA, gateway: { host: '0.0.0.0:5020' } }), 'GLM_ERR_CONFIG_PLANT_ENDPOINT_INVALID', /at \/plant\/external\/gateway\/host: received "0\.0\.0\.0:5020"/],
  ['mode external without PLCs', () => ({ ...external(), plant: { mode: 'external' } }), 'GLM_ERR_CONFIG_INVALID', /at \/plant: allowed: a "external" key/],
  ['only the control PLC', () => ({ ...external(), plant: { mode: 'external', external: { plcs: { control: { host: 'plc' } } } } }), 'GLM_ERR_CONFIG_INVALID', /at \/plant\/external\/plcs: allowed: a "safety" key/],
  ['a fault schedule against real PLCs', () => { const d = external(); (d.plant as Record<string, unknown>).fault_schedule = [{ at_s: 1, asset: 'pump_1', fault: 'leak' }]; return d; }, 'GLM_ERR_CONFIG_INVALID', /at \/plant\/fault_schedule: received 1 entries, allowed: none when mode is "external"/],
  ['an Industrial Agent but no OPC UA server', () => external({}), 'GLM_ERR_CONFIG_INVALID', /at \/plant\/external: allowed: a "opcua" key \(the Industrial Agent industrial-1/],
  ['a client certificate without its key', () => external({ opcua: { ...OPCUA, client_certificate: client.cert } }), 'GLM_ERR_CONFIG_INVALID', /at \/plant\/external\/opcua: allowed: both client_certificate and client_private_key, or neither/],
  ['stale_after_ms not above poll_interval_ms', () => external({ opcua: OPCUA, poll_interval_ms: 500, stale_after_ms: 500 }), 'GLM_ERR_CONFIG_INVALID', /at \/plant\/external\/stale_after_ms: received 500, allowed: more than poll_interval_ms \(500\)/],
  ['an unknown plant mode', () => ({ ...external(), plant: { mode: 'hybrid' } }), 'GLM_ERR_CONFIG_INVALID', /at \/plant\/mode: received "hybrid", allowed: one of "embedded", "external"/],
];

for (const [what, make, code, message] of refusals) {
  test(`GIVEN an external plant with ${what} WHEN loaded THEN ${code} names the file, the field path and the value`, () => {
    const file = writeConfig(make());
    assert.throws(() => loadConfig(file), (err) => {
      assert.ok(isGlimmerError(err, code as never), `${String(err)}`);
      assert.match(err.message, message);
      assert.ok(err.message.startsWith(file), err.message);
      return true;
    });
  });
}

const fileRefusals: [string, Record<string, unknown>, RegExp][] = [
  ['a missing server certificate', { ...OPCUA, server_certificate: path.join(dir, 'nope.pem') }, /at \/plant\/external\/opcua\/server_certificate: ".*nope\.pem" cannot be read \(ENOENT\)/],
  ['a server certificate that is a key', { ...OPCUA, server_certificate: server.key }, /server_certificate: ".*plant-server\.key" is not an X\.509 certificate/],
  ['an empty password file', { ...OPCUA, password_file: path.join(dir, 'empty') }, /password_file: ".*empty" is empty/],
  ['a client key of another certificate', { ...OPCUA, client_certificate: client.cert, client_private_key: other.key }, /client_private_key: ".*other\.key" does not belong to the client certificate/],
];
fs.writeFileSync(path.join(dir, 'empty'), '\n');

for (const [what, opcua, message] of fileRefusals) {
  test(`GIVEN an external plant with ${what} WHEN the Industrial Agent's process checks its files THEN GLM_ERR_CONFIG_PLANT_FILE_UNREADABLE names the field path and the file`, () => {
    const cfg = loadConfig(writeConfig(external({ opcua })));
    assert.throws(() => checkExternalPlantFiles(cfg), (err) => isGlimmerError(err, 'GLM_ERR_CONFIG_PLANT_FILE_UNREADABLE') && message.test(err.message) && err.message.startsWith(cfg.file));
    // A pod without an Industrial Agent never opens the OPC UA session, so it does not need the files.
    checkExternalPlantFiles({ ...cfg, agents: cfg.agents.filter((a) => a.kind !== 'industrial') });
  });
}

test('GIVEN good OPC UA files (server certificate, password, matching client certificate and key) WHEN checked THEN they pass', () => {
  checkExternalPlantFiles(loadConfig(writeConfig(external({ opcua: { ...OPCUA, client_certificate: client.cert, client_private_key: client.key } }))));
});

test('GIVEN an embedded fault schedule entry cleared before it is injected WHEN loaded THEN GLM_ERR_CONFIG_INVALID names the entry\'s clear_at_s and at_s; cleared after, it loads', () => {
  const doc = (schedule: unknown[]) => ({ ...structuredClone(BASE_CONFIG), plant: { seed: 42, fault_schedule: schedule } });
  const bad = writeConfig(doc([{ at_s: 5, asset: 'pump_2', fault: 'leak' }, { at_s: 60, clear_at_s: 60, asset: 'tank_1', fault: 'leak' }]));
  assert.throws(() => loadConfig(bad), (err) => isGlimmerError(err, 'GLM_ERR_CONFIG_INVALID') && /at \/plant\/fault_schedule\/1\/clear_at_s: received 60, allowed: a time after at_s \(60\)/.test(err.message));
  const good = loadConfig(writeConfig(doc([{ at_s: 60, clear_at_s: 150, asset: 'tank_1', fault: 'leak' }])));
  assert.deepEqual(good.plant.faultSchedule, [{ at_s: 60, clear_at_s: 150, asset: 'tank_1', fault: 'leak' }]);
});
