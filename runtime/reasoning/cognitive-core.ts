/**
 * The Cognitive Agent's decision loop, free of process plumbing (the behaviour in runtime/agents/cognitive.ts wires it
 * to its context; the benchmarks drive it directly).
 *
 * Per plant snapshot: the readings go into a sliding window, the live facts are synced into the rule engine as deltas
 * and every rule is evaluated in one query (never per Modbus frame: snapshots arrive per plant tick). Every `stride`
 * snapshots the model scores the latest full window off that path; its scores become facts and the rules run again.
 * Each decision fuses both: the audit record names the rules that fired with their bindings, the violations, the
 * shutdowns, the model's scores and the model's sha256. Shutdowns go out at once and again every `resendMs` while the
 * rule keeps firing, and a clearance goes out once when it stops naming a target (the target's supervisor releases a
 * held agent on it); records are written when the outcome changes, not per snapshot.
 */
import crypto from 'node:crypto';
import { asGlimmerError } from '../errors';
import type { AuditRecordInput, ShutdownOrder } from '../model/messages';
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
  /** A shutdown still demanded is sent again after this long. @default 2000 */
  readonly resendMs?: number;
  readonly now?: () => number;
}

const plain = (t: Term): string => (typeof t === 'string' ? t : termToString(t));

export class CognitiveCore {
  private readonly ring = new Float32Array(WINDOW_LENGTH * FEATURE_COUNT);
  private seen = 0;
  private lastModelAt = 0;
  private modelBusy: Promise<void> | undefined;
  private latest: unknown;
  private scores: { readonly window_end_ms: number | null; readonly scores: WindowScores } | undefined;
  private outcome = '';
  private previousViolations = new Set<string>();
  private readonly sentAt = new Map<string, number>();
  private readonly stride: number;
  private readonly resendMs: number;
  private readonly now: () => number;
  private closed = false;
  /** Counters for status and tests. */
  readonly stats = { snapshots: 0, rejected: 0, evaluations: 0, modelRuns: 0, shutdownsSent: 0, errors: 0 };
  /** Cumulative evaluation outcomes and the durations since the last status, for the supervisor's metrics. */
  private readonly outcomes = { ok: 0, violation: 0, error: 0 };
  private durations: number[] = [];
  private lastDecisionId: string | null = null;
  private staticFacts: readonly Fact[];

  constructor(private readonly options: CognitiveCoreOptions) {
    this.staticFacts = options.staticFacts;
    this.stride = options.stride ?? 10;
    this.resendMs = options.resendMs ?? 2000;
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
    const shutdowns = ev.shutdowns.map(plain);
    const outcome = JSON.stringify([violations.map((v) => `${v.asset} ${v.code}`).sort(), [...shutdowns].sort()]);
    const now = this.now();
    const due = shutdowns.filter((t) => now - (this.sentAt.get(t) ?? -Infinity) >= this.resendMs);
    const cleared = [...this.sentAt.keys()].filter((t) => !shutdowns.includes(t));
    for (const t of cleared) this.sentAt.delete(t);
    const changed = outcome !== this.outcome;
    if (!changed && due.length === 0) return ev;
    this.outcome = outcome;
    const current = new Set(violations.map((v) => `${v.asset} ${v.code}`));
    const newViolations = violations.filter((v) => !this.previousViolations.has(`${v.asset} ${v.code}`));
    this.previousViolations = current;
    const decisionId = crypto.randomUUID();
    const snapshotTimeMs = snapshotTime(this.latest);
    for (const target of due) {
      this.sentAt.set(target, now);
      this.stats.shutdownsSent++;
      sinks.shutdown({ target, codes: violations.filter((v) => v.asset === target).map((v) => v.code), decision_id: decisionId, snapshot_time_ms: snapshotTimeMs });
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
      shutdowns_sent: due,
      clearances_sent: cleared,
      scores: s ? { window_end_ms: s.window_end_ms, anomaly: round(s.scores.anomaly), mode: s.scores.mode, asset: s.scores.asset, assets: mapRound(s.scores.assetScores), threshold } : null,
      model: this.options.model ? { sha256: this.options.model.sha256, path: this.options.modelPath ?? this.options.model.file } : null,
    });
    this.lastDecisionId = decisionId;
    this.publishStatus();
    return ev;
  }
}

function snapshotTime(s: unknown): number | null {
  const t = (s as { time_ms?: unknown } | null)?.time_ms;
  return typeof t === 'number' && Number.isFinite(t) ? t : null;
}
const round = (x: number) => Math.round(x * 10_000) / 10_000;
const mapRound = (m: Readonly<Record<string, number>>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round(v)]));
