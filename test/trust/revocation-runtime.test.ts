/**
 * Revocation on the real runtime (real agent processes, real TLS 1.3, the embedded plant's OPC UA server): an agent's
 * identity is revoked through the API while a copy of its SVID is calling a peer. Every peer (each agent's A2A endpoint
 * and the mTLS API) closes the open connections of that identity and refuses new ones, each refusal audited with the
 * serial and SPIFFE ID; the real agent's OPC UA session is dropped and stays refused; the CA issues it nothing new.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { startRuntime, type Runtime } from '../../runtime/app';
import { readAuditRecords } from '../../runtime/audit/records';
import { silentLogger } from '../../runtime/observability/logger';
import { ensureCa } from '../../runtime/trust/ca';
import { agentSpiffeId } from '../../runtime/trust/spiffe';
import { issueSvid, type IssuedSvid } from '../../runtime/trust/svid';
import { waitUntil } from '../faults/helpers';
import { agentProcesses } from '../helpers/run';

interface Open {
  readonly socket: tls.TLSSocket;
  readonly closed: Promise<void>;
  /** Sends one keep-alive GET and resolves with the status line (rejects once the connection is gone). */
  get(pathname: string): Promise<string>;
}

/** A keep-alive HTTP/1.1 connection over TLS 1.3 presenting `svid`; resolves once the server accepted it (first GET). */
async function open(url: string, svid: IssuedSvid, bundlePem: string, pathname: string): Promise<Open> {
  const u = new URL(url);
  const socket = tls.connect({ host: u.hostname, port: Number(u.port), cert: svid.certPem, key: svid.keyPem, ca: bundlePem, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
  socket.on('error', () => undefined);
  // Not events.once: it rejects on 'error', and a reset before the close is what a refusal looks like.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const get = (p: string) => new Promise<string>((resolve, reject) => {
    if (socket.destroyed) return reject(new Error('closed'));
    socket.write(`GET ${p} HTTP/1.1\r\nhost: ${u.host}\r\n\r\n`);
    const onData = (d: Buffer) => {
      socket.off('close', onClose);
      resolve(d.toString('latin1').split('\r\n')[0] ?? '');
    };
    const onClose = () => {
      socket.off('data', onData);
      reject(new Error('closed'));
    };
    socket.once('data', onData);
    socket.once('close', onClose);
  });
  await once(socket, 'secureConnect');
  return { socket, closed, get: (p = pathname) => get(p) };
}

/** Whether a fresh handshake with `svid` is refused (the server closes it without answering). */
async function refused(url: string, svid: IssuedSvid, bundlePem: string, pathname: string): Promise<boolean> {
  try {
    const c = await open(url, svid, bundlePem, pathname);
    try {
      await c.get(pathname);
      return false;
    } catch {
      return true;
    } finally {
      c.socket.destroy();
    }
  } catch {
    return true;
  }
}

async function records(stateDir: string, type: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const r of readAuditRecords({ stateDir })) if (r.type === type) out.push(r);
  return out;
}

test('GIVEN the running swarm and a copy of industrial-1\'s SVID calling its peers WHEN the identity is revoked through the API THEN every peer closes its connections and refuses it (audited with serial and SPIFFE ID), the agent\'s OPC UA session is dropped and stays refused, and it is issued no new SVID', { timeout: 240_000 }, async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-revocation-rt-'));
  let rt: Runtime | undefined;
  try {
    rt = await startRuntime({ stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
    const r = rt;
    const td = r.config.topology.trust_domain;
    const industrial = r.config.agents.find((a) => a.kind === 'industrial')!;
    const spiffeId = agentSpiffeId(td, industrial.zone, industrial.name);
    await waitUntil('every agent ACTIVE', () => r.supervisor.agents().every((a) => a.state === 'ACTIVE'), 120_000, 200);
    const withEndpoint = r.config.agents.map((a) => a.name);
    await waitUntil('every agent\'s A2A endpoint', () => withEndpoint.every((n) => r.supervisor.a2aEndpoints()[n] !== undefined), 60_000, 100);
    await waitUntil('the industrial agent\'s OPC UA session', async () => ((await r.metrics.opcuaSessions.get()).values[0]?.value ?? 0) >= 1, 60_000, 100);
    // The snapshot flow (industrial -> cognitive over A2A) is running: the real agent holds an open connection.
    await waitUntil('an A2A call of the industrial agent', async () => (await records(stateDir, 'trust.tls_established')).some((x) => x.subject === spiffeId), 60_000, 200);

    const ca = await ensureCa(stateDir, td);
    const stolen = await issueSvid(ca, { zone: industrial.zone, agent: industrial.name });
    const mtlsApi = `https://127.0.0.1:${r.apiMtlsPort}`;
    const points: { name: string; url: string; path: string }[] = [
      ...Object.entries(r.supervisor.a2aEndpoints()).map(([name, url]) => ({ name, url, path: '/.well-known/agent-card.json' })),
      { name: 'api', url: mtlsApi, path: '/v1/agents' },
    ];
    // Open connections that are calling: each answers before the revocation.
    const conns = await Promise.all(points.map(async (p) => {
      const c = await open(p.url, stolen, ca.bundlePem, p.path).catch(async (err: Error) => {
        const why = (await records(stateDir, 'trust.tls_refused')).map((x) => `${String(x.agent ?? 'api')}: ${String(x.code)} ${String(x.reason)}`);
        throw new Error(`${p.name} refused the identity before its revocation (${err.message}): ${why.join('; ')}`);
      });
      // 200, or 403 where the zone policy forbids the call (data-1 in the DMZ): either way the TLS layer accepted it.
      assert.match(await c.get(p.path), /^HTTP\/1\.1 (200|403)/, `${p.name} answers the identity before its revocation`);
      return c;
    }));
    let calls = 0;
    const calling = (async () => {
      for (;;) {
        const results = await Promise.allSettled(conns.map((c, i) => c.get(points[i]!.path)));
        if (results.some((x) => x.status === 'rejected')) return;
        calls += 1;
        await new Promise((res) => setTimeout(res, 20));
      }
    })();

    const revokedAt = Date.now();
    const res = await fetch(`http://127.0.0.1:${r.apiPort}/v1/trust/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${r.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target: spiffeId, reason: 'compromised pod' }),
    });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { kind: 'spiffe_id', serial: null, spiffe_id: spiffeId, revoked: true });
    await Promise.all(conns.map((c) => c.closed));
    await calling;
    assert.ok(calls >= 1, 'the copy was calling its peers when it was revoked');
    const closedWithin = Date.now() - revokedAt;
    assert.ok(closedWithin < 5000, `every open connection closed within ${closedWithin} ms`);

    // Every peer refuses a new handshake, and audits it with the serial and the SPIFFE ID.
    for (const p of points) assert.equal(await refused(p.url, stolen, ca.bundlePem, p.path), true, `${p.name} refuses the revoked identity`);
    await waitUntil('a refusal audited at every point', async () => {
      const refusals = (await records(stateDir, 'trust.tls_refused')).filter((x) => x.code === 'GLM_ERR_CERT_REVOKED' && x.serial === stolen.serial && x.peer === spiffeId);
      return points.every((p) => refusals.some((x) => (p.name === 'api' ? x.agent === undefined : x.agent === p.name)));
    }, 20_000, 200);
    assert.equal((await records(stateDir, 'trust.svid_revoked')).find((x) => x.peer === spiffeId)?.by, 'admin');
    // Each agent applied the feed; the real industrial agent's own connection to a peer was among those closed.
    await waitUntil('the revocation applied in every agent', async () => {
      const applied = await records(stateDir, 'trust.revocation_applied');
      return r.config.agents.every((a) => applied.some((x) => x.agent === a.name && x.point === a.name && x.peer === spiffeId));
    }, 20_000, 200);
    const applied = await records(stateDir, 'trust.revocation_applied');
    // At the real industrial agent: the copy's connection to its endpoint, and its own pooled connection to a peer.
    const atAgent = applied.find((x) => x.point === industrial.name && x.peer === spiffeId);
    assert.ok(Number(atAgent?.connections_closed) >= 2, `connections closed at ${industrial.name}: ${String(atAgent?.connections_closed)}`);
    const revokedRecord = (await records(stateDir, 'trust.svid_revoked')).find((x) => x.peer === spiffeId);
    assert.ok(Number(revokedRecord?.connections_closed) >= 1, 'the mTLS API closed the copy\'s connection');

    // OPC UA: the agent's session is dropped, its certificate rejected, and it stays out.
    const opcua = applied.find((x) => x.point === 'opcua' && x.peer === spiffeId);
    assert.ok(opcua, 'the OPC UA gate applied the revocation');
    await waitUntil('the OPC UA session dropped', async () => ((await r.metrics.opcuaSessions.get()).values[0]?.value ?? 0) === 0, 10_000, 100);
    await new Promise((res) => setTimeout(res, 3000));
    assert.equal((await r.metrics.opcuaSessions.get()).values[0]?.value ?? 0, 0, 'the revoked agent did not get back in');

    // The CA issues a revoked identity nothing: the agent killed and restarted by its supervisor is refused.
    const [pid] = agentProcesses(process.pid, industrial.kind);
    assert.ok(pid !== undefined, 'the industrial agent process');
    process.kill(pid, 'SIGKILL');
    await waitUntil('the restart refused', () => r.supervisor.agents().find((a) => a.id === industrial.name)?.last_error?.code === 'GLM_ERR_CERT_REVOKED', 30_000, 100);
    assert.equal(r.supervisor.agents().find((a) => a.id === industrial.name)?.state, 'TERMINATED');
    const status = await fetch(`http://127.0.0.1:${r.apiPort}/v1/trust/revocations?decoded=1`, { headers: { authorization: `Bearer ${r.adminToken}` } });
    const list = (await status.json()) as { authority: boolean; stale: boolean; entries: { spiffe_ids: { spiffe_id: string }[] } };
    assert.equal(list.authority, true);
    assert.equal(list.stale, false);
    assert.deepEqual(list.entries.spiffe_ids.map((e) => e.spiffe_id), [spiffeId]);
    // Revoking it again changes nothing (200, revoked false).
    const again = await fetch(`http://127.0.0.1:${r.apiPort}/v1/trust/revoke`, { method: 'POST', headers: { authorization: `Bearer ${r.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: spiffeId }) });
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { revoked: boolean }).revoked, false);
  } finally {
    await rt?.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

test('GIVEN the running swarm WHEN the industrial agent\'s current SVID serial is revoked THEN its OPC UA session is dropped, the agent is re-issued a fresh SVID at once, and its OPC UA certificate is trusted again so it reconnects', { timeout: 240_000 }, async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-revocation-serial-'));
  let rt: Runtime | undefined;
  try {
    rt = await startRuntime({ stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
    const r = rt;
    const industrial = r.config.agents.find((a) => a.kind === 'industrial')!;
    const sessions = async () => (await r.metrics.opcuaSessions.get()).values[0]?.value ?? 0;
    await waitUntil('every agent ACTIVE', () => r.supervisor.agents().every((a) => a.state === 'ACTIVE'), 120_000, 200);
    await waitUntil('the industrial agent\'s OPC UA session', async () => (await sessions()) >= 1, 60_000, 100);
    const issued = await records(stateDir, 'trust.svid_issued');
    const current = issued.filter((x) => x.agent === industrial.name).at(-1);
    assert.ok(current, 'the SVID issued to the industrial agent is audited with its serial');
    const serial = String(current.serial);

    const res = await fetch(`http://127.0.0.1:${r.apiPort}/v1/trust/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${r.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target: serial, reason: 'key compromise' }),
    });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { kind: 'serial', serial, spiffe_id: current.peer, revoked: true });
    await waitUntil('the OPC UA gate applied', async () => (await records(stateDir, 'trust.revocation_applied')).some((x) => x.point === 'opcua' && x.serial === serial && x.peer === current.peer && Number(x.connections_closed) >= 1), 20_000, 100);
    // A fresh SVID, issued at once (not at half-life), and the agent back on the plant server under it.
    await waitUntil('a fresh SVID for the agent', async () => (await records(stateDir, 'trust.svid_issued')).filter((x) => x.agent === industrial.name).length >= 2, 30_000, 100);
    const fresh = (await records(stateDir, 'trust.svid_issued')).filter((x) => x.agent === industrial.name).at(-1);
    assert.notEqual(fresh?.serial, serial);
    await waitUntil('the OPC UA certificate trusted again', async () => (await records(stateDir, 'opcua.certificate.trust')).some((x) => x.by === 'revocation'), 30_000, 100);
    await waitUntil('the agent back on the OPC UA server', async () => (await sessions()) >= 1, 60_000, 200);
    assert.equal(r.supervisor.agents().find((a) => a.id === industrial.name)?.state, 'ACTIVE');
  } finally {
    await rt?.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});
