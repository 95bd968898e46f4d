import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { ensureCa, type Ca } from '../../runtime/trust/ca';
import { issueLeaf, issueSvid, type IssuedSvid, type LeafOptions } from '../../runtime/trust/svid';
import { SvidSource, fixedIdentity, type IdentitySource } from '../../runtime/trust/rotation';
import { RevocationList } from '../../runtime/trust/revocation';
import { createMtlsClient, createMtlsHttpServer, createMtlsServer, peerIdentity, type MtlsServer } from '../../runtime/trust/mtls';
import type { TrustAuditRecord } from '../../runtime/trust/audit';
import { isGlimmerError, type ErrorCode } from '../../runtime/errors';

const TD = 'plant.example';
const hour = 3600_000;
let ca: Ca;
let foreignCa: Ca;
let serverId: IdentitySource;
let audit: TrustAuditRecord[];
let revocation: RevocationList;
let server: MtlsServer;
let url: string;

const trust = () => ({ bundlePem: ca.bundlePem, trustDomain: TD });
const leaf = (o: Partial<LeafOptions> = {}, from: Ca = ca): Promise<IssuedSvid> =>
  issueLeaf(from, { uris: ['spiffe://plant.example/zone/cell1/agent/client-1'], notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + hour), ...o });

before(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'glimmer-mtls-'));
  ca = await ensureCa(dir, TD);
  foreignCa = await ensureCa(await mkdtemp(path.join(os.tmpdir(), 'glimmer-mtls-foreign-')), TD);
  serverId = fixedIdentity(await issueSvid(ca, { zone: 'cell1', agent: 'server-1' }), trust());
  audit = [];
  revocation = RevocationList.inMemory((r) => audit.push(r));
  server = createMtlsHttpServer({ source: serverId, revocation, audit: (r) => audit.push(r) }, (req, res) => {
    res.end(peerIdentity(req)?.spiffeId ?? 'none');
  });
  const addr = await server.listen();
  url = `https://127.0.0.1:${addr.port}/`;
});

after(async () => {
  await server.close();
});

async function refusedByServer(client: IssuedSvid | undefined, code: ErrorCode): Promise<void> {
  audit.length = 0;
  const c = client === undefined
    ? createMtlsClient({ source: { ...serverId, current: { ...serverId.current, certPem: '', keyPem: '' } } })
    : createMtlsClient({ source: fixedIdentity(client, trust()) });
  try {
    await assert.rejects(c.request(url), (err: NodeJS.ErrnoException) => ['ECONNRESET', 'EPIPE'].includes(err.code ?? '') || /socket hang up/.test(err.message));
  } finally {
    c.close();
  }
  const refusal = audit.find((r) => r.type === 'trust.tls_refused');
  assert.ok(refusal && refusal.type === 'trust.tls_refused', `no refusal audited for ${code}`);
  assert.equal(refusal.code, code);
  assert.equal(refusal.side, 'server');
  assert.equal(refusal.subject, serverId.current.spiffeId);
}

test('GIVEN a client with a valid SVID WHEN it calls the mTLS server THEN the handler sees its SPIFFE ID over TLS 1.3', async () => {
  const c = createMtlsClient({ source: fixedIdentity(await leaf(), trust()), expectServer: { zone: 'cell1', agent: 'server-1' } });
  const res = await c.request(url);
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'spiffe://plant.example/zone/cell1/agent/client-1');
  const socket = tls.connect({ ...c.connectOptions(), host: '127.0.0.1', port: Number(new URL(url).port) });
  await once(socket, 'secureConnect');
  assert.equal(socket.getProtocol(), 'TLSv1.3');
  socket.destroy();
  c.close();
});

test('GIVEN a TLS 1.2-only client WHEN it connects THEN the handshake fails', async () => {
  const c = createMtlsClient({ source: fixedIdentity(await leaf(), trust()) });
  const socket = tls.connect({ ...c.connectOptions(), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', host: '127.0.0.1', port: Number(new URL(url).port) });
  const [err] = (await once(socket, 'error')) as [Error];
  assert.match(String((err as NodeJS.ErrnoException).code ?? err.message), /VERSION|PROTOCOL/i);
  c.close();
});

test('GIVEN a client without a certificate WHEN it connects THEN it is refused and audited as unauthenticated', async () => {
  await refusedByServer(undefined, 'GLM_ERR_API_UNAUTHENTICATED');
});

test('GIVEN a client certificate from an unknown CA WHEN it connects THEN refused and audited GLM_ERR_CERT_UNKNOWN_CA', async () => {
  await refusedByServer(await leaf({}, foreignCa), 'GLM_ERR_CERT_UNKNOWN_CA');
});

test('GIVEN an expired client certificate WHEN it connects THEN refused and audited GLM_ERR_CERT_EXPIRED', async () => {
  await refusedByServer(await leaf({ notBefore: new Date(Date.now() - 2 * hour), notAfter: new Date(Date.now() - hour) }), 'GLM_ERR_CERT_EXPIRED');
});

test('GIVEN a not-yet-valid client certificate WHEN it connects THEN refused and audited GLM_ERR_CERT_NOT_YET_VALID', async () => {
  await refusedByServer(await leaf({ notBefore: new Date(Date.now() + hour), notAfter: new Date(Date.now() + 2 * hour) }), 'GLM_ERR_CERT_NOT_YET_VALID');
});

test('GIVEN a client certificate without a URI SAN WHEN it connects THEN refused and audited GLM_ERR_CERT_SAN_INVALID', async () => {
  await refusedByServer(await leaf({ uris: [] }), 'GLM_ERR_CERT_SAN_INVALID');
});

test('GIVEN a client certificate with two URI SANs WHEN it connects THEN refused and audited GLM_ERR_CERT_SAN_INVALID', async () => {
  await refusedByServer(await leaf({ uris: ['spiffe://plant.example/zone/a/agent/b', 'spiffe://plant.example/zone/c/agent/d'] }), 'GLM_ERR_CERT_SAN_INVALID');
});

test('GIVEN a client certificate of a foreign trust domain WHEN it connects THEN refused and audited GLM_ERR_CERT_FOREIGN_TRUST_DOMAIN', async () => {
  await refusedByServer(await leaf({ uris: ['spiffe://other.example/zone/a/agent/b'] }), 'GLM_ERR_CERT_FOREIGN_TRUST_DOMAIN');
});

test('GIVEN a serverAuth-only client certificate WHEN it connects THEN refused and audited GLM_ERR_CERT_KEY_USAGE', async () => {
  await refusedByServer(await leaf({ eku: ['serverAuth'] }), 'GLM_ERR_CERT_KEY_USAGE');
});

test('GIVEN a revoked client certificate WHEN it connects THEN refused and audited GLM_ERR_CERT_REVOKED', async () => {
  const svid = await leaf();
  await revocation.revoke(svid.serial, 'key compromise');
  await refusedByServer(svid, 'GLM_ERR_CERT_REVOKED');
});

test('GIVEN a server that only accepts zone safety WHEN a cell1 agent connects THEN refused and audited GLM_ERR_CERT_IDENTITY_MISMATCH', async () => {
  const restricted = createMtlsServer({ source: serverId, expectPeer: { zone: 'safety' }, audit: (r) => audit.push(r) }, (s) => s.end());
  const { port } = await restricted.listen();
  audit.length = 0;
  const c = createMtlsClient({ source: fixedIdentity(await leaf(), trust()) });
  const socket = tls.connect({ ...c.connectOptions(), host: '127.0.0.1', port });
  await once(socket, 'close');
  assert.equal(audit[0]?.type === 'trust.tls_refused' && audit[0].code, 'GLM_ERR_CERT_IDENTITY_MISMATCH');
  c.close();
  await restricted.close();
});

test('GIVEN a server whose SVID comes from an unknown CA WHEN a client calls it THEN the client refuses with GLM_ERR_CERT_UNKNOWN_CA and audits it', async () => {
  const rogue = createMtlsServer({ source: fixedIdentity(await leaf({ uris: ['spiffe://plant.example/zone/cell1/agent/server-1'] }, foreignCa), trust()) }, (s) => s.end());
  const { port } = await rogue.listen();
  const clientAudit: TrustAuditRecord[] = [];
  const c = createMtlsClient({ source: fixedIdentity(await leaf(), trust()), audit: (r) => clientAudit.push(r) });
  await assert.rejects(c.request(`https://127.0.0.1:${port}/`), (err) => isGlimmerError(err, 'GLM_ERR_CERT_UNKNOWN_CA'));
  assert.equal(clientAudit[0]?.type === 'trust.tls_refused' && clientAudit[0].side, 'client');
  c.close();
  await rogue.close();
});

test('GIVEN a client expecting server-1 WHEN the server presents another identity THEN GLM_ERR_CERT_IDENTITY_MISMATCH', async () => {
  const c = createMtlsClient({ source: fixedIdentity(await leaf(), trust()), expectServer: { agent: 'server-2' } });
  await assert.rejects(c.request(url), (err) => isGlimmerError(err, 'GLM_ERR_CERT_IDENTITY_MISMATCH'));
  c.close();
});

test('GIVEN a client whose server certificate is revoked WHEN it calls THEN GLM_ERR_CERT_REVOKED', async () => {
  const local = RevocationList.inMemory();
  await local.revoke(serverId.current.serial);
  const c = createMtlsClient({ source: fixedIdentity(await leaf(), trust()), revocation: local });
  await assert.rejects(c.request(url), (err) => isGlimmerError(err, 'GLM_ERR_CERT_REVOKED'));
  c.close();
});

test('GIVEN a live connection WHEN its certificate is revoked THEN the server closes it and audits the revocation', async () => {
  const svid = await leaf();
  const echo = createMtlsServer({ source: serverId, revocation, audit: (r) => audit.push(r) }, (s) => s.pipe(s));
  const { port } = await echo.listen();
  const c = createMtlsClient({ source: fixedIdentity(svid, trust()) });
  const socket = tls.connect({ ...c.connectOptions(), host: '127.0.0.1', port });
  socket.write('ping');
  const [data] = (await once(socket, 'data')) as [Buffer];
  assert.equal(data.toString(), 'ping');
  audit.length = 0;
  const closed = once(socket, 'close');
  await revocation.revoke(svid.serial, 'decommissioned');
  await closed;
  const rec = audit.find((r) => r.type === 'trust.svid_revoked');
  assert.equal(rec?.type === 'trust.svid_revoked' && rec.connections_closed, 1);
  c.close();
  await echo.close();
});

test('GIVEN a live connection WHEN the server rotates its SVID THEN the connection keeps working and new connections see the new certificate', async () => {
  let n = 0;
  const source = await SvidSource.start({ ...trust(), issue: () => { n += 1; return issueSvid(ca, { zone: 'cell1', agent: 'server-1' }); } });
  const echo = createMtlsServer({ source }, (s) => s.pipe(s));
  const { port } = await echo.listen();
  const c = createMtlsClient({ source: fixedIdentity(await leaf(), trust()) });
  const first = tls.connect({ ...c.connectOptions(), host: '127.0.0.1', port });
  await once(first, 'secureConnect');
  const before = first.getPeerCertificate().serialNumber;
  const old = source.current.serial;
  await source.rotate();
  assert.notEqual(source.current.serial, old);
  first.write('still here');
  const [data] = (await once(first, 'data')) as [Buffer];
  assert.equal(data.toString(), 'still here');
  const second = tls.connect({ ...c.connectOptions(), host: '127.0.0.1', port });
  await once(second, 'secureConnect');
  assert.notEqual(second.getPeerCertificate().serialNumber, before);
  assert.equal(second.getPeerCertificate().serialNumber.toLowerCase().replace(/^0+/, ''), source.current.serial);
  first.destroy();
  second.destroy();
  source.stop();
  c.close();
  await echo.close();
  assert.equal(n, 2);
});

test('GIVEN an SVID source WHEN half of the certificate lifetime has passed THEN it re-issues on its own, audits and notifies listeners', async () => {
  const records: TrustAuditRecord[] = [];
  const expiries: Date[] = [];
  const source = await SvidSource.start({
    ...trust(), audit: (r) => records.push(r), onExpiry: (d) => expiries.push(d),
    // 4 s lifetime (certificate times have 1 s resolution): rotation is due 2 s after notBefore.
    issue: () => issueLeaf(ca, { uris: ['spiffe://plant.example/zone/cell1/agent/short'], notBefore: new Date(), notAfter: new Date(Date.now() + 4000) }),
  });
  const first = source.current;
  const next = await new Promise<IssuedSvid>((resolve) => source.onRotate((svid) => resolve(svid)));
  source.stop();
  assert.notEqual(next.serial, first.serial);
  assert.ok(Date.now() >= first.notBefore.getTime() + 2000 - 5, 'rotated before half-life');
  assert.equal(records[0]?.type, 'trust.svid_rotated');
  assert.equal(expiries.length, 2);
});

test('GIVEN a persisted revocation list WHEN reloaded from the state dir THEN the revoked serials are still refused', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'glimmer-crl-'));
  const list = await RevocationList.load(dir);
  await list.revoke('00AB:CD', 'test');
  const again = await RevocationList.load(dir);
  assert.ok(again.has('abcd'));
  assert.deepEqual([...again.serials], ['abcd']);
  await assert.rejects(list.revoke('not-hex'), (err) => isGlimmerError(err, 'GLM_ERR_USAGE'));
});
