/**
 * Bounds how fast one source can grow the audit log. Records that evidence an action taken (an allowed write, a fault
 * injected) are always written; records of what was refused or only read are written one by one while the source's
 * byte budget and the per-window count allow, and folded into one `audit.aggregate` record per source and kind and
 * window otherwise: its count, its first and last sample and the window's bounds. A flood of refusals therefore costs
 * at most the budget plus one aggregate per kind and window, whatever its rate, and no refusal goes uncounted.
 */
import type { AuditRecordInput } from '../model/messages';
import type { Metrics } from '../observability/metrics';

export interface AuditGovernorOptions {
  /** Where written records go (the audit log's append, fire and forget). */
  readonly sink: (record: AuditRecordInput) => void;
  /** Aggregation window. @default 10000 */
  readonly windowMs?: number;
  /**
   * Bytes per second one source may write one by one (token bucket refill). A client address has two sources (its
   * writes, and its refusals and reads): with the aggregates of a window this keeps it under 1 MB per minute. @default 6144
   */
  readonly bytesPerSecond?: number;
  /** Token bucket size in bytes. @default 24576 */
  readonly burstBytes?: number;
  /** Records of one kind from one source written one by one per window before the rest are aggregated. @default 10 */
  readonly individualPerWindow?: number;
  /** Sources tracked at once; further sources share the budget of `other` (memory stays bounded under spoofing). @default 4096 */
  readonly maxSources?: number;
  readonly metrics?: Pick<Metrics, 'auditAggregated'>;
  /** @default Date.now */
  readonly now?: () => number;
}

interface Fold {
  count: number;
  first: AuditRecordInput;
  last: AuditRecordInput;
  firstAt: number;
  lastAt: number;
}

interface Source {
  tokens: number;
  refilledAt: number;
  /** Per kind: records written one by one this window, and the fold of the rest. */
  readonly kinds: Map<string, { written: number; fold?: Fold }>;
}

/** The record types governedSink() folds. */
const GOVERNED_TYPES = ['modbus.decision', 'trust.tls_refused', 'policy.decision'] as const;

/** Bytes a leaf adds besides the record (index, timestamp envelope). */
const ENVELOPE_BYTES = 64;

export class AuditGovernor {
  private readonly sources = new Map<string, Source>();
  private windowStart: number;
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly perWindow: number;
  private readonly maxSources: number;

  constructor(private readonly options: AuditGovernorOptions) {
    this.now = options.now ?? Date.now;
    this.rate = options.bytesPerSecond ?? 6144;
    this.burst = options.burstBytes ?? 24576;
    this.perWindow = options.individualPerWindow ?? 10;
    this.maxSources = options.maxSources ?? 4096;
    this.windowStart = this.now();
    // Every kind a series from the start: a flood adds counts, never series.
    for (const kind of GOVERNED_TYPES) options.metrics?.auditAggregated.inc({ kind }, 0);
    this.timer = setInterval(() => this.closeWindow(), options.windowMs ?? 10_000);
    this.timer.unref();
  }

  private source(id: string): Source {
    let s = this.sources.get(id);
    if (s) return s;
    if (this.sources.size >= this.maxSources) return this.source('other');
    s = { tokens: this.burst, refilledAt: this.now(), kinds: new Map() };
    this.sources.set(id, s);
    return s;
  }

  private charge(s: Source, bytes: number): void {
    const now = this.now();
    s.tokens = Math.min(this.burst, s.tokens + ((now - s.refilledAt) * this.rate) / 1000) - bytes;
    s.refilledAt = now;
  }

  private hasBudget(s: Source): boolean {
    const now = this.now();
    return Math.min(this.burst, s.tokens + ((now - s.refilledAt) * this.rate) / 1000) > 0;
  }

  /** Evidence of an action: always written, and charged to the source (its refusals then aggregate sooner). */
  keep(sourceId: string, record: AuditRecordInput): void {
    this.charge(this.source(sourceId), JSON.stringify(record).length + ENVELOPE_BYTES);
    this.options.sink(record);
  }

  /** Whether the source has budget left (a write-ahead caller asks before it writes an action's record itself). */
  admits(sourceId: string): boolean {
    return this.hasBudget(this.source(sourceId));
  }

  /** Charges a record the caller writes itself (write-ahead) to the source's budget. */
  chargeFor(sourceId: string, record: AuditRecordInput): void {
    this.charge(this.source(sourceId), JSON.stringify(record).length + ENVELOPE_BYTES);
  }

  /** A refusal or a read: written while the source has budget and the kind its per-window allowance, else folded. */
  submit(sourceId: string, kind: string, record: AuditRecordInput): void {
    const s = this.source(sourceId);
    let k = s.kinds.get(kind);
    if (!k) {
      k = { written: 0 };
      s.kinds.set(kind, k);
    }
    if (k.written < this.perWindow && k.fold === undefined && this.hasBudget(s)) {
      k.written += 1;
      this.charge(s, JSON.stringify(record).length + ENVELOPE_BYTES);
      this.options.sink(record);
      return;
    }
    const at = this.now();
    if (k.fold) {
      k.fold.count += 1;
      k.fold.last = record;
      k.fold.lastAt = at;
    } else k.fold = { count: 1, first: record, last: record, firstAt: at, lastAt: at };
    this.options.metrics?.auditAggregated.inc({ kind: record.type });
  }

  /** Writes one aggregate per folded source and kind, and starts a new window. */
  closeWindow(): void {
    const end = this.now();
    for (const [id, s] of this.sources) {
      for (const [kind, k] of s.kinds) {
        if (k.fold) {
          const record: AuditRecordInput = {
            type: 'audit.aggregate', source: id, kind, count: k.fold.count,
            window_start: new Date(this.windowStart).toISOString(), window_end: new Date(end).toISOString(),
            first_at: new Date(k.fold.firstAt).toISOString(), last_at: new Date(k.fold.lastAt).toISOString(),
            first: k.fold.first, last: k.fold.last,
          };
          this.charge(s, JSON.stringify(record).length + ENVELOPE_BYTES);
          this.options.sink(record);
        }
      }
      s.kinds.clear();
      // A source whose bucket is full again carries nothing over: forget it (bounded memory).
      if (this.hasBudget(s) && s.tokens + ((end - s.refilledAt) * this.rate) / 1000 >= this.burst) this.sources.delete(id);
    }
    this.windowStart = end;
  }

  /** Writes the open window's aggregates (shutdown) and stops the timer. */
  close(): void {
    clearInterval(this.timer);
    this.closeWindow();
  }
}

const WRITE_FUNCTIONS = new Set([5, 6, 15, 16]);

/**
 * Routes a record through the audit governor: allowed Modbus writes are evidence of control and always written;
 * refusals, reads, refused TLS handshakes and policy denials are budgeted per source (the client address, or the
 * principal) and aggregated beyond it.
 */
export function governedSink(governor: AuditGovernor, write: (r: AuditRecordInput) => void): (r: AuditRecordInput) => void {
  return (r) => {
    switch (r.type) {
      case 'modbus.decision': {
        const source = `modbus:${typeof r.peer === 'string' && r.peer !== '' ? r.peer : String(r.zone)}`;
        if (r.decision === 'allow' && WRITE_FUNCTIONS.has(r.function_code as number)) governor.keep(source, r);
        else governor.submit(source, `${String(r.zone)}:${String(r.decision)}:${String(r.reason)}`, r);
        return;
      }
      case 'trust.tls_refused':
        // The peer's certificate is attacker-chosen: every refusal shares one budget, folded per error code.
        governor.submit('tls', `tls_refused:${String(r.code)}`, r);
        return;
      case 'policy.decision':
        if (r.decision === 'deny') governor.submit(`policy:${String(r.subject)}`, `deny:${String(r.action)}`, r);
        else write(r);
        return;
      default:
        write(r);
    }
  };
}

/** The audit log as the gateway's write-ahead needs it (structural: the gateway's WriteEvidence). */
export interface EvidenceLog {
  health(): { committing: boolean };
  append(record: AuditRecordInput, options?: { urgent?: boolean }): Promise<unknown>;
}

/**
 * The gateway's write-ahead evidence over the audit log: each allowed write's record is made durable (urgent group
 * commit) before the write goes on. Writes have their own budget per client address, apart from its refusals and
 * reads (a flood of refusals cannot starve its writes); once spent, further writes are refused (rate limit).
 */
export function gatewayEvidence<R extends AuditRecordInput & { peer: string }>(governor: AuditGovernor, log: EvidenceLog, onRecord: (record: R) => void = () => undefined) {
  return {
    committing: () => log.health().committing,
    admit: (peer: string) => governor.admits(`modbus-write:${peer}`),
    commit: (record: R) => {
      governor.chargeFor(`modbus-write:${record.peer}`, record);
      onRecord(record);
      return log.append(record, { urgent: true });
    },
  };
}
