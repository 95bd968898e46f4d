/**
 * The Modbus gateway's per-frame enforcement point: `(request) => Decision` with a decision cache in front of the PDP.
 *
 * Why the cache is exact: the decision for a frame is a pure function of (policy set, policy model, plant map,
 * frame request). The frame request fields (principal, unit id, function code, address, quantity) are the whole cache
 * key; everything else the policy reads (the principal's zone, security level, kind, roles; the table, safety flag,
 * writable_from and zone of the range) is derived from them and from the three inputs. The plant map is fixed for
 * the life of a decider, and the PDP's `generation` changes on every policy or model change (identity, zone, role),
 * upon which the whole cache is dropped before the next lookup. So a cached answer is always the answer the PDP
 * would give now. test/trust/frame-cache.test.ts checks this with fast-check over random requests and random
 * invalidations. The cache is bounded (oldest entry evicted first).
 */
import type { AuditSink } from '../../model/messages';
import type { TrustAuditRecord } from '../audit';
import { zoneClientId } from './principals';
import { resourceLabel, type PolicyDecision, type PolicyDecisionPoint, type PolicyResource } from './pdp';

/** What the gateway knows about one parsed Modbus request. */
export interface FrameRequest {
  /** SPIFFE ID of the client (from its mTLS certificate, or the identity the gateway assigned to the conduit). */
  readonly principal: string;
  readonly unitId: number;
  readonly functionCode: number;
  /** First PDU address (0-based). */
  readonly address: number;
  /** Number of coils/registers addressed (1 for function codes 5 and 6). */
  readonly quantity: number;
  /**
   * The plant map entries of the addressed range, in address order, when the caller already looked them up (the
   * gateway has): the decider then reads them instead of its own index. They are a function of the other fields, so
   * they are not part of the cache key.
   */
  readonly signals?: readonly PlantSignal[];
  /** Where the write came from (the policy context's protocol). @default 'modbus' */
  readonly protocol?: 'modbus' | 'opcua';
  /** The OPC UA client application's URI (policy context `applicationUri`). */
  readonly applicationUri?: string;
}

/** The plant map fields the decider reads (runtime/model/plant-map.ts PlantMapEntry fits). */
export interface PlantSignal {
  readonly unit_id: number;
  readonly table: 'coil' | 'discrete' | 'input' | 'holding';
  readonly address: number;
  readonly zone: string;
  readonly safety: boolean;
  readonly writable_from: readonly string[];
}

export type FrameDecision = PolicyDecision & { readonly cached: boolean };

export interface FrameDecider {
  /** The function the gateway calls per frame. */
  readonly decide: (request: FrameRequest) => FrameDecision;
  /** Drops every cached decision (also done automatically on any PDP change). */
  invalidate(): void;
  /** Increases whenever the cache is dropped (a PDP change or invalidate()): caches of answers key on it. */
  readonly version: number;
  readonly size: number;
  readonly hits: number;
  readonly misses: number;
}

export interface FrameDeciderOptions {
  readonly plantMap: readonly PlantSignal[];
  /** Audit sink for frame decisions. @default the PDP's decisions are audited through `audit` when given */
  readonly audit?: AuditSink<TrustAuditRecord>;
  /** Which frame decisions to audit. @default 'all' */
  readonly auditDecisions?: 'all' | 'deny' | 'none';
  /** @default 65536 */
  readonly maxEntries?: number;
  /** Called on every lookup (metrics: glimmer_policy_cache_lookups_total). */
  readonly onLookup?: (hit: boolean) => void;
  /** Called with every frame decision, cached or not (metrics: glimmer_policy_decisions_total). */
  readonly onDecision?: (decision: PolicyDecision, action: string) => void;
}

const FUNCTIONS: Readonly<Record<number, { action: 'read' | 'write'; table: PlantSignal['table']; single?: true }>> = {
  1: { action: 'read', table: 'coil' },
  2: { action: 'read', table: 'discrete' },
  3: { action: 'read', table: 'holding' },
  4: { action: 'read', table: 'input' },
  5: { action: 'write', table: 'coil', single: true },
  6: { action: 'write', table: 'holding', single: true },
  15: { action: 'write', table: 'coil' },
  16: { action: 'write', table: 'holding' },
};

/** Modbus limits on one request (coils / registers). */
const MAX_QUANTITY = 2000;
const MAX_ADDRESS = 0xffff;

/** Maps a frame to the PDP's request: exported so tests can ask the uncached PDP the same question. */
export function frameToPolicyRequest(index: PlantIndex, request: FrameRequest): { action: 'read' | 'write'; resource: PolicyResource } | string {
  const fn = FUNCTIONS[request.functionCode];
  if (fn === undefined) return 'unsupported-function';
  const { address, quantity, unitId } = request;
  if (!Number.isInteger(address) || !Number.isInteger(quantity) || !Number.isInteger(unitId) || address < 0 || quantity < 1 ||
      quantity > MAX_QUANTITY || address + quantity - 1 > MAX_ADDRESS || (fn.single && quantity !== 1)) {
    return 'invalid-range';
  }
  const zone = index.unitZones.get(unitId);
  if (zone === undefined) return 'unknown-unit';
  let safety = false;
  let mapped = true;
  let writers: Set<string> | undefined;
  const given = request.signals !== undefined && request.signals.length === quantity ? request.signals : undefined;
  for (let a = address; a < address + quantity; a++) {
    const signal = given !== undefined ? given[a - address] : index.signals.get(`${unitId}/${fn.table}/${a}`);
    if (signal === undefined) {
      mapped = false;
      continue;
    }
    safety ||= signal.safety;
    writers = writers === undefined ? new Set(signal.writable_from) : new Set(signal.writable_from.filter((z) => writers?.has(z)));
  }
  return {
    action: fn.action,
    resource: { type: 'Register', unitId, table: fn.table, address, quantity, zone, safety, writableFrom: [...(writers ?? [])].sort(), mapped },
  };
}

export interface PlantIndex {
  readonly signals: ReadonlyMap<string, PlantSignal>;
  readonly unitZones: ReadonlyMap<number, string>;
}

export function indexPlantMap(plantMap: readonly PlantSignal[]): PlantIndex {
  const signals = new Map<string, PlantSignal>();
  const unitZones = new Map<number, string>();
  for (const s of plantMap) {
    signals.set(`${s.unit_id}/${s.table}/${s.address}`, s);
    if (!unitZones.has(s.unit_id)) unitZones.set(s.unit_id, s.zone);
  }
  return { signals, unitZones };
}

/** The uncached frame decision (what the cache must always agree with). */
export function decideFrame(pdp: PolicyDecisionPoint, index: PlantIndex, request: FrameRequest): PolicyDecision {
  const mapped = frameToPolicyRequest(index, request);
  if (typeof mapped === 'string') return { allow: false, reasons: [mapped], errors: [] };
  return pdp.decide(request.principal, mapped.action, mapped.resource, { protocol: 'modbus', functionCode: request.functionCode });
}

export function createFrameDecider(pdp: PolicyDecisionPoint, options: FrameDeciderOptions): FrameDecider {
  const index = indexPlantMap(options.plantMap);
  const max = options.maxEntries ?? 65536;
  const auditWhat = options.audit === undefined ? 'none' : (options.auditDecisions ?? 'all');
  interface Entry {
    readonly decision: PolicyDecision;
    readonly action: string;
    readonly resource: string;
  }
  const cache = new Map<string, Entry>();
  let generation = pdp.generation;
  let version = 0;
  let hits = 0;
  let misses = 0;
  const sync = () => {
    if (pdp.generation === generation) return;
    cache.clear();
    generation = pdp.generation;
    version += 1;
  };

  const evaluate = (request: FrameRequest): Entry => {
    const mapped = frameToPolicyRequest(index, request);
    if (typeof mapped === 'string') {
      return { decision: Object.freeze({ allow: false, reasons: [mapped], errors: [] }), action: `modbus:${request.functionCode}`, resource: `Frame::${request.unitId}/${request.functionCode}/${request.address}+${request.quantity}` };
    }
    const decision = pdp.decide(request.principal, mapped.action, mapped.resource, {
      protocol: request.protocol ?? 'modbus', functionCode: request.functionCode, ...(request.applicationUri !== undefined ? { applicationUri: request.applicationUri } : {}),
    });
    return { decision: Object.freeze(decision), action: mapped.action, resource: resourceLabel(mapped.resource) };
  };

  const decide = (request: FrameRequest): FrameDecision => {
    sync();
    // Numbers first, principal last: the key is unambiguous whatever the principal string holds.
    const key = request.protocol === undefined || request.protocol === 'modbus'
      ? `${request.unitId}|${request.functionCode}|${request.address}|${request.quantity}|${request.principal}`
      : `${request.unitId}|${request.functionCode}|${request.address}|${request.quantity}|${request.protocol}|${request.applicationUri ?? ''}|${request.principal}`;
    let entry = cache.get(key);
    const hit = entry !== undefined;
    if (entry === undefined) {
      misses += 1;
      entry = evaluate(request);
      if (cache.size >= max) cache.delete(cache.keys().next().value as string);
      cache.set(key, entry);
    } else {
      hits += 1;
    }
    options.onLookup?.(hit);
    const d = entry.decision;
    options.onDecision?.(d, entry.action);
    if (auditWhat === 'all' || (auditWhat === 'deny' && !d.allow)) {
      options.audit?.({
        type: 'policy.decision', at: new Date().toISOString(), decision: d.allow ? 'allow' : 'deny', subject: request.principal,
        action: entry.action, resource: entry.resource, reasons: d.reasons, errors: d.errors, enforcement: request.protocol ?? 'modbus',
        ...(request.applicationUri !== undefined ? { application_uri: request.applicationUri } : {}),
      });
    }
    return { allow: d.allow, reasons: d.reasons, errors: d.errors, cached: hit };
  };

  return {
    decide,
    invalidate: () => {
      cache.clear();
      version += 1;
    },
    get version() {
      sync();
      return version;
    },
    get size() {
      return cache.size;
    },
    get hits() {
      return hits;
    },
    get misses() {
      return misses;
    },
  };
}

/** The zone's network-client principal, one string per zone (the gateway asks per frame). */
function zonePrincipals(trustDomain: string): (zone: string) => string {
  const principals = new Map<string, string>();
  return (zone) => {
    let principal = principals.get(zone);
    if (principal === undefined) {
      principal = zoneClientId(trustDomain, zone);
      principals.set(zone, principal);
    }
    return principal;
  };
}

/** The fields of the gateway's write request (runtime/industrial/write-decision.ts WriteRequest) this adapter reads. */
export interface GatewayWriteRequest {
  /** Zone of the listener the client connected to. */
  readonly zone: string;
  readonly unitId: number;
  readonly functionCode: number;
  readonly address: number;
  readonly quantity: number;
  readonly signals: readonly PlantSignal[];
  /** An identified writer (OPC UA user) instead of the zone's network client. */
  readonly principal?: string;
  readonly protocol?: 'modbus' | 'opcua';
  readonly applicationUri?: string;
}

/**
 * Adapts the frame decider to the gateway's `decide` option: the client is the zone's network-client principal
 * (see zoneClientId); a deny names the deciding policies. Raw written values are not part of the policy request
 * (range and interlock checks are the gateway's), so they are rightly absent from the cache key.
 */
export function gatewayDecide(decider: FrameDecider, trustDomain: string): (request: GatewayWriteRequest) => { allow: boolean; reason?: string; by: 'policy' } {
  const principalOf = zonePrincipals(trustDomain);
  return (r) => {
    const principal = r.principal ?? principalOf(r.zone);
    const d = decider.decide({
      principal, unitId: r.unitId, functionCode: r.functionCode, address: r.address, quantity: r.quantity, signals: r.signals,
      ...(r.protocol !== undefined ? { protocol: r.protocol } : {}), ...(r.applicationUri !== undefined ? { applicationUri: r.applicationUri } : {}),
    });
    return d.allow ? { allow: true, by: 'policy' } : { allow: false, reason: `policy: ${d.reasons.join(', ')}`, by: 'policy' };
  };
}

/** The fields of the gateway's read request (runtime/industrial/read-decision.ts ReadRequest). */
export interface GatewayReadRequest {
  readonly zone: string;
  readonly unitId: number;
  readonly functionCode: number;
  readonly address: number;
  readonly quantity: number;
}

/**
 * Adapts the frame decider to the gateway's read policy (Cedar `register-read` for the zone's network client). The
 * version is the frame decider's: the gateway keeps each answer per range until it changes.
 */
export function gatewayReadPolicy(decider: FrameDecider, trustDomain: string): { decide: (request: GatewayReadRequest) => { allow: boolean; reason?: string }; readonly version: number } {
  const principalOf = zonePrincipals(trustDomain);
  return {
    decide: (r) => {
      const d = decider.decide({ principal: principalOf(r.zone), unitId: r.unitId, functionCode: r.functionCode, address: r.address, quantity: r.quantity });
      return d.allow ? { allow: true } : { allow: false, reason: `policy: ${d.reasons.join(', ')}` };
    },
    get version() {
      return decider.version;
    },
  };
}
