/**
 * The causal chain of one safety decision, assembled from the audit log alone: the fault seen, the model's score and
 * class with the model hash, the rules that fired with their bindings, the order, each policy decision on it, the
 * gateway write, the PLC state after and the acknowledgement, each with its leaf index (so any link can be proven
 * included). One home for the console's timeline (GET /v1/decisions) and `glimmer explain <index>`.
 *
 * Records of the chain carry the decision's `decision_id`; the two that cannot (the fault: the plant does not know who
 * will notice; the Modbus write: frames carry no id) are joined by asset and by the gateway connection (peer port and
 * transaction) the Industrial agent reports, or else by unit and address after the decision. The search is bounded
 * (a window of entries on each side), so a chain costs the same however long the log is.
 */
import { GlimmerError, quote } from '../errors';
import { plantMap } from '../model/plant-map';

export interface ExplainEntry {
  readonly index: number;
  /** The time the log stamped on the leaf (ISO 8601). */
  readonly ts: string;
  readonly record: Readonly<Record<string, unknown>>;
}

/** What the assembly reads: a running log (AuditLog) or a state dir's store, through `entriesOf`. */
export interface ExplainSource {
  size(): number;
  /** Entries start..end inclusive, oldest first (may return fewer than asked: callers page). */
  entries(start: number, endInclusive: number): readonly ExplainEntry[];
}

export interface ChainLink {
  readonly index: number;
  readonly ts: string;
  readonly type: string;
}

export interface DecisionChain {
  /** Leaf index of the `cognitive.decision` record. */
  readonly index: number;
  readonly ts: string;
  readonly decision_id: string;
  /** The agent that decided (and ordered). */
  readonly agent: string;
  readonly trigger: string | null;
  /** `shutdown`: the decision ordered targets shut down; `no_action`: it detected a hazard and says why it did not act. */
  readonly kind: 'shutdown' | 'no_action';
  /** Targets the decision ordered shut down (empty for no_action). */
  readonly targets: readonly string[];
  /** The assets the row is about: the targets, or the assets detected without action. */
  readonly assets: readonly string[];
  readonly fault: (ChainLink & { asset: string; fault: string; by: string }) | null;
  readonly scores: { anomaly: number; mode: string; asset: string | null; target_score: number | null; threshold: number | null } | null;
  readonly model: { sha256: string; path: string | null } | null;
  readonly rules: readonly { rule: string; bindings: Readonly<Record<string, string>> }[];
  readonly violations: readonly { asset: string; code: string }[];
  /** Assets the rules flagged without an order, and why (e.g. a redundant asset). */
  readonly no_action: readonly { asset: string; reason: string; rule: string | null }[];
  readonly orders: readonly (ChainLink & { target: string; to: string | null; attempt: number | null; reason: string | null })[];
  readonly policy: readonly (ChainLink & { decision: string; action: string; subject: string; resource: string; reasons: readonly string[]; enforcement: string })[];
  readonly execution: (ChainLink & { target: string; signal: string | null; value: unknown; via: string | null; outcome: string; exception: number | null; executed_at_ms: number | null }) | null;
  readonly write: (ChainLink & { unit: number; function_code: number; address: number; decision: string; reason: string; exception: number; zone: string }) | null;
  readonly plc_after: { signal: string; value: unknown; at_ms: number | null; source: string } | null;
  readonly ack: (ChainLink & { outcome: string | null; latency_ms: number | null }) | null;
  /** Links not (yet) in the log: fault, score, order, policy, write, plc_after. */
  readonly missing: readonly string[];
}

/** Entries looked at on each side of the decision. */
const WINDOW = 5000;
const PAGE = 1000;
const WRITE_FUNCTIONS = new Set([5, 6, 15, 16]);

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const arr = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Record<string, unknown> | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

function* forward(source: ExplainSource, from: number, to: number): Generator<ExplainEntry> {
  for (let start = from; start <= to; ) {
    const page = source.entries(start, Math.min(to, start + PAGE - 1));
    if (page.length === 0) return;
    yield* page;
    start = (page[page.length - 1] as ExplainEntry).index + 1;
  }
}

function* backward(source: ExplainSource, from: number, to: number): Generator<ExplainEntry> {
  for (let end = from; end >= to; ) {
    const start = Math.max(to, end - PAGE + 1);
    const page = source.entries(start, end);
    for (let i = page.length - 1; i >= 0; i--) yield page[i] as ExplainEntry;
    end = start - 1;
  }
}

/** The targets a decision ordered: `orders` (one per order sent) or, in older logs, `shutdowns_sent`. */
export function orderedTargets(record: Readonly<Record<string, unknown>>): string[] {
  const orders = arr(record.orders).map((o) => str(obj(o)?.target)).filter((t): t is string => t !== null);
  return orders.length > 0 ? orders : arr(record.shutdowns_sent).filter((t): t is string => typeof t === 'string');
}

function ordersOf(record: Readonly<Record<string, unknown>>): { target: string; attempt: number | null; reason: string | null }[] {
  const listed = arr(record.orders).map(obj).filter((o): o is Record<string, unknown> => o !== null && typeof o.target === 'string');
  if (listed.length > 0) return listed.map((o) => ({ target: String(o.target), attempt: num(o.attempt), reason: str(o.reason) }));
  return orderedTargets(record).map((target) => ({ target, attempt: null, reason: null }));
}

/** Assets the rules flagged without acting, and why (`no_action`). */
export function noActionAssets(record: Readonly<Record<string, unknown>>): string[] {
  return arr(record.no_action).map((n) => str(obj(n)?.asset)).filter((a): a is string => a !== null);
}

/** A `cognitive.decision` that sent at least one safety order, or that detected a hazard it did not act on. */
export function isSafetyDecision(record: Readonly<Record<string, unknown>>): boolean {
  return record.type === 'cognitive.decision' && (orderedTargets(record).length > 0 || noActionAssets(record).length > 0);
}

/**
 * Whether a safety decision is a new row of the timeline: it ordered a shutdown, or it names an asset detected without
 * action that the same agent's previous decision did not (a decision is recorded on every change of outcome, so one
 * detection spans several records).
 */
export function isNewRow(record: Readonly<Record<string, unknown>>, previousNoAction: ReadonlySet<string>): boolean {
  if (record.type !== 'cognitive.decision') return false;
  return orderedTargets(record).length > 0 || noActionAssets(record).some((a) => !previousNoAction.has(a));
}

const link = (e: ExplainEntry): ChainLink => ({ index: e.index, ts: e.ts, type: String(e.record.type) });

/** Finds the decision an index points at: the decision record itself, or any record carrying its decision_id. */
function findDecision(source: ExplainSource, index: number): ExplainEntry {
  const size = source.size();
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new GlimmerError('GLM_ERR_AUDIT_RANGE_INVALID', `audit index must be 0..${size - 1}, received ${quote(index)}`);
  }
  const at = source.entries(index, index)[0];
  if (!at) throw new GlimmerError('GLM_ERR_AUDIT_RANGE_INVALID', `the log returned no entry ${index}`);
  if (isSafetyDecision(at.record)) return at;
  const id = str(at.record.decision_id);
  if (id !== null) {
    for (const e of backward(source, index, Math.max(0, index - WINDOW))) {
      if (e.record.type === 'cognitive.decision' && e.record.decision_id === id) {
        if (isSafetyDecision(e.record)) return e;
        break;
      }
    }
  }
  throw new GlimmerError('GLM_ERR_EXPLAIN_NOT_A_DECISION', `audit entry ${index} (${quote(at.record.type)}) is not a safety decision and carries no decision_id of one`);
}

/** Assembles the chain of the safety decision at (or referred to by) `index`. */
export function explainDecision(source: ExplainSource, index: number): DecisionChain {
  const d = findDecision(source, index);
  const r = d.record;
  const id = String(r.decision_id);
  const agent = str(r.agent) ?? 'unknown';
  const targets = orderedTargets(r);
  const assets = targets.length > 0 ? targets : noActionAssets(r);
  const primary = assets[0] as string;
  const size = source.size();

  // The fault: the latest injection on an ordered asset before the decision (never across a runtime restart), of the
  // class the model saw when it names one (an asset may carry several faults).
  const mode = str(obj(r.scores)?.mode);
  let fault: DecisionChain['fault'] = null;
  for (const e of backward(source, d.index - 1, Math.max(0, d.index - WINDOW))) {
    if (e.record.type === 'runtime.start') break;
    if (e.record.type !== 'plant.fault.injected' || !assets.includes(String(e.record.asset))) continue;
    const found = { ...link(e), asset: String(e.record.asset), fault: String(e.record.fault), by: String(e.record.by ?? 'unknown') };
    fault ??= found;
    if (mode === null || found.fault === mode) {
      fault = found;
      break;
    }
  }

  const orders: (ChainLink & { target: string; to: string | null; attempt: number | null; reason: string | null })[] = [];
  const policy: DecisionChain['policy'][number][] = [];
  const unlabelledPolicy: DecisionChain['policy'][number][] = [];
  const writes: ExplainEntry[] = [];
  let execution: DecisionChain['execution'] = null;
  let executionRecord: Readonly<Record<string, unknown>> | undefined;
  let ack: DecisionChain['ack'] = null;
  let ackRecord: Readonly<Record<string, unknown>> | undefined;
  const subjectSuffix = `/agent/${agent}`;
  // A decision without an order has no chain after it.
  for (const e of forward(source, d.index + 1, targets.length > 0 ? Math.min(size - 1, d.index + WINDOW) : d.index)) {
    const x = e.record;
    if (x.type === 'runtime.start') break;
    // A later decision on the same target ends this one's chain, except records that name this decision.
    const own = x.decision_id === id;
    if (x.type === 'safety.order' && own) orders.push({ ...link(e), target: String(x.target), to: str(x.to), attempt: num(x.attempt), reason: str(x.reason) });
    else if (x.type === 'policy.decision') {
      const p = { ...link(e), decision: String(x.decision), action: String(x.action), subject: String(x.subject), resource: String(x.resource), reasons: arr(x.reasons).map(String), enforcement: String(x.enforcement) };
      if (own) policy.push(p);
      // Logs whose policy records carry no decision_id: the shutdown decision the ordering agent's call met.
      else if (x.decision_id === undefined && execution === null && x.action === 'shutdown' && p.subject.endsWith(subjectSuffix)) unlabelledPolicy.push(p);
    } else if (x.type === 'modbus.decision' && execution === null && WRITE_FUNCTIONS.has(Number(x.function_code))) writes.push(e);
    else if (x.type === 'industrial.shutdown' && own && execution === null) {
      executionRecord = x;
      execution = { ...link(e), target: String(x.target), signal: str(x.signal), value: x.value ?? null, via: str(x.via), outcome: String(x.outcome), exception: num(x.exception), executed_at_ms: num(x.executed_at_ms) };
    } else if ((x.type === 'safety.order_acked' || x.type === 'safety.order_timeout') && own && (ack === null || ack.type !== 'safety.order_acked')) {
      ackRecord = x;
      ack = { ...link(e), outcome: str(x.outcome), latency_ms: num(x.latency_ms) };
    }
    if (execution !== null && ack?.type === 'safety.order_acked') break;
  }
  if (policy.length === 0) policy.push(...unlabelledPolicy.slice(0, 1));

  // The gateway write: the frame the Industrial agent reports (peer port + transaction), else the first write to the
  // signal's unit and address between the decision and the execution record.
  let write: DecisionChain['write'] = null;
  if (executionRecord) {
    const via = obj(executionRecord.modbus);
    const signal = str(executionRecord.signal);
    const candidates = writes.filter((w) => w.index < (execution as ChainLink).index);
    const match = via && num(via.transaction) !== null
      ? candidates.find((w) => w.record.transaction === via.transaction && (via.peer_port === undefined || w.record.peer_port === via.peer_port))
      : signal !== null ? candidates.find((w) => w.record.address === addressOf(signal)?.address && w.record.unit === addressOf(signal)?.unit) : undefined;
    if (match) {
      const w = match.record;
      write = { ...link(match), unit: Number(w.unit), function_code: Number(w.function_code), address: Number(w.address), decision: String(w.decision), reason: String(w.reason), exception: Number(w.exception ?? 0), zone: String(w.zone) };
    }
  }

  const after = obj(ackRecord?.plc_after) ?? obj(executionRecord?.plc_after);
  const plcAfter: DecisionChain['plc_after'] = after && typeof after.signal === 'string'
    ? { signal: after.signal, value: after.value ?? null, at_ms: num(after.at_ms), source: ackRecord?.plc_after ? String(ackRecord.type) : 'industrial.shutdown' }
    : null;

  const s = obj(r.scores);
  const m = obj(r.model);
  const chain: DecisionChain = {
    index: d.index,
    ts: d.ts,
    decision_id: id,
    agent,
    trigger: str(r.trigger),
    kind: targets.length > 0 ? 'shutdown' : 'no_action',
    targets,
    assets,
    fault,
    scores: s ? { anomaly: Number(s.anomaly), mode: String(s.mode), asset: str(s.asset), target_score: num(obj(s.assets)?.[primary]), threshold: num(s.threshold) } : null,
    model: m && typeof m.sha256 === 'string' ? { sha256: m.sha256, path: str(m.path) } : null,
    rules: arr(r.fired).map((f) => ({ rule: String(obj(f)?.rule), bindings: Object.fromEntries(Object.entries(obj(obj(f)?.bindings) ?? {}).map(([k, v]) => [k, String(v)])) })),
    violations: arr(r.violations).map((v) => ({ asset: String(obj(v)?.asset), code: String(obj(v)?.code) })),
    no_action: arr(r.no_action).map((n) => ({ asset: String(obj(n)?.asset), reason: String(obj(n)?.reason), rule: str(obj(n)?.rule) })),
    // Without order records of their own, the orders are the ones the decision lists (one per target it ordered).
    orders: orders.length > 0 ? orders : targets.length > 0 ? ordersOf(r).map((o) => ({ ...link(d), ...o, to: null })) : [],
    policy,
    execution,
    write,
    plc_after: plcAfter,
    ack,
    missing: [],
  };
  const missing = [
    ...(fault ? [] : ['fault']),
    ...(chain.scores ? [] : ['score']),
  ];
  if (chain.kind === 'no_action') return { ...chain, missing };
  missing.push(
    ...(policy.length > 0 ? [] : ['policy']),
    ...(execution ? [] : ['execution']),
    ...(write ? [] : ['write']),
    ...(plcAfter ? [] : ['plc_after']),
  );
  return { ...chain, missing };
}

let addresses: Map<string, { unit: number; address: number }> | undefined;

function addressOf(signal: string): { unit: number; address: number } | undefined {
  addresses ??= new Map(plantMap().map((e) => [e.id, { unit: e.unit_id, address: e.address }]));
  return addresses.get(signal);
}

/** The timeline's rows among the last `scan` entries (see isNewRow), newest first, at most `limit`. */
export function recentDecisions(source: ExplainSource, limit: number, scan = 20_000): number[] {
  const size = source.size();
  const rows: number[] = [];
  const previous = new Map<string, Set<string>>();
  for (const e of forward(source, Math.max(0, size - scan), size - 1)) {
    if (e.record.type !== 'cognitive.decision') continue;
    const agent = String(e.record.agent);
    if (isNewRow(e.record, previous.get(agent) ?? new Set())) rows.push(e.index);
    previous.set(agent, new Set(noActionAssets(e.record)));
  }
  return rows.reverse().slice(0, limit);
}

/** An ExplainSource over leaves as the log stores them (`{"index":..,"record":..,"ts":..}` JSON). */
export function entriesOf(store: { size(): number; entries(start: number, end: number): readonly { index: number; leaf: Uint8Array }[] }): ExplainSource {
  return {
    size: () => store.size(),
    entries: (start, end) =>
      store.entries(start, end).map(({ index, leaf }) => {
        const decoded = JSON.parse(Buffer.from(leaf).toString('utf8')) as { record: Record<string, unknown>; ts: string };
        return { index, ts: decoded.ts, record: decoded.record };
      }),
  };
}

/** The chain as terminal text (`glimmer explain`). */
export function formatChain(c: DecisionChain): string {
  const lines: string[] = [];
  const at = (l: { index: number }) => `#${l.index}`;
  lines.push(`${c.kind === 'shutdown' ? 'Safety decision' : 'Detection without action'} ${c.decision_id} at ${c.ts} (audit #${c.index}, by ${c.agent}, trigger ${c.trigger ?? '-'})`);
  lines.push(`  fault      ${c.fault ? `${c.fault.asset}: ${c.fault.fault} injected by ${c.fault.by} at ${c.fault.ts} ${at(c.fault)}` : '(no injection recorded before the decision)'}`);
  lines.push(`  score      ${c.scores ? `anomaly ${c.scores.anomaly} (${c.scores.mode}, ${c.scores.asset ?? '-'}), ${c.assets[0]} ${c.scores.target_score ?? '-'} vs threshold ${c.scores.threshold ?? '-'}` : '(rules only, no model score)'}`);
  lines.push(`  model      ${c.model ? `sha256 ${c.model.sha256}${c.model.path ? ` (${c.model.path})` : ''}` : '-'}`);
  for (const f of c.rules) lines.push(`  rule       ${f.rule}(${Object.entries(f.bindings).map(([k, v]) => `${k}=${v}`).join(', ')})`);
  for (const v of c.violations) lines.push(`  violation  ${v.asset} ${v.code}`);
  for (const n of c.no_action) lines.push(`  no action  ${n.asset}: ${n.reason}${n.rule ? ` (${n.rule})` : ''}`);
  for (const o of c.orders) lines.push(`  order      hold ${o.target}${o.to ? ` -> ${o.to}` : ''}${o.attempt !== null ? ` attempt ${o.attempt}` : ''}${o.reason ? ` (${o.reason})` : ''} ${at(o)}`);
  for (const p of c.policy) lines.push(`  policy     ${p.decision.toUpperCase()} ${p.action} ${p.subject} -> ${p.resource} [${p.reasons.join(', ')}] via ${p.enforcement} ${at(p)}`);
  if (c.kind === 'no_action') return `${lines.join('\n')}\n${c.missing.length > 0 ? `  not in the log: ${c.missing.join(', ')}\n` : ''}`;
  lines.push(`  write      ${c.write ? `${c.write.decision.toUpperCase()} fc${c.write.function_code} unit ${c.write.unit} @${c.write.address} (${c.write.reason}, from ${c.write.zone}, exception ${c.write.exception}) ${at(c.write)}` : '-'}`);
  lines.push(`  executed   ${c.execution ? `${c.execution.signal ?? c.execution.target} = ${JSON.stringify(c.execution.value)} via ${c.execution.via ?? '-'}: ${c.execution.outcome} ${at(c.execution)}` : '-'}`);
  lines.push(`  plc after  ${c.plc_after ? `${c.plc_after.signal} = ${JSON.stringify(c.plc_after.value)} (${c.plc_after.source})` : '-'}`);
  lines.push(`  ack        ${c.ack ? `${c.ack.type}${c.ack.latency_ms !== null ? ` after ${c.ack.latency_ms} ms` : ''} ${at(c.ack)}` : '-'}`);
  if (c.missing.length > 0) lines.push(`  not in the log: ${c.missing.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
