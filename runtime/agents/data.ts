/**
 * The Data Agent: moves records from its zone to a neighbouring zone over a conduit of the zone model, through the
 * GDPR filter (default deny on fields; operator names, badge ids and e-mails leave only as keyed pseudonyms that an
 * erasure request crypto-shreds). Delivery is durable (fsynced JSON Lines per target zone); each batch is audited with
 * counts only, never the personal values. Its A2A endpoint takes only safety orders about itself; while PAUSED (a
 * safety hold) it exports nothing.
 *
 * With a `northbound` section naming it, it is also the plant's Sparkplug B edge node towards the enterprise's MQTT
 * broker, with durable store-and-forward (agents/data/northbound.ts).
 */
import path from 'node:path';
import type { Pseudonymiser as SubjectKeys } from '../audit/gdpr';
import { GlimmerError, asGlimmerError, quote } from '../errors';
import type { AgentContext, BehaviourFactory } from './behaviour';
import type { AgentMessage } from '../model/messages';
import { policyArtifacts, startAgentMessenger, TOPIC_SHUTDOWN } from '../trust/a2a/messenger';
import { conduitBetween } from './data/conduits';
import { DEFAULT_EXPORT_SCHEMA, filterRecord } from './data/filter';
import { ZoneOutbox } from './data/outbox';
import type { NorthboundLink } from './data/northbound';

export const EXPORT_TOPIC = 'records.export';
const MAX_BATCH = 1000;

export interface ExportRequest {
  readonly to_zone: string;
  readonly records: readonly unknown[];
}

function parseRequest(body: unknown): ExportRequest {
  const b = body as Partial<ExportRequest> | null;
  if (b === null || typeof b !== 'object' || typeof b.to_zone !== 'string' || !Array.isArray(b.records)) {
    throw new GlimmerError('GLM_ERR_DATA_RECORD_INVALID', `an export request needs to_zone (string) and records (array), received ${quote(body)}`);
  }
  if (b.records.length > MAX_BATCH) throw new GlimmerError('GLM_ERR_DATA_RECORD_INVALID', `an export batch holds at most ${MAX_BATCH} records, received ${b.records.length}`);
  return { to_zone: b.to_zone, records: b.records };
}

const factory: BehaviourFactory = (spec, config) => {
  let outbox: ZoneOutbox | undefined;
  let northbound: NorthboundLink | undefined;
  let keys: SubjectKeys | undefined;
  let exported = 0;
  let refused = 0;
  /** PAUSED (a safety hold): no record leaves the zone until the supervisor resumes the agent. */
  let paused = false;

  function handle(ctx: AgentContext, message: AgentMessage): void {
    if (northbound !== undefined && message.topic !== EXPORT_TOPIC) {
      northbound.handle(message);
      return;
    }
    if (message.topic !== EXPORT_TOPIC || !outbox || !keys) return;
    try {
      if (paused) throw new GlimmerError('GLM_ERR_SAFETY_HELD', `agent ${spec.name} is paused; no records are exported until it resumes`);
      const request = parseRequest(message.body);
      if (!config.zones.some((z) => z.name === request.to_zone) || !conduitBetween(config.conduits, spec.zone, request.to_zone)) {
        throw new GlimmerError('GLM_ERR_DATA_NO_CONDUIT', `no data conduit connects zone ${spec.zone} to zone ${quote(request.to_zone)}`);
      }
      const subjectKeys = keys;
      const results = request.records.map((r) => filterRecord(r, DEFAULT_EXPORT_SCHEMA, (id) => subjectKeys.pseudonym(id)));
      outbox.deliver(request.to_zone, results.map((r) => r.record));
      exported += results.length;
      ctx.audit({
        type: 'data.export',
        from_zone: spec.zone,
        to_zone: request.to_zone,
        requested_by: message.from,
        records: results.length,
        fields_dropped: results.reduce((n, r) => n + r.dropped.length, 0),
        fields_pseudonymised: results.reduce((n, r) => n + r.pseudonymised.length, 0),
      });
    } catch (err) {
      const e = asGlimmerError(err);
      refused += 1;
      ctx.audit({ type: 'data.export.refused', from_zone: spec.zone, requested_by: message.from, code: e.code });
      ctx.logger.warn({ code: e.code, reason: e.message }, 'export refused');
    }
    ctx.publish({ exported, refused });
  }

  return {
    // Its A2A endpoint takes safety orders about it (safety_integrity_check), which its supervisor enforces.
    // With the edge node it also loads the Sparkplug B schema; both are measured at boot.
    artifacts: config.northbound?.agent === spec.name ? [...policyArtifacts(), 'runtime/northbound/sparkplug/sparkplug_b.proto'] : policyArtifacts(),
    messaging: { start: startAgentMessenger, accepts: [{ topic: TOPIC_SHUTDOWN, action: 'shutdown', description: 'Holds or releases this agent (its supervisor pauses it) on a safety order' }] },
    async start(ctx) {
      const { openPseudonymiser } = await import('../audit/gdpr');
      const { isClusterMode, clusterSettings } = await import('../lifecycle/cluster');
      // Cluster mode: the subject keys are sealed under a data key that only the HSM-backed KMS key unwraps.
      let dataKey: Buffer | undefined;
      if (isClusterMode()) {
        const { kmsDataKey } = await import('../audit/data-key');
        dataKey = await kmsDataKey({ keyId: clusterSettings().dataKey, stateDir: ctx.stateDir });
      }
      keys = openPseudonymiser({ stateDir: ctx.stateDir, ...(dataKey ? { dataKey } : {}) });
      outbox = new ZoneOutbox(path.join(ctx.stateDir, 'exports'));
      if (config.northbound?.agent === spec.name) {
        const { startNorthbound } = await import('./data/northbound');
        northbound = await startNorthbound(ctx, config.northbound);
      }
      ctx.onMessage((m) => handle(ctx, m));
      ctx.publish({ exported, refused });
    },
    async pause() {
      paused = true;
      northbound?.setPaused(true);
    },
    async resume() {
      paused = false;
      northbound?.setPaused(false);
    },
    async stop() {
      await northbound?.stop();
      northbound = undefined;
      outbox?.close();
      outbox = undefined;
      keys?.close();
      keys = undefined;
    },
  };
};
export default factory;
