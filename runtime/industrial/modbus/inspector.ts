/**
 * The gateway's inspection pipeline, independent of sockets so the benchmark runs exactly this code:
 * framing (close on a bad header) -> rate limit (06) -> unit route (0A) -> zone function allow-list (01) ->
 * request decoding (03/02/01) -> address range (02) -> for a read, the read policy (read-decision.ts, answer cached
 * per range; 02) -> for a write, writable_from (01) -> value range (03) -> the write decision (write-decision.ts:
 * policy, interlocks; 01) -> forward. Every decision is one audit record (batched) and one count (flushed to
 * prom-client in bulk).
 */
import type { ErrorCode } from '../../errors';
import type { Metrics } from '../../observability/metrics';
import type { Logger } from '../../observability/logger';
import type { AuditRecordInput } from '../../model/messages';
import { checkFrame, decodeRequest, EX, exceptionAdu, FRAME, frameLength, MAX_ADU_BYTES, newDecodedRequest, TABLE, TABLE_NAMES, writtenValue, type DecodedRequest } from './frame';
import type { CompiledRules } from './rules';
import type { PlantMapEntry } from '../../model/plant-map';
import { denySafetyWrites, movesToSafeState, type WriteDecider, type WriteDecision, type WriteRequest } from '../write-decision';
import type { ReadPolicy } from '../read-decision';

// Module-level copies: imported bindings are property reads on the module object in CommonJS (a getter each time
// under tsx); the per-frame path reads these locals instead.
const EMPTY = Buffer.alloc(0);
const check = checkFrame, lengthOf = frameLength, decode = decodeRequest, valueOf = writtenValue, exceptionFor = exceptionAdu;
const NEED_MORE = FRAME.NEED_MORE, OK = FRAME.OK, HOLDING = TABLE.HOLDING, MAX_ADU = MAX_ADU_BYTES;
const EX_FAILURE = EX.SERVER_DEVICE_FAILURE, EX_BUSY = EX.SERVER_DEVICE_BUSY, EX_PATH = EX.GATEWAY_PATH_UNAVAILABLE, EX_FUNCTION = EX.ILLEGAL_FUNCTION, EX_ADDRESS = EX.ILLEGAL_DATA_ADDRESS, EX_VALUE = EX.ILLEGAL_DATA_VALUE;

/** Verdicts: [decision, reason] pairs; the reason is the bounded metric label of glimmer_gateway_decisions_total. */
export const VERDICTS = [
  ['allow', 'zone'], ['allow', 'policy'], ['deny', 'function'], ['deny', 'address'], ['deny', 'sanity'], ['deny', 'zone'],
  ['deny', 'policy'], ['deny', 'interlock'], ['deny', 'rate_limit'], ['deny', 'route'], ['deny', 'malformed'], ['deny', 'upstream'], ['deny', 'slow_client'],
  ['deny', 'connection'], ['deny', 'audit'],
] as const;
const V_ALLOW_ZONE = 0, V_ALLOW_POLICY = 1, V_FUNCTION = 2, V_ADDRESS = 3, V_SANITY = 4, V_ZONE = 5, V_POLICY = 6, V_INTERLOCK = 7, V_RATE = 8, V_ROUTE = 9, V_MALFORMED = 10, V_UPSTREAM = 11, V_SLOW = 12, V_CONNECTION = 13, V_AUDIT = 14;
export const FUNCTION_NAMES = ['other', 'read_coils', 'read_discrete_inputs', 'read_holding_registers', 'read_input_registers', 'write_single_coil', 'write_single_register', 'write_multiple_coils', 'write_multiple_registers'] as const;
const FUNCTION_INDEX = new Uint8Array(256);
[1, 2, 3, 4, 5, 6].forEach((fc) => { FUNCTION_INDEX[fc] = fc; });
FUNCTION_INDEX[15] = 7; FUNCTION_INDEX[16] = 8;
const VERDICT_BY_EXCEPTION: Record<number, number> = { [EX.ILLEGAL_FUNCTION]: V_FUNCTION, [EX.ILLEGAL_DATA_ADDRESS]: V_ADDRESS, [EX.ILLEGAL_DATA_VALUE]: V_SANITY };

export interface GatewayAuditRecord extends AuditRecordInput {
  readonly type: 'modbus.decision';
  readonly time_ms: number;
  readonly zone: string;
  readonly connection: number;
  /** The client's address (the audit governor's source). */
  readonly peer: string;
  /**
   * The client's TCP source port (0 when unknown): with `transaction` it names one request of one connection, which is
   * how an agent's record of a write it made (`industrial.shutdown.modbus`) finds this decision.
   */
  readonly peer_port: number;
  readonly transaction: number;
  readonly unit: number;
  readonly function_code: number;
  readonly address: number;
  readonly quantity: number;
  readonly decision: 'allow' | 'deny';
  readonly reason: (typeof VERDICTS)[number][1];
  /** Modbus exception code answered (0 when forwarded or closed). */
  readonly exception: number;
  readonly code: ErrorCode | null;
  readonly safety: boolean;
}
export type GatewayAuditSink = (batch: GatewayAuditRecord[]) => void;

/** Where an allowed write's decision record is made durable before the write is forwarded (the audit log). */
export interface WriteEvidence {
  /** False while the audit log cannot commit: every write but the fail-safe direction is refused without trying. */
  committing(): boolean;
  /** Makes the record durable; resolves once it is, rejects when it cannot be. */
  commit(record: GatewayAuditRecord): Promise<unknown>;
  /** Whether this client address may add another write record now (its audit byte budget). @default - always */
  admit?(peer: string): boolean;
}

const EXCEPTION_CODES: Record<number, ErrorCode> = {
  [EX.ILLEGAL_FUNCTION]: 'GLM_ERR_MODBUS_FUNCTION_DENIED',
  [EX.ILLEGAL_DATA_ADDRESS]: 'GLM_ERR_MODBUS_ADDRESS_DENIED',
  [EX.ILLEGAL_DATA_VALUE]: 'GLM_ERR_MODBUS_VALUE_INVALID',
};

export interface InspectorLimits {
  /** Requests per second per connection (token bucket refill). @default 20000 */
  readonly ratePerSecond: number;
  /** Token bucket size. @default 2000 */
  readonly burst: number;
  /** Forwarded requests awaiting their answer per connection before the gateway stops reading it. @default 64 */
  readonly maxInflightPerClient: number;
}
/** Cached read answers (ranges) before the cache is dropped and refilled: memory stays bounded whatever is asked. */
const MAX_READ_ANSWERS = 65536;
/** Read answers are keyed `address * READ_KEY_SPAN + quantity - 1` (a small integer: quantity is at most 2000). */
const READ_KEY_SPAN = 2048;

export const DEFAULT_INSPECTOR_LIMITS: InspectorLimits = { ratePerSecond: 20_000, burst: 2_000, maxInflightPerClient: 64 };

/** What a session does with its verdicts (the socket gateway, or the benchmark). */
export interface SessionHooks {
  /** The request passed: forward it (the bytes are a view valid only during the call). */
  forward(session: ClientSession, request: DecodedRequest, adu: Buffer): void;
  /** Send these bytes back to the client. */
  reply(session: ClientSession, adu: Buffer): void;
  /** Close the connection (malformed or oversize frame, timeouts). */
  close(session: ClientSession, code: ErrorCode): void;
  /** Stop / resume reading from the client (inflight bound reached / drained). */
  pause(session: ClientSession): void;
  resume(session: ClientSession): void;
}

/** Batches audit records; hands a batch to the sink every `maxBatch` records or `flushMs`, never per frame. */
export class AuditBatcher {
  private batch: GatewayAuditRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly sink: GatewayAuditSink, private readonly onFlush: () => void, private readonly logger?: Logger, private readonly maxBatch = 4096, private readonly flushMs = 50) {}

  push(record: GatewayAuditRecord): void {
    this.batch.push(record);
    if (this.batch.length >= this.maxBatch) this.flush();
    else if (this.timer === undefined) { this.timer = setTimeout(() => this.flush(), this.flushMs); this.timer.unref(); }
  }

  flush(): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined; }
    const batch = this.batch;
    this.batch = [];
    if (batch.length > 0) {
      try { this.sink(batch); } catch (err) { this.logger?.error({ err: (err as Error).message, records: batch.length }, 'modbus audit sink failed'); }
    }
    this.onFlush();
  }
}

export class Inspector {
  readonly rules: CompiledRules;
  readonly limits: InspectorLimits;
  private readonly decide: WriteDecider;
  readonly audit: AuditBatcher;
  private readonly metrics: Metrics | undefined;
  /** Decision counts per target zone x function x verdict, flushed to prom-client with each audit batch. */
  private readonly counts: Float64Array;
  /** Target zone names (the addressed unit's zone; the last one is 'unknown'), and per unit id its index. */
  private readonly targetZones: string[];
  private readonly unitZone = new Uint8Array(256);
  private readonly req = newDecodedRequest();
  private nextConnectionId = 1;

  private readonly evidence: WriteEvidence | undefined;
  private readonly logger: Logger | undefined;
  private readonly readPolicy: ReadPolicy | undefined;
  /** Per (zone, unit, read function): the policy's answer per range, valid for `readVersion` of the policy. */
  private readonly readAnswers: (Map<number, boolean> | undefined)[];
  private readVersion = Number.NaN;
  private readAnswerCount = 0;
  /** Failures of the read policy since the last log line (logged at most every 10 s: a flood stays out of the log). */
  private readFailures = { count: 0, loggedAt: 0 };

  constructor(options: { rules: CompiledRules; decide?: WriteDecider; readPolicy?: ReadPolicy; audit: GatewayAuditSink; metrics?: Metrics; logger?: Logger; limits?: Partial<InspectorLimits>; evidence?: WriteEvidence }) {
    this.evidence = options.evidence;
    this.readPolicy = options.readPolicy;
    this.readAnswers = new Array(options.rules.zones.length * 256 * 4).fill(undefined);
    this.logger = options.logger;
    this.rules = options.rules;
    this.limits = { ...DEFAULT_INSPECTOR_LIMITS, ...options.limits };
    this.decide = options.decide ?? denySafetyWrites;
    this.metrics = options.metrics;
    this.targetZones = [...new Set(this.rules.units.filter((u) => u !== undefined).map((u) => u.zone)), 'unknown'];
    this.unitZone.fill(this.targetZones.length - 1);
    this.rules.units.forEach((u, id) => { if (u) this.unitZone[id] = this.targetZones.indexOf(u.zone); });
    this.counts = new Float64Array(this.targetZones.length * FUNCTION_NAMES.length * VERDICTS.length);
    this.audit = new AuditBatcher(options.audit, () => this.flushMetrics(), options.logger);
    this.metrics?.heldGatewayDecisions.add(this.takeCounts);
  }

  private readonly takeCounts = (): void => this.flushMetrics();

  /** Flushes the last audit batch and stops answering scrapes. */
  dispose(): void {
    this.audit.flush();
    this.metrics?.heldGatewayDecisions.delete(this.takeCounts);
  }

  session(zone: string, now: number): ClientSession {
    return new ClientSession(this, this.rules.zoneIndex(zone), this.nextConnectionId++, now);
  }

  private flushMetrics(): void {
    const m = this.metrics;
    if (!m) return;
    const F = FUNCTION_NAMES.length, V = VERDICTS.length;
    for (let i = 0; i < this.counts.length; i++) {
      const n = this.counts[i] as number;
      if (n === 0) continue;
      this.counts[i] = 0;
      const [decision, reason] = VERDICTS[i % V] as readonly [string, string];
      m.gatewayDecisions.inc({ zone: this.targetZones[Math.floor(i / (F * V))] as string, function: FUNCTION_NAMES[Math.floor(i / V) % F] as string, decision, reason }, n);
    }
  }

  private record(s: ClientSession, now: number, transactionId: number, unitId: number, functionCode: number, address: number, quantity: number, verdict: number, exception: number, code: ErrorCode | null, safety: boolean): void {
    this.audit.push(this.decisionRecord(s, now, transactionId, unitId, functionCode, address, quantity, verdict, exception, code, safety));
  }

  /** Counts one decision and returns its audit record. */
  private decisionRecord(s: ClientSession, now: number, transactionId: number, unitId: number, functionCode: number, address: number, quantity: number, verdict: number, exception: number, code: ErrorCode | null, safety: boolean): GatewayAuditRecord {
    const tz = this.unitZone[unitId] as number;
    this.counts[(tz * FUNCTION_NAMES.length + (FUNCTION_INDEX[functionCode] as number)) * VERDICTS.length + verdict]! += 1;
    const [decision, reason] = VERDICTS[verdict] as (typeof VERDICTS)[number];
    return {
      type: 'modbus.decision', time_ms: now, zone: this.rules.zones[s.zone] as string, connection: s.id, peer: s.peer, peer_port: s.peerPort, transaction: transactionId,
      unit: unitId, function_code: functionCode, address, quantity, decision, reason, exception, code, safety,
    };
  }

  /**
   * Control follows evidence: an allowed write reaches the PLC only once its decision record is durable. Frames after
   * it on the same connection wait (order is kept). When the audit log cannot commit, or the client's address has
   * spent its audit budget, the write is refused, unless it moves the plant to its safe state, which is forwarded
   * even without its record (safety over evidence, IEC 61508).
   */
  private writeAhead(s: ClientSession, hooks: SessionHooks, req: DecodedRequest, request: WriteRequest, bytes: Buffer, now: number, safety: boolean): void {
    const evidence = this.evidence as WriteEvidence;
    const safe = movesToSafeState(request);
    if (!safe) {
      if (!evidence.committing()) return this.refuse(s, hooks, req, now, V_AUDIT, EX_FAILURE, 'GLM_ERR_MODBUS_AUDIT_UNAVAILABLE', safety);
      if (evidence.admit && !evidence.admit(s.peer)) return this.refuse(s, hooks, req, now, V_RATE, EX_BUSY, 'GLM_ERR_MODBUS_RATE_LIMITED', safety);
    }
    const record = this.decisionRecord(s, now, req.transactionId, req.unitId, req.functionCode, req.address, req.quantity, V_ALLOW_POLICY, 0, null, safety);
    const held = Object.assign(newDecodedRequest(), req);
    const adu = Buffer.from(bytes);
    s.inflight++;
    s.holding = true;
    // Stop reading meanwhile: frames pipelined behind the write must not pile up unbounded.
    hooks.pause(s);
    const resume = () => {
      s.holding = false;
      if (s.closed) return;
      if (!s.paused) hooks.resume(s);
      s.feed(EMPTY, Date.now(), hooks);
    };
    evidence.commit(record).then(
      () => {
        hooks.forward(s, held, adu);
        resume();
      },
      () => {
        const at = Date.now();
        if (safe) {
          this.logger?.error({ zone: record.zone, unit: record.unit, address: record.address }, 'fail-safe write forwarded without a durable audit record: the audit log cannot commit');
          hooks.forward(s, held, adu);
        } else {
          this.record(s, at, held.transactionId, held.unitId, held.functionCode, held.address, held.quantity, V_AUDIT, EX_FAILURE, 'GLM_ERR_MODBUS_AUDIT_UNAVAILABLE', safety);
          hooks.reply(s, exceptionFor(held.transactionId, held.unitId, held.functionCode, EX_FAILURE));
          s.settled(at, hooks);
        }
        resume();
      },
    );
  }

  /** An upstream failure (0A/0B) after a forward: audited as its own decision. */
  upstreamFailed(s: ClientSession, now: number, transactionId: number, unitId: number, functionCode: number, exception: number, code: ErrorCode): void {
    this.record(s, now, transactionId, unitId, functionCode, 0, 0, V_UPSTREAM, exception, code, false);
  }

  /** Inspects one complete ADU (header checked) and either forwards it or answers an exception. */
  inspect(s: ClientSession, hooks: SessionHooks, buf: Buffer, off: number, len: number, now: number): void {
    const req = this.req;
    const rules = this.rules;
    // Rate limit: token bucket refilled from the caller's clock on every frame (refilling only once it is empty would
    // add a whole bucket on top of the tokens left: twice the burst at once). A clock stepped back credits nothing.
    if (now > s.refilledAt) {
      s.tokens = Math.min(this.limits.burst, s.tokens + ((now - s.refilledAt) * this.limits.ratePerSecond) / 1000);
      s.refilledAt = now;
    }
    if (s.tokens < 1) {
      this.peek(buf, off, req);
      return this.refuse(s, hooks, req, now, V_RATE, EX_BUSY, 'GLM_ERR_MODBUS_RATE_LIMITED', false);
    }
    s.tokens -= 1;
    const unitId = buf[off + 6] as number;
    const fc = buf[off + 7] as number;
    const unit = rules.units[unitId];
    if (unit === undefined || rules.reach[s.zone]![unitId] !== 1) {
      this.peek(buf, off, req);
      return this.refuse(s, hooks, req, now, V_ROUTE, EX_PATH, 'GLM_ERR_MODBUS_UNIT_UNKNOWN', false);
    }
    if (rules.functions[s.zone]![fc] !== 1) {
      this.peek(buf, off, req);
      return this.refuse(s, hooks, req, now, V_FUNCTION, EX_FUNCTION, 'GLM_ERR_MODBUS_FUNCTION_DENIED', false);
    }
    const ex = decode(buf, off, req);
    if (ex !== 0) return this.refuse(s, hooks, req, now, VERDICT_BY_EXCEPTION[ex] as number, ex, EXCEPTION_CODES[ex] as ErrorCode, false);
    const t = req.table;
    if (req.address + req.quantity > (unit.sizes[t] as number)) return this.refuse(s, hooks, req, now, V_ADDRESS, EX_ADDRESS, 'GLM_ERR_MODBUS_ADDRESS_DENIED', false);
    let safety = false;
    if (!req.write) {
      const policy = this.readPolicy;
      if (policy !== undefined && !this.readAllowed(policy, s.zone, unitId, fc, req.address, req.quantity)) {
        const safetyFlags = unit.safety[t] as Uint8Array;
        for (let i = 0; i < req.quantity; i++) if (safetyFlags[req.address + i] === 1) safety = true;
        return this.refuse(s, hooks, req, now, V_POLICY, EX_ADDRESS, 'GLM_ERR_MODBUS_ADDRESS_DENIED', safety);
      }
    } else {
      const writable = unit.writable[s.zone]![t] as Uint8Array;
      const safetyFlags = unit.safety[t] as Uint8Array;
      for (let i = 0; i < req.quantity; i++) {
        const a = req.address + i;
        if (safetyFlags[a] === 1) safety = true;
        if (writable[a] !== 1) return this.refuse(s, hooks, req, now, V_ZONE, EX_FUNCTION, 'GLM_ERR_MODBUS_WRITE_DENIED', safety);
        if (t === HOLDING) {
          const v = valueOf(buf, req, i);
          if (v < (unit.rawMin[a] as number) || v > (unit.rawMax[a] as number)) return this.refuse(s, hooks, req, now, V_SANITY, EX_VALUE, 'GLM_ERR_MODBUS_VALUE_INVALID', safety);
        }
      }
      // Every written address is writable from this zone, so it has a map entry: the decision gets the entries.
      const signals: PlantMapEntry[] = new Array(req.quantity);
      const values: number[] = new Array(req.quantity);
      const entries = unit.entries[t] as readonly (PlantMapEntry | undefined)[];
      for (let i = 0; i < req.quantity; i++) { signals[i] = entries[req.address + i] as PlantMapEntry; values[i] = valueOf(buf, req, i); }
      let decision: WriteDecision;
      let request: WriteRequest | undefined;
      try {
        request = { zone: rules.zones[s.zone] as string, connectionId: s.id, unitId, functionCode: fc, table: TABLE_NAMES[t] as 'coil' | 'holding', address: req.address, quantity: req.quantity, signals, values, safety };
        decision = this.decide(request);
      } catch {
        decision = { allow: false, reason: 'policy decision point failed' };
      }
      if (decision.allow !== true) return this.refuse(s, hooks, req, now, decision.by === 'interlock' ? V_INTERLOCK : V_POLICY, EX_FUNCTION, 'GLM_ERR_MODBUS_POLICY_DENIED', safety);
      if (this.evidence && request) return this.writeAhead(s, hooks, req, request, buf.subarray(off, off + len), now, safety);
    }
    this.record(s, now, req.transactionId, unitId, fc, req.address, req.quantity, req.write || this.readPolicy !== undefined ? V_ALLOW_POLICY : V_ALLOW_ZONE, 0, null, safety);
    s.inflight++;
    hooks.forward(s, req, buf.subarray(off, off + len));
  }

  /**
   * The read policy's answer for a range, asked once per (zone, unit, function, address, quantity) and policy version.
   * A policy that throws refuses the read (fail closed) and is asked again next time.
   */
  private readAllowed(policy: ReadPolicy, zone: number, unitId: number, fc: number, address: number, quantity: number): boolean {
    const version = policy.version;
    if (version !== this.readVersion) {
      this.readAnswers.fill(undefined);
      this.readAnswerCount = 0;
      this.readVersion = version;
    }
    const slot = (zone * 256 + unitId) * 4 + fc - 1;
    const key = address * READ_KEY_SPAN + quantity - 1;
    const known = this.readAnswers[slot]?.get(key);
    if (known !== undefined) return known;
    let allow: boolean;
    try {
      allow = policy.decide({ zone: this.rules.zones[zone] as string, unitId, functionCode: fc, address, quantity }).allow === true;
    } catch (err) {
      const f = this.readFailures;
      f.count += 1;
      const now = Date.now();
      if (now - f.loggedAt >= 10_000) {
        this.logger?.error({ err: (err as Error).message, zone: this.rules.zones[zone], unit: unitId, refused: f.count }, 'read policy failed: reads refused');
        f.loggedAt = now;
        f.count = 0;
      }
      return false;
    }
    if (this.readAnswerCount >= MAX_READ_ANSWERS) {
      this.readAnswers.fill(undefined);
      this.readAnswerCount = 0;
    }
    let answers = this.readAnswers[slot];
    if (answers === undefined) this.readAnswers[slot] = answers = new Map();
    answers.set(key, allow);
    this.readAnswerCount += 1;
    return allow;
  }

  /** Reads transaction, unit and function for a refusal that happens before full decoding. */
  private peek(buf: Buffer, off: number, req: DecodedRequest): void {
    req.transactionId = ((buf[off] as number) << 8) | (buf[off + 1] as number);
    req.unitId = buf[off + 6] as number;
    req.functionCode = buf[off + 7] as number;
    req.address = 0; req.quantity = 0;
  }

  private refuse(s: ClientSession, hooks: SessionHooks, req: DecodedRequest, now: number, verdict: number, exception: number, code: ErrorCode, safety: boolean): void {
    this.record(s, now, req.transactionId, req.unitId, req.functionCode, req.address, req.quantity, verdict, exception, code, safety);
    hooks.reply(s, exceptionFor(req.transactionId, req.unitId, req.functionCode, exception));
  }

  /** A connection refused or evicted by the connection budgets (no session inspected it): audited, aggregated per source. */
  connectionRefused(zone: string, peer: string, now: number): void {
    this.counts[((this.targetZones.length - 1) * FUNCTION_NAMES.length) * VERDICTS.length + V_CONNECTION]! += 1;
    this.audit.push({
      type: 'modbus.decision', time_ms: now, zone, connection: 0, peer, peer_port: 0, transaction: 0, unit: 0, function_code: 0, address: 0, quantity: 0,
      decision: 'deny', reason: 'connection', exception: 0, code: 'GLM_ERR_MODBUS_CONNECTION_LIMIT', safety: false,
    });
  }

  closeFor(s: ClientSession, now: number, code: ErrorCode): void {
    const verdict = code === 'GLM_ERR_MODBUS_FRAME_MALFORMED' || code === 'GLM_ERR_MODBUS_FRAME_OVERSIZE' ? V_MALFORMED : V_SLOW;
    this.record(s, now, 0, 0, 0, 0, 0, verdict, 0, code, false);
  }
}

/** One client connection's inspection state: stream reassembly, token bucket, inflight count, timers. */
export class ClientSession {
  tokens: number;
  refilledAt: number;
  inflight = 0;
  /** Unconsumed bytes: a partial frame, or frames held back while the inflight bound is reached. */
  private pending: Buffer | null = null;
  /** When the current partial frame started (0: none), for the slow-client timeout. */
  partialSince = 0;
  lastActivity: number;
  paused = false;
  closed = false;
  /** The transport batches this tick's answers (socket corked until the next tick). */
  corked = false;
  /** Free slot for the transport (the socket, in the gateway). */
  transport: unknown;
  /** The client's address and TCP source port, set by the transport. */
  peer = '';
  peerPort = 0;
  /** A write waits for its durable audit record: later frames wait behind it (order kept). */
  holding = false;
  /** True once a complete ADU arrived (connections that never send one get the shorter first-frame timeout). */
  spoke = false;

  readonly openedAt: number;

  constructor(readonly inspector: Inspector, readonly zone: number, readonly id: number, now: number) {
    this.openedAt = now;
    this.tokens = inspector.limits.burst;
    this.refilledAt = now;
    this.lastActivity = now;
  }

  get zoneName(): string { return this.inspector.rules.zones[this.zone] as string; }

  /** Feeds bytes from the client; frames are inspected in order, as far as the inflight bound allows. */
  feed(chunk: Buffer, now: number, hooks: SessionHooks): void {
    if (this.closed) return;
    this.lastActivity = now;
    let buf = chunk;
    if (this.pending !== null) buf = chunk.length === 0 ? this.pending : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    const end = buf.length;
    let off = 0;
    const limit = this.inspector.limits.maxInflightPerClient;
    while (off < end) {
      if (this.holding) break;
      if (this.inflight >= limit) {
        if (!this.paused) { this.paused = true; hooks.pause(this); }
        break;
      }
      const st = check(buf, off, end);
      if (st === NEED_MORE) break;
      if (st !== OK) {
        const code: ErrorCode = st === FRAME.OVERSIZE ? 'GLM_ERR_MODBUS_FRAME_OVERSIZE' : 'GLM_ERR_MODBUS_FRAME_MALFORMED';
        this.fail(now, code, hooks);
        return;
      }
      const len = lengthOf(buf, off);
      this.spoke = true;
      this.inspector.inspect(this, hooks, buf, off, len, now);
      if (this.closed) return;
      off += len;
    }
    if (off < end) {
      const rest = end - off;
      // A partial frame is at most one ADU; more than that held back only happens while paused (bounded by the
      // socket's read chunk, as reading stops).
      const waiting = this.paused || this.holding;
      if (!waiting && rest >= MAX_ADU) { this.fail(now, 'GLM_ERR_MODBUS_FRAME_OVERSIZE', hooks); return; }
      this.pending = Buffer.from(buf.subarray(off, end));
      // The slow-client clock runs from when the current partial frame began: restart it whenever frames completed.
      // While the gateway itself stops reading (inflight bound, a write waiting for its record) no clock runs: the
      // client cannot finish a frame that is not read; it starts again when reading resumes.
      if (waiting) this.partialSince = 0;
      else if (this.partialSince === 0 || off > 0) this.partialSince = now;
    } else {
      this.partialSince = 0;
    }
    // Not while a write waits for its record: its commit resumes reading (see Inspector.writeAhead).
    if (this.paused && !this.holding && this.inflight < limit) { this.paused = false; hooks.resume(this); }
  }

  /** A forwarded request was answered (or failed); resumes reading once below half the inflight bound. */
  settled(now: number, hooks: SessionHooks): void {
    this.inflight--;
    if (this.paused && this.inflight <= this.inspector.limits.maxInflightPerClient >> 1) {
      this.paused = false;
      this.feed(Buffer.alloc(0), now, hooks);
      if (!this.paused && !this.closed && !this.holding) hooks.resume(this);
    }
  }

  fail(now: number, code: ErrorCode, hooks: SessionHooks): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = null;
    this.inspector.closeFor(this, now, code);
    hooks.close(this, code);
  }

  /** Bytes held between reads (a partial frame, or frames held back while paused). */
  get pendingBytes(): number { return this.pending?.length ?? 0; }

  hasPartialFrame(): boolean { return this.partialSince !== 0 && this.pending !== null; }
}
