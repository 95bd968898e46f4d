/**
 * revocation: how long a revocation takes to reach every enforcement point of the real runtime (embedded default:
 * real agent processes, the supervisor's signed feed over IPC, TLS 1.3 everywhere).
 * - revocation_propagation_p99_ms: from `POST /v1/trust/revoke` of a certificate serial to the last enforcement point
 *   refusing it, over at least 20 revocations. The points are every agent's A2A endpoint and the mTLS API; each holds
 *   an open keep-alive connection of the certificate, which the point closes the moment the entry is in its list (new
 *   handshakes are refused from then on: checked with one fresh handshake per point after each revocation, untimed).
 *   The certificates are issued here for industrial-1's identity, one per revocation; the plant OPC UA server's gate
 *   acts on identities the runtime issued itself (test/trust/revocation-runtime.test.ts), so it is not in this figure.
 *   Target <= 2,000 ms.
 * - Baseline (same run): p99 of one A2A SendMessage round trip to cognitive-1 over mTLS (policy decision, JSON-RPC,
 *   a task the peer rejects as an unknown skill, so the bench feeds the agent nothing), keep-alive.
 * Runs under tsx (not bundled), like the other runtime-level scenarios; the 1-minute load average is in detail.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { startRuntime } from '../../runtime/app';
import { silentLogger } from '../../runtime/observability/logger';
import { createA2aClient } from '../../runtime/trust/a2a/client';
import { discardAudit } from '../../runtime/trust/audit';
import { ensureCa, type Ca } from '../../runtime/trust/ca';
import { fixedIdentity } from '../../runtime/trust/rotation';
import { issueSvid, type IssuedSvid } from '../../runtime/trust/svid';
import { round, summarize, type Metric } from '../lib/report';
import type { Scenario } from '../lib/scenario';

const MIN_REVOCATIONS = 20;
const A2A_CALLS_PER_ROUND = 20;
/** A point that has not refused after this long counts as this long (and the run says so). */
const GIVE_UP_MS = 10_000;

interface Point {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly path: string;
}

/** A keep-alive connection with `svid` that has had one answer; `closed` resolves with the time it was closed. */
async function hold(point: Point, svid: IssuedSvid, ca: Ca): Promise<{ closed: Promise<number>; socket: tls.TLSSocket }> {
  const socket = tls.connect({ host: point.host, port: point.port, cert: svid.certPem, key: svid.keyPem, ca: ca.bundlePem, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => {
      socket.write(`GET ${point.path} HTTP/1.1\r\nhost: ${point.host}\r\n\r\n`);
      socket.once('data', () => resolve());
    });
    socket.once('close', () => reject(new Error(`${point.name} closed the connection before the revocation`)));
  });
  return { closed, socket };
}

/** Whether a fresh handshake with `svid` gets no HTTP answer (the point refused the certificate). */
function refuses(point: Point, svid: IssuedSvid, ca: Ca): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: point.host, port: point.port, cert: svid.certPem, key: svid.keyPem, ca: ca.bundlePem, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
    socket.on('error', () => undefined);
    socket.once('secureConnect', () => socket.write(`GET ${point.path} HTTP/1.1\r\nhost: ${point.host}\r\n\r\n`));
    socket.once('data', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('close', () => resolve(true));
  });
}

const scenario: Scenario = {
  description: 'revocation propagation from POST /v1/trust/revoke to the last enforcement point refusing, vs one A2A call',
  async run(ctx) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-bench-revocation-'));
    const loadAtStart = os.loadavg()[0] ?? 0;
    const rt = await startRuntime({ stateDir: path.join(dir, 'state'), apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
    const a2a: ReturnType<typeof createA2aClient>[] = [];
    try {
      const deadline = Date.now() + 120_000;
      const names = rt.config.agents.map((a) => a.name);
      while (!names.every((n) => rt.supervisor.a2aEndpoints()[n] !== undefined) || !rt.supervisor.agents().every((a) => a.state === 'ACTIVE')) {
        if (Date.now() > deadline) throw new Error(`agents not ACTIVE with their A2A endpoints: ${JSON.stringify(rt.supervisor.agents().map((a) => [a.id, a.state]))}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const td = rt.config.topology.trust_domain;
      const ca = await ensureCa(rt.stateDir, td);
      const industrial = rt.config.agents.find((a) => a.kind === 'industrial');
      const cognitive = rt.config.agents.find((a) => a.kind === 'cognitive');
      if (!industrial || !cognitive) throw new Error('the configuration needs an industrial and a cognitive agent');
      const points: Point[] = [
        ...Object.entries(rt.supervisor.a2aEndpoints()).map(([name, url]) => ({ name, host: new URL(url).hostname, port: Number(new URL(url).port), path: '/.well-known/agent-card.json' })),
        { name: 'api', host: '127.0.0.1', port: rt.apiMtlsPort, path: '/v1/agents' },
      ];

      // Baseline: an A2A caller with a certificate that is never revoked.
      const caller = await issueSvid(ca, { zone: industrial.zone, agent: industrial.name });
      const client = createA2aClient({ identity: fixedIdentity(caller, { bundlePem: ca.bundlePem, trustDomain: td }), audit: discardAudit });
      a2a.push(client);
      const peer = await client.connect(rt.supervisor.a2aEndpoints()[cognitive.name] as string, { agent: cognitive.name });
      const a2aCall = async () => {
        const r = await peer.call('bench.noop', '');
        if (r.state !== 'rejected') throw new Error(`the A2A call answered ${r.state}`);
      };
      for (let i = 0; i < 50; i++) await a2aCall();

      const propagation: number[] = [];
      const perPoint = new Map<string, number[]>(points.map((p) => [p.name, []]));
      const calls: number[] = [];
      let notRefused = 0;
      const end = Date.now() + ctx.durationS * 1000;
      for (let round_ = 0; propagation.length < MIN_REVOCATIONS || Date.now() < end; round_++) {
        const svid = await issueSvid(ca, { zone: industrial.zone, agent: industrial.name });
        const held = await Promise.all(points.map((p) => hold(p, svid, ca)));
        const t0 = performance.now();
        const res = await fetch(`http://127.0.0.1:${rt.apiPort}/v1/trust/revoke`, {
          method: 'POST',
          headers: { authorization: `Bearer ${rt.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ target: svid.serial, reason: 'benchmark' }),
        });
        if (res.status !== 201) throw new Error(`revoke answered ${res.status}: ${await res.text()}`);
        const closedAt = await Promise.all(held.map((h) => Promise.race([h.closed, new Promise<number>((r) => setTimeout(() => r(t0 + GIVE_UP_MS), GIVE_UP_MS))])));
        held.forEach((h) => h.socket.destroy());
        closedAt.forEach((at, i) => perPoint.get(points[i]!.name)!.push(at - t0));
        propagation.push(Math.max(...closedAt) - t0);
        // Closed means refusing: a fresh handshake at every point must now get no answer.
        const checks = await Promise.all(points.map((p) => refuses(p, svid, ca)));
        notRefused += checks.filter((ok) => !ok).length;
        for (let i = 0; i < A2A_CALLS_PER_ROUND; i++) {
          const c0 = performance.now();
          await a2aCall();
          calls.push(performance.now() - c0);
        }
        const total = Math.max(MIN_REVOCATIONS, 1);
        ctx.progress(Math.min(0.99, Math.max(propagation.length / total, 1 - (end - Date.now()) / (ctx.durationS * 1000))), `${propagation.length} revocations`);
      }
      ctx.progress(1, 'done');
      const p = summarize(propagation);
      const c = summarize(calls);
      const detail: Record<string, number | string> = {
        target: 'p99 <= 2000 ms over >= 20 revocations',
        p50_ms: round(p.p50), max_ms: round(Math.max(...propagation)), revocations: p.n,
        enforcement_points: points.map((x) => x.name).join(','),
        fresh_handshakes_not_refused: notRefused,
        baseline_p50_ms: round(c.p50), baseline_calls: c.n,
        load_average_1m_start: round(loadAtStart, 1), load_average_1m: round(os.loadavg()[0] ?? 0, 1), cpus: os.cpus().length,
      };
      for (const [name, samples] of perPoint) detail[`p99_ms_${name}`] = round(summarize(samples).p99);
      const metrics: Record<string, Metric> = {
        revocation_propagation_p99_ms: {
          value: round(p.p99), unit: 'ms', baseline: round(c.p99),
          baseline_what: 'p99 of one A2A SendMessage round trip to cognitive-1 over mTLS (policy decision, JSON-RPC, rejected task), keep-alive, same run',
          detail,
        },
      };
      return metrics;
    } finally {
      for (const c of a2a) c.close();
      await rt.stop('benchmark');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default scenario;
