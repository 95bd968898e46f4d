/**
 * The Sparkplug B edge node against a real mosquitto (TLS 1.3, client certificates required) and an independent
 * Python host application (paho-mqtt + protoc-generated protobuf) that checks the specification's sequence rules.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { plantMap } from '../../../runtime/model/plant-map';
import { PlantSimulation } from '../../../runtime/industrial/plant/simulation';
import { signalValue } from '../../../runtime/industrial/plant/map';
import { SparkplugEdgeNode, type ReceivedCommand } from '../../../runtime/northbound/sparkplug/edge-node';
import { dataMetric, plantDevices, type SignalValue } from '../../../runtime/northbound/sparkplug/plant-devices';
import { DurableQueue } from '../../../runtime/northbound/store-forward';
import { encodePayload } from '../../../runtime/northbound/sparkplug/payload';
import { makeTestPki, startMosquitto, startPeer, type Broker, type PeerMessage, type SparkplugPeer, type TestPki } from '../../helpers/mosquitto';
import { waitFor } from '../../helpers/wait';


const GROUP = 'plant-a';

function valuesOf(sim: PlantSimulation): Map<string, SignalValue> {
  const snapshot = sim.snapshot();
  return new Map(plantMap().map((e) => [e.id, signalValue(snapshot, e)]));
}

describe('Sparkplug B edge node (mosquitto over TLS 1.3, Python host)', () => {
  let dir: string;
  let pki: TestPki;
  let broker: Broker;
  let peer: SparkplugPeer;
  const nodes: SparkplugEdgeNode[] = [];
  const queues: DurableQueue[] = [];

  function node(id: string, extra: Partial<ConstructorParameters<typeof SparkplugEdgeNode>[0]> = {}): { node: SparkplugEdgeNode; queue: DurableQueue } {
    const queue = new DurableQueue(path.join(dir, `${id}.sqlite`));
    const n = new SparkplugEdgeNode({
      brokerUrl: broker.url, groupId: GROUP, edgeNodeId: id, devices: plantDevices(plantMap()), queue,
      credentials: () => ({ ca: pki.brokerCa, cert: pki.node.cert, key: pki.node.key }),
      reconnectMs: { initial: 100, max: 500 }, ...extra,
    });
    nodes.push(n);
    queues.push(queue);
    return { node: n, queue };
  }

  const of = (id: string) => peer.messages.filter((m): m is Required<PeerMessage> => m.topic !== undefined && m.topic.split('/')[3] === id);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-sparkplug-'));
    pki = await makeTestPki(dir);
    broker = await startMosquitto(pki);
    peer = await startPeer(pki, broker, GROUP);
  });

  after(async () => {
    for (const n of nodes) await n.stop();
    for (const q of queues) q.close();
    await peer?.stop();
    await broker?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('GIVEN the simulated plant WHEN the node connects and the plant runs THEN the peer sees NBIRTH, one DBIRTH per asset (and one for the safety events) with every metric, alias and unit, and DDATA by alias with consecutive seq', async () => {
    const { node: n } = node('edge-births');
    const sim = new PlantSimulation({ seed: 7 });
    n.update(valuesOf(sim), sim.snapshot().time_ms);
    n.start();
    await waitFor('births', () => of('edge-births').filter((m) => m.kind === 'DBIRTH').length === n.devices.length, 10_000, { diag: () => peer.stderr() });
    for (let i = 0; i < 50; i++) {
      sim.step(100);
      n.update(valuesOf(sim), sim.snapshot().time_ms);
    }
    await waitFor('data', () => of('edge-births').some((m) => m.kind === 'DDATA'), 5000);
    const msgs = of('edge-births');
    assert.equal(msgs[0]?.kind, 'NBIRTH');
    assert.equal(msgs[0]?.seq, 0);
    const births = msgs.filter((m) => m.kind === 'DBIRTH');
    assert.deepEqual(births.map((m) => m.device).sort(), [...new Set(plantMap().map((e) => e.asset)), 'safety_events'].sort());
    const aliases = new Map<number, string>();
    for (const b of births.filter((x) => x.device !== 'safety_events')) {
      for (const m of b.metrics) {
        const entry = plantMap().find((e) => e.asset === b.device && e.signal === m.name);
        assert.ok(entry, `DBIRTH ${b.device} names ${m.name}, a signal of the plant map`);
        assert.equal(m.unit, entry.unit);
        aliases.set(m.alias as number, `${b.device}.${m.name}`);
      }
      assert.equal(b.metrics.length, plantMap().filter((e) => e.asset === b.device).length);
    }
    assert.equal(aliases.size, plantMap().length, 'every signal has its own alias');
    const events = births.find((b) => b.device === 'safety_events');
    assert.deepEqual(events?.metrics.map((m) => m.name), ['shutdown_target', 'shutdown_outcome', 'shutdown_codes', 'shutdowns']);
    assert.ok(events?.metrics.every((m) => !aliases.has(m.alias as number)), 'the safety events device has aliases of its own');
    const data = msgs.filter((m) => m.kind === 'DDATA');
    assert.ok(data.every((d) => d.metrics.every((m) => m.name === null && aliases.get(m.alias as number)?.startsWith(`${d.device}.`))));
    msgs.forEach((m, i) => assert.equal(m.seq, i % 256, `message ${i} (${m.kind}) has seq ${i % 256}`));
    assert.deepEqual(peer.violations(), []);
  });

  it('GIVEN a born node WHEN the peer sends NCMD Node Control/Rebirth THEN NBIRTH and every DBIRTH come again with the same bdSeq and seq from 0', async () => {
    const { node: n } = node('edge-rebirth');
    n.start();
    await waitFor('births', () => of('edge-rebirth').filter((m) => m.kind === 'DBIRTH').length === n.devices.length, 10_000);
    const bdSeq = n.stats().bdSeq;
    peer.send({ publish: `spBv1.0/${GROUP}/NCMD/edge-rebirth`, metrics: [{ name: 'Node Control/Rebirth', bool: true }] });
    await waitFor('rebirth', () => of('edge-rebirth').filter((m) => m.kind === 'NBIRTH').length === 2 && of('edge-rebirth').filter((m) => m.kind === 'DBIRTH').length === 2 * n.devices.length, 10_000);
    const nbirths = of('edge-rebirth').filter((m) => m.kind === 'NBIRTH');
    assert.deepEqual(nbirths.map((m) => m.metrics.find((x) => x.name === 'bdSeq')?.value), [bdSeq, bdSeq]);
    assert.equal(nbirths[1]?.seq, 0);
    assert.deepEqual(peer.violations(), []);
  });

  it('GIVEN a DCMD that writes a pump run command WHEN it arrives THEN the node hands it over as a write of that signal, not executing it', async () => {
    const commands: ReceivedCommand[] = [];
    const { node: n } = node('edge-cmd', { onCommand: (c) => commands.push(c) });
    n.start();
    await waitFor('births', () => of('edge-cmd').filter((m) => m.kind === 'DBIRTH').length === n.devices.length, 10_000);
    peer.send({ publish: `spBv1.0/${GROUP}/DCMD/edge-cmd/pump_1`, metrics: [{ name: 'run', bool: false }, { name: 'no_such', bool: true }] });
    peer.send({ publish: `spBv1.0/${GROUP}/DCMD/edge-cmd/pump_1`, metrics: [], garbage: true });
    await waitFor('two commands', () => commands.length === 2, 5000);
    assert.equal(commands[0]?.kind, 'DCMD');
    assert.equal(commands[0]?.device, 'pump_1');
    assert.deepEqual(commands[0]?.writes.map((w) => [w.entry.id, w.value]), [['pump_1.run', false]]);
    assert.deepEqual(commands[0]?.unknown, ['no_such']);
    assert.equal(commands[1]?.error?.code, 'GLM_ERR_NORTHBOUND_PAYLOAD_INVALID');
  });

  it('GIVEN a primary host WHEN it goes offline THEN the node sends NDEATH and holds its data in the queue, and WHEN it comes back THEN the node is reborn and replays the held data as historical DDATA', async () => {
    peer.send({ state: true });
    await waitFor('STATE online sent', () => peer.messages.some((m) => (m as { state_sent?: boolean }).state_sent === true), 5000);
    const { node: n, queue } = node('edge-primary', { primaryHostId: 'scada' });
    const sim = new PlantSimulation({ seed: 11 });
    n.update(valuesOf(sim), sim.snapshot().time_ms);
    n.start();
    await waitFor('births', () => of('edge-primary').filter((m) => m.kind === 'DBIRTH').length === n.devices.length, 10_000);
    peer.send({ state: false });
    await waitFor('NDEATH on primary host offline', () => of('edge-primary').some((m) => m.kind === 'NDEATH'), 5000);
    await waitFor('node not born', () => !n.stats().born, 5000);
    for (let i = 0; i < 30; i++) {
      sim.step(1000);
      n.update(valuesOf(sim), sim.snapshot().time_ms);
    }
    const held = queue.depth;
    assert.ok(held > 0, 'data is held while the primary host is offline');
    assert.equal(of('edge-primary').filter((m) => m.kind === 'NBIRTH').length, 1, 'no birth while the primary host is offline');
    peer.send({ state: true });
    const afterRebirth = () => { const all = of('edge-primary'); return all.slice(all.map((m) => m.kind).lastIndexOf('NBIRTH')); };
    await waitFor('rebirth and replay', () => queue.depth === 0 && afterRebirth().filter((m) => m.kind === 'DDATA' && m.metrics.every((x) => x.hist)).length === held, 10_000, { diag: () => `${JSON.stringify(n.stats())} held ${held} ${of('edge-primary').map((m) => `${m.kind}${m.metrics[0]?.hist ? 'h' : ''}`).join(' ')}` });
    const nbirths = of('edge-primary').filter((m) => m.kind === 'NBIRTH').map((m) => m.metrics.find((x) => x.name === 'bdSeq')?.value as number);
    assert.equal(nbirths.length, 2);
    assert.equal(nbirths[1], ((nbirths[0] as number) + 1) % 256, 'the new session has the next bdSeq');
    assert.deepEqual(peer.violations(), []);
  });

  it('GIVEN a born node WHEN the broker restarts THEN the peer sees the NDEATH (the will) and then a rebirth with the next bdSeq', async () => {
    const { node: n } = node('edge-restart', { primaryHostId: 'scada' });
    n.start();
    await waitFor('births', () => of('edge-restart').filter((m) => m.kind === 'DBIRTH').length === n.devices.length, 10_000);
    const first = n.stats().bdSeq;
    await broker.stop('SIGTERM');
    await broker.start();
    await waitFor('rebirth', () => of('edge-restart').filter((m) => m.kind === 'NBIRTH').length === 2 && of('edge-restart').filter((m) => m.kind === 'DBIRTH').length === 2 * n.devices.length, 20_000, { diag: () => JSON.stringify(of('edge-restart').map((m) => m.kind)) });
    const kinds = of('edge-restart').map((m) => m.kind);
    const death = kinds.indexOf('NDEATH');
    assert.ok(death > 0 && kinds.lastIndexOf('NBIRTH') > death, `NDEATH then NBIRTH: ${kinds.join(' ')}`);
    assert.equal(of('edge-restart')[death]?.metrics.find((x) => x.name === 'bdSeq')?.value, first, 'the NDEATH carries the ended session\'s bdSeq');
    assert.equal(of('edge-restart').filter((m) => m.kind === 'NBIRTH')[1]?.metrics.find((x) => x.name === 'bdSeq')?.value, (first + 1) % 256);
    assert.deepEqual(peer.violations(), []);
  });

  it('GIVEN a born node WHEN the broker is down for 10 simulated minutes THEN every record of the outage is replayed in order as historical DDATA, while live data published during the replay is not held behind it', async () => {
    const { node: n, queue } = node('edge-outage', { primaryHostId: 'scada', replay: { window: 16, perSecond: 1000 } });
    const sim = new PlantSimulation({ seed: 3 });
    n.update(valuesOf(sim), sim.snapshot().time_ms);
    n.start();
    await waitFor('births', () => of('edge-outage').filter((m) => m.kind === 'DBIRTH').length === n.devices.length, 10_000);
    await broker.stop('SIGTERM');
    await waitFor('node not born', () => !n.stats().born, 5000);
    for (let i = 0; i < 600; i++) {
      sim.step(1000);
      n.update(valuesOf(sim), sim.snapshot().time_ms);
    }
    const expected = queue.peek(1_000_000).map((r) => `${r.key}@${r.ts}`);
    assert.ok(expected.length >= 600, `the outage queued ${expected.length} records`);
    await broker.start();
    await waitFor('rebirth', () => n.stats().born, 20_000);
    // Live data while the backlog replays.
    for (let i = 0; i < 20; i++) {
      sim.step(1000);
      n.update(valuesOf(sim), sim.snapshot().time_ms);
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor('replay done', () => queue.depth === 0, 30_000);
    await waitFor('peer has the replay', () => of('edge-outage').filter((m) => m.kind === 'DDATA' && m.metrics[0]?.hist).length >= expected.length, 10_000);
    const session = of('edge-outage').slice(of('edge-outage').map((m) => m.kind).lastIndexOf('NBIRTH'));
    const historical = session.filter((m) => m.kind === 'DDATA' && m.metrics.every((x) => x.hist));
    assert.deepEqual(historical.map((m) => `${m.device}@${m.ts}`), expected, 'the replay is the queue, in order, nothing lost');
    const lastHistorical = session.indexOf(historical[historical.length - 1] as Required<PeerMessage>);
    const live = session.filter((m) => m.kind === 'DDATA' && m.metrics.every((x) => !x.hist));
    assert.ok(live.length > 0 && session.indexOf(live[0] as Required<PeerMessage>) < lastHistorical, 'live data went out before the replay finished');
    assert.deepEqual(peer.violations(), []);
  });

  it('GIVEN a backlog on disk WHEN the node process is killed with SIGKILL during the replay and started again THEN every queued record reaches the host, first seen in queue order', async () => {
    const file = path.join(dir, 'kill.sqlite');
    const q = new DurableQueue(file);
    const devices = plantDevices(plantMap());
    const records = [];
    for (let i = 0; i < 3000; i++) {
      const device = devices[i % devices.length] as (typeof devices)[number];
      const m = device.metrics[0] as (typeof device.metrics)[number];
      records.push({ stream: device.safety ? 'safety' : 'trend', ts: 1_000_000 + i, key: device.id, body: encodePayload({ timestamp: 1_000_000 + i, metrics: [dataMetric(m, i % 2 === 0, 1_000_000 + i, true)] }) });
    }
    q.append(records);
    const expected = q.peek(10_000).map((r) => `${r.key}@${r.ts}`);
    q.close();
    const env = { ...process.env, SF_QUEUE: file, SF_BROKER: broker.url, SF_GROUP: GROUP, SF_NODE: 'edge-kill', SF_CA: pki.brokerCaFile, SF_CERT: pki.node.certFile, SF_KEY: pki.node.keyFile, SF_RATE: '1500' };
    const spawnChild = () => {
      const c = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'replay-child.ts')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      const lines: string[] = [];
      c.stdout.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
      return { c, lines };
    };
    const historical = () => of('edge-kill').filter((m) => m.kind === 'DDATA' && m.metrics.every((x) => x.hist)).map((m) => `${m.device}@${m.ts}`);
    const first = spawnChild();
    await waitFor('a third of the replay', () => historical().length >= 1000, 30_000);
    first.c.kill('SIGKILL');
    await new Promise((r) => first.c.once('exit', r));
    const seenAtKill = historical().length;
    assert.ok(seenAtKill < expected.length, 'killed during the replay');
    const second = spawnChild();
    try {
      await waitFor('drained after the restart', () => second.lines.includes('drained'), 60_000);
      await waitFor('the host has every record', () => new Set(historical()).size === expected.length, 10_000);
    } finally {
      second.c.kill('SIGTERM');
      await new Promise((r) => second.c.once('exit', r));
    }
    const firstSeen = [...new Set(historical())];
    assert.deepEqual(firstSeen, expected, 'nothing lost, nothing reordered (a record in flight at the kill may come twice)');
    assert.ok(historical().length - expected.length <= 32, `at most one window resent, resent ${historical().length - expected.length}`);
    assert.deepEqual(peer.violations(), []);
  });
});
