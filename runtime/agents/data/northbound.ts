/**
 * The Data Agent's northbound link: the plant's signals as a Sparkplug B edge node (runtime/northbound/sparkplug)
 * towards the enterprise's broker, behind the durable store-and-forward queue.
 *
 * - What leaves: the plant values the runtime hands over (topic `plant.signals`), through the GDPR filter with a
 *   schema of the plant map's signal ids (default deny: anything else is dropped and counted), and the safety
 *   shutdowns it hands over (topic `safety.event`: target, outcome, codes only), only for devices the
 *   Cedar policy lets this agent's zone publish (action `publish` on a Topic; rules/policies/northbound.cedar).
 * - Evidence: a `northbound.flow` audit record per window (counts, never values), one `northbound.topics` record of the
 *   policy's answer at start, and one `northbound.command` record per command from the broker.
 * - Commands: refused unless the zone step passes (runtime/northbound/commands.ts); what passes is written through the
 *   gateway listener of the command zone, where the policy, interlocks and audit of every Modbus write apply.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NorthboundConfig } from '../../config/types';
import { GlimmerError, asGlimmerError } from '../../errors';
import { ModbusTcpClient } from '../../industrial/modbus/client';
import { requestPdu } from '../../industrial/modbus/frame';
import type { AgentMessage } from '../../model/messages';
import { plantMap, toRaw } from '../../model/plant-map';
import { commandVerdict } from '../../northbound/commands';
import { SparkplugEdgeNode, NAMESPACE, type ReceivedCommand } from '../../northbound/sparkplug/edge-node';
import { plantDevices, SAFETY_EVENTS_DEVICE, type SignalValue, type SparkplugDevice } from '../../northbound/sparkplug/plant-devices';
import { DurableQueue } from '../../northbound/store-forward';
import { agentSpiffeId } from '../../trust/spiffe';
import type { AgentContext } from '../behaviour';
import { conduitBetween } from './conduits';
import { filterRecord, type ExportSchema } from './filter';

export const SIGNALS_TOPIC = 'plant.signals';
/** A safety shutdown the runtime saw ({ time_ms, target, outcome, codes }), published on the safety_events device. */
export const SAFETY_EVENT_TOPIC = 'safety.event';
/** Length of one flow-audit window. */
export const FLOW_WINDOW_MS = 60_000;

/** Only the plant map's signals leave, as public values. */
const SIGNAL_SCHEMA: ExportSchema = { fields: Object.fromEntries(plantMap().map((e) => [e.id, 'public' as const])) };
/** Of a safety event, only these leave (no operator, no free text). */
const EVENT_SCHEMA: ExportSchema = { fields: { target: 'public', outcome: 'public', codes: 'public' } };

export interface NorthboundLink {
  /** A `plant.signals` message: { time_ms, values: { <signal id>: value } }. */
  handle(message: AgentMessage): void;
  /** Paused (a safety hold): nothing is published or queued. */
  setPaused(paused: boolean): void;
  status(): Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startNorthbound(ctx: AgentContext, nb: NorthboundConfig): Promise<NorthboundLink> {
  const { spec } = ctx;
  const identity = ctx.identity;
  if (identity === undefined) throw new GlimmerError('GLM_ERR_NORTHBOUND_CONFIG_INVALID', `agent ${spec.name} has no X.509-SVID for the broker connection`);
  const caPem = readCa(nb.caFile);
  const devices = plantDevices(plantMap(), nb.deadbands);
  const allowed = await topicDecisions(ctx, nb, devices);
  ctx.audit({ type: 'northbound.topics', broker_zone: nb.zone, group_id: nb.groupId, edge_node_id: nb.edgeNodeId, allowed: devices.filter((d) => allowed.has(d.id)).map((d) => d.id), denied: devices.filter((d) => !allowed.has(d.id)).map((d) => d.id) });
  const queue = new DurableQueue(path.join(ctx.stateDir, 'northbound', 'store-forward.sqlite'), [
    { name: 'safety', priority: 0, budgetBytes: nb.store.safetyBudgetBytes, droppable: false },
    { name: 'trend', priority: 1, budgetBytes: nb.store.trendBudgetBytes, droppable: true },
  ]);
  let gateway: ModbusTcpClient | undefined;
  const counts = { metrics: 0, updates: 0, fields_dropped: 0, commands_refused: 0, commands_written: 0, queue_refused: 0 };
  let windowStart = Date.now();
  let last = { messages: 0, metrics: 0, replayed: 0, dropped: 0 };
  let paused = false;
  let shutdowns = 0;

  async function write(entry: ReceivedCommand['writes'][number]['entry'], value: number | boolean): Promise<number> {
    if (!gateway || gateway.closed) {
      const endpoint = ctx.endpoints[`modbus_${nb.commandZone}`];
      const m = /^([^:]+):(\d{1,5})$/.exec(endpoint ?? '');
      if (!m) throw new GlimmerError('GLM_ERR_NORTHBOUND_COMMAND_REFUSED', `no gateway listener for zone ${nb.commandZone}`);
      gateway = new ModbusTcpClient(m[1] as string, Number(m[2]), 2000);
      await gateway.connect();
    }
    const pdu = entry.table === 'coil' ? requestPdu.writeCoil(entry.address, Boolean(value)) : requestPdu.writeRegister(entry.address, toRaw(entry, value));
    return (await gateway.request(entry.unit_id, pdu)).exception;
  }

  function onCommand(command: ReceivedCommand): void {
    const verdict = commandVerdict(command, { brokerZone: nb.zone, agentZone: spec.zone, commandZone: nb.commandZone, commandConduits: nb.commandConduits });
    const base = { type: 'northbound.command', kind: command.kind, device: command.device ?? null, signals: command.writes.map((w) => w.entry.id), unknown: command.unknown.length, from_zone: nb.zone };
    if (!verdict.allow || paused) {
      counts.commands_refused += 1;
      const code = verdict.allow ? 'GLM_ERR_SAFETY_HELD' : verdict.code;
      ctx.audit({ ...base, outcome: 'refused', code, reason: verdict.allow ? 'agent paused' : verdict.reason });
      ctx.logger.warn({ code, kind: command.kind, device: command.device }, 'northbound command refused');
      return;
    }
    void (async () => {
      for (const w of verdict.writes) {
        try {
          const exception = await write(w.entry, w.value);
          if (exception === 0) counts.commands_written += 1;
          else counts.commands_refused += 1;
          ctx.audit({ ...base, signal: w.entry.id, outcome: exception === 0 ? 'written' : 'refused', exception, ...(exception === 0 ? {} : { code: 'GLM_ERR_NORTHBOUND_COMMAND_REFUSED', reason: 'the gateway refused the write' }) });
        } catch (err) {
          counts.commands_refused += 1;
          ctx.audit({ ...base, signal: w.entry.id, outcome: 'failed', code: asGlimmerError(err).code });
        }
      }
    })();
  }

  const node = new SparkplugEdgeNode({
    brokerUrl: nb.broker, groupId: nb.groupId, edgeNodeId: nb.edgeNodeId, devices, queue,
    ...(nb.primaryHostId === undefined ? {} : { primaryHostId: nb.primaryHostId }),
    ...(nb.serverName === undefined ? {} : { servername: nb.serverName }),
    credentials: () => {
      const svid = identity();
      return { ca: caPem, cert: svid.certPem, key: svid.keyPem };
    },
    allowDevice: (d) => allowed.has(d.id),
    onCommand,
    onStateChange: (born) => ctx.logger.info({ born, broker: nb.broker }, born ? 'northbound: born' : 'northbound: link down; storing'),
    replay: { window: 64, perSecond: nb.replayMaxMessagesPerS },
    logger: ctx.logger,
  });
  node.start();

  function flowRecord(): void {
    const s = node.stats();
    const q = queue.stats();
    const dropped = Object.values(q).reduce((n, x) => n + x.dropped, 0);
    const now = Date.now();
    ctx.audit({
      type: 'northbound.flow', from_zone: spec.zone, to_zone: nb.zone, group_id: nb.groupId, edge_node_id: nb.edgeNodeId,
      window_s: Math.round((now - windowStart) / 1000), updates: counts.updates, metrics: s.metrics - last.metrics, messages: s.messages - last.messages,
      replayed: s.replayed - last.replayed, dropped: dropped - last.dropped, queued: queue.depth, fields_dropped: counts.fields_dropped,
      commands_refused: counts.commands_refused, commands_written: counts.commands_written, queue_refused: counts.queue_refused,
    });
    last = { messages: s.messages, metrics: s.metrics, replayed: s.replayed, dropped };
    windowStart = now;
    counts.updates = 0;
    counts.fields_dropped = 0;
    counts.commands_refused = 0;
    counts.commands_written = 0;
    counts.queue_refused = 0;
  }
  const flowTimer = setInterval(flowRecord, FLOW_WINDOW_MS);
  flowTimer.unref();

  function onSafetyEvent(raw: unknown): void {
    const body = raw as { time_ms?: unknown; codes?: unknown } | null;
    if (body === null || typeof body !== 'object' || typeof body.time_ms !== 'number') return;
    try {
      const codes = Array.isArray(body.codes) ? body.codes.filter((c): c is string => typeof c === 'string').slice(0, 16).join(',') : '';
      const { record, dropped } = filterRecord({ ...body, codes }, EVENT_SCHEMA, () => '');
      counts.fields_dropped += dropped.length;
      shutdowns += 1;
      const id = (signal: string) => `${SAFETY_EVENTS_DEVICE}.${signal}`;
      node.update(new Map<string, SignalValue>([
        [id('shutdown_target'), String(record.target ?? '').slice(0, 64)], [id('shutdown_outcome'), String(record.outcome ?? '').slice(0, 32)],
        [id('shutdown_codes'), String(record.codes ?? '').slice(0, 512)], [id('shutdowns'), shutdowns],
      ]), body.time_ms);
    } catch (err) {
      const e = asGlimmerError(err);
      if (e.code === 'GLM_ERR_NORTHBOUND_QUEUE_FULL') counts.queue_refused += 1;
      ctx.logger.warn({ code: e.code }, 'northbound: safety event not taken');
    }
  }

  function status(): Record<string, unknown> {
    const s = node.stats();
    const now = Date.now();
    return {
      born: s.born, connected: s.connected, bd_seq: s.bdSeq, sessions: s.sessions, messages: s.messages, metrics: s.metrics, replayed: s.replayed,
      denied_devices: s.deniedDevices, bad_payloads: s.badPayloads, broker_zone: nb.zone,
      queue: Object.fromEntries(Object.entries(queue.stats()).map(([k, v]) => [k, { depth: v.depth, bytes: v.bytes, budget_bytes: v.budgetBytes, oldest_age_s: v.oldestTs === undefined ? 0 : Math.max(0, (now - v.oldestTs) / 1000), dropped: v.dropped }])),
      disk_bytes: queue.diskBytes(),
    };
  }

  return {
    handle(message) {
      if (message.topic === SAFETY_EVENT_TOPIC && !paused) {
        onSafetyEvent(message.body);
        return;
      }
      if (message.topic !== SIGNALS_TOPIC || paused) return;
      const body = message.body as { time_ms?: unknown; values?: unknown } | null;
      if (body === null || typeof body !== 'object' || typeof body.time_ms !== 'number') return;
      try {
        const filtered = filterRecord(body.values, SIGNAL_SCHEMA, () => '');
        counts.fields_dropped += filtered.dropped.length;
        const values = new Map<string, SignalValue>();
        for (const [k, v] of Object.entries(filtered.record)) if (typeof v === 'number' || typeof v === 'boolean') values.set(k, v);
        node.update(values, body.time_ms);
        counts.updates += 1;
      } catch (err) {
        const e = asGlimmerError(err);
        if (e.code === 'GLM_ERR_NORTHBOUND_QUEUE_FULL') counts.queue_refused += 1;
        ctx.logger.warn({ code: e.code }, 'northbound: plant values not taken');
      }
      ctx.publish({ northbound: status() });
    },
    setPaused(p) {
      paused = p;
    },
    status,
    async stop() {
      clearInterval(flowTimer);
      await node.stop();
      flowRecord();
      gateway?.close();
      queue.close();
    },
  };
}

function readCa(file: string): string {
  try {
    const pem = fs.readFileSync(file, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return pem;
  } catch (err) {
    throw new GlimmerError('GLM_ERR_NORTHBOUND_CONFIG_INVALID', `northbound.ca_file ${file} cannot be used: ${(err as Error).message}`, { cause: err });
  }
}

/** The Cedar policy's answer per device (asked once at start; every answer is audited by the PDP). */
async function topicDecisions(ctx: AgentContext, nb: NorthboundConfig, devices: readonly SparkplugDevice[]): Promise<Set<string>> {
  const { PolicyDecisionPoint } = await import('../../trust/policy/pdp');
  const trustDomain = ctx.config.topology.trust_domain;
  const pdp = await PolicyDecisionPoint.create({
    model: { ...ctx.config, trustDomain }, audit: (r) => ctx.audit(r),
    validatedDir: path.join(ctx.stateDir, 'cache', 'cedar-validated'),
  });
  const self = agentSpiffeId(trustDomain, ctx.spec.zone, ctx.spec.name);
  const conduit = conduitBetween(ctx.config.conduits, ctx.spec.zone, nb.zone) !== undefined;
  const allowed = new Set<string>();
  for (const d of devices) {
    const topic = `${NAMESPACE}/${nb.groupId}/+/${nb.edgeNodeId}/${d.id}`;
    const decision = pdp.authorize(self, 'publish', { type: 'Topic', id: topic, namespace: NAMESPACE, zone: nb.zone, asset: d.id, safety: d.safety, conduit }, { protocol: 'mqtt' });
    if (decision.allow) allowed.add(d.id);
  }
  return allowed;
}
