/**
 * mcp: latency of the MCP server's tool calls on the real runtime (embedded plant, gateway, PDP, audit log), from the
 * SDK's own client over streamable HTTP on loopback, one call at a time, each call a fresh stateless server on the
 * server side. Tokens come from an issuer run here (ES256, jose); every call validates its JWT (signature once per
 * token, then exp and the issuer's current key on every call: runtime/api/mcp/token.ts).
 * - mcp_read_call_p99_ms: `read_plant` (token validation, rate limit, schema check, one Cedar decision, the process
 *   image, the audit record handed to the log). Target <= 5 ms.
 * - mcp_write_decision_p99_ms: `request_write` of a setpoint up to its decision (Cedar requestWrite, the composed write
 *   decision of the gateway, writeWithoutApproval, queued for approval) including its durable audit record (fsync);
 *   the human approval is excluded. Target <= 20 ms.
 * - Baseline (same run, calls interleaved with the measured ones): the same plant read through the REST API,
 *   `GET /v1/plant` with the admin token, keep-alive.
 * Runs under tsx (not bundled), like the other runtime-level scenarios; the 1-minute load average is in detail, with
 * the garbage-collection pauses of each phase and the process CPU per iteration (less sensitive to a loaded machine
 * than the tail: on 2 shared cores the tail mostly measures the other processes).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startRuntime } from '../../runtime/app';
import { REPO_ROOT } from '../../runtime/config/load';
import { silentLogger } from '../../runtime/observability/logger';
import { TestIssuer } from '../../test/helpers/oauth-issuer';
import { round, summarize, type Metric } from '../lib/report';
import type { Scenario } from '../lib/scenario';

const RESOURCE = 'https://plant.glimmer.bench/mcp';
const WARMUP = 100;

const scenario: Scenario = {
  description: 'MCP tool calls (read, write request to decision) over streamable HTTP vs the same read over REST',
  async run(ctx) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-bench-mcp-'));
    const issuer = await TestIssuer.start();
    for (const f of fs.readdirSync(path.join(REPO_ROOT, 'config'))) if (f.endsWith('.yml')) fs.copyFileSync(path.join(REPO_ROOT, 'config', f), path.join(dir, f));
    const configFile = path.join(dir, 'glimmer.yml');
    fs.appendFileSync(configFile, `\nmcp:\n  resource: ${RESOURCE}\n  max_calls_per_minute: 100000\n  max_pending_writes: 1024\n  issuers:\n    - { issuer: "${issuer.issuer}", jwks_uri: "${issuer.jwksUri}" }\n`);
    const loadAtStart = os.loadavg()[0] ?? 0;
    const rt = await startRuntime({ configFile, stateDir: path.join(dir, 'state'), apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
    const client = new Client({ name: 'glimmer-bench', version: '1.0.0' });
    try {
      const base = `http://127.0.0.1:${rt.apiPort}`;
      const token = await issuer.token({ sub: 'bench', scope: 'plant.read plant.write.request', expiresIn: 3600 }, RESOURCE);
      await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      const admin = { authorization: `Bearer ${rt.adminToken}` };
      const timed = async (fn: () => Promise<void>, into: number[], i: number) => {
        const t0 = performance.now();
        await fn();
        if (i >= WARMUP) into.push(performance.now() - t0);
      };
      const mcpRead = async () => {
        const r = (await client.callTool({ name: 'read_plant', arguments: { assets: ['pump_1', 'tank_1'] } })) as CallToolResult;
        if (r.isError) throw new Error(`read_plant failed: ${JSON.stringify(r.content)}`);
      };
      let v = 0;
      const mcpWrite = async () => {
        v = (v + 1) % 50;
        const r = (await client.callTool({ name: 'request_write', arguments: { signal: 'pump_1.speed_setpoint_pct', value: 40 + v, reason: 'bench' } })) as CallToolResult;
        if (r.isError || (r.structuredContent as { status?: string }).status !== 'pending_approval') throw new Error(`request_write not queued: ${JSON.stringify(r.content)}`);
      };
      const restRead = async () => {
        const r = await fetch(`${base}/v1/plant`, { headers: admin });
        if (r.status !== 200) throw new Error(`GET /v1/plant: ${r.status}`);
        await r.arrayBuffer();
      };
      const gcs: { at: number; ms: number }[] = [];
      const observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) gcs.push({ at: e.startTime, ms: e.duration });
      });
      observer.observe({ entryTypes: ['gc'] });
      const phase = async (measured: () => Promise<void>, samples: number[], rest: number[], seconds: number, from: number, label: string) => {
        const start = performance.now();
        const end = start + seconds * 1000;
        const cpu = process.cpuUsage();
        let i = 0;
        for (; performance.now() < end; i++) {
          await timed(measured, samples, i);
          await timed(restRead, rest, i);
          if (i % 200 === 0) ctx.progress(from + (0.5 * (seconds * 1000 - (end - performance.now()))) / (seconds * 1000), label);
        }
        const used = process.cpuUsage(cpu);
        const pauses = gcs.filter((g) => g.at >= start && g.at < performance.now()).map((g) => g.ms);
        return {
          process_cpu_ms_per_iteration: round((used.user + used.system) / 1000 / Math.max(1, i), 3),
          gc_pauses: pauses.length, gc_pause_max_ms: round(Math.max(0, ...pauses)), gc_pause_total_ms: round(pauses.reduce((a, b) => a + b, 0)),
        };
      };
      const reads: number[] = [];
      const restA: number[] = [];
      const writes: number[] = [];
      const restB: number[] = [];
      const readPhase = await phase(mcpRead, reads, restA, ctx.durationS / 2, 0, 'read_plant vs GET /v1/plant');
      const writePhase = await phase(mcpWrite, writes, restB, ctx.durationS / 2, 0.5, 'request_write vs GET /v1/plant');
      observer.disconnect();
      ctx.progress(1, 'done');
      const r = summarize(reads);
      const a = summarize(restA);
      const w = summarize(writes);
      const b = summarize(restB);
      const load = { load_average_1m_start: round(loadAtStart, 1), load_average_1m: round(os.loadavg()[0] ?? 0, 1), cpus: os.cpus().length };
      const metrics: Record<string, Metric> = {
        mcp_read_call_p99_ms: {
          value: round(r.p99), unit: 'ms', baseline: round(a.p99),
          baseline_what: 'p99 of GET /v1/plant (the same read over the REST API, admin token, keep-alive), interleaved with the MCP calls, same run',
          detail: { target: 'p99 <= 5 ms', p50_ms: round(r.p50), calls: r.n, baseline_p50_ms: round(a.p50), baseline_calls: a.n, ...load, ...readPhase },
        },
        mcp_write_decision_p99_ms: {
          value: round(w.p99), unit: 'ms', baseline: round(b.p99),
          baseline_what: 'p99 of GET /v1/plant (REST read), interleaved with the write requests, same run',
          detail: { target: 'p99 <= 20 ms (request to decision; the human approval excluded)', p50_ms: round(w.p50), calls: w.n, baseline_p50_ms: round(b.p50), baseline_calls: b.n, ...load, ...writePhase },
        },
      };
      return metrics;
    } finally {
      await client.close().catch(() => undefined);
      await rt.stop('benchmark');
      await issuer.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default scenario;
