/**
 * What agents, the supervisor and the industrial runtime hand each other: audit records (appended by the supervisor,
 * which alone holds the log) and agent messages. Every layer produces or consumes them, so they belong to none.
 */

/** A record for the audit log; the supervisor appends it (agents never hold the log themselves). */
export interface AuditRecordInput {
  readonly type: string;
  readonly [field: string]: unknown;
}

/**
 * Where a component hands its audit records: called synchronously, must not throw, never awaited (the per-frame and
 * per-request paths cannot wait for a disk). Components with their own record union narrow `R`.
 */
export type AuditSink<R extends AuditRecordInput = AuditRecordInput> = (record: R) => void;

/** The audit log's durable append, for callers that must know the record is on disk before they answer. */
export interface AuditAppender {
  append(record: AuditRecordInput): Promise<unknown>;
}

/** A message between agents (A2A over SPIFFE mTLS), or from the runtime over IPC. */
export interface AgentMessage {
  readonly from: string;
  readonly to: string;
  readonly topic: string;
  readonly body: unknown;
}

/**
 * A safety shutdown order (A2A topic `safety.shutdown`): the cognitive core issues it when the rules fire
 * `enforce_safety_shutdown/1`, the Industrial Agent executes it. Received orders are untrusted input: every field but
 * `target` may be missing.
 */
export interface ShutdownOrder {
  /** The unit to shut down: a plant asset (pump_2) or an agent (cognitive-1). */
  readonly target: string;
  /** The violation codes logged for the target in the same evaluation (e.g. SIF-01-DRY-RUN). */
  readonly codes: readonly string[];
  /**
   * The correlation id of the safety chain: minted per `cognitive.decision` record and carried by every record that
   * follows from it (the order, the policy decisions on it, the write that executes it, the acknowledgement).
   */
  readonly decision_id: string;
  /** Simulated plant time of the snapshot that caused it. */
  readonly snapshot_time_ms: number | null;
  /** 1 for the first send of this decision's order, n for its n-th (re-sent only when no acknowledgement came in time). */
  readonly attempt?: number;
  /**
   * Why it is sent: a new demand, no acknowledgement in time, the target left the safe state it was acknowledged in, or
   * the renewal of an agent's hold (acknowledged by delivery only, so re-asserted while the rule fires).
   */
  readonly reason?: 'new' | 'ack_timeout' | 'state_change' | 'renewal';
}

/** `{ decision_id }` when `value` carries a bounded string one (untrusted input), else `{}`: for audit records. */
export function decisionIdOf(value: unknown): { decision_id?: string } {
  const id = (value as { decision_id?: unknown } | null | undefined)?.decision_id;
  return typeof id === 'string' && id.length > 0 && id.length <= 80 ? { decision_id: id } : {};
}

/** What the executing agent observed in the PLC after the write (read back over OPC UA). */
export interface PlcStateAfter {
  readonly signal: string;
  readonly value: number | boolean;
  /** Wall clock (ms since the epoch) at which the value was seen. */
  readonly at_ms: number;
}

/**
 * The acknowledgement of a safety order (A2A topic `safety.ack`, Industrial agent -> the ordering Cognitive agent): the
 * order with this decision_id and attempt was executed (or refused, or failed) and the PLC was seen in `plc_after`.
 * Received acknowledgements are untrusted input.
 */
export interface SafetyAck {
  readonly decision_id: string;
  readonly target: string;
  readonly attempt: number;
  /** `unconfirmed`: written, but the PLC did not show the write within the executor's wait (the order is not in force). */
  readonly outcome: 'executed' | 'unconfirmed' | 'refused' | 'failed' | 'unknown_target';
  /** What the PLC showed after the write; null when it was not seen. */
  readonly plc_after: PlcStateAfter | null;
}
