/**
 * The plant OPC UA server as a SCADA integrator meets it, through the real API and the real `glimmer` CLI: a client
 * certificate rejected, trusted, then revoked with its live session dropped; an issuer CRL honoured; role accounts
 * (viewer, operator) provisioned over the API and stored hashed; security events counted and aggregated into the
 * audit log; node-opcua's own lines in the structured log.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type * as Opcua from 'node-opcua';
import { openAuditLog, type AuditLog } from '../../runtime/audit/log';
import { createApiServer, type ApiServer } from '../../runtime/api/server';
import { opcuaRoutes } from '../../runtime/api/routes/opcua';
import { createMetrics } from '../../runtime/observability/metrics';
import { silentLogger } from '../../runtime/observability/logger';
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import { plantMap } from '../../runtime/model/plant-map';
import { startPlantOpcuaServer, type PlantOpcuaServer } from '../../runtime/industrial/plant/plc-opcua';
import { certificateDer, describeCertificate, identityFor, loadOpcua } from '../../runtime/industrial/opcua/pki';
import { opcuaSecurityFor } from '../../runtime/industrial/opcua/security';
import { OpcuaUserStore } from '../../runtime/industrial/opcua/users';
import { glimmer } from '../helpers/cli';
import { CONDUITS, ZONES, freePort, until } from './helpers';
import { makeCa, makeClientCertificate, type TestCertificate } from './opcua-certs';

const TOKEN = 'opcua-trust-test-token';
const security = opcuaSecurityFor({ zones: ZONES, conduits: CONDUITS }, 'control');
let dir: string;
let plant: PlantRuntime;
let server: PlantOpcuaServer;
let audit: AuditLog;
let api: ApiServer;
let url: string;
let accounts: OpcuaUserStore;
let o: typeof Opcua;
let logFile: string;
const metrics = createMetrics();

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-opcua-trust-'));
  logFile = path.join(dir, 'log.jsonl');
  o = loadOpcua();
  plant = new PlantRuntime({ seed: 9, tickMs: 100 });
  plant.start();
  audit = await openAuditLog({ stateDir: dir });
  accounts = new OpcuaUserStore(dir);
  const logger = pino({ level: 'info' }, pino.destination({ dest: logFile, sync: true }));
  server = await startPlantOpcuaServer({
    plant, stateDir: dir, port: await freePort(), security, users: [], accounts, metrics, logger, securityEventWindowMs: 4000,
    audit: (records) => { for (const r of records) void audit.append(r); },
  });
  const sink = { append: async (r: Parameters<AuditLog['append']>[0]) => { await audit.append(r); } };
  api = createApiServer({
    adminToken: TOKEN, logger: silentLogger(),
    routes: opcuaRoutes({ trust: server.trust, accounts, defaultZone: 'control', audit: sink }),
  });
  url = `http://127.0.0.1:${await api.listen(0)}`;
});
after(async () => {
  await api.close();
  await server.stop();
  await audit.close();
  plant.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function records(type: string): Record<string, unknown>[] {
  const n = audit.size();
  if (n === 0) return [];
  return audit.entries(0, n - 1).map((e) => (JSON.parse(e.leaf.toString('utf8')) as { record: Record<string, unknown> }).record).filter((r) => r.type === type);
}

async function apiCall(method: string, pathname: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}${pathname}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

interface Connected { client: Opcua.OPCUAClient; session: Opcua.ClientSession }

async function connect(cert: TestCertificate, user: string, password: string): Promise<Connected> {
  const client = o.OPCUAClient.create({
    applicationName: 'scada', applicationUri: cert.applicationUri, certificateFile: cert.certificateFile, privateKeyFile: cert.privateKeyFile,
    securityMode: o.MessageSecurityMode.SignAndEncrypt, securityPolicy: o.SecurityPolicy.Basic256Sha256,
    serverCertificate: certificateDer(server.identity), endpointMustExist: false, connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
  });
  try {
    await client.connect(server.endpointUrl);
    const session = await client.createSession({ type: o.UserTokenType.UserName, userName: user, password });
    return { client, session };
  } catch (err) {
    await client.disconnect().catch(() => undefined);
    throw err;
  }
}

async function close(c: Connected | undefined): Promise<void> {
  await c?.session.close().catch(() => undefined);
  await c?.client.disconnect().catch(() => undefined);
}

const rejectedDir = () => path.join(identityFor(dir, 'plant-server').rootFolder, 'rejected');
const inRejected = (thumbprint: string) => fs.readdirSync(rejectedDir()).some((f) => describeCertificate(Buffer.from(new crypto.X509Certificate(fs.readFileSync(path.join(rejectedDir(), f))).raw)).thumbprint === thumbprint);

test('GIVEN a SCADA client rejected once WHEN an operator trusts it with the CLI, then revokes it THEN it connects after trust, its live session is dropped on revoke, and each step is audited with the operator', async (t) => {
  const cert = makeClientCertificate(dir, { name: 'scada-1' });
  const thumbprint = describeCertificate(cert.der).thumbprint;
  const op = await apiCall('POST', '/v1/opcua/users', { name: 'scada', role: 'operator' });
  assert.equal(op.status, 201);
  const password = op.json.password as string;

  await assert.rejects(connect(cert, 'scada', password), /BadSecurityChecksFailed/);
  assert.ok(await until(() => inRejected(thumbprint), 5000), 'filed under rejected/');

  const list = await glimmer(['opcua', 'certs', 'list', '--url', url, '--token', TOKEN]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${thumbprint}\\s+rejected\\s+CN=scada-1`));
  t.diagnostic(`certs list: ${list.stdout.trim().split('\n').filter((l) => l.includes(thumbprint)).join('')}`);

  const trust = await glimmer(['opcua', 'certs', 'trust', thumbprint, '--url', url, '--token', TOKEN, '--json']);
  assert.equal(trust.code, 0, trust.stderr);
  assert.equal((JSON.parse(trust.stdout) as { status: string }).status, 'trusted');
  assert.equal(inRejected(thumbprint), false, 'trusting takes it out of rejected/');
  t.diagnostic(`certs trust: ${trust.stdout.replace(/\s+/g, ' ')}`);

  const live = await connect(cert, 'scada', password);
  try {
    assert.ok(await until(() => server.activatedSessions === 1, 5000));
    let lost = false;
    live.client.on('connection_lost', () => { lost = true; });
    const revoke = await glimmer(['opcua', 'certs', 'revoke', thumbprint, '--url', url, '--token', TOKEN, '--json']);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.equal((JSON.parse(revoke.stdout) as { sessions_dropped: number }).sessions_dropped, 1);
    t.diagnostic(`certs revoke: ${revoke.stdout.replace(/\s+/g, ' ')}`);
    assert.ok(await until(() => lost && server.activatedSessions === 0, 5000), 'the live session and channel are gone');
  } finally {
    await close(live);
  }
  await assert.rejects(connect(cert, 'scada', password), /BadSecurityChecksFailed/, 'a revoked certificate is refused again');

  const trusted = records('opcua.certificate.trust');
  const revoked = records('opcua.certificate.revoke');
  assert.equal(trusted.at(-1)?.by, 'admin');
  assert.equal(trusted.at(-1)?.thumbprint, thumbprint);
  assert.equal(revoked.at(-1)?.by, 'admin');
  assert.equal(revoked.at(-1)?.sessions_dropped, 1);
  t.diagnostic(`audit: ${JSON.stringify(trusted.at(-1))} ${JSON.stringify(revoked.at(-1))}`);
});

test('GIVEN an unknown thumbprint WHEN it is trusted through the CLI THEN exit 1 with GLM_ERR_OPCUA_CERT_UNKNOWN', async () => {
  const r = await glimmer(['opcua', 'certs', 'trust', 'ab'.repeat(20), '--url', url, '--token', TOKEN]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /GLM_ERR_OPCUA_CERT_UNKNOWN/);
});

test('GIVEN a client certificate from a CA whose CRL is added WHEN the CRL lists it THEN it is refused with BadCertificateRevoked', async () => {
  const ca = makeCa(dir, 'plant-ca');
  const cert = makeClientCertificate(dir, { name: 'ca-issued', ca });
  const issuer = await apiCall('POST', '/v1/opcua/certs/issuers', { certificate: fs.readFileSync(ca.certificateFile, 'utf8') });
  assert.equal(issuer.status, 201, JSON.stringify(issuer.json));
  assert.equal((await apiCall('POST', '/v1/opcua/certs/crl', { crl: fs.readFileSync(ca.crl()).toString('base64') })).status, 201);
  await server.certificateManager.trustCertificate(cert.der);
  const { password } = accounts.provision('crl-user', 'viewer', 'control');
  await close(await connect(cert, 'crl-user', password));
  const crl = ca.revoke(cert);
  assert.equal((await apiCall('POST', '/v1/opcua/certs/crl', { crl: fs.readFileSync(crl).toString('base64') })).status, 201);
  await assert.rejects(connect(cert, 'crl-user', password), /BadCertificateRevoked/);
});

test('GIVEN a viewer and an operator account WHEN each writes a setpoint THEN the viewer is refused, the operator is not, and the audit record names user, role and application URI', async () => {
  const cert = makeClientCertificate(dir, { name: 'hmi' });
  await server.certificateManager.trustCertificate(cert.der);
  const viewer = await apiCall('POST', '/v1/opcua/users', { name: 'watcher', role: 'viewer' });
  const operator = await apiCall('POST', '/v1/opcua/users', { name: 'shift-lead', role: 'operator' });
  const setpoint = plantMap().find((e) => e.id === 'pump_1.speed_setpoint_pct');
  assert.ok(setpoint);
  const write = async (user: string, password: string, value: number) => {
    const c = await connect(cert, user, password);
    try {
      return await c.session.write({ nodeId: setpoint.opcua_node_id, attributeId: o.AttributeIds.Value, value: { value: new o.Variant({ dataType: o.DataType.Double, value }) } });
    } finally { await close(c); }
  };
  assert.equal((await write('watcher', viewer.json.password as string, 41)).name, 'BadUserAccessDenied');
  assert.equal((await write('shift-lead', operator.json.password as string, 43)).name, 'Good');
  assert.ok(await until(() => plant.snapshot.assets.pump_1 !== undefined && (plant.snapshot.assets.pump_1 as { speed_setpoint_pct: number }).speed_setpoint_pct === 43, 3000));
  await until(() => records('opcua.write').length >= 2, 3000);
  const writes = records('opcua.write');
  assert.deepEqual(writes.map((w) => [w.user, w.role, w.allow, w.application_uri]), [['watcher', 'viewer', false, cert.applicationUri], ['shift-lead', 'operator', true, cert.applicationUri]]);
  const stored = fs.readFileSync(accounts.file, 'utf8');
  assert.ok(!stored.includes(operator.json.password as string) && /"salt"/.test(stored) && /"hash"/.test(stored), 'salted hashes only');
  assert.equal((await apiCall('POST', '/v1/opcua/users', { name: 'x', role: 'admin' })).json.error !== undefined, true);
});

test('GIVEN the server endpoints WHEN a client lists them THEN no X509 user token policy is offered, only user name', async () => {
  const cert = makeClientCertificate(dir, { name: 'lister' });
  await server.certificateManager.trustCertificate(cert.der);
  const c = await connect(cert, 'lister', accounts.provision('lister', 'viewer', 'control').password);
  try {
    const endpoints = await c.client.getEndpoints();
    const types = new Set(endpoints.flatMap((e) => (e.userIdentityTokens ?? []).map((t) => o.UserTokenType[t.tokenType])));
    assert.deepEqual([...types], ['UserName']);
  } finally {
    await close(c);
  }
});

test('GIVEN three untrusted attempts and three wrong passwords WHEN counted THEN the metrics move, the audit log aggregates each kind (counts adding up to the attempts in fewer records), the session gauge counts activated sessions only, and node-opcua lines are JSON', async () => {
  const stranger = makeClientCertificate(dir, { name: 'stranger' });
  for (let i = 0; i < 3; i++) await assert.rejects(connect(stranger, 'scada', 'x'));
  const cert = makeClientCertificate(dir, { name: 'guesser' });
  await server.certificateManager.trustCertificate(cert.der);
  for (let i = 0; i < 3; i++) await assert.rejects(connect(cert, 'watcher', 'wrong-password-123'), /BadUserAccessDenied/);
  const { password } = accounts.provision('gauge', 'viewer', 'control');
  const live = await connect(cert, 'gauge', password);
  try {
    const text = await metrics.registry.metrics();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
    assert.ok(value(/glimmer_opcua_certificates_rejected_total\{side="server",status="BadCertificateUntrusted"\} (\d+)/) >= 3, text);
    assert.equal(value(/glimmer_opcua_activation_failures_total\{status="BadUserAccessDenied"\} (\d+)/), 3);
    assert.ok(value(/glimmer_opcua_channel_refusals_total\{status="BadSecurityChecksFailed"\} (\d+)/) >= 3, text);
    assert.equal(value(/glimmer_opcua_sessions (\d+)/), 1, 'one activated session');
  } finally {
    await close(live);
  }
  // The aggregation window is a 10 s interval running since the server started, so three failures may straddle one
  // flush: their counts add up to three in fewer records than failures.
  const failed = () => records('opcua.security_event').filter((r) => r.kind === 'activation_failed' && r.subject === 'watcher');
  const counted = () => failed().reduce((n, r) => n + (r.count as number), 0);
  assert.ok(await until(() => counted() >= 3, 25_000), JSON.stringify(records('opcua.security_event')));
  assert.equal(counted(), 3, 'three failures counted');
  assert.ok(failed().length < 3, `aggregated (${failed().length} records)`);
  assert.deepEqual([...new Set(failed().map((r) => r.status))], ['BadUserAccessDenied']);
  const refused = records('opcua.security_event').filter((r) => r.kind === 'certificate_refused' && r.subject === describeCertificate(stranger.der).thumbprint);
  assert.equal(refused.reduce((n, r) => n + (r.count as number), 0), 3);
  assert.ok(refused.length < 3, 'aggregated');
  const lines = fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { component?: string; msg?: string });
  assert.ok(lines.some((l) => l.component === 'node-opcua' && /Sender Certificate/.test(l.msg ?? '')), 'the library\'s certificate warnings are structured log lines');
});

test('GIVEN bad input to the OPC UA routes WHEN called THEN each answers its typed error and changes nothing', async () => {
  const before = accounts.list().length;
  const cases: [string, string, unknown, number, string][] = [
    ['POST', '/v1/opcua/certs/trust', {}, 400, 'GLM_ERR_API_BODY_INVALID'],
    ['POST', '/v1/opcua/certs/revoke', { thumbprint: '00'.repeat(20) }, 404, 'GLM_ERR_OPCUA_CERT_UNKNOWN'],
    ['POST', '/v1/opcua/certs/issuers', { certificate: 'not a certificate' }, 400, 'GLM_ERR_OPCUA_CERT_INVALID'],
    ['POST', '/v1/opcua/certs/crl', { crl: Buffer.from('garbage').toString('base64') }, 400, 'GLM_ERR_OPCUA_CERT_INVALID'],
    ['POST', '/v1/opcua/users', { name: 'eve', role: 'admin' }, 400, 'GLM_ERR_OPCUA_USER_INVALID'],
    ['POST', '/v1/opcua/users', { name: '../etc', role: 'viewer' }, 400, 'GLM_ERR_OPCUA_USER_INVALID'],
    ['POST', '/v1/opcua/users', { name: 'short', role: 'viewer', password: 'abc' }, 400, 'GLM_ERR_OPCUA_USER_INVALID'],
    ['DELETE', '/v1/opcua/users?name=nobody', undefined, 404, 'GLM_ERR_API_NOT_FOUND'],
  ];
  for (const [method, route, body, status, code] of cases) {
    const r = await apiCall(method, route, body);
    assert.equal(r.status, status, `${method} ${route}`);
    assert.equal((r.json.error as { code: string }).code, code, `${method} ${route}`);
  }
  assert.equal(accounts.list().length, before);
  const unauth = await fetch(`${url}/v1/opcua/certs`);
  assert.equal(unauth.status, 401);
});
