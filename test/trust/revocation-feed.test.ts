/**
 * The revocation feed across pods, with two real runtimes sharing one CA (as a cluster's pods mount one CA Secret):
 * the authority (cognitive-1's pod) and a follower (data-1's pod, `revocation.feed_url` pointing at the authority's
 * mTLS API). A revocation at the authority reaches the follower's mTLS API and its agent's A2A endpoint within
 * seconds; the follower refuses to revoke itself; and once the authority stops signing, the follower's feed turns
 * stale after max_age_s and its enforcement points fail closed (GLM_ERR_REVOCATION_FEED_STALE, audited, not ready).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { test } from 'node:test';
import { startRuntime, type Runtime } from '../../runtime/app';
import { readAuditRecords } from '../../runtime/audit/records';
import { silentLogger } from '../../runtime/observability/logger';
import { ensureCa, type Ca } from '../../runtime/trust/ca';
import { issueSvid, type IssuedSvid } from '../../runtime/trust/svid';
import { waitUntil } from '../faults/helpers';
import { BASE_CONFIG, pinsOf, writeConfig } from '../helpers/external-plant';

interface Held {
  readonly socket: tls.TLSSocket;
  readonly closed: Promise<void>;
}

/** A keep-alive connection with `svid` that had one HTTP answer; rejects when the server refuses the certificate. */
async function hold(url: string, pathname: string, svid: IssuedSvid, ca: Ca): Promise<Held> {
  const u = new URL(url);
  const socket = tls.connect({ host: u.hostname, port: Number(u.port), cert: svid.certPem, key: svid.keyPem, ca: ca.bundlePem, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => {
      socket.write(`GET ${pathname} HTTP/1.1\r\nhost: ${u.host}\r\n\r\n`);
      socket.once('data', () => resolve());
    });
    socket.once('close', () => reject(new Error(`${url} refused the connection`)));
  });
  return { socket, closed };
}

async function refused(url: string, pathname: string, svid: IssuedSvid, ca: Ca): Promise<boolean> {
  try {
    const h = await hold(url, pathname, svid, ca);
    h.socket.destroy();
    return false;
  } catch {
    return true;
  }
}

async function records(stateDir: string, type: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const r of readAuditRecords({ stateDir })) if (r.type === type) out.push(r);
  return out;
}

const within = <T>(ms: number, p: Promise<T>, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms))]);

test('GIVEN an authority and a follower pod sharing one CA WHEN a certificate is revoked at the authority and then the authority stops THEN the follower closes and refuses it within seconds, refuses to revoke itself, and fails closed once its feed is older than max_age_s', { timeout: 300_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-revocation-feed-'));
  let authority: Runtime | undefined;
  let follower: Runtime | undefined;
  try {
    authority = await startRuntime({ agent: 'cognitive-1', stateDir: path.join(dir, 'a'), apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
    const a = authority;
    const td = a.config.topology.trust_domain;
    // The follower's pod mounts the same CA (in a cluster: the CA Secret); it signs nothing itself.
    fs.mkdirSync(path.join(dir, 'b', 'pki'), { recursive: true, mode: 0o700 });
    fs.cpSync(path.join(dir, 'a', 'pki', 'ca'), path.join(dir, 'b', 'pki', 'ca'), { recursive: true });
    const doc = structuredClone(BASE_CONFIG) as Record<string, unknown> & { plant: Record<string, unknown> };
    doc.plant = { ...doc.plant, fault_schedule: [] };
    doc.revocation = { feed_url: `https://127.0.0.1:${a.apiMtlsPort}/v1/trust/revocations`, refresh_ms: 200, max_age_s: 3 };
    const configFile = writeConfig(doc, fs.mkdtempSync(path.join(dir, 'cfg-')));
    follower = await startRuntime({ configFile, configPins: pinsOf(configFile), agent: 'data-1', stateDir: path.join(dir, 'b'), apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
    const b = follower;
    const bBase = `http://127.0.0.1:${b.apiPort}`;
    const bAuth = { authorization: `Bearer ${b.adminToken}`, 'content-type': 'application/json' };
    const readyz = async () => ((await (await fetch(`${bBase}/readyz`)).json()) as { conditions: Record<string, { ok: boolean; reason?: string }> }).conditions;
    await waitUntil('data-1 ACTIVE with its A2A endpoint', () => b.supervisor.agents().every((x) => x.state === 'ACTIVE') && b.supervisor.a2aEndpoints()['data-1'] !== undefined, 120_000, 200);
    await waitUntil('the follower\'s feed fresh', async () => (await readyz()).revocation?.ok === true, 30_000, 200);

    const ca = await ensureCa(path.join(dir, 'a'), td);
    // A copy of cognitive-1's identity (a leaked key) and, for the stale check, a certificate nobody revokes.
    const leaked = await issueSvid(ca, { zone: 'operations', agent: 'cognitive-1' });
    const good = await issueSvid(ca, { zone: 'operations', agent: 'cognitive-1' });
    const points = [
      { name: 'data-1', url: b.supervisor.a2aEndpoints()['data-1'] as string, path: '/.well-known/agent-card.json' },
      { name: 'api', url: `https://127.0.0.1:${b.apiMtlsPort}`, path: '/v1/agents' },
    ];
    const held = await Promise.all(points.map((p) => hold(p.url, p.path, leaked, ca)));

    // Revoked at the authority: the follower's points close and refuse within seconds.
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${a.apiPort}/v1/trust/revoke`, { method: 'POST', headers: { authorization: `Bearer ${a.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: leaked.serial, reason: 'leaked key' }) });
    assert.equal(res.status, 201);
    await within(5000, Promise.all(held.map((h) => h.closed)), 'the follower closing the revoked certificate\'s connections');
    const elapsed = Date.now() - t0;
    for (const p of points) assert.equal(await refused(p.url, p.path, leaked, ca), true, `${p.name} refuses the revoked certificate`);
    await waitUntil('the follower\'s refusals audited', async () => {
      const r = (await records(path.join(dir, 'b'), 'trust.tls_refused')).filter((x) => x.code === 'GLM_ERR_CERT_REVOKED' && x.serial === leaked.serial && x.peer === leaked.spiffeId);
      return r.some((x) => x.agent === 'data-1') && r.some((x) => x.agent === undefined);
    }, 20_000, 200);
    const applied = await records(path.join(dir, 'b'), 'trust.revocation_applied');
    assert.ok(applied.some((x) => x.point === 'runtime' && x.serial === leaked.serial), 'the follower runtime applied the feed');
    assert.ok(applied.some((x) => x.point === 'data-1' && x.serial === leaked.serial), 'the follower\'s agent applied the feed');
    assert.ok(elapsed < 5000, `propagated across pods in ${elapsed} ms`);
    t.diagnostic(`revoked at the authority -> closed at the follower's points: ${elapsed} ms (refresh_ms 200)`);

    // The follower holds no list of its own to change.
    const own = await fetch(`${bBase}/v1/trust/revoke`, { method: 'POST', headers: bAuth, body: JSON.stringify({ target: good.serial }) });
    assert.equal(own.status, 409);
    assert.equal(((await own.json()) as { error: { code: string } }).error.code, 'GLM_ERR_REVOCATION_NOT_AUTHORITY');

    // The authority goes away: after max_age_s the follower refuses even valid certificates, and says why.
    const open = await Promise.all(points.map((p) => hold(p.url, p.path, good, ca)));
    await a.stop('test');
    authority = undefined;
    const stoppedAt = Date.now();
    await within(15_000, Promise.all(open.map((h) => h.closed)), 'the stale feed closing valid connections');
    assert.ok(Date.now() - stoppedAt >= 1000, 'closed by the feed turning stale, not by the authority stopping');
    for (const p of points) assert.equal(await refused(p.url, p.path, good, ca), true, `${p.name} fails closed on a stale feed`);
    const down = await readyz();
    assert.equal(down.revocation?.ok, false);
    assert.match(down.revocation?.reason ?? '', /revocation feed is \d+ s old/);
    await waitUntil('stale refusals audited at both points', async () => {
      const r = (await records(path.join(dir, 'b'), 'trust.tls_refused')).filter((x) => x.code === 'GLM_ERR_REVOCATION_FEED_STALE' && x.serial === good.serial);
      return r.some((x) => x.agent === 'data-1') && r.some((x) => x.agent === undefined);
    }, 20_000, 200);
    const stale = await records(path.join(dir, 'b'), 'trust.revocation_feed');
    assert.ok(stale.some((x) => x.state === 'stale' && x.point === 'runtime'));
    assert.ok(stale.some((x) => x.state === 'stale' && x.point === 'data-1'));
  } finally {
    await follower?.stop('test');
    await authority?.stop('test');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
