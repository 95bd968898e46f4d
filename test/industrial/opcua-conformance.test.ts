/**
 * What a strict independent OPC UA stack sees of the plant server, read off the wire by a relay: refused
 * OpenSecureChannels answered with the Part 6 ERR message and the status code of the check that failed (Part 4 Table
 * 106 checks: trust, key length of the policy, key usage, validity), and responses after a security-token renewal
 * secured with a token the client still holds (Part 6 6.7.4), with short lifetimes and many outstanding publishes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as Opcua from 'node-opcua';
import { plantMap } from '../../runtime/model/plant-map';
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import { startPlantOpcuaServer, type PlantOpcuaServer } from '../../runtime/industrial/plant/plc-opcua';
import { provisionOpcuaTrust } from '../../runtime/industrial/opcua/client';
import { certificateDer, certificatePolicyStatus, loadOpcua, userPassword } from '../../runtime/industrial/opcua/pki';
import { opcuaSecurityFor } from '../../runtime/industrial/opcua/security';
import { CONDUITS, ZONES, freePort } from './helpers';
import { makeClientCertificate, type TestCertificate } from './opcua-certs';
import { startWireRelay, type WireChunk, type WireRelay } from './opcua-wire';

const security = opcuaSecurityFor({ zones: ZONES, conduits: CONDUITS }, 'control');
const STATUS = {
  BadSecurityChecksFailed: 0x80130000, BadSecurityPolicyRejected: 0x80550000, BadCertificatePolicyCheckFailed: 0x81140000,
  BadCertificateUseNotAllowed: 0x80180000, BadCertificateTimeInvalid: 0x80140000,
} as const;
let dir: string;
let plant: PlantRuntime;
let server: PlantOpcuaServer;
let relay: WireRelay;
let o: typeof Opcua;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-opcua-conf-'));
  o = loadOpcua();
  plant = new PlantRuntime({ seed: 5, tickMs: 100 });
  plant.start();
  await provisionOpcuaTrust(dir, 'industrial-1');
  const port = await freePort();
  server = await startPlantOpcuaServer({ plant, stateDir: dir, port, security, users: [{ name: 'industrial-1', zone: 'control' }] });
  relay = await startWireRelay({ host: '127.0.0.1', port });
});
after(async () => {
  await relay.close();
  await server.stop();
  plant.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Attempt { readonly error?: string; readonly err?: WireChunk }

/** Connects through the relay with `cert`; returns what the client reported and the ERR message on the wire (also as a diagnostic). */
async function attempt(cert: TestCertificate, mode: 'SignAndEncrypt' | 'Sign', t: { diagnostic(m: string): void }): Promise<Attempt> {
  const from = relay.chunks.length;
  const client = o.OPCUAClient.create({
    applicationName: 'test', applicationUri: cert.applicationUri,
    certificateFile: cert.certificateFile, privateKeyFile: cert.privateKeyFile,
    securityMode: mode === 'Sign' ? o.MessageSecurityMode.Sign : o.MessageSecurityMode.SignAndEncrypt,
    securityPolicy: o.SecurityPolicy.Basic256Sha256,
    serverCertificate: certificateDer(server.identity), endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
  });
  let error: string | undefined;
  let session: Opcua.ClientSession | undefined;
  try {
    await client.connect(`opc.tcp://127.0.0.1:${relay.port}`);
    session = await client.createSession({ type: o.UserTokenType.UserName, userName: 'industrial-1', password: userPassword(dir, 'industrial-1', false) });
  } catch (e) {
    error = (e as Error).message;
  }
  const err = relay.chunks.slice(from).find((c) => c.dir === 's2c' && c.type === 'ERR');
  t.diagnostic(`${path.basename(path.dirname(cert.certificateFile))} (${mode}): wire ${err ? `ERR 0x${(err.status ?? 0).toString(16).padStart(8, '0')} "${err.reason ?? ''}"` : 'no ERR'}; client: ${error ?? 'session opened'}`);
  await session?.close().catch(() => undefined);
  await client.disconnect().catch(() => undefined);
  return { error, err };
}

async function trusted(name: string, options: Omit<Parameters<typeof makeClientCertificate>[1], 'name'> = {}): Promise<TestCertificate> {
  const cert = makeClientCertificate(dir, { name, ...options });
  await server.certificateManager.trustCertificate(cert.der);
  return cert;
}

test('GIVEN certificates outside the policy WHEN checked THEN the Part 4 status of the failed check: key length, key usage, validity', () => {
  const d = path.join(dir, 'unit');
  assert.equal(certificatePolicyStatus(makeClientCertificate(d, { name: 'ok' }).der), undefined);
  assert.equal(certificatePolicyStatus(makeClientCertificate(d, { name: 'k1024', bits: 1024 }).der), 'BadCertificatePolicyCheckFailed');
  assert.equal(certificatePolicyStatus(makeClientCertificate(d, { name: 'k4608', bits: 4608 }).der), 'BadCertificatePolicyCheckFailed');
  assert.equal(certificatePolicyStatus(makeClientCertificate(d, { name: 'sign-only', keyUsage: 'digitalSignature' }).der), 'BadCertificateUseNotAllowed');
  assert.equal(certificatePolicyStatus(makeClientCertificate(d, { name: 'future', notBefore: '20990101000000Z', notAfter: '20991231000000Z' }).der), 'BadCertificateTimeInvalid');
});

test('GIVEN an untrusted client certificate WHEN it opens a secure channel THEN the wire carries an ERR message with BadSecurityChecksFailed, not a ServiceFault in an OPN reply', async (t) => {
  const r = await attempt(makeClientCertificate(dir, { name: 'stranger' }), 'SignAndEncrypt', t);
  assert.ok(r.error, 'refused');
  assert.equal(r.err?.status, STATUS.BadSecurityChecksFailed, `ERR status 0x${r.err?.status?.toString(16)}`);
  assert.ok(!relay.chunks.some((c) => c.dir === 's2c' && c.type === 'OPN' && r.err !== undefined && c.at > r.err.at - 1), 'no OPN reply');
  assert.match(r.error ?? '', /BadSecurityChecksFailed/, 'node-opcua\'s client reports the status of the ERR message');
});

test('GIVEN a trusted client asking for Sign-only WHEN it opens a secure channel THEN ERR with BadSecurityPolicyRejected (never an ERR with Good)', async (t) => {
  const r = await attempt(await trusted('sign-mode'), 'Sign', t);
  assert.equal(r.err?.status, STATUS.BadSecurityPolicyRejected, `ERR status 0x${r.err?.status?.toString(16)}`);
});

test('GIVEN a trusted client with a 1024-bit RSA key WHEN it opens a Basic256Sha256 channel THEN ERR with BadCertificatePolicyCheckFailed', async (t) => {
  const r = await attempt(await trusted('rsa1024', { bits: 1024 }), 'SignAndEncrypt', t);
  assert.equal(r.err?.status, STATUS.BadCertificatePolicyCheckFailed, `ERR status 0x${r.err?.status?.toString(16)}: ${r.error}`);
});

test('GIVEN a trusted client certificate without keyEncipherment/dataEncipherment WHEN it connects THEN ERR with BadCertificateUseNotAllowed', async (t) => {
  const r = await attempt(await trusted('no-encipher', { keyUsage: 'digitalSignature, nonRepudiation' }), 'SignAndEncrypt', t);
  assert.equal(r.err?.status, STATUS.BadCertificateUseNotAllowed, `ERR status 0x${r.err?.status?.toString(16)}: ${r.error}`);
});

test('GIVEN a trusted client certificate that expired WHEN it connects THEN ERR with BadCertificateTimeInvalid', async (t) => {
  const r = await attempt(await trusted('expired', { notBefore: '20200101000000Z', notAfter: '20210101000000Z' }), 'SignAndEncrypt', t);
  assert.equal(r.err?.status, STATUS.BadCertificateTimeInvalid, `ERR status 0x${r.err?.status?.toString(16)}: ${r.error}`);
});

test('GIVEN a 2.5 s token lifetime with 10 outstanding publishes held by slow keep-alives WHEN the token is renewed THEN no response arrives secured with an expired token or one older than the client uses', async (t) => {
  const engine = (o as unknown as { ClientSidePublishEngine: { publishRequestCountInPipeline: number } }).ClientSidePublishEngine;
  const pipeline = engine.publishRequestCountInPipeline;
  engine.publishRequestCountInPipeline = 10; // open62541's default: many publishes queued in the server across a renewal
  const cert = await trusted('renewal');
  const from = relay.chunks.length;
  const LIFETIME = 2500; // the server's minimum: a renewal at 75 % every 1.9 s
  const client = o.OPCUAClient.create({
    applicationName: 'test', applicationUri: cert.applicationUri, certificateFile: cert.certificateFile, privateKeyFile: cert.privateKeyFile,
    securityMode: o.MessageSecurityMode.SignAndEncrypt, securityPolicy: o.SecurityPolicy.Basic256Sha256,
    serverCertificate: certificateDer(server.identity), endpointMustExist: false, defaultSecureTokenLifetime: LIFETIME,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
  });
  try {
    await client.connect(`opc.tcp://127.0.0.1:${relay.port}`);
    const session = await client.createSession({ type: o.UserTokenType.UserName, userName: 'industrial-1', password: userPassword(dir, 'industrial-1', false) });
    // Keep-alive every 4 s: each publish waits longer in the server than a token lives.
    const sub = await session.createSubscription2({ requestedPublishingInterval: 1000, requestedMaxKeepAliveCount: 4, requestedLifetimeCount: 60, publishingEnabled: true });
    await new Promise((r) => setTimeout(r, 9000));
    const read = await session.read({ nodeId: plantMap()[0]?.opcua_node_id ?? '', attributeId: o.AttributeIds.Value });
    assert.equal(read.statusCode.value, 0, 'the session still works after several renewals');
    await sub.terminate();
    await session.close();
  } finally {
    await client.disconnect().catch(() => undefined);
    engine.publishRequestCountInPipeline = pipeline;
  }
  const chunks = relay.chunks.slice(from);
  // Token n is the n-th OPN reply; it expires LIFETIME after that reply reached the client (no grace period).
  const issued = chunks.filter((c) => c.dir === 's2c' && c.type === 'OPN').map((c) => c.at);
  assert.ok(issued.length >= 4, `renewed ${issued.length - 1} times`);
  const firstToken = chunks.find((c) => c.dir === 'c2s' && c.type === 'MSG')?.tokenId ?? 1;
  const expiry = (tokenId: number) => (issued[tokenId - firstToken] ?? 0) + LIFETIME;
  // 200 ms of slack for a response already on its way when the client's message passed the relay, and for this
  // process's own event-loop delay in stamping arrivals on a loaded machine; an unpatched server is seconds late.
  const SLACK_MS = 200;
  let clientToken = { id: 0, at: 0 };
  const violations: string[] = [];
  for (const c of chunks) {
    if (c.type !== 'MSG' || c.tokenId === undefined) continue;
    if (c.dir === 'c2s') { if (c.tokenId > clientToken.id) clientToken = { id: c.tokenId, at: c.at }; continue; }
    if (c.at > expiry(c.tokenId) + SLACK_MS) violations.push(`token ${c.tokenId} used ${c.at - expiry(c.tokenId)} ms after it expired`);
    if (c.tokenId < clientToken.id && c.at > clientToken.at + SLACK_MS) violations.push(`token ${c.tokenId} used after the client moved to ${clientToken.id}`);
  }
  const served = chunks.filter((c) => c.dir === 's2c' && c.type === 'MSG');
  t.diagnostic(`${issued.length - 1} renewals in 9 s; ${served.length} responses, tokens ${[...new Set(served.map((c) => c.tokenId))].join(',')}; violations: ${violations.length}`);
  assert.deepEqual(violations, []);
});
