/**
 * The Data Agent as a Sparkplug edge node, in-process, against a real mosquitto (TLS 1.3, client certificates) and the
 * Python host: the Cedar topic policy, the GDPR filter on the way out, flow audit records, and enterprise commands
 * refused and audited.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import type { AgentBehaviour, AgentContext } from '../../../runtime/agents/behaviour';
import dataAgent from '../../../runtime/agents/data';
import { SAFETY_EVENT_TOPIC, SIGNALS_TOPIC } from '../../../runtime/agents/data/northbound';
import { loadConfig, DEFAULT_CONFIG_FILE } from '../../../runtime/config/load';
import type { AgentMessage, AuditRecordInput } from '../../../runtime/model/messages';
import { silentLogger } from '../../../runtime/observability/logger';
import { makeTestPki, startMosquitto, startPeer, type Broker, type SparkplugPeer, type TestPki } from '../../helpers/mosquitto';
import { waitFor } from '../../helpers/wait';

describe('Data Agent northbound (Sparkplug B to mosquitto, Python host)', () => {
  let dir: string;
  let pki: TestPki;
  let broker: Broker;
  let peer: SparkplugPeer;
  const running: AgentBehaviour[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-data-nb-'));
    pki = await makeTestPki(dir);
    broker = await startMosquitto(pki);
    peer = await startPeer(pki, broker, 'plant-nb');
  });
  after(async () => {
    for (const b of running) await b.stop();
    await peer?.stop();
    await broker?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** data-1 with a northbound section; `edit` changes the configuration document first. */
  async function start(node: string, edit: (doc: Record<string, unknown>) => void = () => undefined) {
    const doc = YAML.parse(fs.readFileSync(DEFAULT_CONFIG_FILE, 'utf8')) as Record<string, unknown>;
    doc.cognitive_config = path.join(path.dirname(DEFAULT_CONFIG_FILE), 'cognitive.yml');
    doc.northbound = { broker: broker.url, group_id: 'plant-nb', edge_node_id: node, ca_file: pki.brokerCaFile, publish_interval_ms: 1000 };
    edit(doc);
    const file = path.join(dir, `${node}.yml`);
    fs.writeFileSync(file, YAML.stringify(doc));
    const config = loadConfig(file);
    const spec = config.agents.find((a) => a.name === 'data-1');
    assert.ok(spec);
    const stateDir = path.join(dir, `state-${node}`);
    fs.mkdirSync(stateDir);
    const audits: AuditRecordInput[] = [];
    const handlers: ((m: AgentMessage) => void)[] = [];
    const ctx: AgentContext = {
      spec, config, stateDir, logger: silentLogger(), endpoints: {},
      audit: (r) => audits.push(r), send: () => undefined, onMessage: (h) => handlers.push(h), publish: () => undefined,
      hold: () => undefined, clear: () => undefined, order: () => undefined,
      identity: () => ({ certPem: pki.node.cert, keyPem: pki.node.key, bundlePem: fs.readFileSync(pki.runtimeCaFile, 'utf8') }),
    };
    const behaviour = dataAgent(spec, config);
    await behaviour.start(ctx);
    running.push(behaviour);
    const deliver = (body: unknown, topic = SIGNALS_TOPIC) => { for (const h of handlers) h({ from: 'runtime', to: 'data-1', topic, body } as AgentMessage); };
    return { behaviour, audits, deliver };
  }
  const of = (node: string) => peer.messages.filter((m) => m.topic?.split('/')[3] === node);

  it('GIVEN the default zone model (a data conduit dmz-enterprise) WHEN data-1 publishes plant values THEN Cedar allows every device, the host sees the births and data, a field outside the plant map never leaves, and the flow is audited as counts', async () => {
    const { behaviour, audits, deliver } = await start('nb-default');
    await waitFor('births', () => of('nb-default').filter((m) => m.kind === 'DBIRTH').length === 8, 10_000, { diag: () => JSON.stringify(audits.slice(-3)) });
    deliver({ time_ms: Date.now(), values: { 'pump_1.flow_m3h': 12.5, 'tank_1.level_m': 1.25, operator_name: 'Ada Lovelace' } });
    await waitFor('data', () => of('nb-default').some((m) => m.kind === 'DDATA'), 5000);
    assert.ok(!JSON.stringify(peer.messages).includes('Ada'), 'a field outside the plant map is dropped');
    const topics = audits.find((a) => a.type === 'northbound.topics') as unknown as { allowed: string[]; denied: string[] };
    assert.equal(topics.allowed.length, 8);
    assert.deepEqual(topics.denied, []);
    assert.ok(audits.some((a) => a.type === 'policy.decision' && (a as { action?: string }).action === 'publish' && (a as { decision?: string }).decision === 'allow'));
    await behaviour.stop();
    running.splice(running.indexOf(behaviour), 1);
    const flow = audits.find((a) => a.type === 'northbound.flow') as Record<string, unknown>;
    assert.equal(flow.updates, 1);
    assert.equal(flow.fields_dropped, 1);
    assert.equal(flow.metrics as number >= 2, true);
    assert.ok(!JSON.stringify(flow).includes('12.5'), 'the flow record holds counts, not values');
  });

  it('GIVEN no data conduit between dmz and the broker zone WHEN data-1 starts its edge node THEN the Cedar policy denies every device topic (audited) and the host sees no DBIRTH', async () => {
    const { audits } = await start('nb-noconduit', (doc) => {
      doc.conduits = (doc.conduits as { from: string; to: string }[]).filter((c) => !(c.from === 'enterprise' && c.to === 'dmz'));
    });
    await waitFor('NBIRTH', () => of('nb-noconduit').some((m) => m.kind === 'NBIRTH'), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(of('nb-noconduit').filter((m) => m.kind === 'DBIRTH').length, 0);
    const topics = audits.find((a) => a.type === 'northbound.topics') as unknown as { allowed: string[]; denied: string[] };
    assert.deepEqual(topics.allowed, []);
    assert.equal(topics.denied.length, 8);
    assert.ok(audits.filter((a) => a.type === 'policy.decision' && (a as { decision?: string }).decision === 'deny').length >= 8);
  });

  it('GIVEN the default zone model WHEN the enterprise sends a DCMD that stops pump_1 and an NCMD that names no signal THEN both are refused with GLM_ERR_NORTHBOUND_COMMAND_REFUSED and audited, and nothing is written', async () => {
    const { audits } = await start('nb-cmd');
    await waitFor('births', () => of('nb-cmd').filter((m) => m.kind === 'DBIRTH').length === 8, 10_000);
    peer.send({ publish: 'spBv1.0/plant-nb/DCMD/nb-cmd/pump_1', metrics: [{ name: 'run', bool: false }] });
    peer.send({ publish: 'spBv1.0/plant-nb/NCMD/nb-cmd', metrics: [{ name: 'Open Valve', bool: true }] });
    peer.send({ publish: 'spBv1.0/plant-nb/DCMD/nb-cmd/pump_1', metrics: [], garbage: true });
    await waitFor('three command records', () => audits.filter((a) => a.type === 'northbound.command').length === 3, 5000);
    const records = audits.filter((a) => a.type === 'northbound.command') as unknown as { kind: string; outcome: string; code: string; signals: string[]; reason: string }[];
    assert.deepEqual(records.map((r) => [r.kind, r.outcome, r.code]), [
      ['DCMD', 'refused', 'GLM_ERR_NORTHBOUND_COMMAND_REFUSED'],
      ['NCMD', 'refused', 'GLM_ERR_NORTHBOUND_COMMAND_REFUSED'],
      ['DCMD', 'refused', 'GLM_ERR_NORTHBOUND_PAYLOAD_INVALID'],
    ]);
    assert.deepEqual(records[0]?.signals, ['pump_1.run']);
    assert.match(records[0]?.reason ?? '', /allow_sparkplug_commands/);
  });

  it('GIVEN a northbound ca_file that holds no certificate WHEN data-1 starts THEN it refuses with GLM_ERR_NORTHBOUND_CONFIG_INVALID naming the file, and opens no queue', async () => {
    const bad = path.join(dir, 'not-a-ca.pem');
    fs.writeFileSync(bad, 'hello');
    await assert.rejects(start('nb-badca', (doc) => { (doc.northbound as Record<string, unknown>).ca_file = bad; }), (err: Error & { code?: string }) => err.code === 'GLM_ERR_NORTHBOUND_CONFIG_INVALID' && err.message.includes(bad));
    assert.equal(fs.existsSync(path.join(dir, 'state-nb-badca', 'northbound')), false);
  });

  it('GIVEN a safety shutdown the runtime saw WHEN it reaches data-1 THEN the host gets it as DDATA of the safety_events device (target, outcome, codes, count), and an operator name in it never leaves', async () => {
    const { deliver } = await start('nb-events');
    await waitFor('births', () => of('nb-events').filter((m) => m.kind === 'DBIRTH').length === 8, 10_000);
    deliver({ time_ms: Date.now(), target: 'pump_2', outcome: 'executed', codes: ['IL-01', 'DRY-RUN'], operator_name: 'Ada Lovelace' }, SAFETY_EVENT_TOPIC);
    await waitFor('the event', () => of('nb-events').some((m) => m.kind === 'DDATA' && m.device === 'safety_events'), 5000);
    const birth = of('nb-events').find((m) => m.kind === 'DBIRTH' && m.device === 'safety_events');
    const names = new Map(birth?.metrics?.map((m) => [m.alias, m.name]));
    const data = of('nb-events').find((m) => m.kind === 'DDATA' && m.device === 'safety_events');
    const values = Object.fromEntries((data?.metrics ?? []).map((m) => [names.get(m.alias), m.value]));
    assert.deepEqual(values, { shutdown_target: 'pump_2', shutdown_outcome: 'executed', shutdown_codes: 'IL-01,DRY-RUN', shutdowns: 1 });
    assert.ok(!JSON.stringify(peer.messages).includes('Ada'));
    assert.deepEqual(peer.violations(), []);
  });
});
