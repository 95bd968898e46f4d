/**
 * The Industrial Agent (IEC 62443, zone `control` by default): watches the plant over OPC UA (SignAndEncrypt session,
 * one subscription with a monitored item per signal; the session and its subscriptions come back by themselves after
 * a server restart) and forwards a plant snapshot to every cognitive agent once per `SNAPSHOT_INTERVAL_MS`
 * (topic `plant.snapshot`, body: a PlantSnapshot built from the wire values; faults are not observable, so empty).
 *
 * It executes the shutdowns it is sent (topic `safety.shutdown`, body `{ target, codes?, decision_id?, attempt? }`) as Modbus
 * writes through the security gateway's listener of its own zone, so the gateway's policy, interlocks and audit apply:
 * a pump target stops that pump, a valve target closes that valve, any other plant unit (a tank, `plant`,
 * `safety_1`) trips the emergency stop; unknown targets are refused (an order naming this agent goes to its supervisor). Only when the gateway cannot be reached at all does it fall back to the same
 * write over OPC UA (the OPC UA server applies the same write decision). Refusals are never retried another way.
 * Each order is acknowledged to the agent that sent it (topic `safety.ack`) once the write's effect is seen in the PLC
 * over the subscription (or not seen within PLC_CONFIRM_MS: `plc_after` null), so the sender never has to repeat it.
 * node-opcua is loaded inside start(), never at import.
 */
import type { AgentBehaviour, AgentContext, BehaviourFactory } from './behaviour';
import type { AgentMessage, PlcStateAfter, SafetyAck, ShutdownOrder } from '../model/messages';
import { policyArtifacts, startAgentMessenger, TOPIC_ACK, TOPIC_SHUTDOWN, TOPIC_SNAPSHOT } from '../trust/a2a/messenger';
import { parseShutdownBody } from './safety-orders';
import { GlimmerError, asGlimmerError, quote } from '../errors';
import type { PlantOpcuaClient } from '../industrial/opcua/client';
import { ModbusTcpClient } from '../industrial/modbus/client';
import { requestPdu } from '../industrial/modbus/frame';
import { mapEntry, snapshotFromSignals } from '../industrial/plant/map';
import { plantMap, toRaw } from '../model/plant-map';
import { PROCESS_ZONE } from '../model/plant';

/** Snapshot cadence towards the cognitive agents (the anomaly model's windows are 1 s apart). */
export const SNAPSHOT_INTERVAL_MS = 1000;
/**
 * OPC UA sampling of the plant signals: 0 asks for exception-based reporting (each change as it happens; a server
 * revises it to its fastest sampling where it has none), published every PUBLISHING_INTERVAL_MS (a server revises it up
 * to its floor). Every published change also goes to the Cognitive agents at once as a `change` snapshot (rules only,
 * outside the model's 1 s window), so a hazard reaches the safety rules within about one publishing interval instead of
 * waiting for the next periodic snapshot.
 */
export const SAMPLING_INTERVAL_MS = 0;
export const PUBLISHING_INTERVAL_MS = 10;
/** How long an executed order waits to see its write in the PLC (over the subscription) before it is acknowledged without. */
export const PLC_CONFIRM_MS = 1000;

/** The write that shuts `target` down: [signal id, engineering value], or undefined when it is no plant unit. */
export function shutdownWrite(target: string): [string, boolean] | undefined {
  const assets = new Set(plantMap().map((e) => e.asset));
  if (/^pump_\d+$/.test(target) && assets.has(target)) return [`${target}.run`, false];
  if (/^valve_\d+$/.test(target) && assets.has(target)) return [`${target}.open`, false];
  if (target === 'plant' || assets.has(target)) return ['safety_1.emergency_stop', true];
  return undefined;
}

function parseEndpoint(text: string | undefined, what: string): { host: string; port: number } {
  const m = /^([^:]+):(\d{1,5})$/.exec(text ?? '');
  if (!m) throw new GlimmerError('GLM_ERR_INDUSTRIAL_COMMAND_FAILED', `endpoint ${what} is missing or not host:port, received ${quote(text)}`);
  return { host: m[1] as string, port: Number(m[2]) };
}

const factory: BehaviourFactory = (spec, config) => {
  let ctx: AgentContext | undefined;
  let opcua: PlantOpcuaClient | undefined;
  let modbus: ModbusTcpClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let shutdowns = 0;
  let lastSnapshotAt = 0;
  let changeQueued = false;
  /** Executed writes waiting to be seen in the PLC: signal -> expected value and who waits. */
  const confirming = new Set<{ signal: string; value: boolean; done: (seen: PlcStateAfter | null) => void }>();
  const seen = (signal: string, value: number | boolean): void => {
    for (const w of confirming) if (w.signal === signal && w.value === value) { confirming.delete(w); w.done({ signal, value, at_ms: Date.now() }); }
  };
  /** Resolves once `signal` reads `value` in the PLC's subscription data, or with null after PLC_CONFIRM_MS. */
  function plcAfter(signal: string, value: boolean): Promise<PlcStateAfter | null> {
    if (opcua?.values.get(signal) === value) return Promise.resolve({ signal, value, at_ms: Date.now() });
    return new Promise((resolve) => {
      const w = { signal, value, done: (s: PlcStateAfter | null) => { clearTimeout(timer); resolve(s); } };
      const timer = setTimeout(() => { confirming.delete(w); resolve(null); }, PLC_CONFIRM_MS);
      confirming.add(w);
    });
  }
  const cognitive = config.agents.filter((a) => a.kind === 'cognitive').map((a) => a.name);

  async function gateway(): Promise<ModbusTcpClient> {
    if (modbus && !modbus.closed) return modbus;
    const { host, port } = parseEndpoint(ctx?.endpoints[`modbus_${spec.zone}`], `modbus_${spec.zone}`);
    const client = new ModbusTcpClient(host, port, 2000);
    await client.connect();
    modbus = client;
    return client;
  }

  async function execute(request: Pick<ShutdownOrder, 'target'> & Partial<ShutdownOrder>): Promise<Pick<SafetyAck, 'outcome' | 'plc_after'>> {
    const c = ctx as AgentContext;
    const write = shutdownWrite(request.target);
    if (write === undefined) {
      c.audit({ type: 'industrial.shutdown', target: request.target, outcome: 'unknown_target', decision_id: request.decision_id ?? null, attempt: request.attempt ?? 1 });
      c.logger.warn({ target: request.target }, 'shutdown target is no plant unit; ignored');
      return { outcome: 'unknown_target', plc_after: null };
    }
    const [signal, value] = write;
    const entry = mapEntry(signal);
    let via = 'modbus';
    let exception = 0;
    let modbusRef: { zone: string; peer_port: number; transaction: number } | null = null;
    try {
      const client = await gateway();
      const pdu = entry.table === 'coil' ? requestPdu.writeCoil(entry.address, value) : requestPdu.writeRegister(entry.address, toRaw(entry, value));
      const response = await client.request(entry.unit_id, pdu);
      exception = response.exception;
      modbusRef = { zone: spec.zone, peer_port: client.localPort, transaction: response.transaction };
    } catch (err) {
      // The gateway is unreachable (not a refusal): the same write over OPC UA, under the same write decision.
      via = 'opcua';
      c.logger.warn({ err: asGlimmerError(err).code }, 'gateway unreachable; shutdown over OPC UA');
      try {
        if (!opcua) throw err;
        await opcua.write(signal, value);
      } catch (err2) {
        c.audit({ type: 'industrial.shutdown', target: request.target, signal, via, outcome: 'failed', code: asGlimmerError(err2).code, decision_id: request.decision_id ?? null, attempt: request.attempt ?? 1 });
        throw new GlimmerError('GLM_ERR_INDUSTRIAL_COMMAND_FAILED', `shutdown of ${quote(request.target)} failed: ${asGlimmerError(err2).message}`, { cause: err2 });
      }
    }
    const outcome = exception === 0 ? 'executed' : 'refused';
    if (outcome === 'executed') shutdowns++;
    const executedAt = Date.now();
    const after = outcome === 'executed' ? await plcAfter(signal, value) : null;
    c.audit({
      type: 'industrial.shutdown', target: request.target, signal, value, via, outcome, exception, codes: request.codes ?? [], decision_id: request.decision_id ?? null,
      attempt: request.attempt ?? 1, snapshot_time_ms: request.snapshot_time_ms ?? null, executed_at_ms: executedAt, modbus: modbusRef, plc_after: after,
    });
    c.publish({ shutdowns, last_shutdown: { target: request.target, signal, outcome, via, at: new Date().toISOString() } });
    if (outcome === 'refused') c.logger.warn({ target: request.target, signal, exception }, 'shutdown refused by the gateway');
    return { outcome: outcome === 'executed' && after === null ? 'unconfirmed' : outcome, plc_after: after };
  }

  function onMessage(message: AgentMessage): void {
    if (message.topic !== TOPIC_SHUTDOWN) return;
    // Validated by the agent process, which also passed an order naming this agent up to the supervisor instead.
    const body = parseShutdownBody(message.body);
    if (body.action === 'release') {
      // A stopped plant unit stays stopped until an operator restarts it.
      ctx?.audit({ type: 'industrial.shutdown', target: body.target, outcome: 'release_ignored', decision_id: body.decision_id });
      return;
    }
    const attempt = body.attempt;
    const ack = (result: Pick<SafetyAck, 'outcome' | 'plc_after'>): void => {
      if (body.decision_id === null) return;
      const reply: SafetyAck = { decision_id: body.decision_id, target: body.target, attempt, ...result };
      ctx?.send(message.from, TOPIC_ACK, reply);
    };
    execute({ target: body.target, snapshot_time_ms: body.snapshot_time_ms, codes: body.codes, decision_id: body.decision_id ?? undefined, attempt })
      .then(ack, (err) => {
        ctx?.logger.error({ code: asGlimmerError(err).code }, 'shutdown failed');
        ack({ outcome: 'failed', plc_after: null });
      });
  }

  const behaviour: AgentBehaviour = {
    // The PDP of its A2A endpoint loads these (the cognitive agents' shutdown orders arrive there).
    artifacts: policyArtifacts(),
    messaging: { start: startAgentMessenger, accepts: [{ topic: TOPIC_SHUTDOWN, action: 'shutdown', description: 'Executes a safety shutdown of a plant unit through the zone gateway' }] },
    async start(context) {
      ctx = context;
      stopped = false;
      const { connectPlantOpcua, externalOpcuaSession } = require('../industrial/opcua/client') as typeof import('../industrial/opcua/client');
      const { opcuaSecurityFor } = require('../industrial/opcua/security') as typeof import('../industrial/opcua/security');
      // A real plant (plant.mode external): its server, certificate and credentials from the config; else the embedded one.
      const session = externalOpcuaSession(config, spec.name) ?? { endpointUrl: context.endpoints.opcua, user: spec.name };
      const endpointUrl = session.endpointUrl;
      if (!endpointUrl) throw new GlimmerError('GLM_ERR_OPCUA_CONNECT_FAILED', 'no OPC UA endpoint in the agent context (endpoints.opcua)');
      opcua = await connectPlantOpcua({
        ...session, endpointUrl, stateDir: context.stateDir, name: spec.name,
        security: opcuaSecurityFor(config, PROCESS_ZONE), logger: context.logger,
        samplingIntervalMs: SAMPLING_INTERVAL_MS,
        publishingIntervalMs: PUBLISHING_INTERVAL_MS,
        // The values of one publish arrive in one burst: one change snapshot per burst.
        onValue: (signal, value) => {
          if (confirming.size > 0) seen(signal, value);
          if (changeQueued || stopped) return;
          changeQueued = true;
          setImmediate(() => {
            changeQueued = false;
            if (stopped || !opcua || opcua.values.size === 0) return;
            const snapshot = { ...snapshotFromSignals(opcua.values, Date.now(), config.plant.seed), trigger: 'change' };
            for (const to of cognitive) context.send(to, TOPIC_SNAPSHOT, snapshot);
          });
        },
        onRecovered: () => context.audit({ type: 'industrial.opcua_recovered', endpoint: endpointUrl }),
      });
      context.onMessage(onMessage);
      timer = setInterval(() => {
        if (stopped || !opcua || opcua.values.size === 0) return;
        const snapshot = snapshotFromSignals(opcua.values, Date.now(), config.plant.seed);
        for (const to of cognitive) context.send(to, TOPIC_SNAPSHOT, snapshot);
        lastSnapshotAt = snapshot.time_ms;
      }, SNAPSHOT_INTERVAL_MS);
      timer.unref();
      context.publish({ opcua: 'connected', shutdowns, snapshot_interval_ms: SNAPSHOT_INTERVAL_MS });
      context.logger.info({ endpoint: endpointUrl }, 'industrial agent watching the plant');
    },
    async pause() {
      ctx?.publish({ paused: true, last_snapshot_at: lastSnapshotAt });
    },
    async stop() {
      stopped = true;
      for (const w of confirming) w.done(null);
      confirming.clear();
      if (timer) clearInterval(timer);
      timer = undefined;
      modbus?.close();
      modbus = undefined;
      const c = opcua;
      opcua = undefined;
      await c?.close();
    },
  };
  return behaviour;
};
export default factory;
