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
  readonly decision_id: string;
  /** Simulated plant time of the snapshot that caused it. */
  readonly snapshot_time_ms: number | null;
}
