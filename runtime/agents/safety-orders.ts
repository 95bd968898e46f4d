/**
 * Safety orders between agents. When enforce_safety_shutdown/1 names a target, the deciding agent routes one order:
 *   - a plant unit (pump, valve, tank, `plant`, the safety PLC): to the Industrial agent over A2A, which executes it
 *     through the zone gateway;
 *   - another agent: over A2A to that agent's own endpoint (skill `safety.shutdown`, Cedar action `shutdown`), in this
 *     process's swarm or in another pod alike; the agent passes it up to its supervisor over IPC, which holds it;
 *   - the deciding agent itself: straight to its own supervisor over IPC;
 *   - anything else: not deliverable.
 * When the rule stops naming an agent, a `release` goes the same way. A plant unit's order is acknowledged by the
 * Industrial agent (`safety.ack`, parseSafetyAck), an agent's by its delivery. Every order that is not delivered is audited
 * (`safety.order_failed`) and logged as an error; the supervisor turns the record into a metric and a readiness
 * failure, until a later order to that target is delivered (`safety.order_delivered`) or no longer demanded
 * (`safety.order_withdrawn`).
 */
import { GlimmerError, quote } from '../errors';
import type { SafetyOrder } from '../lifecycle/ipc';
import type { Logger } from '../observability/logger';
import type { AuditRecordInput, PlcStateAfter, SafetyAck, ShutdownOrder } from '../model/messages';
import { TOPIC_SHUTDOWN } from '../trust/a2a/messenger';


/** The body of a `safety.shutdown` message. `action` defaults to hold (plant units are only ever shut down). */
export interface ShutdownOrderBody {
  readonly action: 'hold' | 'release';
  readonly target: string;
  readonly decision_id: string | null;
  readonly codes: readonly string[];
  readonly snapshot_time_ms: number | null;
  /** 1 for the first send of the decision's order; more when re-sent after no acknowledgement. */
  readonly attempt: number;
}

const TARGET = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Validates a received order (untrusted input from another agent). */
export function parseShutdownBody(body: unknown): ShutdownOrderBody {
  const b = body as Record<string, unknown> | null;
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw new GlimmerError('GLM_ERR_SAFETY_ORDER_INVALID', `a safety order must be an object, received ${quote(body, 80)}`);
  if (typeof b.target !== 'string' || !TARGET.test(b.target)) throw new GlimmerError('GLM_ERR_SAFETY_ORDER_INVALID', `a safety order needs a target name, received ${quote(b.target, 80)}`);
  const action = b.action ?? 'hold';
  if (action !== 'hold' && action !== 'release') throw new GlimmerError('GLM_ERR_SAFETY_ORDER_INVALID', `a safety order's action is hold or release, received ${quote(action, 40)}`);
  const decisionId = b.decision_id ?? null;
  if (decisionId !== null && (typeof decisionId !== 'string' || decisionId.length > 80)) throw new GlimmerError('GLM_ERR_SAFETY_ORDER_INVALID', `a safety order's decision_id is a string of at most 80 characters, received ${quote(decisionId, 100)}`);
  const codes = b.codes ?? [];
  if (!Array.isArray(codes) || codes.length > 16 || codes.some((c) => typeof c !== 'string' || c.length > 64)) throw new GlimmerError('GLM_ERR_SAFETY_ORDER_INVALID', `a safety order's codes are at most 16 strings, received ${quote(codes, 100)}`);
  const t = b.snapshot_time_ms;
  return { action, target: b.target, decision_id: decisionId, codes: codes as string[], snapshot_time_ms: typeof t === 'number' && Number.isFinite(t) ? t : null, attempt: attemptOf(b.attempt) };
}

function attemptOf(a: unknown): number {
  if (a === undefined) return 1;
  if (typeof a !== 'number' || !Number.isInteger(a) || a < 1 || a > 1_000_000) throw new GlimmerError('GLM_ERR_SAFETY_ORDER_INVALID', `a safety order's attempt is an integer 1..1000000, received ${quote(a, 40)}`);
  return a;
}

const OUTCOMES: readonly SafetyAck['outcome'][] = ['executed', 'unconfirmed', 'refused', 'failed', 'unknown_target'];

/** Validates a received acknowledgement (untrusted input from another agent). */
export function parseSafetyAck(body: unknown): SafetyAck {
  const b = body as Record<string, unknown> | null;
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw new GlimmerError('GLM_ERR_SAFETY_ORDER_INVALID', `a safety acknowledgement must be an object, received ${quote(body, 80)}`);
  if (typeof b.decision_id !== 'string' || b.decision_id.length === 0 || b.decision_id.length > 80) throw new GlimmerError('GLM_ERR_SAFETY_ORDER_INVALID', `a safety acknowledgement names its decision_id (1..80 characters), received ${quote(b.decision_id, 100)}`);
  if (typeof b.target !== 'string' || !TARGET.test(b.target)) throw new GlimmerError('GLM_ERR_SAFETY_ORDER_INVALID', `a safety acknowledgement needs a target name, received ${quote(b.target, 80)}`);
  if (!OUTCOMES.includes(b.outcome as SafetyAck['outcome'])) throw new GlimmerError('GLM_ERR_SAFETY_ORDER_INVALID', `a safety acknowledgement's outcome is one of ${OUTCOMES.join(', ')}, received ${quote(b.outcome, 40)}`);
  const p = b.plc_after as Record<string, unknown> | null | undefined;
  let after: PlcStateAfter | null = null;
  if (p !== null && p !== undefined) {
    const okValue = typeof p.value === 'boolean' || (typeof p.value === 'number' && Number.isFinite(p.value));
    if (typeof p !== 'object' || typeof p.signal !== 'string' || p.signal.length > 64 || !okValue || typeof p.at_ms !== 'number' || !Number.isFinite(p.at_ms)) {
      throw new GlimmerError('GLM_ERR_SAFETY_ORDER_INVALID', `a safety acknowledgement's plc_after is {signal, value, at_ms} or null, received ${quote(p, 120)}`);
    }
    after = { signal: p.signal, value: p.value as number | boolean, at_ms: p.at_ms };
  }
  return { decision_id: b.decision_id, target: b.target, attempt: attemptOf(b.attempt), outcome: b.outcome as SafetyAck['outcome'], plc_after: after };
}

export type OrderTargetKind = 'self' | 'agent' | 'plant' | 'unknown';

export interface SafetyOrderRouterOptions {
  /** The deciding agent. */
  readonly self: string;
  /** Every agent of the swarm configuration. */
  readonly agents: ReadonlySet<string>;
  /** The Industrial agent that executes plant-unit shutdowns, if the swarm has one. */
  readonly industrial: string | undefined;
  readonly isPlantUnit: (target: string) => boolean;
  readonly send: (to: string, topic: string, body: unknown, done: (err?: GlimmerError) => void) => void;
  /** To this agent's own supervisor (IPC). */
  readonly order: (order: SafetyOrder) => void;
  readonly audit: (record: AuditRecordInput) => void;
  readonly logger: Logger;
  /** An order to an agent (or to this agent's supervisor) was delivered: that is its acknowledgement. */
  readonly delivered?: (ack: SafetyAck) => void;
}

export interface OrderCommand {
  readonly target: string;
  readonly codes: readonly string[];
  readonly decision_id: string;
  readonly snapshot_time_ms: number | null;
  /** @default 1 */
  readonly attempt?: number;
  /** @default 'new' */
  readonly reason?: ShutdownOrder['reason'];
}

export class SafetyOrderRouter {
  /** Targets whose latest order was not delivered. */
  private readonly failing = new Set<string>();

  constructor(private readonly o: SafetyOrderRouterOptions) {}

  kindOf(target: string): OrderTargetKind {
    if (target === this.o.self) return 'self';
    if (this.o.agents.has(target)) return 'agent';
    if (this.o.isPlantUnit(target)) return 'plant';
    return 'unknown';
  }

  hold(command: OrderCommand): void {
    this.route('hold', command);
  }

  release(command: OrderCommand): void {
    this.route('release', command);
  }

  private route(action: 'hold' | 'release', command: OrderCommand): void {
    const { target } = command;
    const kind = this.kindOf(target);
    const attempt = command.attempt ?? 1;
    const body: ShutdownOrderBody = { action, target, decision_id: command.decision_id, codes: command.codes, snapshot_time_ms: command.snapshot_time_ms, attempt };
    const ackByDelivery = (): void => {
      if (action === 'hold') this.o.delivered?.({ decision_id: command.decision_id, target, attempt, outcome: 'executed', plc_after: null });
    };
    switch (kind) {
      case 'self':
        this.o.order({ action, target, decision_id: command.decision_id, codes: command.codes, from: this.o.self });
        this.delivered(action, command);
        ackByDelivery();
        return;
      case 'agent':
        this.o.send(target, TOPIC_SHUTDOWN, body, (err) => {
          if (err) return this.failed(action, command, kind, err);
          this.delivered(action, command);
          ackByDelivery();
        });
        return;
      case 'plant':
        // A stopped plant unit stays stopped until an operator restarts it: a release has nothing to deliver.
        if (action === 'release') return this.withdrawn(command);
        if (this.o.industrial === undefined) return this.failed(action, command, kind, new GlimmerError('GLM_ERR_SAFETY_ORDER_UNDELIVERED', `no Industrial agent in the configuration executes the shutdown of ${quote(target)}`));
        this.o.send(this.o.industrial, TOPIC_SHUTDOWN, body, (err) => (err ? this.failed(action, command, kind, err) : this.delivered(action, command)));
        return;
      case 'unknown':
        if (action === 'release') return this.withdrawn(command);
        this.failed(action, command, kind, new GlimmerError('GLM_ERR_SAFETY_TARGET_UNKNOWN', `${quote(target)} is neither an agent of the configuration nor a plant unit`));
    }
  }

  private failed(action: string, command: OrderCommand, kind: OrderTargetKind, error: GlimmerError): void {
    // A peer that does not answer at all (refused connection, reset) surfaces as a bare error: it is undelivered.
    const err = error.code === 'GLM_ERR_INTERNAL'
      ? new GlimmerError('GLM_ERR_SAFETY_ORDER_UNDELIVERED', `${quote(command.target)} did not take the order: ${String((error.cause as Error | undefined)?.message ?? error.message).slice(0, 160)}`)
      : error;
    this.failing.add(command.target);
    const targetKind = kind === 'self' || kind === 'agent' ? 'agent' : kind;
    this.o.logger.error({ target: command.target, code: err.code, decision_id: command.decision_id, reason: err.message.slice(0, 200) }, 'safety order not delivered');
    this.o.audit({ type: 'safety.order_failed', target: command.target, target_kind: targetKind, action, decision_id: command.decision_id, codes: command.codes, code: err.code, message: err.message.slice(0, 200) });
  }

  private delivered(action: string, command: OrderCommand): void {
    if (!this.failing.delete(command.target)) return;
    this.o.audit({ type: 'safety.order_delivered', target: command.target, action, decision_id: command.decision_id, recovered: true });
  }

  /** The rule no longer demands an order that was not delivered. */
  private withdrawn(command: OrderCommand): void {
    if (!this.failing.delete(command.target)) return;
    this.o.audit({ type: 'safety.order_withdrawn', target: command.target, decision_id: command.decision_id });
  }
}
