/**
 * threat_analysis: the Modbus gateway's inspection pipeline and the gateway end to end.
 *
 * - threat_analysis_tps: ADUs inspected + decided + audited per second by the gateway's own pipeline (ClientSession.feed
 *   -> Inspector.inspect -> read policy (the Cedar PDP's register-read, answers cached per range) or write decision ->
 *   batched audit sink -> metrics), 64 clients each pipelining chunks of 32 ADUs (mostly reads, some writes, some
 *   refusals; the operations zone's reads of the safety PLC are refused by the read policy). Baseline, same run: a
 *   bare framing loop over the same bytes.
 * - gateway_e2e_tps: requests answered per second through real TCP on loopback: 16 clients pipelining 8 deep ->
 *   gateway -> modbus-serial upstream -> simulated PLC. Baseline: the same clients straight to the PLC.
 * - gateway_added_latency_p99_ms: p99 of one-at-a-time read latency through the gateway (zone rules and the Cedar read
 *   policy) minus the p99 straight to the PLC, measured in alternating rounds in the same run. Baseline: the direct
 *   p99; the detail also has the same reads through a gateway with the zone rules only.
 * - gateway_write_added_latency_p99_ms: the same for one-at-a-time allowed writes through a gateway with write-ahead
 *   audit (the decision record durable in a real audit log before the write is forwarded). Baseline: the same writes
 *   through the gateway with the record batched afterwards (no write-ahead).
 * Everything runs in this one process (clients, gateway, PLC) on a shared 2-core machine.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Scenario } from '../lib/scenario';
import { percentile, round, type Metric } from '../lib/report';
import { createMetrics } from '../../runtime/observability/metrics';
import { adu, checkFrame, FRAME, frameLength, requestPdu } from '../../runtime/industrial/modbus/frame';
import { type ClientSession, type GatewayAuditRecord, Inspector, type SessionHooks } from '../../runtime/industrial/modbus/inspector';
import { failSafeOnly } from '../../runtime/industrial/write-decision';
import { compileRules, defaultZoneRules } from '../../runtime/industrial/modbus/rules';
import { ModbusGateway } from '../../runtime/industrial/modbus/gateway';
import { ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import { startSimulatedPlc } from '../../runtime/industrial/plant/plc-modbus';
import { loadConfig } from '../../runtime/config/load';
import { openAuditLog } from '../../runtime/audit/log';
import { fileSigner } from '../../runtime/audit/signers';
import type { ReadPolicy } from '../../runtime/industrial/read-decision';
import { plantMap } from '../../runtime/model/plant-map';
import { createFrameDecider, gatewayReadPolicy } from '../../runtime/trust/policy/frame-decider';
import { PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';

const CLIENTS = 64;
const FRAMES_PER_CHUNK = 32;

/** A realistic mix: 80 % reads of both units, 10 % process writes, 10 % refused (safety writes, bad addresses). */
function buildChunks(seed: number): Buffer[] {
  let x = seed >>> 0;
  const rnd = () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 4294967296; };
  const chunks: Buffer[] = [];
  for (let c = 0; c < 256; c++) {
    const frames: Buffer[] = [];
    for (let i = 0; i < FRAMES_PER_CHUNK; i++) {
      const tid = (c * FRAMES_PER_CHUNK + i) & 0xffff;
      const r = rnd();
      let unit = 1; let pdu: Buffer;
      if (r < 0.5) pdu = requestPdu.read(4, Math.floor(rnd() * 8), 8);
      else if (r < 0.65) pdu = requestPdu.read(1, 0, 4);
      else if (r < 0.8) { unit = 2; pdu = requestPdu.read(2, 0, 1); }
      else if (r < 0.9) pdu = requestPdu.writeRegister(Math.floor(rnd() * 2), Math.floor(rnd() * 1000));
      else if (r < 0.95) { unit = 2; pdu = requestPdu.writeCoil(1, true); }
      else pdu = requestPdu.read(3, 100, 10);
      frames.push(adu(tid, unit, pdu));
    }
    chunks.push(Buffer.concat(frames));
  }
  return chunks;
}

function pipeline(durationMs: number, zone: string, rules: ReturnType<typeof compileRules>, readPolicy: ReadPolicy): { perSecond: number; frames: number; audited: number } {
  let audited = 0;
  const sink = (batch: GatewayAuditRecord[]) => { audited += batch.length; };
  const inspector = new Inspector({ rules, decide: failSafeOnly, readPolicy, audit: sink, metrics: createMetrics() });
  let frames = 0;
  const hooks: SessionHooks = {
    forward: (s: ClientSession) => { frames++; s.settled(0, hooks); },
    reply: () => { frames++; },
    close: () => undefined, pause: () => undefined, resume: () => undefined,
  };
  const chunks = buildChunks(7);
  const now0 = Date.now();
  const sessions = Array.from({ length: CLIENTS }, () => inspector.session(zone, now0));
  const t0 = performance.now();
  let k = 0;
  while (performance.now() - t0 < durationMs) {
    const now = Date.now();
    for (let i = 0; i < 64; i++, k++) (sessions[k % CLIENTS] as ClientSession).feed(chunks[k & 255] as Buffer, now, hooks);
  }
  inspector.audit.flush();
  const s = (performance.now() - t0) / 1000;
  return { perSecond: frames / s, frames, audited };
}

function bareFraming(durationMs: number): number {
  const chunks = buildChunks(7);
  let frames = 0;
  const t0 = performance.now();
  let k = 0;
  while (performance.now() - t0 < durationMs) {
    for (let i = 0; i < 64; i++, k++) {
      const buf = chunks[k & 255] as Buffer;
      let off = 0;
      while (checkFrame(buf, off, buf.length) === FRAME.OK) { off += frameLength(buf, off); frames++; }
    }
  }
  return frames / ((performance.now() - t0) / 1000);
}

async function throughput(port: number, durationMs: number): Promise<number> {
  const clients = await Promise.all(Array.from({ length: 16 }, async () => { const c = new ModbusTcpClient('127.0.0.1', port, 5000); await c.connect(); return c; }));
  let done = 0;
  const until = performance.now() + durationMs;
  const t0 = performance.now();
  await Promise.all(clients.flatMap((c) => Array.from({ length: 8 }, async () => {
    while (performance.now() < until) { await c.readInputRegisters(1, 0, 8); done++; }
  })));
  const s = (performance.now() - t0) / 1000;
  for (const c of clients) c.close();
  return done / s;
}

/** One-at-a-time writes of pump 2's speed setpoint (an allowed process write from the operations zone). */
async function writeLatencies(port: number, n: number, into: number[]): Promise<void> {
  const c = new ModbusTcpClient('127.0.0.1', port, 5000);
  await c.connect();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await c.writeRegister(1, 1, 300 + (i % 500));
    if (r.exception !== 0) throw new Error(`write refused with exception ${r.exception}`);
    into.push(performance.now() - t);
  }
  c.close();
}

async function latencies(port: number, n: number, into: number[]): Promise<void> {
  const c = new ModbusTcpClient('127.0.0.1', port, 5000);
  await c.connect();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await c.readInputRegisters(1, 0, 8);
    into.push(performance.now() - t);
  }
  c.close();
}

const scenario: Scenario = {
  description: 'Modbus gateway: inspection pipeline throughput, end-to-end throughput and added latency over loopback TCP',
  async run(ctx) {
    const total = Math.max(6, ctx.durationS) * 1000;
    const config = loadConfig();
    const rules = compileRules(defaultZoneRules(config));
    // The runtime's read policy: the Cedar PDP over rules/policies through the frame cache.
    const pdp = await PolicyDecisionPoint.create({ model: { trustDomain: config.topology.trust_domain, zones: config.zones, conduits: config.conduits, agents: config.agents, topology: config.topology }, audit: () => undefined });
    const readPolicy = gatewayReadPolicy(createFrameDecider(pdp, { plantMap: plantMap() }), config.topology.trust_domain);

    // 1. the pipeline (40 % of the time), with its bare-framing baseline interleaved in rounds.
    const rounds = 4;
    const pipeRates: number[] = []; const bareRates: number[] = [];
    let frames = 0; let audited = 0;
    for (let r = 0; r < rounds; r++) {
      const p = pipeline((total * 0.3) / rounds, 'operations', rules, readPolicy);
      pipeRates.push(p.perSecond); frames += p.frames; audited += p.audited;
      bareRates.push(bareFraming((total * 0.1) / rounds));
      ctx.progress(((r + 1) / rounds) * 0.4, 'pipeline');
    }

    // 2. end to end over loopback.
    const plant = new PlantRuntime({ seed: config.plant.seed, tickMs: config.plant.tickMs });
    plant.start();
    const plc = await startSimulatedPlc({ plant });
    const gateway = new ModbusGateway({
      listeners: [{ zone: 'operations', port: 0 }], rules, decide: failSafeOnly, readPolicy, audit: () => undefined, metrics: createMetrics(),
      routes: [{ unitId: 1, host: '127.0.0.1', port: plc.port }, { unitId: 2, host: '127.0.0.1', port: plc.port }],
      limits: { ratePerSecond: 1e9, burst: 1e9 },
    });
    const ports = await gateway.start();
    await gateway.ready(5000);
    const gwPort = ports.operations as number;
    // The same gateway without the read policy (zone rules only): what the policy adds to a read.
    const zoneOnly = new ModbusGateway({
      listeners: [{ zone: 'operations', port: 0 }], rules, decide: failSafeOnly, audit: () => undefined, metrics: createMetrics(),
      routes: [{ unitId: 1, host: '127.0.0.1', port: plc.port }, { unitId: 2, host: '127.0.0.1', port: plc.port }],
      limits: { ratePerSecond: 1e9, burst: 1e9 },
    });
    const zoneOnlyPort = (await zoneOnly.start()).operations as number;
    await zoneOnly.ready(5000);
    const gwTps = await throughput(gwPort, total * 0.15);
    ctx.progress(0.55, 'e2e via gateway');
    const directTps = await throughput(plc.port, total * 0.1);
    ctx.progress(0.65, 'e2e direct');

    // 3. added latency: alternate direct and gateway rounds so load drift hits both alike.
    const viaGw: number[] = []; const direct: number[] = []; const viaZoneOnly: number[] = [];
    const latRounds = 10;
    const budgetMs = total * 0.35;
    const t0 = performance.now();
    for (let r = 0; r < latRounds && performance.now() - t0 < budgetMs; r++) {
      await latencies(plc.port, 500, direct);
      await latencies(gwPort, 500, viaGw);
      await latencies(zoneOnlyPort, 500, viaZoneOnly);
      ctx.progress(0.65 + 0.35 * ((r + 1) / latRounds), 'latency');
    }
    // 4. writes: through the gateway as before (record batched) and through a gateway with write-ahead audit (record
    // durable in a real audit log, fsync included, before the write is forwarded), against the same writes direct.
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-bench-wal-'));
    const audit = await openAuditLog({ stateDir, signer: fileSigner({ keyFile: path.join(stateDir, 'k.pem'), keyName: 'bench.local/audit' }) });
    const walGateway = new ModbusGateway({
      listeners: [{ zone: 'operations', port: 0 }], rules, decide: failSafeOnly, audit: () => undefined, metrics: createMetrics(),
      evidence: { committing: () => audit.health().committing, commit: (r) => audit.append(r, { urgent: true }) },
      routes: [{ unitId: 1, host: '127.0.0.1', port: plc.port }, { unitId: 2, host: '127.0.0.1', port: plc.port }],
      limits: { ratePerSecond: 1e9, burst: 1e9 },
    });
    const walPort = (await walGateway.start()).operations as number;
    await walGateway.ready(5000);
    const wDirect: number[] = []; const wBatched: number[] = []; const wAhead: number[] = [];
    for (let r = 0; r < 3; r++) {
      await writeLatencies(plc.port, 200, wDirect);
      await writeLatencies(gwPort, 200, wBatched);
      await writeLatencies(walPort, 200, wAhead);
    }
    await walGateway.stop(); await audit.close(); fs.rmSync(stateDir, { recursive: true, force: true });
    await zoneOnly.stop(); await gateway.stop(); await plc.close(); plant.stop();

    const pipeMedian = percentile(pipeRates, 0.5);
    const p99Gw = percentile(viaGw, 0.99); const p99Direct = percentile(direct, 0.99);
    const metrics: Record<string, Metric> = {
      threat_analysis_tps: {
        value: round(pipeMedian, 0), unit: 'ADU/s', baseline: round(percentile(bareRates, 0.5), 0),
        baseline_what: 'bare MBAP framing loop over the same bytes (no decode, decision, audit), same run',
        detail: { rounds, min_round: round(Math.min(...pipeRates), 0), max_round: round(Math.max(...pipeRates), 0), frames, audit_records: audited, clients: CLIENTS, frames_per_chunk: FRAMES_PER_CHUNK, target: '>= 280000' },
      },
      gateway_e2e_tps: {
        value: round(gwTps, 0), unit: 'req/s', baseline: round(directTps, 0),
        baseline_what: 'the same 16 clients x 8 in flight straight to the simulated PLC, same run',
        detail: { clients: 16, depth: 8 },
      },
      gateway_added_latency_p99_ms: {
        value: round(p99Gw - p99Direct, 3), unit: 'ms', baseline: round(p99Direct, 3),
        baseline_what: 'p99 of one-at-a-time reads straight to the simulated PLC, alternating rounds, same run',
        detail: {
          p50_gateway_ms: round(percentile(viaGw, 0.5), 3), p99_gateway_ms: round(p99Gw, 3), p50_direct_ms: round(percentile(direct, 0.5), 3),
          p99_gateway_zone_rules_only_ms: round(percentile(viaZoneOnly, 0.99), 3), read_policy: 'Cedar register-read through the frame cache, answers kept per range',
          samples_each: viaGw.length, target: '<= 1',
        },
      },
      gateway_write_added_latency_p99_ms: {
        value: round(percentile(wAhead, 0.99) - percentile(wDirect, 0.99), 3), unit: 'ms', baseline: round(percentile(wBatched, 0.99) - percentile(wDirect, 0.99), 3),
        baseline_what: 'the same one-at-a-time writes through the gateway with the decision record batched after the write (no write-ahead), p99 minus direct p99, same run',
        detail: { p50_write_ahead_ms: round(percentile(wAhead, 0.5), 3), p99_write_ahead_ms: round(percentile(wAhead, 0.99), 3), p99_batched_ms: round(percentile(wBatched, 0.99), 3), p99_direct_ms: round(percentile(wDirect, 0.99), 3), samples_each: wAhead.length, target: '<= 15' },
      },
    };
    return metrics;
  },
};
export default scenario;
