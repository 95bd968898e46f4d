/**
 * Counts a run's safety chain from its audit log: the faults injected, the detections without action, and per safety
 * order its decision, its attempts, the gateway writes that executed it and its acknowledgement. Answers "did the
 * gateway see exactly one order per hazard plus the acknowledgement" for a `make run` (or any state dir).
 *   node --import tsx scripts/safety-orders.ts --state-dir .glimmer [--json]
 */
import { parseArgs } from 'node:util';
import { readAuditRecords } from '../runtime/audit/records';

type Rec = Record<string, unknown>;

/** Modbus write function codes (single/multiple coil/register). */
const WRITES = new Set([5, 6, 15, 16]);

export interface OrderChain {
  readonly decision_id: string;
  readonly target: string;
  readonly rules: readonly string[];
  readonly sends: number;
  readonly gateway_writes: number;
  readonly acknowledged: string | null;
  readonly plc_after: unknown;
}

export interface SafetyOrderCount {
  readonly records: number;
  readonly faults: readonly { asset: string; fault: string; by: string }[];
  readonly no_action: readonly { asset: string; reason: string }[];
  readonly orders: readonly OrderChain[];
  /** Every write the gateway allowed in the run, by anyone (orders' writes and others). */
  readonly gateway_writes_allowed: number;
  readonly ack_timeouts: number;
}

export function countSafetyOrders(records: readonly Rec[]): SafetyOrderCount {
  const decisions = new Map(records.filter((r) => r.type === 'cognitive.decision').map((r) => [r.decision_id as string, r]));
  const writes = records.filter((r) => r.type === 'modbus.decision' && r.decision === 'allow' && WRITES.has(r.function_code as number));
  const byId = new Map<string, Rec[]>();
  for (const o of records.filter((r) => r.type === 'safety.order')) byId.set(o.decision_id as string, [...(byId.get(o.decision_id as string) ?? []), o]);
  const orders = [...byId.entries()].map(([id, sent]): OrderChain => {
    const executed = records.filter((r) => r.type === 'industrial.shutdown' && r.decision_id === id);
    const joined = executed.flatMap((e) => {
      const ref = e.modbus as { peer_port: number; transaction: number } | null;
      return ref ? writes.filter((w) => w.peer_port === ref.peer_port && w.transaction === ref.transaction) : [];
    });
    const ack = records.find((r) => r.type === 'safety.order_acked' && r.decision_id === id);
    const fired = (decisions.get(id)?.fired as { rule: string }[] | undefined) ?? [];
    return {
      decision_id: id, target: String(sent[0]?.target), rules: [...new Set(fired.map((f) => f.rule))].filter((r) => r !== 'no_action_reason'),
      sends: sent.length, gateway_writes: joined.length, acknowledged: ack ? String(ack.outcome) : null, plc_after: ack?.plc_after ?? null,
    };
  });
  const noAction = new Map<string, { asset: string; reason: string }>();
  for (const d of decisions.values()) for (const n of (d.no_action as { asset: string; reason: string }[] | undefined) ?? []) noAction.set(`${n.asset} ${n.reason}`, n);
  return {
    records: records.length,
    faults: records.filter((r) => r.type === 'plant.fault.injected').map((r) => ({ asset: String(r.asset), fault: String(r.fault), by: String(r.by) })),
    no_action: [...noAction.values()],
    orders,
    gateway_writes_allowed: writes.length,
    ack_timeouts: records.filter((r) => r.type === 'safety.order_timeout').length,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'state-dir': { type: 'string', default: '.glimmer' }, json: { type: 'boolean', default: false } } });
  const records: Rec[] = [];
  for await (const r of readAuditRecords({ stateDir: values['state-dir'] })) records.push(r);
  const c = countSafetyOrders(records);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(c, null, 2)}\n`);
    return;
  }
  const lines = [
    `audit records: ${c.records}`,
    `faults injected: ${c.faults.map((f) => `${f.fault} on ${f.asset} (${f.by})`).join(', ') || 'none'}`,
    `detections without action: ${c.no_action.map((n) => `${n.asset} (${n.reason})`).join(', ') || 'none'}`,
    `safety orders: ${c.orders.length}`,
    ...c.orders.map((o) => `  ${o.decision_id} ${o.target} [${o.rules.join(', ')}]: sent ${o.sends}x, gateway writes ${o.gateway_writes}, acknowledged ${o.acknowledged ?? 'no'}`),
    `gateway writes allowed in the run (anyone): ${c.gateway_writes_allowed}`,
    `acknowledgement timeouts: ${c.ack_timeouts}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (require.main === module) void main();
