/**
 * The revocation list and its signed feed on real TLS 1.3 sockets: revoked SPIFFE IDs, feeds signed by the CA and
 * verified against the bundle (tampered, foreign, replayed and malformed feeds refused), client pools and servers
 * closing what a revocation names, and a follower whose feed turns stale failing closed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { ensureCa, type Ca } from '../../runtime/trust/ca';
import { issueSvid, type IssuedSvid } from '../../runtime/trust/svid';
import { fixedIdentity, type IdentitySource } from '../../runtime/trust/rotation';
import { RevocationList, verifyRevocationFeed, type SignedRevocationFeed } from '../../runtime/trust/revocation';
import { createMtlsClient, createMtlsHttpServer, peerIdentity, type MtlsServer } from '../../runtime/trust/mtls';
import type { TrustAuditRecord } from '../../runtime/trust/audit';
import { isGlimmerError } from '../../runtime/errors';

const TD = 'plant.example';
let ca: Ca;
let foreignCa: Ca;
let serverId: IdentitySource;
let client: IssuedSvid;
const trust = () => ({ bundlePem: ca.bundlePem, trustDomain: TD });
const servers: MtlsServer[] = [];

before(async () => {
  ca = await ensureCa(await mkdtemp(path.join(os.tmpdir(), 'glimmer-revocation-')), TD);
  foreignCa = await ensureCa(await mkdtemp(path.join(os.tmpdir(), 'glimmer-revocation-foreign-')), TD);
  serverId = fixedIdentity(await issueSvid(ca, { zone: 'cell1', agent: 'server-1' }), trust());
  client = await issueSvid(ca, { zone: 'cell1', agent: 'client-1' });
});

after(async () => {
  for (const s of servers) await s.close();
});

async function serve(revocation: RevocationList, audit: TrustAuditRecord[]): Promise<string> {
  const server = createMtlsHttpServer({ source: serverId, revocation, audit: (r) => audit.push(r) }, (req, res) => res.end(peerIdentity(req)?.spiffeId ?? 'none'));
  servers.push(server);
  return `https://127.0.0.1:${(await server.listen()).port}/`;
}

/** A raw TLS connection with `svid`: resolves 'open' once the server accepted it, 'closed' when it is closed. */
function connect(url: string, svid: IssuedSvid): { socket: tls.TLSSocket; closed: Promise<void>; accepted: Promise<string> } {
  const u = new URL(url);
  const socket = tls.connect({ host: u.hostname, port: Number(u.port), cert: svid.certPem, key: svid.keyPem, ca: ca.bundlePem, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
  // Not events.once: it rejects on 'error', and a reset before the close is what a refusal looks like.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const accepted = new Promise<string>((resolve, reject) => {
    socket.once('secureConnect', () => {
      socket.write(`GET / HTTP/1.1\r\nhost: x\r\n\r\n`);
      socket.once('data', (d: Buffer) => resolve(d.toString()));
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before an answer')));
  });
  accepted.catch(() => undefined);
  return { socket, closed, accepted };
}

test('GIVEN a revoked SPIFFE ID WHEN a freshly issued certificate of that identity connects THEN the server refuses it with GLM_ERR_CERT_REVOKED, audited with its serial and SPIFFE ID, and its open connection was closed', async () => {
  const audit: TrustAuditRecord[] = [];
  const list = RevocationList.inMemory((r) => audit.push(r));
  const url = await serve(list, audit);
  const open = connect(url, client);
  assert.match(await open.accepted, /client-1/);
  const spiffeId = 'spiffe://plant.example/zone/cell1/agent/client-1';
  assert.equal(await list.revokeIdentity(spiffeId, 'decommissioned', 'admin'), true);
  await open.closed;
  const revoked = audit.find((r) => r.type === 'trust.svid_revoked');
  assert.ok(revoked?.type === 'trust.svid_revoked');
  assert.equal(revoked.peer, spiffeId);
  assert.equal(revoked.connections_closed, 1);
  assert.equal(revoked.by, 'admin');

  const fresh = await issueSvid(ca, { zone: 'cell1', agent: 'client-1' });
  const again = connect(url, fresh);
  await again.closed;
  const refusal = audit.find((r) => r.type === 'trust.tls_refused');
  assert.ok(refusal?.type === 'trust.tls_refused');
  assert.equal(refusal.code, 'GLM_ERR_CERT_REVOKED');
  assert.equal(refusal.serial, fresh.serial);
  assert.equal(refusal.peer, spiffeId);
  // Another identity of the same zone is untouched.
  const other = connect(url, await issueSvid(ca, { zone: 'cell1', agent: 'client-2' }));
  assert.match(await other.accepted, /client-2/);
  other.socket.destroy();
});

test('GIVEN a feed signed by the CA WHEN a follower verifies and applies it THEN its entries are refused and each new entry is audited at that point', async () => {
  const authority = RevocationList.inMemory();
  await authority.revoke(client.serial, 'key compromise', client.spiffeId);
  await authority.revokeIdentity('spiffe://plant.example/zone/cell1/agent/old', 'retired');
  const feed = await authority.signedFeed(ca);
  const audit: TrustAuditRecord[] = [];
  const follower = RevocationList.inMemory({ maxAgeMs: 60_000, point: 'agent-a', audit: (r) => audit.push(r) });
  assert.throws(() => follower.assertFresh(), (e) => isGlimmerError(e, 'GLM_ERR_REVOCATION_FEED_STALE'));
  assert.deepEqual(follower.apply(verifyRevocationFeed(feed, trust())), { added: 2, closed: 0 });
  follower.assertFresh();
  assert.ok(follower.has(client.serial));
  assert.ok(follower.hasIdentity('spiffe://plant.example/zone/cell1/agent/old'));
  const applied = audit.filter((r) => r.type === 'trust.revocation_applied');
  assert.equal(applied.length, 2);
  assert.ok(applied.every((r) => r.type === 'trust.revocation_applied' && r.point === 'agent-a'));
  assert.ok(applied.some((r) => r.type === 'trust.revocation_applied' && r.serial === client.serial && r.peer === client.spiffeId));
  // The same entries again change nothing.
  assert.deepEqual(follower.apply(verifyRevocationFeed(await authority.signedFeed(ca), trust())), { added: 0, closed: 0 });
  follower.close();
});

test('GIVEN tampered, foreign, replayed and malformed feeds WHEN a follower receives them THEN each is refused with GLM_ERR_REVOCATION_FEED_INVALID and nothing is applied', async () => {
  const authority = RevocationList.inMemory();
  const old = await authority.signedFeed(ca);
  await new Promise((r) => setTimeout(r, 5));
  await authority.revoke('abcdef', 'test');
  const feed = await authority.signedFeed(ca);
  const invalid = (f: unknown, t = trust()) => assert.throws(() => verifyRevocationFeed(f, t), (e) => isGlimmerError(e, 'GLM_ERR_REVOCATION_FEED_INVALID'));
  invalid({ ...feed, payload: feed.payload.replace('abcdef', 'abcdee') });
  invalid(await authority.signedFeed(foreignCa));
  invalid(feed, { bundlePem: ca.bundlePem, trustDomain: 'other.example' });
  invalid({ payload: feed.payload });
  invalid(null);
  invalid({ payload: 'x'.repeat(3 * 1024 * 1024), signature: feed.signature });
  const follower = RevocationList.inMemory({ maxAgeMs: 60_000 });
  follower.apply(verifyRevocationFeed(feed, trust()));
  // A replay of an older feed must not reset the freshness the newer one gave.
  assert.throws(() => follower.apply(verifyRevocationFeed(old, trust())), (e) => isGlimmerError(e, 'GLM_ERR_REVOCATION_FEED_INVALID'));
  follower.close();
});

test('GIVEN random mutations of a signed feed WHEN verified THEN every one is either the original content or refused with GLM_ERR_REVOCATION_FEED_INVALID', async () => {
  const authority = RevocationList.inMemory();
  await authority.revoke('0a1b2c', 'fuzz', 'spiffe://plant.example/zone/z/agent/a');
  const feed = await authority.signedFeed(ca);
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; i < 500; i++) {
    const field = rand(2) === 0 ? 'payload' : 'signature';
    const chars = [...(feed[field] as string)];
    for (let k = 0, n = 1 + rand(4); k < n; k++) {
      const at = rand(chars.length);
      const op = rand(3);
      if (op === 0) chars[at] = String.fromCharCode(32 + rand(95));
      else if (op === 1) chars.splice(at, 1);
      else chars.splice(at, 0, String.fromCharCode(32 + rand(95)));
    }
    const mutated = { ...feed, [field]: chars.join('') } as SignedRevocationFeed;
    try {
      const p = verifyRevocationFeed(mutated, trust());
      // base64url decoding tolerates a few changes that leave the same bytes; the content must then be the original.
      assert.equal(JSON.stringify(p), feed.payload);
    } catch (e) {
      assert.ok(isGlimmerError(e, 'GLM_ERR_REVOCATION_FEED_INVALID'), String(e));
    }
  }
});

test('GIVEN a client pool with a live connection WHEN a feed revokes the server certificate THEN the pooled connection is closed and the next call is refused with GLM_ERR_CERT_REVOKED', async () => {
  const url = await serve(RevocationList.inMemory(), []);
  const follower = RevocationList.inMemory({ maxAgeMs: 60_000, point: 'client' });
  const authority = RevocationList.inMemory();
  follower.apply(verifyRevocationFeed(await authority.signedFeed(ca), trust()));
  const audit: TrustAuditRecord[] = [];
  const c = createMtlsClient({ source: fixedIdentity(client, trust()), revocation: follower, audit: (r) => audit.push(r) });
  try {
    assert.equal((await c.request(url)).body.toString(), client.spiffeId);
    const sockets = Object.values(c.agent.freeSockets).flat();
    assert.equal(sockets.length, 1);
    const closed = new Promise<void>((resolve) => sockets[0]!.once('close', () => resolve()));
    await authority.revoke(serverId.current.serial, 'key compromise', serverId.current.spiffeId);
    const { closed: n } = follower.apply(verifyRevocationFeed(await authority.signedFeed(ca), trust()));
    assert.equal(n, 1);
    await closed;
    await assert.rejects(c.request(url), (e) => isGlimmerError(c.classifyError(e), 'GLM_ERR_CERT_REVOKED'));
    const refusal = audit.find((r) => r.type === 'trust.tls_refused');
    assert.ok(refusal?.type === 'trust.tls_refused' && refusal.code === 'GLM_ERR_CERT_REVOKED' && refusal.side === 'client');
  } finally {
    c.close();
    follower.close();
  }
});

test('GIVEN a follower fed once with a max age of 400 ms WHEN no newer feed arrives THEN it turns stale: live connections are closed, new handshakes refused with GLM_ERR_REVOCATION_FEED_STALE (audited), and a fresh feed restores service', async () => {
  const audit: TrustAuditRecord[] = [];
  const follower = RevocationList.inMemory({ maxAgeMs: 400, point: 'server', audit: (r) => audit.push(r) });
  const authority = RevocationList.inMemory();
  follower.apply(verifyRevocationFeed(await authority.signedFeed(ca), trust()));
  const url = await serve(follower, audit);
  const open = connect(url, client);
  assert.match(await open.accepted, /client-1/);
  const t0 = Date.now();
  await open.closed;
  assert.ok(Date.now() - t0 >= 250, 'closed by the stale feed, not at once');
  assert.ok(audit.some((r) => r.type === 'trust.revocation_feed' && r.state === 'stale' && r.code === 'GLM_ERR_REVOCATION_FEED_STALE'));
  assert.throws(() => follower.assertFresh(), (e) => isGlimmerError(e, 'GLM_ERR_REVOCATION_FEED_STALE'));
  await connect(url, client).closed;
  const refusal = audit.find((r) => r.type === 'trust.tls_refused');
  assert.ok(refusal?.type === 'trust.tls_refused');
  assert.equal(refusal.code, 'GLM_ERR_REVOCATION_FEED_STALE');
  assert.equal(refusal.serial, client.serial);

  follower.apply(verifyRevocationFeed(await authority.signedFeed(ca), trust()));
  assert.ok(audit.some((r) => r.type === 'trust.revocation_feed' && r.state === 'fresh'));
  const back = connect(url, client);
  assert.match(await back.accepted, /client-1/);
  back.socket.destroy();
  follower.close();
});

test('GIVEN the persisted list of a state dir WHEN a serial and an identity are revoked and the list is reloaded THEN both are still refused', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'glimmer-revocation-persist-'));
  const list = await RevocationList.load(dir);
  await list.revoke('00AB:CD', 'test', 'spiffe://plant.example/zone/a/agent/b');
  await list.revokeIdentity('spiffe://plant.example/zone/a/agent/c', 'test');
  const again = await RevocationList.load(dir);
  assert.ok(again.has('abcd'));
  assert.ok(again.hasIdentity('spiffe://plant.example/zone/a/agent/c'));
  assert.ok(again.revokes('ffff', 'spiffe://plant.example/zone/a/agent/c'));
  await assert.rejects(list.revokeIdentity('https://not-spiffe/x'), (e) => isGlimmerError(e));
});
