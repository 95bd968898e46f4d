/**
 * The Sparkplug B edge node against a real mosquitto (TLS 1.3, client certificates required) and an independent
 * Python host application (paho-mqtt + protoc-generated protobuf) that checks the specification's sequence rules.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { plantMap } from '../../../runtime/model/plant-map';
import { PlantSimulation } from '../../../runtime/industrial/plant/simulation';
import { signalValue } from '../../../runtime/industrial/plant/map';
import { SparkplugEdgeNode, type ReceivedCommand } from '../../../runtime/northbound/sparkplug/edge-node';
import { plantDevices, type SignalValue } from '../../../runtime/northbound/sparkplug/plant-devices';
import { DurableQueue } from '../../../runtime/northbound/store-forward';
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

  it('GIVEN the simulated plant WHEN the node connects and the plant runs THEN the peer sees NBIRTH, one DBIRTH per asset with every metric, alias and unit, and DDATA by alias with consecutive seq', async () => {
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
    assert.deepEqual(births.map((m) => m.device).sort(), [...new Set(plantMap().map((e) => e.asset))].sort());
    const aliases = new Map<number, string>();
    for (const b of births) {
      for (const m of b.metrics) {
        const entry = plantMap().find((e) => e.asset === b.device && e.signal === m.name);
        assert.ok(entry, `DBIRTH ${b.device} names ${m.name}, a signal of the plant map`);
        assert.equal(m.unit, entry.unit);
        aliases.set(m.alias as number, `${b.device}.${m.name}`);
      }
      assert.equal(b.metrics.length, plantMap().filter((e) => e.asset === b.device).length);
    }
    assert.equal(aliases.size, plantMap().length, 'every signal has its own alias');
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
});
