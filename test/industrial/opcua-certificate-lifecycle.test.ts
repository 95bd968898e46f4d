/**
 * The OPC UA certificate lifecycle with real node-opcua peers over loopback: the plant server and the industrial
 * agent's client get certificates from Glimmer's OPC UA issuer with lifetimes of seconds, so the scheduled renewal
 * runs inside the test. Sessions survive the renewal (same session id, reads keep working), each side takes the
 * other's renewed certificate without a restart (also after the link drops), a revoked certificate is refused and its
 * session closed, and failed renewals are reported with their GLM_ERR_ code.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createApiServer, type ApiServer } from '../../runtime/api/server';
import { opcuaRoutes } from '../../runtime/api/routes/opcua';
import { loadConfig } from '../../runtime/config/load';
import { isGlimmerError } from '../../runtime/errors';
import type { AuditRecordInput } from '../../runtime/model/messages';
import { createMetrics, type Metrics } from '../../runtime/observability/metrics';
import { silentLogger } from '../../runtime/observability/logger';
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import { startPlantOpcuaServer, type PlantOpcuaServer } from '../../runtime/industrial/plant/plc-opcua';
import { connectPlantOpcua, provisionOpcuaTrust, type PlantOpcuaClient } from '../../runtime/industrial/opcua/client';
import { issuerDir, trustIssuer } from '../../runtime/industrial/opcua/issuer';
import { OpcuaCertificateLifecycle } from '../../runtime/industrial/opcua/lifecycle';
import type { CertificateLifetime } from '../../runtime/config/opcua-lifetime';
import { certificateManager, describeCertificate, identityFor, userPassword } from '../../runtime/industrial/opcua/pki';
import { opcuaSecurityFor } from '../../runtime/industrial/opcua/security';
import { OpcuaUserStore } from '../../runtime/industrial/opcua/users';
import { glimmer } from '../helpers/cli';
import { CONDUITS, ZONES, freePort, until } from './helpers';
import { makeClientCertificate } from './opcua-certs';

const security = opcuaSecurityFor({ zones: ZONES, conduits: CONDUITS }, 'control');
const TOKEN = 'opcua-lifecycle-test-token';
const cleanups: (() => Promise<void>)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); });

/** A TCP relay between the client and the server: `cut()` drops every open connection (a dead link), new ones pass. */
async function relay(port: number): Promise<{ url: string; cut(): number; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    for (const s of [down, up]) { open.add(s); s.on('close', () => open.delete(s)); s.on('error', () => { down.destroy(); up.destroy(); }); }
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `opc.tcp://localhost:${(server.address() as net.AddressInfo).port}`,
    cut() { const n = open.size; for (const s of [...open]) s.destroy(); return n; },
    close: () => new Promise((r) => { for (const s of open) s.destroy(); server.close(() => r()); }),
  };
}

interface Rig {
  readonly dir: string;
  readonly server: PlantOpcuaServer;
  readonly lifecycle: OpcuaCertificateLifecycle;
  readonly records: AuditRecordInput[];
  readonly metrics: Metrics;
  readonly api: string;
  readonly accounts: OpcuaUserStore;
}

/** The plant server and industrial-1's certificate store with their certificates from the issuer, and the API routes. */
async function rig(lifetime: CertificateLifetime): Promise<Rig> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-opcua-lifecycle-'));
  const records: AuditRecordInput[] = [];
  const audit = (r: AuditRecordInput[]) => { records.push(...r); };
  const metrics = createMetrics();
  const plant = new PlantRuntime({ seed: 5, tickMs: 100 });
  plant.start();
  const lifecycle = await OpcuaCertificateLifecycle.open(dir, { lifetime, metrics, audit });
  await provisionOpcuaTrust(dir, 'industrial-1', undefined, lifecycle.issuer);
  await lifecycle.manage(identityFor(dir, 'industrial-1'), 'client', { dns: ['localhost'], ips: [] });
  const accounts = new OpcuaUserStore(dir);
  const server = await startPlantOpcuaServer({
    plant, stateDir: dir, port: await freePort(), security, users: [{ name: 'industrial-1', zone: 'control' }], accounts, certificates: lifecycle, metrics, audit,
  });
  const api: ApiServer = createApiServer({
    adminToken: TOKEN, logger: silentLogger(),
    routes: opcuaRoutes({ trust: server.trust, certificates: lifecycle, accounts, defaultZone: 'control', audit: { append: async (r) => { records.push(r); } } }),
  });
  const url = `http://127.0.0.1:${await api.listen(0)}`;
  cleanups.push(async () => { await api.close(); lifecycle.stop(); await server.stop(); plant.stop(); fs.rmSync(dir, { recursive: true, force: true }); });
  return { dir, server, lifecycle, records, metrics, api: url, accounts };
}

async function call(r: Rig, method: string, pathname: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${r.api}${pathname}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** The first result of `attempt` that does not throw within `ms` (the client re-creates its session meanwhile). */
async function eventually<T>(attempt: () => Promise<T>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try { return await attempt(); } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const der = (file: string) => Buffer.from(new crypto.X509Certificate(fs.readFileSync(file)).raw);
const thumbOf = (file: string) => describeCertificate(der(file)).thumbprint;
const notAfterOf = (file: string) => Date.parse(new crypto.X509Certificate(fs.readFileSync(file)).validTo);
const renewed = (r: Rig, application: string) => r.records.filter((x) => x.type === 'opcua.certificate.renewed' && x.application === application && x.reason === 'expiring');

test('GIVEN server and agent certificates of 60 s renewed 50 s before expiry WHEN the renewal runs under an open session THEN the session id is kept, reads and the subscription keep working, new channels get the renewed server certificate, and after a dropped link the agent reconnects with both renewed certificates without a restart', async (t) => {
  const r = await rig({ lifetimeMs: 60_000, renewBeforeMs: 50_000 });
  const server = identityFor(r.dir, 'plant-server');
  const agent = identityFor(r.dir, 'industrial-1');
  const link = await relay(Number(new URL(r.server.endpointUrl).port));
  cleanups.push(() => link.close());
  const before = { server: thumbOf(server.certificateFile), agent: thumbOf(agent.certificateFile), serverDer: der(server.certificateFile), serverNotAfter: notAfterOf(server.certificateFile) };
  let recovered = 0;
  let changes = 0;
  const client = await connectPlantOpcua({
    // Tokens renew every 3 s: the open channel renews several times with the client's renewed certificate in place.
    endpointUrl: link.url, stateDir: r.dir, name: 'industrial-1', user: 'industrial-1', security, certificatePollMs: 200, secureTokenLifetimeMs: 4000,
    onValue: () => { changes += 1; }, onRecovered: () => { recovered += 1; },
  });
  cleanups.push(() => client.close());
  const session = client.sessionId;
  assert.equal(typeof await client.read('tank_1.level_m'), 'number');
  assert.deepEqual(r.server.peerThumbprints(), [before.agent]);

  assert.ok(await until(() => renewed(r, 'plant-server').length > 0 && renewed(r, 'industrial-1').length > 0, 25_000), JSON.stringify(r.records));
  r.lifecycle.stop();
  const renewedAt = { server: thumbOf(server.certificateFile), agent: thumbOf(agent.certificateFile) };
  assert.notEqual(renewedAt.server, before.server, 'a new server certificate');
  assert.notEqual(renewedAt.agent, before.agent, 'a new client certificate');
  assert.ok(notAfterOf(server.certificateFile) > before.serverNotAfter);
  const expiry = (await r.metrics.opcuaCertificateExpiry.get()).values.find((v) => v.labels.role === 'server');
  assert.equal(expiry?.value, notAfterOf(server.certificateFile) / 1000, 'the expiry gauge follows the renewal');
  t.diagnostic(`server ${before.server} -> ${renewedAt.server}; client ${before.agent} -> ${renewedAt.agent}`);

  const changesAtRenewal = changes;
  assert.equal(client.sessionId, session, 'same session');
  assert.equal(typeof await client.read('tank_1.level_m'), 'number', 'reads keep working');
  assert.ok(await until(() => changes > changesAtRenewal, 5000), 'the subscription keeps delivering');
  assert.deepEqual(r.server.peerThumbprints(), [before.agent], 'the open channel keeps the certificate it was opened with');
  assert.equal(r.server.activatedSessions, 1);

  // New secure channels are opened to the renewed server certificate: a client still holding the old one is refused.
  await assert.rejects(
    connectPlantOpcua({ endpointUrl: r.server.endpointUrl, stateDir: r.dir, name: 'industrial-1', user: 'industrial-1', security, serverCertificate: before.serverDer, connectTimeoutMs: 4000 }),
    (e) => isGlimmerError(e) && /GLM_ERR_OPCUA_(CONNECT_FAILED|CERT_UNTRUSTED)/.test(e.code),
  );
  assert.equal(client.sessionId, session, 'still the same session after token renewals');
  assert.equal(typeof await client.read('tank_1.level_m'), 'number');

  // The link drops: the agent reconnects with the server certificate it re-read from disk and its own renewed one,
  // which the server accepts through the issuer. A new channel with another client certificate cannot take the old
  // session over (Part 4 5.6.3.1), so node-opcua re-creates the session and its subscription.
  assert.ok(link.cut() > 0);
  assert.ok(await until(() => recovered > 0, 20_000), 'the agent recovered');
  assert.deepEqual(r.server.peerThumbprints(), [renewedAt.agent]);
  assert.equal(typeof await eventually(() => client.read('pump_1.flow_m3h'), 10_000), 'number');
  const changesAtRecovery = changes;
  assert.ok(await until(() => changes > changesAtRecovery, 10_000), 'the subscription delivers again');
  const renewals = await r.metrics.opcuaCertificateRenewals.get();
  assert.ok(renewals.values.some((v) => v.labels.outcome === 'renewed' && v.labels.application === 'plant-server' && v.value >= 1));
});

test('GIVEN the agent connected WHEN an operator revokes its certificate through the API THEN its session is closed, it is refused with BadCertificateRevoked, the act is audited with the operator, and a renewal by the operator with the CLI (new key) lets it back in', async (t) => {
  const r = await rig({ lifetimeMs: 3600_000, renewBeforeMs: 600_000 });
  const agent = identityFor(r.dir, 'industrial-1');
  const client = await connectPlantOpcua({ endpointUrl: r.server.endpointUrl, stateDir: r.dir, name: 'industrial-1', user: 'industrial-1', security, certificatePollMs: 200 });
  cleanups.push(() => client.close());
  assert.ok(await until(() => r.server.activatedSessions === 1, 5000));
  const thumbprint = thumbOf(agent.certificateFile);
  const listed = await call(r, 'GET', '/v1/opcua/certs');
  assert.equal((listed.json as unknown as { thumbprint: string; status: string }[]).find((c) => c.thumbprint === thumbprint)?.status, 'trusted', 'trusted through the issuer');

  const revoke = await call(r, 'POST', '/v1/opcua/certs/revoke', { thumbprint, reason: 'key compromise' });
  assert.equal(revoke.status, 200, JSON.stringify(revoke.json));
  assert.equal(revoke.json.status, 'revoked');
  assert.equal(revoke.json.sessions_dropped, 1);
  assert.deepEqual(r.server.trust.findBySerial(String(revoke.json.serial)), [thumbprint], 'a revocation feed that knows serials finds the certificate');
  assert.ok(await until(() => r.server.activatedSessions === 0, 5000), 'the session is closed');
  const record = r.records.find((x) => x.type === 'opcua.certificate.revoke');
  assert.equal(record?.by, 'admin');
  assert.equal(record?.thumbprint, thumbprint);
  assert.equal(record?.reason, 'key compromise');
  await assert.rejects(
    connectPlantOpcua({ endpointUrl: r.server.endpointUrl, stateDir: r.dir, name: 'industrial-1', user: 'industrial-1', security, connectTimeoutMs: 5000 }),
    (e) => isGlimmerError(e, 'GLM_ERR_OPCUA_CERT_UNTRUSTED') && /BadCertificateRevoked/.test(e.message),
  );
  const crl = await call(r, 'GET', '/v1/opcua/issuer');
  assert.match(String(crl.json.crl), /BEGIN X509 CRL/);
  const rejected = (await r.metrics.opcuaCertificatesRejected.get()).values.find((v) => v.labels.status === 'BadCertificateRevoked');
  assert.ok((rejected?.value ?? 0) >= 1);
  await client.close();

  const renewCli = await glimmer(['opcua', 'certs', 'renew', 'industrial-1', '--url', r.api, '--token', TOKEN, '--json']);
  assert.equal(renewCli.code, 0, renewCli.stderr);
  const renew = { json: JSON.parse(renewCli.stdout) as Record<string, unknown> };
  assert.notEqual(renew.json.thumbprint, thumbprint);
  assert.equal(renew.json.thumbprint, thumbOf(agent.certificateFile));
  const own = await glimmer(['opcua', 'certs', 'own', '--url', r.api, '--token', TOKEN]);
  assert.match(own.stdout, new RegExp(`industrial-1\\s+client\\s+${String(renew.json.thumbprint)}`));
  assert.match(own.stdout, /plant-server\s+server/);
  assert.ok(r.records.some((x) => x.type === 'opcua.certificate.renewed' && x.application === 'industrial-1' && x.reason === 'requested by admin'), 'audited with who asked');
  const back = await connectPlantOpcua({ endpointUrl: r.server.endpointUrl, stateDir: r.dir, name: 'industrial-1', user: 'industrial-1', security });
  cleanups.push(() => back.close());
  assert.equal(typeof await back.read('tank_1.level_m'), 'number');
  t.diagnostic(`revoked ${thumbprint}; renewed as ${String(renew.json.thumbprint)}`);
});

test('GIVEN the agent\'s certificate signed by the trusted issuer WHEN an operator rejects it THEN new channels with it are refused although its issuer is trusted; WHEN trusted again THEN it connects (suspension, unlike revocation, is reversible)', async () => {
  const r = await rig({ lifetimeMs: 3600_000, renewBeforeMs: 600_000 });
  const thumbprint = thumbOf(identityFor(r.dir, 'industrial-1').certificateFile);
  const connect = () => connectPlantOpcua({ endpointUrl: r.server.endpointUrl, stateDir: r.dir, name: 'industrial-1', user: 'industrial-1', security, connectTimeoutMs: 5000 });
  assert.equal((await call(r, 'POST', '/v1/opcua/certs/reject', { thumbprint })).status, 200);
  await assert.rejects(connect(), (e) => isGlimmerError(e, 'GLM_ERR_OPCUA_CERT_UNTRUSTED'));
  assert.equal((await call(r, 'POST', '/v1/opcua/certs/trust', { thumbprint })).status, 200);
  const c = await connect();
  cleanups.push(() => c.close());
  assert.equal(typeof await c.read('tank_1.level_m'), 'number');
});

test('GIVEN a SCADA client certificate the server has never seen WHEN an operator adds it through the API THEN it connects at once (nothing auto-accepted), and the addition is audited with the operator', async () => {
  const r = await rig({ lifetimeMs: 3600_000, renewBeforeMs: 600_000 });
  const cert = makeClientCertificate(r.dir, { name: 'scada-add' });
  const connect = () => connectPlantOpcuaAs(r, cert);
  await assert.rejects(connect(), (e) => isGlimmerError(e, 'GLM_ERR_OPCUA_CERT_UNTRUSTED'), 'unknown: refused, not auto-accepted');
  const add = await call(r, 'POST', '/v1/opcua/certs', { certificate: fs.readFileSync(cert.certificateFile, 'utf8') });
  assert.equal(add.status, 201, JSON.stringify(add.json));
  assert.equal(add.json.thumbprint, describeCertificate(cert.der).thumbprint);
  const c = await connect();
  cleanups.push(() => c.close());
  assert.equal(typeof await c.read('tank_1.level_m'), 'number');
  assert.equal(r.records.find((x) => x.type === 'opcua.certificate.add')?.by, 'admin');
});

/** The plant client with a certificate of the test's own tooling (copied into a store of its own name). */
async function connectPlantOpcuaAs(r: Rig, cert: { certificateFile: string; privateKeyFile: string }): Promise<PlantOpcuaClient> {
  const id = identityFor(r.dir, 'scada');
  fs.mkdirSync(path.dirname(id.certificateFile), { recursive: true });
  fs.mkdirSync(path.dirname(id.privateKeyFile), { recursive: true });
  fs.copyFileSync(cert.certificateFile, id.certificateFile);
  fs.copyFileSync(cert.privateKeyFile, id.privateKeyFile);
  const cm = await certificateManager(id, { createOwn: false });
  await trustIssuer(cm, r.lifecycle.issuer);
  await cm.dispose();
  return connectPlantOpcua({ endpointUrl: r.server.endpointUrl, stateDir: r.dir, name: 'scada', user: 'industrial-1', password: userPassword(r.dir, 'industrial-1', false), security, connectTimeoutMs: 5000 });
}

test('GIVEN the client certificate path blocked WHEN its scheduled renewal runs THEN GLM_ERR_OPCUA_CERT_RENEWAL_FAILED is reported (audit, metric) with the certificate left as it was, and the retry succeeds once the path is free', async () => {
  const r = await rig({ lifetimeMs: 20_000, renewBeforeMs: 15_000 });
  const agent = identityFor(r.dir, 'industrial-1');
  const blocker = `${agent.certificateFile}.new`;
  fs.mkdirSync(blocker);
  const bytes = fs.readFileSync(agent.certificateFile);
  const failed = () => r.records.filter((x) => x.type === 'opcua.certificate.renewal_failed' && x.application === 'industrial-1');
  assert.ok(await until(() => failed().length >= 1, 15_000), JSON.stringify(r.records));
  assert.equal(failed()[0]?.code, 'GLM_ERR_OPCUA_CERT_RENEWAL_FAILED');
  assert.deepEqual(fs.readFileSync(agent.certificateFile), bytes, 'the current certificate stays');
  const counted = (await r.metrics.opcuaCertificateRenewals.get()).values.find((v) => v.labels.application === 'industrial-1' && v.labels.outcome === 'failed');
  assert.ok((counted?.value ?? 0) >= 1);
  const requested = await call(r, 'POST', '/v1/opcua/certs/own/renew', { application: 'industrial-1' });
  assert.equal(requested.status, 500);
  assert.equal((requested.json.error as { code: string }).code, 'GLM_ERR_OPCUA_CERT_RENEWAL_FAILED');
  assert.doesNotMatch(JSON.stringify(requested.json), /at .*\.ts:\d+/, 'no stack trace to the client');
  fs.rmdirSync(blocker);
  assert.ok(await until(() => renewed(r, 'industrial-1').length >= 1, 10_000), 'the retry renews it');
  assert.notDeepEqual(fs.readFileSync(agent.certificateFile), bytes);
});

test('GIVEN bad lifecycle input WHEN used THEN each is refused with its code: a lead time not shorter than the lifetime, an unreadable issuer key, a certificate that is not one, a weak key, an unknown thumbprint or application', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-opcua-lifecycle-bad-'));
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const configDir = path.join(__dirname, '..', '..', 'config');
  const base = fs.readFileSync(path.join(configDir, 'glimmer.yml'), 'utf8').replace(/^cognitive_config: \S+/m, `cognitive_config: ${path.join(configDir, 'cognitive.yml')}`);
  const file = path.join(dir, 'glimmer.yml');
  fs.writeFileSync(file, `${base}\nopcua:\n  certificate_lifetime_s: 86400\n  certificate_renew_before_s: 86400\n`);
  assert.throws(() => loadConfig(file), (e) => isGlimmerError(e, 'GLM_ERR_CONFIG_INVALID') && /certificate_renew_before_s: received 86400/.test(e.message));
  fs.writeFileSync(file, `${base}\nopcua:\n  certificate_lifetime_s: 864000\n  certificate_renew_before_s: 86400\n`);
  assert.deepEqual(loadConfig(file).opcua.certificateLifetime, { lifetimeMs: 864_000_000, renewBeforeMs: 86_400_000 });

  await OpcuaCertificateLifecycle.open(dir, { lifetime: { lifetimeMs: 60_000, renewBeforeMs: 30_000 } });
  fs.writeFileSync(path.join(issuerDir(dir), 'ca.key'), 'tampered');
  await assert.rejects(OpcuaCertificateLifecycle.open(dir, { lifetime: { lifetimeMs: 60_000, renewBeforeMs: 30_000 } }), (e) => isGlimmerError(e, 'GLM_ERR_OPCUA_ISSUER_UNREADABLE'));

  const r = await rig({ lifetimeMs: 3600_000, renewBeforeMs: 600_000 });
  const weak = makeClientCertificate(r.dir, { name: 'weak', bits: 1024 });
  const cases: [string, string, unknown, number, string][] = [
    ['POST', '/v1/opcua/certs', { certificate: 'not a certificate' }, 400, 'GLM_ERR_OPCUA_CERT_INVALID'],
    ['POST', '/v1/opcua/certs', { certificate: fs.readFileSync(weak.certificateFile, 'utf8') }, 400, 'GLM_ERR_OPCUA_CERT_INVALID'],
    ['POST', '/v1/opcua/certs/revoke', { thumbprint: 'ab'.repeat(20) }, 404, 'GLM_ERR_OPCUA_CERT_UNKNOWN'],
    ['POST', '/v1/opcua/certs/own/renew', { application: 'nobody' }, 404, 'GLM_ERR_OPCUA_CERT_UNKNOWN'],
  ];
  for (const [method, route, body, status, code] of cases) {
    const res = await call(r, method, route, body);
    assert.equal(res.status, status, `${method} ${route} ${JSON.stringify(res.json)}`);
    assert.equal((res.json.error as { code: string }).code, code, `${method} ${route}`);
  }
  const listed = (await call(r, 'GET', '/v1/opcua/certs')).json as unknown as { thumbprint: string }[];
  assert.ok(!listed.some((c) => c.thumbprint === describeCertificate(weak.der).thumbprint), 'nothing was added');
});
