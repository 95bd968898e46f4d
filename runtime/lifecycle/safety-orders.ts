/**
 * Readiness of the safety-order path: the targets whose latest safety order was not delivered or not enforced. A
 * process with any is not ready (a shutdown the rules demand is not taking effect), until an order to that target is
 * delivered again, the rules stop demanding it, or the supervisor sees the hold in force.
 */
import type { AuditRecordInput } from '../model/messages';

/** Bounded label values of glimmer_safety_order_failures_total{target_kind}. */
export const TARGET_KINDS = ['agent', 'plant', 'unknown'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

export interface UndeliveredOrder {
  readonly target: string;
  readonly target_kind: TargetKind;
  readonly code: string;
  readonly decision_id: string | null;
  readonly at: string;
}

export class SafetyOrderReadiness {
  private readonly failing = new Map<string, UndeliveredOrder>();

  fail(order: Omit<UndeliveredOrder, 'at'>): void {
    this.failing.set(order.target, { ...order, at: new Date().toISOString() });
  }

  ok(target: string): void {
    this.failing.delete(target);
  }

  /** Follows the agents' own records of their orders (they hold no metrics and no readiness of their own). */
  observe(record: AuditRecordInput): UndeliveredOrder | undefined {
    const target = typeof record.target === 'string' ? record.target : undefined;
    if (target === undefined) return undefined;
    if (record.type === 'safety.order_failed') {
      const kind = TARGET_KINDS.includes(record.target_kind as TargetKind) ? (record.target_kind as TargetKind) : 'unknown';
      const failed = { target, target_kind: kind, code: String(record.code ?? 'GLM_ERR_INTERNAL'), decision_id: typeof record.decision_id === 'string' ? record.decision_id : null };
      this.fail(failed);
      return { ...failed, at: new Date().toISOString() };
    }
    if (record.type === 'safety.order_delivered' || record.type === 'safety.order_withdrawn') this.ok(target);
    return undefined;
  }

  /** The readiness condition (GET /readyz's `safety_orders`): failing while any safety order is undelivered. */
  condition(): { readonly ok: boolean; readonly reason?: string } {
    const { ready, undelivered } = this.readiness();
    return ready ? { ok: true } : { ok: false, reason: `safety orders not delivered: ${undelivered.slice(0, 5).map((u) => `${u.target} (${u.code})`).join(', ')}` };
  }

  /** Ready while no safety order is undelivered, with the ones that are. */
  readiness(): { readonly ready: boolean; readonly undelivered: readonly UndeliveredOrder[] } {
    const undelivered = [...this.failing.values()];
    return { ready: undelivered.length === 0, undelivered };
  }
}
