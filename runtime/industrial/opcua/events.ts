/**
 * Security events of the OPC UA server (refused certificates, refused secure channels, failed session activations),
 * aggregated before they reach the audit log: one record per (kind, status, source, subject) and window with the count
 * and the first and last sample, so a client retrying in a loop adds one record per window, not one per attempt.
 * The number of distinct keys per window is bounded; the excess is counted in one overflow record.
 */
import type { AuditRecordInput } from '../../model/messages';

export type OpcuaSecurityEventKind = 'certificate_refused' | 'channel_refused' | 'activation_failed';

export interface OpcuaSecurityEvent {
  readonly kind: OpcuaSecurityEventKind;
  /** OPC UA status code name (BadSecurityChecksFailed, BadUserAccessDenied, ...). */
  readonly status: string;
  /** Remote address of the client, when known. */
  readonly source?: string;
  /** Certificate thumbprint or user name the event is about. */
  readonly subject?: string;
  readonly detail?: Readonly<Record<string, string>>;
}

interface Bucket {
  readonly event: OpcuaSecurityEvent;
  count: number;
  readonly firstAt: number;
  lastAt: number;
  last: Readonly<Record<string, string>> | undefined;
}

export interface SecurityEventAggregatorOptions {
  readonly emit: (records: AuditRecordInput[]) => void;
  /** @default 10000 */
  readonly windowMs?: number;
  /** @default 256 */
  readonly maxKeys?: number;
  readonly now?: () => number;
}

export class SecurityEventAggregator {
  readonly #buckets = new Map<string, Bucket>();
  readonly #emit: (records: AuditRecordInput[]) => void;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  #overflow = 0;

  constructor(options: SecurityEventAggregatorOptions) {
    this.#emit = options.emit;
    this.#maxKeys = options.maxKeys ?? 256;
    this.#now = options.now ?? Date.now;
    this.#timer = setInterval(() => this.flush(), options.windowMs ?? 10_000);
    this.#timer.unref();
  }

  record(event: OpcuaSecurityEvent): void {
    const key = `${event.kind}\u0000${event.status}\u0000${event.source ?? ''}\u0000${event.subject ?? ''}`;
    const at = this.#now();
    const bucket = this.#buckets.get(key);
    if (bucket) {
      bucket.count += 1;
      bucket.lastAt = at;
      bucket.last = event.detail;
      return;
    }
    if (this.#buckets.size >= this.#maxKeys) { this.#overflow += 1; return; }
    this.#buckets.set(key, { event, count: 1, firstAt: at, lastAt: at, last: undefined });
  }

  /** Writes one record per key seen since the last flush (and the overflow count) and starts a new window. */
  flush(): void {
    const records: AuditRecordInput[] = [];
    for (const b of this.#buckets.values()) {
      records.push({
        type: 'opcua.security_event', kind: b.event.kind, status: b.event.status, source: b.event.source ?? 'unknown',
        subject: b.event.subject ?? '', count: b.count, first_at: new Date(b.firstAt).toISOString(), last_at: new Date(b.lastAt).toISOString(),
        first: b.event.detail ?? {}, ...(b.last !== undefined ? { last: b.last } : {}),
      });
    }
    if (this.#overflow > 0) records.push({ type: 'opcua.security_event', kind: 'overflow', status: 'Aggregated', count: this.#overflow });
    this.#buckets.clear();
    this.#overflow = 0;
    if (records.length > 0) this.#emit(records);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.flush();
  }
}
