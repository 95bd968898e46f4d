/**
 * The Cognitive Agent's decision loop, free of process plumbing (the behaviour in runtime/agents/cognitive.ts wires it
 * to its context; the benchmarks drive it directly).
 *
 * Per plant snapshot: the readings go into a sliding window, the live facts are synced into the rule engine as deltas
 * and every rule is evaluated in one query (never per Modbus frame: snapshots arrive per plant tick). Every `stride`
 * snapshots the model scores the latest full window off that path; its scores become facts and the rules run again.
 * Each decision fuses both: the audit record names the rules that fired with their bindings, the violations, the
 * shutdowns, the model's scores and the model's sha256, and why a detection led to no action (no_action_reason/2).
 * A shutdown goes out once and waits for its acknowledgement (onAck: the executor saw its write in the PLC); it is sent
 * again only when none came within `ackTimeoutMs` (same decision id, next attempt) or when the target is seen out of
 * the safe state it was acknowledged in while the rule still fires (a new decision). An agent's hold, acknowledged by
 * its delivery and invisible in snapshots, is renewed every `ackTimeoutMs` while the rule fires. A clearance goes out once when
 * the rule stops naming a target (the target's supervisor releases a held agent on it); records are written when the
 * outcome changes, not per snapshot.
 */
import crypto from 'node:crypto';
import { asGlimmerError } from '../errors';
import type { AuditRecordInput, SafetyAck, ShutdownOrder } from '../model/messages';
import { featureVector } from '../industrial/plant/dataset';
import type { Evaluation, RuleEngine } from './engine';
import { FEATURE_COUNT, type AnomalyModel, type WindowScores } from './anomaly-model';
import { WINDOW_LENGTH } from './model-contract';
import { scoreFacts, snapshotFacts } from './plant-facts';
import { termToString, type Fact, type Term } from './terms';

export interface CoreSinks {
  shutdown(command: ShutdownOrder): void;
  /** The rules no longer demand the shutdown of `command.target` (codes empty). */
  clear?(command: ShutdownOrder): void;
  audit(record: AuditRecordInput): void;
  publish(status: Record<string, unknown>): void;
}

export interface CognitiveCoreOptions {
  readonly engine: RuleEngine;
  /** Without a model the core decides on rules alone (scores absent from the records). */
  readonly model?: AnomalyModel;
  readonly modelPath?: string;
  /** Anomaly score at or above which a window counts as a fault. */
  readonly threshold: number;
  readonly staticFacts: readonly Fact[];
  readonly sinks: CoreSinks;
  /** Snapshots between two model runs once the window is full. @default 10 */
  readonly stride?: number;
  /** A shutdown not acknowledged within this long is sent again. @default 2000 */
  readonly ackTimeoutMs?: number;
  readonly now?: () => number;
}

const plain = (t: Term): string => (typeof t === 'string' ? t : termToString(t));

/** One target's order in force or awaited. */
interface OrderState {
  readonly decisionId: string;
  attempt: number;
  sentAt: number;
  /** The acknowledgement's outcome, once one came. */
  outcome?: SafetyAck['outcome'];
  /** When the PLC was seen in the safe state (the executor's clock, as snapshots carry it); null without a PLC reading. */
  safeSince: number | null;
}

export class CognitiveCore {
  private readonly ring = new Float32Array(WINDOW_LENGTH * FEATURE_COUNT);
  private seen = 0;
  private lastModelAt = 0;
  private modelBusy: Promise<void> | undefined;
  private latest: unknown;
  private scores: { readonly window_end_ms: number | null; readonly scores: WindowScores } | undefined;
  private outcome = '';
  private previousViolations = new Set<string>();
  private readonly orders = new Map<string, OrderState>();
  /** Orders the rules stopped demanding, by decision id: their acknowledgement may still be on its way. */
  private readonly settled = new Map<string, OrderState & { readonly target: string }>();
  private readonly stride: number;
  private readonly ackTimeoutMs: number;
  private readonly now: () => number;
  private closed = false;
  /** Counters for status and tests. */
  readonly stats = { snapshots: 0, rejected: 0, evaluations: 0, modelRuns: 0, shutdownsSent: 0, acks: 0, ackTimeouts: 0, errors: 0 };
  /** Cumulative evaluation outcomes and the durations since the last status, for the supervisor's metrics. */
  private readonly outcomes = { ok: 0, violation: 0, error: 0 };
  private durations: number[] = [];
  private lastDecisionId: string | null = null;
  private staticFacts: readonly Fact[];

  constructor(private readonly options: CognitiveCoreOptions) {
    this.staticFacts = options.staticFacts;
    this.stride = options.stride ?? 10;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 2000;
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * The rules path: synchronous from snapshot to shutdown command. With `window: false` (a snapshot sent on a change,
   * between the periodic ones) the rules run but the model's window, sampled at the periodic cadence, is left as is.
   */
  onSnapshot(snapshot: unknown, options: { window?: boolean } = {}): Evaluation | undefined {
    if (this.closed) return undefined;
    const assets = (snapshot as { assets?: unknown } | null)?.assets;
    if (assets === null || typeof assets !== 'object' || Array.isArray(assets)) {
      this.stats.rejected++;
      return undefined;
    }
    this.stats.snapshots++;
    this.latest = snapshot;
    if (options.window === false) return this.decide('snapshot');
    const values = featureVector(snapshot as Parameters<typeof featureVector>[0]);
    this.ring.set(values.map((v) => (Number.isFinite(v) ? v : 0)), (this.seen % WINDOW_LENGTH) * FEATURE_COUNT);
    this.seen++;
    const ev = this.decide('snapshot');
    if (this.options.model && this.seen >= WINDOW_LENGTH && this.seen - this.lastModelAt >= this.stride && !this.modelBusy) {
      this.lastModelAt = this.seen;
      this.modelBusy = this.runModel().finally(() => { this.modelBusy = undefined; });
    }
    return ev;
  }

  /**
   * The executor's acknowledgement of an order (untrusted input, validated by the caller). Executed: the order is in
   * force. Refused or naming an unknown target: final, never re-sent while the rule fires. Failed or unconfirmed: sent
   * again once the acknowledgement timeout has passed. An acknowledgement of no awaited order is audited and ignored.
   */
  onAck(ack: SafetyAck): void {
    if (this.closed) return;
    const current = this.orders.get(ack.target);
    const late = this.settled.get(ack.decision_id);
    const o = current?.decisionId === ack.decision_id ? current : late?.target === ack.target ? late : undefined;
    if (!o || o.outcome === 'executed') {
      this.options.sinks.audit({ type: 'safety.ack_ignored', decision_id: ack.decision_id, target: ack.target, attempt: ack.attempt, outcome: ack.outcome, why: !o ? 'no such order sent' : 'already acknowledged' });
      return;
    }
    o.outcome = ack.outcome;
    o.safeSince = ack.outcome === 'executed' ? (ack.plc_after?.at_ms ?? null) : null;
    this.stats.acks++;
    this.options.sinks.audit({ type: 'safety.order_acked', decision_id: ack.decision_id, target: ack.target, attempt: ack.attempt, outcome: ack.outcome, plc_after: ack.plc_after, latency_ms: round(this.now() - o.sentAt) });
  }

  /** Resolves once any model run in flight has finished (tests, shutdown). */
  async idle(): Promise<void> {
    await this.modelBusy;
  }

  close(): void {
    this.closed = true;
  }

  /** Replaces the configuration's facts (a reload changed safety levels); the next snapshot decides with them. */
  setStaticFacts(facts: readonly Fact[]): void {
    this.staticFacts = facts;
  }

  get latestScores(): WindowScores | undefined {
    return this.scores?.scores;
  }

  private window(): Float32Array {
    const out = new Float32Array(WINDOW_LENGTH * FEATURE_COUNT);
    const start = this.seen % WINDOW_LENGTH;
    const head = this.ring.subarray(start * FEATURE_COUNT);
    out.set(head, 0);
    out.set(this.ring.subarray(0, start * FEATURE_COUNT), head.length);
    return out;
  }

  private async runModel(): Promise<void> {
    const model = this.options.model as AnomalyModel;
    try {
      const [scores] = await model.score(this.window(), 1);
      if (this.closed || !scores) return;
      this.stats.modelRuns++;
      this.scores = { window_end_ms: snapshotTime(this.latest), scores };
      this.decide('model');
      this.publishStatus();
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    this.stats.errors++;
    this.outcomes.error++;
    const e = asGlimmerError(err);
    this.options.sinks.audit({ type: 'cognitive.error', code: e.code, message: e.message });
    this.publishStatus(e.code);
  }

  /** The status the console shows and the supervisor turns into metrics (see observe.ts). */
  private publishStatus(error?: string): void {
    const s = this.scores?.scores;
    const threshold = this.options.threshold;
    const recent = this.durations;
    this.durations = [];
    const [violations, shutdowns] = this.outcome ? (JSON.parse(this.outcome) as [string[], string[]]) : [[], []];
    this.options.sinks.publish({
      anomaly: s ? round(s.anomaly) : null,
      // The plant time (the Industrial agent's clock) of the window's last snapshot.
      window_end_ms: this.scores?.window_end_ms ?? null,
      mode: s && s.anomaly >= threshold ? s.mode : 'normal',
      asset: s ? s.asset : null,
      asset_scores: s ? mapRound(s.assetScores) : {},
      violations,
      shutdowns,
      model_sha256: this.options.model?.sha256 ?? null,
      decision_id: this.lastDecisionId,
      rules: { ...this.outcomes, recent_durations_s: recent },
      ...(error ? { error } : {}),
    });
  }

  /** Audits the order (the chain's `safety.order` record), then sends it. */
  private send(order: ShutdownOrder): void {
    this.stats.shutdownsSent++;
    this.options.sinks.audit({ type: 'safety.order', decision_id: order.decision_id, action: 'hold', target: order.target, codes: order.codes, attempt: order.attempt, reason: order.reason, sent_at_ms: Date.now() });
    this.options.sinks.shutdown(order);
  }

  private decide(trigger: 'snapshot' | 'model'): Evaluation | undefined {
    const { engine, sinks, threshold } = this.options;
    let ev: Evaluation;
    const t0 = performance.now();
    try {
      engine.sync([...this.staticFacts, ...snapshotFacts(this.latest), ...scoreFacts(this.scores?.scores, threshold)]);
      ev = engine.evaluate();
    } catch (err) {
      this.fail(err);
      return undefined;
    }
    if (this.durations.length < 1000) this.durations.push((performance.now() - t0) / 1000);
    this.stats.evaluations++;
    if (ev.violations.length + ev.shutdowns.length > 0) this.outcomes.violation++;
    else this.outcomes.ok++;
    const violations = ev.violations.map((v) => ({ asset: plain(v.asset), code: plain(v.code) }));
    const shutdowns = [...new Set(ev.shutdowns.map(plain))];
    const noAction = ev.fired.filter((f) => f.rule === 'no_action_reason').map((f) => ({ asset: plain(f.bindings.Asset as Term), reason: plain(f.bindings.Reason as Term) }));
    const outcome = JSON.stringify([violations.map((v) => `${v.asset} ${v.code}`).sort(), [...shutdowns].sort(), noAction.map((n) => `${n.asset} ${n.reason}`).sort()]);
    const now = this.now();
    const snapshotTimeMs = snapshotTime(this.latest);
    const codesOf = (target: string) => violations.filter((v) => v.asset === target).map((v) => v.code);
    // An order awaiting its acknowledgement past the timeout goes again under its own decision. So does an agent's
    // hold, acknowledged by its delivery: no snapshot shows it in force (a restarted agent has lost it), so it is
    // renewed while the rule fires.
    for (const target of shutdowns) {
      const o = this.orders.get(target);
      if (!o || now - o.sentAt < this.ackTimeoutMs) continue;
      const awaiting = o.outcome === undefined || o.outcome === 'failed' || o.outcome === 'unconfirmed';
      const lease = o.outcome === 'executed' && o.safeSince === null;
      if (!awaiting && !lease) continue;
      if (awaiting) {
        this.stats.ackTimeouts++;
        sinks.audit({ type: 'safety.order_timeout', decision_id: o.decisionId, target, attempt: o.attempt, waited_ms: round(now - o.sentAt), outcome: o.outcome ?? null });
      }
      o.attempt++;
      o.sentAt = now;
      o.outcome = undefined;
      this.send({ target, codes: codesOf(target), decision_id: o.decisionId, snapshot_time_ms: snapshotTimeMs, attempt: o.attempt, reason: awaiting ? 'ack_timeout' : 'renewal' });
    }
    const due: { target: string; reason: 'new' | 'state_change' }[] = [];
    for (const target of shutdowns) {
      const o = this.orders.get(target);
      if (!o) due.push({ target, reason: 'new' });
      else if (o.outcome === 'executed' && o.safeSince !== null && leftSafeState(this.latest, target, o.safeSince)) due.push({ target, reason: 'state_change' });
    }
    const cleared = [...this.orders.keys()].filter((t) => !shutdowns.includes(t));
    for (const t of cleared) {
      const o = this.orders.get(t) as OrderState;
      this.orders.delete(t);
      this.settled.set(o.decisionId, { ...o, target: t });
      if (this.settled.size > 64) this.settled.delete(this.settled.keys().next().value as string);
    }
    const changed = outcome !== this.outcome;
    if (!changed && due.length === 0) return ev;
    this.outcome = outcome;
    const current = new Set(violations.map((v) => `${v.asset} ${v.code}`));
    const newViolations = violations.filter((v) => !this.previousViolations.has(`${v.asset} ${v.code}`));
    this.previousViolations = current;
    const decisionId = crypto.randomUUID();
    for (const { target, reason } of due) {
      this.orders.set(target, { decisionId, attempt: 1, sentAt: now, safeSince: null });
      this.send({ target, codes: codesOf(target), decision_id: decisionId, snapshot_time_ms: snapshotTimeMs, attempt: 1, reason });
    }
    for (const target of cleared) sinks.clear?.({ target, codes: [], decision_id: decisionId, snapshot_time_ms: snapshotTimeMs });
    const s = this.scores;
    sinks.audit({
      type: 'cognitive.decision',
      decision_id: decisionId,
      trigger,
      snapshot_time_ms: snapshotTimeMs,
      fired: ev.fired.map((f) => ({ rule: f.rule, bindings: Object.fromEntries(Object.entries(f.bindings).map(([k, v]) => [k, plain(v)])) })),
      violations,
      new_violations: newViolations,
      shutdowns,
      shutdowns_sent: due.map((d) => d.target),
      orders: due.map((d) => ({ target: d.target, attempt: 1, reason: d.reason })),
      clearances_sent: cleared,
      no_action: noAction,
      scores: s ? { window_end_ms: s.window_end_ms, anomaly: round(s.scores.anomaly), mode: s.scores.mode, asset: s.scores.asset, assets: mapRound(s.scores.assetScores), threshold } : null,
      model: this.options.model ? { sha256: this.options.model.sha256, path: this.options.modelPath ?? this.options.model.file } : null,
    });
    this.lastDecisionId = decisionId;
    this.publishStatus();
    return ev;
  }
}

/**
 * Whether a snapshot taken after `since` shows `target` out of the safe state its shutdown put it in: a pump commanded
 * or running, a valve commanded open, anything else (the emergency stop's targets) with the emergency stop released.
 */
function leftSafeState(snapshot: unknown, target: string, since: number): boolean {
  const t = snapshotTime(snapshot);
  if (t === null || t <= since) return false;
  const assets = (snapshot as { assets: Record<string, Record<string, unknown> | undefined> }).assets;
  const a = assets[target];
  if (a?.kind === 'pump') return a.run_command === true || a.running === true;
  if (a?.kind === 'valve') return a.open_command === true;
  const safety = Object.values(assets).find((x) => x?.kind === 'safety');
  return safety !== undefined && safety.emergency_stop === false;
}

function snapshotTime(s: unknown): number | null {
  const t = (s as { time_ms?: unknown } | null)?.time_ms;
  return typeof t === 'number' && Number.isFinite(t) ? t : null;
}
const round = (x: number) => Math.round(x * 10_000) / 10_000;
const mapRound = (m: Readonly<Record<string, number>>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round(v)]));
