/**
 * northbound: the Sparkplug B edge node through a real mosquitto over TLS 1.3 with client certificates (the test
 * broker of test/helpers/mosquitto.ts), a subscriber on its own TLS connection counting what arrives.
 * - northbound_metrics_per_s: live DDATA from 10,000 analog signals (100 devices of 100), every value past its deadband
 *   each round, report by exception and encoding included, counted where the subscriber receives them; at most 200
 *   messages in flight. Target >= 50,000. Baseline (same run): raw MQTT.js publishing the same payload bytes (captured
 *   from the edge node's own messages) to the same broker with the same window.
 * - replay_speedup: a 24 h backlog at the demo plant's data rate (the simulated plant, seed 42, sampled every second
 *   through report by exception with the default deadbands: 1 h measured, then repeated with shifted timestamps)
 *   replayed from the SQLite queue at the default pacing (window 64, 5,000 messages/s) with live data at the demo rate
 *   beside it, until the queue is empty; 24 h divided by the replay time. Target >= 20. Baseline: raw MQTT.js
 *   publishing the same stored bytes at QoS 1 with the same window, unpaced, without the queue.
 * - Disk budgets (detail of replay_speedup): the queue file for 72 h offline at the demo rate (written in full) and at
 *   10,000 signals/s (one minute written, scaled to 72 h).
 * Runs under tsx; the 1-minute load average is in detail.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { signalValue } from '../../runtime/industrial/plant/map';
import { PlantSimulation } from '../../runtime/industrial/plant/simulation';
import { plantMap, type PlantMapEntry } from '../../runtime/model/plant-map';
import { SparkplugEdgeNode, withSeq } from '../../runtime/northbound/sparkplug/edge-node';
import { plantDevices, type SignalValue } from '../../runtime/northbound/sparkplug/plant-devices';
import { DurableQueue, type NewRecord } from '../../runtime/northbound/store-forward';
import { makeTestPki, startMosquitto, type Broker, type TestPki } from '../../test/helpers/mosquitto';
import { round, type Metric } from '../lib/report';
import type { Scenario } from '../lib/scenario';

const GROUP = 'bench';
const DEVICES = 100;
const PER_DEVICE = 100;
const WINDOW_MESSAGES = 200;
const DAY_S = 86_400;

function syntheticMap(): PlantMapEntry[] {
  const out: PlantMapEntry[] = [];
  for (let d = 0; d < DEVICES; d++) {
    for (let s = 0; s < PER_DEVICE; s++) {
      out.push({
        id: `dev_${d}.s_${s}`, asset: `dev_${d}`, signal: `s_${s}`, unit_id: 1, table: 'input', address: d * PER_DEVICE + s, zone: 'control',
        safety: false, writable_from: [], opcua_node_id: `ns=2;s=dev_${d}.s_${s}`, unit: 'bar', scale: 1000, type: 'uint16', description: 'bench signal',
      });
    }
  }
  return out;
}

async function connect(broker: Broker, pki: TestPki, id: string): Promise<MqttClient> {
  const client = mqtt.connect({
    protocol: 'mqtts', host: '127.0.0.1', port: broker.port, protocolVersion: 5, clientId: id, clean: true, reconnectPeriod: 0, ca: pki.brokerCa, minVersion: 'TLSv1.3',
    cert: fs.readFileSync(pki.peer.certFile, 'utf8'), key: fs.readFileSync(pki.peer.keyFile, 'utf8'),
  } as mqtt.IClientOptions);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`benchmark: timed out waiting for ${what}`);
    await wait(2);
  }
}

/** Live throughput of the edge node (10,000 signals) against raw MQTT.js with the captured bytes. */
async function throughput(broker: Broker, pki: TestPki, dir: string, seconds: number, progress: (f: number, n: string) => void) {
  const sub = await connect(broker, pki, 'bench-sub');
  await sub.subscribeAsync(`spBv1.0/${GROUP}/#`, { qos: 0 });
  let received = 0;
  const captured: { topic: string; payload: Buffer }[] = [];
  sub.on('message', (topic, payload) => {
    if (!topic.includes('/DDATA/')) return;
    received += 1;
    if (captured.length < 1000) captured.push({ topic: topic.replace(`/${GROUP}/`, `/${GROUP}-raw/`), payload: Buffer.from(payload) });
  });
  const map = syntheticMap();
  const queue = new DurableQueue(path.join(dir, 'live.sqlite'));
  const node = new SparkplugEdgeNode({
    brokerUrl: broker.url, groupId: GROUP, edgeNodeId: 'live', devices: plantDevices(map), queue,
    credentials: () => ({ ca: pki.brokerCa, cert: pki.node.cert, key: pki.node.key }),
  });
  const values = new Map<string, SignalValue>(map.map((e) => [e.id, 1]));
  node.start();
  await until(() => node.stats().born, 10_000, 'the edge node to be born');
  let sent = 0;
  let round_ = 0;
  const measure = async (publishRound: () => void, label: string, from: number): Promise<{ perS: number; messages: number }> => {
    received = 0;
    sent = 0;
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    while (performance.now() < end) {
      if (sent - received > WINDOW_MESSAGES) {
        await wait(0);
        continue;
      }
      publishRound();
      sent += DEVICES;
      if ((round_ & 15) === 0) progress(from + (0.25 * (performance.now() - t0)) / (seconds * 1000), label);
    }
    await until(() => received >= sent, 10_000, 'the subscriber to drain');
    return { perS: (received * PER_DEVICE) / ((performance.now() - t0) / 1000), messages: received };
  };
  const edge = await measure(() => {
    round_ += 1;
    for (const e of map) values.set(e.id, 1 + (round_ % 1000) * 0.01);
    node.update(values, Date.now());
  }, 'edge node, 10,000 signals', 0);
  await node.stop();
  queue.close();
  // Baseline: the same bytes from a plain MQTT.js client.
  const raw = await connect(broker, pki, 'bench-raw');
  let k = 0;
  const rawSub = `spBv1.0/${GROUP}-raw/#`;
  await sub.subscribeAsync(rawSub, { qos: 0 });
  sub.removeAllListeners('message');
  sub.on('message', () => { received += 1; });
  const baseline = await measure(() => {
    for (let i = 0; i < DEVICES; i++) {
      const m = captured[k++ % captured.length] as { topic: string; payload: Buffer };
      raw.publish(m.topic, m.payload, { qos: 0 });
    }
  }, 'raw MQTT.js, same bytes', 0.25);
  await raw.endAsync();
  await sub.endAsync();
  return { edge, baseline, payloadBytes: captured.reduce((n, c) => n + c.payload.length, 0) / Math.max(1, captured.length) };
}

/** The demo plant's offline data: 1 h of the simulation through report by exception, as queue records. */
function demoHour(dir: string): { records: NewRecord[]; metrics: number } {
  const queue = new DurableQueue(path.join(dir, 'demo-hour.sqlite'));
  const node = new SparkplugEdgeNode({
    brokerUrl: 'mqtts://127.0.0.1:1', groupId: GROUP, edgeNodeId: 'demo', devices: plantDevices(plantMap()), queue,
    credentials: () => ({ ca: '', cert: '', key: '' }),
  });
  const sim = new PlantSimulation({ seed: 42 });
  const t0 = Date.UTC(2026, 0, 1);
  let metrics = 0;
  for (let s = 0; s < 3600; s++) {
    sim.step(1000);
    const snap = sim.snapshot();
    metrics += node.update(new Map(plantMap().map((e) => [e.id, signalValue(snap, e)])), t0 + s * 1000);
  }
  const records = queue.peek(10_000_000).map((r) => ({ stream: r.stream, ts: r.ts, key: r.key, body: r.body }));
  queue.close();
  return { records, metrics };
}

/** Appends `hours` copies of the hour (timestamps shifted) and returns the queue file's size. */
function fill(queue: DurableQueue, hour: readonly NewRecord[], hours: number): void {
  for (let h = 0; h < hours; h++) {
    const shifted = hour.map((r) => ({ ...r, ts: r.ts + h * 3_600_000 }));
    for (let i = 0; i < shifted.length; i += 20_000) queue.append(shifted.slice(i, i + 20_000));
  }
}

async function replay(broker: Broker, pki: TestPki, dir: string, hour: readonly NewRecord[], progress: (f: number, n: string) => void) {
  const file = path.join(dir, 'backlog.sqlite');
  const queue = new DurableQueue(file);
  fill(queue, hour, 24);
  const total = queue.depth;
  const sub = await connect(broker, pki, 'bench-replay-sub');
  await sub.subscribeAsync(`spBv1.0/${GROUP}/#`, { qos: 0 });
  let historical = 0;
  sub.on('message', (topic) => { if (topic.includes('/DDATA/replay/')) historical += 1; });
  const node = new SparkplugEdgeNode({
    brokerUrl: broker.url, groupId: GROUP, edgeNodeId: 'replay', devices: plantDevices(plantMap()), queue,
    credentials: () => ({ ca: pki.brokerCa, cert: pki.node.cert, key: pki.node.key }),
  });
  const sim = new PlantSimulation({ seed: 7 });
  node.start();
  await until(() => node.stats().born, 10_000, 'the replaying node to be born');
  const t0 = performance.now();
  // Live data at the demo rate beside the replay.
  const live = setInterval(() => {
    sim.step(1000);
    const snap = sim.snapshot();
    node.update(new Map(plantMap().map((e) => [e.id, signalValue(snap, e)])));
  }, 1000);
  while (queue.depth > 0) {
    progress(0.5 + (0.35 * (total - queue.depth)) / total, `replay of ${total} records`);
    await wait(200);
  }
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(live);
  await until(() => historical >= total, 30_000, 'the subscriber to see the whole replay');
  await node.stop();
  // Baseline: the same stored bytes, QoS 1, same window, no queue and no pacing.
  const raw = await connect(broker, pki, 'bench-replay-raw');
  const bodies = hour.map((r) => ({ topic: `spBv1.0/${GROUP}-raw/DDATA/replay/${r.key}`, body: r.body }));
  let inflight = 0;
  let done = 0;
  const r0 = performance.now();
  for (let i = 0; i < total; i++) {
    while (inflight >= 64) await wait(0);
    const b = bodies[i % bodies.length] as { topic: string; body: Buffer };
    inflight += 1;
    raw.publish(b.topic, withSeq(b.body, i % 256), { qos: 1 }, () => { inflight -= 1; done += 1; });
    if ((i & 4095) === 0) progress(0.85 + (0.1 * i) / total, 'raw MQTT.js replay');
  }
  await until(() => done >= total, 60_000, 'the raw replay');
  const rawSeconds = (performance.now() - r0) / 1000;
  await raw.endAsync();
  await sub.endAsync();
  queue.close();
  return { total, seconds, rawSeconds };
}

/** Disk bytes of the queue for 72 h offline: at the demo rate in full, and at 10,000 signals/s scaled from one minute. */
function diskBudgets(dir: string, hour: readonly NewRecord[]) {
  const demoFile = path.join(dir, 'demo-72h.sqlite');
  const demo = new DurableQueue(demoFile);
  fill(demo, hour, 72);
  const demoRecords = demo.depth;
  demo.close();
  const demoBytes = fs.statSync(demoFile).size + (fs.existsSync(`${demoFile}-wal`) ? fs.statSync(`${demoFile}-wal`).size : 0);
  fs.rmSync(demoFile, { force: true });
  fs.rmSync(`${demoFile}-wal`, { force: true });
  const bigFile = path.join(dir, 'big-1min.sqlite');
  const big = new DurableQueue(bigFile);
  const map = syntheticMap();
  const node = new SparkplugEdgeNode({
    brokerUrl: 'mqtts://127.0.0.1:1', groupId: GROUP, edgeNodeId: 'big', devices: plantDevices(map), queue: big,
    credentials: () => ({ ca: '', cert: '', key: '' }),
  });
  const values = new Map<string, SignalValue>();
  let metrics = 0;
  for (let s = 0; s < 60; s++) {
    for (const e of map) values.set(e.id, 1 + s * 0.01);
    metrics += node.update(values, Date.UTC(2026, 0, 1) + s * 1000);
  }
  big.close();
  const minuteBytes = fs.statSync(bigFile).size + (fs.existsSync(`${bigFile}-wal`) ? fs.statSync(`${bigFile}-wal`).size : 0);
  return { demoRecords, demoBytes, bigMetricsPerS: metrics / 60, big72hBytes: minuteBytes * 60 * 72 };
}

const scenario: Scenario = {
  description: 'Sparkplug B edge node through mosquitto over TLS 1.3: live metrics/s and 24 h backlog replay speed vs raw MQTT.js',
  async run(ctx) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-bench-nb-'));
    const loadAtStart = os.loadavg()[0] ?? 0;
    const pki = await makeTestPki(dir);
    const broker = await startMosquitto(pki);
    try {
      const seconds = Math.max(5, ctx.durationS / 4);
      const live = await throughput(broker, pki, dir, seconds, ctx.progress);
      const hour = demoHour(dir);
      const rep = await replay(broker, pki, dir, hour.records, ctx.progress);
      ctx.progress(0.95, 'disk budgets');
      const disk = diskBudgets(dir, hour.records);
      ctx.progress(1, 'done');
      const load = { load_average_1m_start: round(loadAtStart, 1), load_average_1m: round(os.loadavg()[0] ?? 0, 1), cpus: os.cpus().length };
      const gib = (b: number) => round(b / 1024 ** 3, 3);
      const metrics: Record<string, Metric> = {
        northbound_metrics_per_s: {
          value: Math.round(live.edge.perS), unit: 'metrics/s', baseline: Math.round(live.baseline.perS),
          baseline_what: 'raw MQTT.js publishing the same DDATA payload bytes (captured from the edge node) to the same mosquitto over TLS 1.3, same window, same run',
          detail: { target: '>= 50000 metrics/s', signals: DEVICES * PER_DEVICE, metrics_per_message: PER_DEVICE, messages: live.edge.messages, payload_bytes: round(live.payloadBytes, 0), seconds, ...load },
        },
        replay_speedup: {
          value: round(DAY_S / rep.seconds, 1), unit: 'x real time', baseline: round(DAY_S / rep.rawSeconds, 1),
          baseline_what: 'raw MQTT.js publishing the same stored bytes at QoS 1 with the same window of 64, unpaced, without the queue, same run',
          detail: {
            target: '>= 20x real time', backlog_records: rep.total, replay_seconds: round(rep.seconds, 1), raw_seconds: round(rep.rawSeconds, 1),
            demo_records_per_s: round(hour.records.length / 3600, 2), demo_metrics_per_s: round(hour.metrics / 3600, 2), replay_pacing: 'window 64, 5000 messages/s (defaults)',
            disk_72h_demo_gib: gib(disk.demoBytes), disk_72h_demo_records: disk.demoRecords,
            disk_72h_10k_signals_per_s_gib: gib(disk.big72hBytes), disk_10k_measured_metrics_per_s: round(disk.bigMetricsPerS, 0), ...load,
          },
        },
      };
      return metrics;
    } finally {
      await broker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default scenario;
