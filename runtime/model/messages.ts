/**
 * What agents, the supervisor and the industrial runtime hand each other: audit records (appended by the supervisor,
 * which alone holds the log) and agent messages. Every layer produces or consumes them, so they belong to none.
 */

/** A record for the audit log; the supervisor appends it (agents never hold the log themselves). */
export interface AuditRecordInput {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** A message between agents (A2A over SPIFFE mTLS), or from the runtime over IPC. */
export interface AgentMessage {
  readonly from: string;
  readonly to: string;
  readonly topic: string;
  readonly body: unknown;
}
