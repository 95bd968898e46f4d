/**
 * Post-quantum key exchange on the runtime's mTLS links: the group is proven from the client (OpenSSL's report through
 * getEphemeralKeyInfo), from the server (onHandshake) and from the wire (the ServerHello's key_share, read by a TCP
 * relay between the two). The classical-only peer is Debian's OpenSSL 3.0 `openssl s_client`, which has no ML-KEM.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ensureCa, type Ca } from '../../runtime/trust/ca';
import { issueSvid, type IssuedSvid } from '../../runtime/trust/svid';
import { fixedIdentity, type IdentitySource } from '../../runtime/trust/rotation';
import { createMtlsClient, createMtlsHttpServer, peerIdentity, type MtlsServer } from '../../runtime/trust/mtls';
import { applyTlsPqMode, parseTlsPqMode, TLS_PQ_MODE_ENV, type TlsPqMode } from '../../runtime/trust/pq-tls';
import { loadConfig } from '../../runtime/config/load';
import { isGlimmerError } from '../../runtime/errors';

const TD = 'plant.example';
const GROUP_IDS: Readonly<Record<number, string>> = { 0x11ec: 'X25519MLKEM768', 0x001d: 'X25519', 0x0017: 'P-256', 0x0018: 'P-384' };
let dir: string;
let ca: Ca;
let serverSvid: IssuedSvid;
let clientSvid: IssuedSvid;
const trust = () => ({ bundlePem: ca.bundlePem, trustDomain: TD });

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-pq-tls-'));
  ca = await ensureCa(dir, TD);
  serverSvid = await issueSvid(ca, { zone: 'cell1', agent: 'server-1' });
  clientSvid = await issueSvid(ca, { zone: 'cell1', agent: 'client-1' });
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

type Handshake = { side: string; group: string; mode: string; peer: string | null };

async function startServer(mode: TlsPqMode, seen: Handshake[]): Promise<{ server: MtlsServer; port: number }> {
  const source: IdentitySource = fixedIdentity(serverSvid, trust());
  const server = createMtlsHttpServer(
    { source, pqMode: mode, onHandshake: (side, group, m, peer) => seen.push({ side, group, mode: m, peer }) },
    (req, res) => res.end(peerIdentity(req)?.spiffeId ?? 'none'),
  );
  return { server, port: (await server.listen()).port };
}

/** A TCP relay that forwards both ways and reads the group of the server's first ServerHello key_share (RFC 8446 4.1.3, 4.2.8). */
async function startWireRelay(target: number): Promise<{ port: number; groups: string[]; close(): Promise<void> }> {
  const groups: string[] = [];
  const relay = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    let head = Buffer.alloc(0);
    let done = false;
    upstream.on('data', (chunk: Buffer) => {
      if (!done) {
        head = Buffer.concat([head, chunk]);
        const group = serverHelloGroup(head);
        if (group !== undefined) {
          groups.push(GROUP_IDS[group] ?? `0x${group.toString(16)}`);
          done = true;
        }
      }
      client.write(chunk);
    });
    client.on('data', (chunk) => upstream.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as net.AddressInfo).port,
    groups,
    close: () => new Promise((resolve) => relay.close(() => resolve())),
  };
}

/** The selected group of a plaintext ServerHello at the start of `buf`, or undefined until it is complete. */
function serverHelloGroup(buf: Buffer): number | undefined {
  if (buf.length < 5 || buf[0] !== 0x16) return undefined;
  const recordEnd = 5 + buf.readUInt16BE(3);
  if (buf.length < recordEnd || buf[5] !== 0x02) return undefined;
  let p = 5 + 4 + 2 + 32; // handshake header, legacy_version, random
  p += 1 + (buf[p] as number); // legacy_session_id_echo
  p += 2 + 1; // cipher_suite, legacy_compression_method
  const extEnd = p + 2 + buf.readUInt16BE(p);
  p += 2;
  while (p + 4 <= extEnd) {
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    if (type === 0x0033) return buf.readUInt16BE(p + 4);
    p += 4 + len;
  }
  return undefined;
}

async function nodeClient(mode: TlsPqMode, port: number, seen: Handshake[]): Promise<string> {
  const client = createMtlsClient({ source: fixedIdentity(clientSvid, trust()), pqMode: mode, onHandshake: (side, group, m, peer) => seen.push({ side, group, mode: m, peer }) });
  try {
    return (await client.request(`https://127.0.0.1:${port}/`)).body.toString();
  } finally {
    client.close();
  }
}

function opensslClient(port: number): Promise<{ code: number | null; out: string }> {
  const cert = path.join(dir, 'client.pem');
  const key = path.join(dir, 'client.key');
  const caFile = path.join(dir, 'bundle.pem');
  fs.writeFileSync(cert, clientSvid.certPem);
  fs.writeFileSync(key, clientSvid.keyPem, { mode: 0o600 });
  fs.writeFileSync(caFile, ca.bundlePem);
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-cert', cert, '-key', key, '-CAfile', caFile, '-brief', '-ign_eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.stdin.end('GET / HTTP/1.0\r\n\r\n');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

test('GIVEN the system openssl WHEN asked its version THEN it is OpenSSL 3.0 without ML-KEM (the classical-only peer of these tests)', async () => {
  const out = await new Promise<string>((resolve) => {
    const c = spawn('/usr/bin/openssl', ['version']);
    let s = '';
    c.stdout.on('data', (d: Buffer) => (s += d.toString()));
    c.on('close', () => resolve(s));
  });
  assert.match(out, /^OpenSSL 3\.0\./);
});

test('GIVEN client and server in hybrid-preferred mode WHEN they connect THEN the client reports X25519MLKEM768 and the ServerHello on the wire selects it', async () => {
  const seen: Handshake[] = [];
  const { server, port } = await startServer('hybrid-preferred', seen);
  const relay = await startWireRelay(port);
  try {
    assert.equal(await nodeClient('hybrid-preferred', relay.port, seen), clientSvid.spiffeId);
    assert.deepEqual(relay.groups, ['X25519MLKEM768']);
    const client = seen.find((h) => h.side === 'client');
    assert.deepEqual(client, { side: 'client', group: 'X25519MLKEM768', mode: 'hybrid-preferred', peer: serverSvid.spiffeId });
    // OpenSSL does not tell a server its group: in hybrid-preferred mode the server side says so.
    assert.deepEqual(seen.find((h) => h.side === 'server'), { side: 'server', group: 'unknown', mode: 'hybrid-preferred', peer: clientSvid.spiffeId });
  } finally {
    await relay.close();
    await server.close();
  }
});

test('GIVEN a pqc-only server WHEN a pqc-only client connects THEN both ends report X25519MLKEM768 and the wire agrees', async () => {
  const seen: Handshake[] = [];
  const { server, port } = await startServer('pqc-only', seen);
  const relay = await startWireRelay(port);
  try {
    await nodeClient('pqc-only', relay.port, seen);
    assert.deepEqual(relay.groups, ['X25519MLKEM768']);
    assert.deepEqual(seen.map((h) => `${h.side}:${h.group}`).sort(), ['client:X25519MLKEM768', 'server:X25519MLKEM768']);
  } finally {
    await relay.close();
    await server.close();
  }
});

test('GIVEN a pqc-only server WHEN Debian OpenSSL 3.0 s_client (classical groups only) connects THEN the handshake fails and no connection is verified', async () => {
  const seen: Handshake[] = [];
  const { server, port } = await startServer('pqc-only', seen);
  try {
    const r = await opensslClient(port);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /handshake failure|no suitable key share|alert/i);
    assert.deepEqual(seen, []);
  } finally {
    await server.close();
  }
});

test('GIVEN a hybrid-preferred server WHEN Debian OpenSSL 3.0 s_client connects THEN it is accepted with the classical X25519 group and gets an answer', async () => {
  const seen: Handshake[] = [];
  const { server, port } = await startServer('hybrid-preferred', seen);
  const relay = await startWireRelay(port);
  try {
    const r = await opensslClient(relay.port);
    assert.match(r.out, /Server Temp Key: X25519/);
    assert.match(r.out, /HTTP\/1\.1 200/);
    assert.deepEqual(relay.groups, ['X25519']);
    assert.equal(seen.filter((h) => h.side === 'server').length, 1);
  } finally {
    await relay.close();
    await server.close();
  }
});

test('GIVEN a pqc-only server WHEN a Node client in classical mode connects THEN the request fails at the handshake; a classical server and client agree on X25519', async () => {
  const seen: Handshake[] = [];
  const pqc = await startServer('pqc-only', seen);
  try {
    await assert.rejects(nodeClient('classical', pqc.port, seen), (err: NodeJS.ErrnoException) => /handshake failure|ECONNRESET/i.test(`${err.code} ${err.message}`));
    assert.deepEqual(seen, []);
  } finally {
    await pqc.server.close();
  }
  const later: Handshake[] = [];
  const classical = await startServer('classical', later);
  try {
    await nodeClient('hybrid-preferred', classical.port, later);
    assert.equal(later.find((h) => h.side === 'client')?.group, 'X25519');
  } finally {
    await classical.server.close();
  }
});

test('GIVEN GLIMMER_TLS_PQ_MODE WHEN it is set THEN it overrides the configured mode and is exported for forked agents; an unknown value is GLM_ERR_TLS_PQ_MODE_INVALID', () => {
  const env: NodeJS.ProcessEnv = {};
  assert.equal(applyTlsPqMode(undefined, env), 'hybrid-preferred');
  assert.equal(env[TLS_PQ_MODE_ENV], 'hybrid-preferred');
  const set: NodeJS.ProcessEnv = { [TLS_PQ_MODE_ENV]: 'pqc-only' };
  assert.equal(applyTlsPqMode('classical', set), 'pqc-only');
  assert.equal(applyTlsPqMode('classical', { [TLS_PQ_MODE_ENV]: '' }), 'classical');
  assert.throws(() => applyTlsPqMode(undefined, { [TLS_PQ_MODE_ENV]: 'pqc' }), (e) => isGlimmerError(e, 'GLM_ERR_TLS_PQ_MODE_INVALID') && /received "pqc"/.test(e.message));
  assert.throws(() => parseTlsPqMode('kyber_512_hybrid', 'x'), (e) => isGlimmerError(e, 'GLM_ERR_TLS_PQ_MODE_INVALID'));
});

test('GIVEN glimmer.yml with topology.tls_pq_mode WHEN loaded THEN a valid mode is kept and any other value is GLM_ERR_CONFIG_INVALID', () => {
  const base = fs.readFileSync(path.join(__dirname, '..', '..', 'config', 'glimmer.yml'), 'utf8');
  const cfgDir = fs.mkdtempSync(path.join(dir, 'cfg-'));
  fs.copyFileSync(path.join(__dirname, '..', '..', 'config', 'cognitive.yml'), path.join(cfgDir, 'cognitive.yml'));
  const file = path.join(cfgDir, 'glimmer.yml');
  fs.writeFileSync(file, base.replace(/tls_pq_mode: hybrid-preferred/, 'tls_pq_mode: pqc-only'));
  assert.equal(loadConfig(file).topology.tls_pq_mode, 'pqc-only');
  fs.writeFileSync(file, base.replace(/tls_pq_mode: hybrid-preferred/, 'tls_pq_mode: kyber'));
  assert.throws(() => loadConfig(file), (e) => isGlimmerError(e, 'GLM_ERR_CONFIG_INVALID'));
});
