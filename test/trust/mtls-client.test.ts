/**
 * The mTLS client's connection pool (runtime/trust/mtls.ts createMtlsClient), which holds one secure context: TLS 1.3
 * only, keep-alive reuse, and rotation to a fresh pool presenting the new SVID. Real sockets on loopback.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { ensureCa, type Ca } from '../../runtime/trust/ca';
import { issueSvid } from '../../runtime/trust/svid';
import { SvidSource, fixedIdentity } from '../../runtime/trust/rotation';
import { createMtlsClient, createMtlsHttpServer, peerIdentity, type MtlsServer } from '../../runtime/trust/mtls';

const TD = 'plant.example';
let ca: Ca;
let server: MtlsServer;
let url: string;
let handshakes = 0;

before(async () => {
  ca = await ensureCa(await mkdtemp(path.join(os.tmpdir(), 'glimmer-mtls-client-')), TD);
  const source = fixedIdentity(await issueSvid(ca, { zone: 'cell1', agent: 'server-1' }), { bundlePem: ca.bundlePem, trustDomain: TD });
  server = createMtlsHttpServer({ source }, (req, res) => res.end(peerIdentity(req)?.serial ?? 'none'));
  server.server.on('secureConnection', () => {
    handshakes += 1;
  });
  url = `https://127.0.0.1:${(await server.listen()).port}/`;
});

after(async () => {
  await server.close();
});

test('GIVEN one mTLS client WHEN it sends many requests one after another THEN they share one TLS connection', async () => {
  const c = createMtlsClient({ source: fixedIdentity(await issueSvid(ca, { zone: 'cell1', agent: 'client-1' }), { bundlePem: ca.bundlePem, trustDomain: TD }) });
  try {
    const before = handshakes;
    for (let i = 0; i < 20; i++) assert.equal((await c.request(url)).status, 200);
    assert.equal(handshakes - before, 1);
  } finally {
    c.close();
  }
});

test('GIVEN a server that only speaks TLS 1.2 WHEN the mTLS client calls it THEN the handshake fails (no downgrade)', async () => {
  const svid = await issueSvid(ca, { zone: 'cell1', agent: 'server-1' });
  const old = https.createServer({ cert: svid.certPem, key: svid.keyPem, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
  const c = createMtlsClient({ source: fixedIdentity(await issueSvid(ca, { zone: 'cell1', agent: 'client-1' }), { bundlePem: ca.bundlePem, trustDomain: TD }) });
  try {
    await assert.rejects(c.request(`https://127.0.0.1:${(old.address() as { port: number }).port}/`), (err: NodeJS.ErrnoException) => /version|protocol/i.test(`${err.code} ${err.message}`));
  } finally {
    c.close();
    old.closeAllConnections();
    await new Promise((resolve) => old.close(resolve));
  }
});

test('GIVEN a client SVID that rotates WHEN the client calls again THEN the server sees the new certificate on a new connection', async () => {
  const source = await SvidSource.start({ issue: () => issueSvid(ca, { zone: 'cell1', agent: 'client-1' }), bundlePem: ca.bundlePem, trustDomain: TD });
  const c = createMtlsClient({ source });
  try {
    const first = (await c.request(url)).body.toString();
    assert.equal(first, source.current.serial);
    const next = await source.rotate();
    const second = (await c.request(url)).body.toString();
    assert.equal(second, next.serial);
    assert.notEqual(second, first);
  } finally {
    source.stop();
    c.close();
  }
});
