/**
 * OPC UA writes go through the same write decision as Modbus (the Cedar PDP, then the interlocks), decided for the
 * session's user with the client's application URI in the policy request and in the audit records. A SCADA client
 * in another process (node-opcua) trips the emergency stop as the industrial agent; an operator account from a less
 * trusted zone and a viewer are refused.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../runtime/config/load';
import { provisionOpcuaTrust } from '../../runtime/industrial/opcua/client';
import { identityFor, opcuaDir, userPassword } from '../../runtime/industrial/opcua/pki';
import { opcuaSecurityFor } from '../../runtime/industrial/opcua/security';
import { OpcuaUserStore, operatorName } from '../../runtime/industrial/opcua/users';
import { startPlantOpcuaServer, type PlantOpcuaServer } from '../../runtime/industrial/plant/plc-opcua';
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import { composeWriteDecision } from '../../runtime/industrial/write-decision';
import { PROCESS_ZONE, SIMULATED_PLANT_PROFILE } from '../../runtime/model/plant';
import { plantMap } from '../../runtime/model/plant-map';
import { createFrameDecider, gatewayDecide } from '../../runtime/trust/policy/frame-decider';
import { PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';
import { freePort } from './helpers';
import { makeClientCertificate, type TestCertificate } from './opcua-certs';

const config = loadConfig();
const TD = config.topology.trust_domain;
let dir: string;
let plant: PlantRuntime;
let server: PlantOpcuaServer;
let accounts: OpcuaUserStore;
let scada: TestCertificate;
const audit: Record<string, unknown>[] = [];
const ESTOP = plantMap().find((e) => e.id === 'safety_1.emergency_stop')?.opcua_node_id ?? '';

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-opcua-write-'));
  plant = new PlantRuntime({ seed: 13, tickMs: 100 });
  plant.start();
  accounts = new OpcuaUserStore(dir);
  accounts.provision('panel', 'operator', 'operations', 'panel-password-123');
  accounts.provision('watcher', 'viewer', 'control', 'watcher-password-123');
  const model = () => ({
    trustDomain: TD, zones: config.zones, conduits: config.conduits, agents: config.agents, topology: config.topology,
    operators: accounts.list().map((a) => ({ name: operatorName(a.name), zone: a.zone, roles: [a.role] })),
  });
  const pdp = await PolicyDecisionPoint.create({ model: model(), audit: (r) => audit.push(r as Record<string, unknown>) });
  const frames = createFrameDecider(pdp, { plantMap: plantMap(), audit: (r) => audit.push(r as Record<string, unknown>), auditDecisions: 'all' });
  const decide = composeWriteDecision({ policy: gatewayDecide(frames, TD), profile: SIMULATED_PLANT_PROFILE, image: () => plant.snapshot });
  await provisionOpcuaTrust(dir, 'industrial-1');
  server = await startPlantOpcuaServer({
    plant, stateDir: dir, port: await freePort(), security: opcuaSecurityFor(config, PROCESS_ZONE), users: [{ name: 'industrial-1', zone: 'control' }],
    accounts, decide, trustDomain: TD, audit: (records) => audit.push(...(records as Record<string, unknown>[])),
  });
  scada = makeClientCertificate(dir, { name: 'scada-hmi' });
  await server.certificateManager.trustCertificate(scada.der);
});
after(async () => {
  await server.stop();
  plant.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeFromAnotherProcess(user: string, password: string, value: boolean): Promise<string> {
  const script = path.join(__dirname, 'peers', 'opcua-writer.ts');
  const args = [server.endpointUrl, identityFor(dir, 'plant-server').certificateFile, scada.certificateFile, scada.privateKeyFile, scada.applicationUri, user, password, ESTOP, String(value)];
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', script, ...args], { timeout: 60_000 }, (_err, stdout) => {
      resolve(/(RESULT|ERROR) (.*)/.exec(stdout)?.slice(1).join(' ') ?? `no result: ${stdout}`);
    });
  });
}

const estop = () => (plant.snapshot.assets.safety_1 as { emergency_stop?: boolean } | undefined)?.emergency_stop;

test('GIVEN an operator account in the operations zone WHEN it trips the emergency stop over OPC UA THEN the policy refuses it for that user and application, and the audit records name both', async () => {
  assert.equal(await writeFromAnotherProcess('panel', 'panel-password-123', true), 'RESULT BadUserAccessDenied');
  assert.equal(estop(), false);
  const principal = `spiffe://${TD}/operator/opcua-panel`;
  const decision = audit.find((r) => r.type === 'policy.decision' && r.subject === principal);
  assert.ok(decision, JSON.stringify(audit.slice(-5)));
  assert.equal(decision.decision, 'deny');
  assert.equal(decision.enforcement, 'opcua');
  assert.equal(decision.application_uri, scada.applicationUri);
  const write = audit.find((r) => r.type === 'opcua.write' && r.user === 'panel');
  assert.deepEqual([write?.allow, write?.principal, write?.application_uri, write?.signal], [false, principal, scada.applicationUri, 'safety_1.emergency_stop']);
});

test('GIVEN a viewer account WHEN it trips the emergency stop over OPC UA THEN BadUserAccessDenied and the plant is unchanged', async () => {
  assert.equal(await writeFromAnotherProcess('watcher', 'watcher-password-123', true), 'RESULT BadUserAccessDenied');
  assert.equal(estop(), false);
});

test('GIVEN the industrial agent\'s account WHEN a client in another process trips the emergency stop over OPC UA THEN it goes through and the allow is audited with the agent and the application URI', async () => {
  const password = fs.readFileSync(path.join(opcuaDir(dir), 'users', 'industrial-1.password'), 'utf8').trim();
  assert.equal(password, userPassword(dir, 'industrial-1', false));
  assert.equal(await writeFromAnotherProcess('industrial-1', password, true), 'RESULT Good');
  assert.equal(estop(), true);
  const principal = `spiffe://${TD}/zone/control/agent/industrial-1`;
  const decision = audit.find((r) => r.type === 'policy.decision' && r.subject === principal && r.enforcement === 'opcua');
  assert.equal(decision?.decision, 'allow');
  const write = audit.find((r) => r.type === 'opcua.write' && r.user === 'industrial-1');
  assert.deepEqual([write?.allow, write?.principal, write?.application_uri], [true, principal, scada.applicationUri]);
});
