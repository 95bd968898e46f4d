/**
 * What the operator console shows, as an interface the runtime implements (`ConsoleView`), plus `ConsoleFeed`: the
 * bounded buffers and the fan-out of live events most implementations need. The supervisor builds a ConsoleView from
 * its agents, the embedded plant, the gateway's decisions and the cognitive agent's scores; the routes in
 * runtime/api/routes/console.ts and events.ts serve it, and the static page beside this file draws it. Everything here is bounded: the console never grows memory
 * with traffic.
 */
import crypto from 'node:crypto';
import type { Zone } from '../../config/types';
import type { GatewayAuditRecord } from '../../industrial/modbus/inspector';
import { FUNCTION_NAMES } from '../../industrial/modbus/inspector';
import { plantMap } from '../../model/plant-map';
import type { PlantSnapshot } from '../../model/plant';
import { AlertEvaluator, type ActiveAlert } from '../../observability/alerts';
import { isNewRow, noActionAssets, orderedTargets } from '../../audit/explain';
import { AlarmBook, type Alarm } from './alarms';
import type { Metrics } from '../../observability/metrics';

export interface ConsoleAgent {
  readonly id: string;
  readonly kind: string;
  readonly zone: string;
  readonly state: string;
  readonly since: string;
  readonly restarts?: number;
  readonly last_error?: { readonly code: string; readonly message: string };
}

/** One plant reading: `key` is `<asset>.<quantity>` (e.g. `tank_1.level_m`). */
export interface PlantPoint {
  readonly key: string;
  readonly asset: string;
  readonly zone: string;
  readonly unit: string;
  readonly value: number;
}

export interface PlantView {
  /** Wall-clock time of the sample, epoch ms. */
  readonly t: number;
  readonly points: readonly PlantPoint[];
  /** Faults the plant reports as active (the simulation knows them; a real plant reports none). */
  readonly faults: readonly { readonly asset: string; readonly fault: string }[];
  /** Boolean states worth a lamp on the screen: emergency stop, interlock trips, alarms, pumps running. */
  readonly flags: Readonly<Record<string, boolean>>;
}

export interface ConsoleDecision {
  /** epoch ms */
  readonly t: number;
  /** The zone of the addressed register. */
  readonly zone: string;
  /** Modbus function name (`write_single_coil`, ...) or OPC UA service (`write`). */
  readonly function: string;
  readonly address?: number;
  readonly decision: 'allow' | 'deny';
  /** Bounded reason code (`policy`, `interlock`, `sanity`, ...). */
  readonly reason: string;
  /** The caller's identity (SPIFFE id or agent name) when known. */
  readonly principal?: string;
  /** The zone the request came from (the gateway listener's zone). */
  readonly from_zone?: string;
}

export interface AnomalyScore {
  readonly asset: string;
  /** 0..1 */
  readonly score: number;
  /** The score above which the cognitive engine calls the asset anomalous. */
  readonly threshold: number;
  /** epoch ms */
  readonly t: number;
}

export type ConsoleEvent =
  | { readonly type: 'agents'; readonly agents: readonly ConsoleAgent[] }
  | { readonly type: 'plant'; readonly plant: PlantView }
  /** Gateway decisions since the last batch (at most 50, newest last) and the running totals. */
  | { readonly type: 'decisions'; readonly decisions: readonly ConsoleDecision[]; readonly totals: DecisionTotals }
  | { readonly type: 'scores'; readonly scores: readonly AnomalyScore[] }
  | { readonly type: 'alerts'; readonly alerts: readonly ActiveAlert[] }
  | { readonly type: 'checkpoint'; readonly size: number }
  | { readonly type: 'alarms'; readonly alarms: readonly Alarm[] }
  /** A safety decision entered the audit log, or a record of its chain did: (re)draw its timeline row. */
  | { readonly type: 'decision'; readonly index: number; readonly decision_id: string; readonly targets: readonly string[] };

export interface DecisionTotals {
  readonly allow: number;
  readonly deny: number;
}

export type ConsoleListener = (event: ConsoleEvent) => void;

/** The runtime as the console sees it. Implemented by the supervisor (see `createConsoleView`). */
export interface ConsoleView {
  /** Changes whenever the runtime restarts, so a reconnecting console knows to reload everything. */
  readonly bootId: string;
  zones(): readonly Zone[];
  agents(): readonly ConsoleAgent[];
  /** The latest plant sample, undefined before the first one. */
  plant(): PlantView | undefined;
  /** Recent plant samples, oldest first (for the sparklines of a console that just connected). */
  plantHistory(): readonly PlantView[];
  /** The most recent gateway decisions, newest last, at most `limit`. */
  decisions(limit: number): readonly ConsoleDecision[];
  /** Allowed and denied gateway decisions since the runtime started. */
  decisionTotals(): DecisionTotals;
  scores(): readonly AnomalyScore[];
  alerts(): readonly ActiveAlert[];
  /** ISA-18.2 alarms (runtime/api/console/alarms.ts). */
  readonly alarmBook: AlarmBook;
  /** Audit indexes of the safety decisions since the runtime started, newest last (the timeline's rows). */
  decisionIndexes(): readonly number[];
  /** Live events; returns the unsubscribe function. Listeners must not throw (errors are swallowed). */
  subscribe(listener: ConsoleListener): () => void;
}

export interface ConsoleFeedOptions {
  /** Plant samples kept for trends. @default 120 */
  readonly historySize?: number;
  /** Gateway decisions kept. @default 200 */
  readonly decisionsSize?: number;
  /** Plant samples are published to subscribers at most this often. @default 1000 */
  readonly plantIntervalMs?: number;
  /** Subscribers beyond this number are refused (each is an open HTTP stream). @default 32 */
  readonly maxSubscribers?: number;
  /** Gateway decisions go to subscribers in batches at most this often (the gateway decides thousands a second). @default 250 */
  readonly decisionBatchMs?: number;
}

const MAX_DECISIONS_PER_BATCH = 50;

/** A fixed-size ring buffer (oldest entries are overwritten). */
class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  push(item: T): void {
    if (this.items.length < this.size) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.size;
  }
  /** Oldest first. */
  list(): T[] {
    return this.items.length < this.size ? [...this.items] : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }
}

/**
 * The buffers and live fan-out behind a ConsoleView: feed it plant samples, gateway decisions, scores, alerts and agent
 * changes; it keeps bounded histories and tells subscribers.
 */
export class ConsoleFeed {
  readonly bootId = crypto.randomUUID();
  private readonly listeners = new Set<ConsoleListener>();
  private readonly history: Ring<PlantView>;
  private readonly decisionRing: Ring<ConsoleDecision>;
  private readonly plantIntervalMs: number;
  private readonly maxSubscribers: number;
  private latestPlant: PlantView | undefined;
  private lastPlantPublished = 0;
  private currentScores: AnomalyScore[] = [];
  private readonly decisionBatchMs: number;
  private pendingDecisions: ConsoleDecision[] = [];
  private batchTimer: NodeJS.Timeout | undefined;
  private totals = { allow: 0, deny: 0 };
  private readonly decisionsSize: number;
  private currentAlerts: ActiveAlert[] = [];
  readonly alarms = new AlarmBook((alarms) => this.emit({ type: 'alarms', alarms }));
  private readonly decisionRows: { index: number; id: string }[] = [];
  private readonly decisionById = new Map<string, number>();
  private readonly lastNoAction = new Map<string, Set<string>>();

  constructor(options: ConsoleFeedOptions = {}) {
    this.history = new Ring(options.historySize ?? 120);
    this.decisionsSize = options.decisionsSize ?? 200;
    this.decisionRing = new Ring(this.decisionsSize);
    this.decisionBatchMs = options.decisionBatchMs ?? 250;
    this.plantIntervalMs = options.plantIntervalMs ?? 1000;
    this.maxSubscribers = options.maxSubscribers ?? 32;
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  pushPlant(view: PlantView): void {
    this.latestPlant = view;
    if (view.t - this.lastPlantPublished < this.plantIntervalMs) return;
    this.lastPlantPublished = view.t;
    this.history.push(view);
    this.emit({ type: 'plant', plant: view });
  }

  pushDecision(decision: ConsoleDecision): void {
    this.totals[decision.decision] += 1;
    this.keep(decision);
  }

  /**
   * Many decisions at once (a gateway audit batch): every one is counted, only the newest `decisionsSize` are
   * converted and kept, so the console costs the gateway almost nothing at thousands of decisions a second.
   */
  pushDecisions<T extends { decision: 'allow' | 'deny' }>(items: readonly T[], toDecision: (item: T) => ConsoleDecision): void {
    for (const item of items) this.totals[item.decision] += 1;
    for (let i = Math.max(0, items.length - this.decisionsSize); i < items.length; i++) this.keep(toDecision(items[i] as T));
  }

  private keep(decision: ConsoleDecision): void {
    this.decisionRing.push(decision);
    this.pendingDecisions.push(decision);
    if (this.pendingDecisions.length > MAX_DECISIONS_PER_BATCH) this.pendingDecisions.shift();
    if (this.batchTimer) return;
    this.batchTimer = setTimeout(() => this.flushDecisions(), this.decisionBatchMs);
    this.batchTimer.unref();
  }

  /** Sends the pending decisions now (normally a timer does it). */
  flushDecisions(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.pendingDecisions.length === 0) return;
    const decisions = this.pendingDecisions;
    this.pendingDecisions = [];
    this.emit({ type: 'decisions', decisions, totals: this.decisionTotals() });
  }

  decisionTotals(): DecisionTotals {
    return { ...this.totals };
  }

  setScores(scores: readonly AnomalyScore[]): void {
    this.currentScores = [...scores];
    this.emit({ type: 'scores', scores: this.currentScores });
  }

  setAlerts(alerts: readonly ActiveAlert[]): void {
    this.currentAlerts = [...alerts];
    this.emit({ type: 'alerts', alerts: this.currentAlerts });
  }

  agentsChanged(agents: readonly ConsoleAgent[]): void {
    this.emit({ type: 'agents', agents });
  }

  checkpoint(size: number): void {
    this.emit({ type: 'checkpoint', size });
  }

  /**
   * A durable audit record and its index: a safety decision adds a timeline row and raises its alarm; a later record of
   * its chain (same decision_id) redraws the row; a clearance returns the target's alarm to normal.
   */
  auditRecord(record: Readonly<Record<string, unknown>>, index: number): void {
    const id = typeof record.decision_id === 'string' ? record.decision_id : undefined;
    if (id === undefined) return;
    if (record.type === 'cognitive.decision') {
      for (const target of Array.isArray(record.clearances_sent) ? record.clearances_sent : []) if (typeof target === 'string') this.alarms.clearSafety(target);
      const agent = String(record.agent);
      const isRow = isNewRow(record, this.lastNoAction.get(agent) ?? new Set());
      this.lastNoAction.set(agent, new Set(noActionAssets(record)));
      if (!isRow) return;
      const targets = orderedTargets(record);
      this.decisionRows.push({ index, id });
      this.decisionById.set(id, index);
      if (this.decisionRows.length > this.decisionsSize) this.decisionById.delete((this.decisionRows.shift() as { id: string }).id);
      const codes = (Array.isArray(record.violations) ? record.violations : []) as { asset?: unknown; code?: unknown }[];
      for (const target of targets) {
        const why = codes.filter((v) => v.asset === target).map((v) => String(v.code)).join(', ');
        this.alarms.raiseSafety(target, `${String(record.agent ?? 'an agent')} ordered ${target} shut down${why ? ` (${why})` : ''}`, index, id);
      }
      this.emit({ type: 'decision', index, decision_id: id, targets });
      return;
    }
    const row = this.decisionById.get(id);
    if (row !== undefined) this.emit({ type: 'decision', index: row, decision_id: id, targets: [] });
  }

  decisionIndexes(): readonly number[] {
    return this.decisionRows.map((r) => r.index);
  }

  plant(): PlantView | undefined {
    return this.latestPlant;
  }

  plantHistory(): readonly PlantView[] {
    return this.history.list();
  }

  decisions(limit: number): readonly ConsoleDecision[] {
    const all = this.decisionRing.list();
    return all.slice(Math.max(0, all.length - limit));
  }

  scores(): readonly AnomalyScore[] {
    return this.currentScores;
  }

  alerts(): readonly ActiveAlert[] {
    return this.currentAlerts;
  }

  subscribe(listener: ConsoleListener): () => void {
    if (this.listeners.size >= this.maxSubscribers) throw new RangeError(`at most ${this.maxSubscribers} live console subscribers`);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: ConsoleEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A broken subscriber must not stop the others (or the plant loop that called us).
      }
    }
  }
}

/** A ConsoleView from the runtime's zones and agents plus a ConsoleFeed for everything live. */
export function createConsoleView(source: { zones: readonly Zone[]; agents: () => readonly ConsoleAgent[]; feed: ConsoleFeed }): ConsoleView {
  const { feed } = source;
  return {
    bootId: feed.bootId,
    zones: () => source.zones,
    agents: () => source.agents().map(({ id, kind, zone, state, since, restarts, last_error }) => ({ id, kind, zone, state, since, restarts, last_error })),
    plant: () => feed.plant(),
    plantHistory: () => feed.plantHistory(),
    decisions: (limit) => feed.decisions(limit),
    decisionTotals: () => feed.decisionTotals(),
    scores: () => feed.scores(),
    alerts: () => feed.alerts(),
    alarmBook: feed.alarms,
    decisionIndexes: () => feed.decisionIndexes(),
    subscribe: (listener) => feed.subscribe(listener),
  };
}

const UNITS: readonly [string, string][] = [
  ['_m3h', 'm³/h'], ['_bar', 'bar'], ['_mm_s', 'mm/s'], ['_c', '°C'], ['_pct', '%'], ['_m', 'm'],
];

function unitOf(quantity: string): string {
  return UNITS.find(([suffix]) => quantity.endsWith(suffix))?.[1] ?? '';
}

/** Turns a plant snapshot (runtime/model/plant.ts) into what the console draws. */
export function plantViewFromSnapshot(snapshot: PlantSnapshot, t = Date.now()): PlantView {
  const points: PlantPoint[] = [];
  const faults: { asset: string; fault: string }[] = [];
  const flags: Record<string, boolean> = {};
  for (const [asset, a] of Object.entries(snapshot.assets)) {
    for (const [quantity, value] of Object.entries(a.values as unknown as Record<string, number>)) {
      points.push({ key: `${asset}.${quantity}`, asset, zone: a.zone, unit: unitOf(quantity), value });
    }
    for (const fault of a.faults) faults.push({ asset, fault });
    if (a.kind === 'pump') flags[`${asset}.running`] = a.running;
    if (a.kind === 'valve') flags[`${asset}.open`] = a.open;
    if (a.kind === 'tank') {
      flags[`${asset}.high_alarm`] = a.high_alarm;
      flags[`${asset}.low_alarm`] = a.low_alarm;
    }
    if (a.kind === 'safety') {
      flags.emergency_stop = a.emergency_stop;
      flags.interlock_tripped = a.interlock_tripped;
      flags.interlock_bypass = a.interlock_bypass;
    }
  }
  return { t, points, faults, flags };
}

let unitZones: Map<number, string> | undefined;

/** Turns one Modbus gateway audit record (runtime/industrial/modbus/inspector.ts) into a console decision. */
export function decisionFromGatewayRecord(record: GatewayAuditRecord): ConsoleDecision {
  unitZones ??= new Map(plantMap().map((e) => [e.unit_id, e.zone]));
  const fc = record.function_code;
  const name = fc >= 1 && fc <= 6 ? FUNCTION_NAMES[fc] : fc === 15 ? FUNCTION_NAMES[7] : fc === 16 ? FUNCTION_NAMES[8] : `function_${fc}`;
  return {
    // The gateway stamps records with its own clock; anything that is not an epoch time is replaced by now.
    t: record.time_ms > 1e12 ? record.time_ms : Date.now(),
    zone: record.safety ? 'safety' : (unitZones.get(record.unit) ?? `unit_${record.unit}`),
    from_zone: record.zone,
    function: name as string,
    address: record.address,
    decision: record.decision,
    reason: record.reason,
  };
}

/** What `wireConsole` needs from the supervisor (runtime/lifecycle/supervisor.ts satisfies it). */
export interface ConsoleSupervisor {
  agents(): readonly ConsoleAgent[];
  /** Calls back on every lifecycle transition and every published status; returns the unsubscribe function. */
  watchAgents(onTransition: () => void, onStatus: (agent: string, status: Record<string, unknown>) => void): () => void;
}

export interface WireConsoleOptions {
  readonly zones: readonly Zone[];
  readonly supervisor: ConsoleSupervisor;
  /** The registry the runtime alert rules are evaluated on. */
  readonly metrics: Metrics;
  /** The running plant (runtime/industrial/plant/runtime.ts). */
  readonly plant?: { onSnapshot(listener: (snapshot: PlantSnapshot) => void): () => void };
  /** The audit log: its latest checkpoint size is watched so consoles refresh their checkpoint. */
  readonly audit?: { latestCheckpoint(): { size: number } | undefined };
  /** Score above which an asset is called anomalous when the agent does not say (pass the cognitive threshold,
   *  `reasoningSettings(config.cognitive).threshold`). @default 0.5 */
  readonly scoreThreshold?: number;
  readonly feed?: ConsoleFeedOptions;
  /** @default 1000 */
  readonly alertIntervalMs?: number;
}

export interface WiredConsole {
  readonly view: ConsoleView;
  readonly feed: ConsoleFeed;
  /** Pass the gateway's audit batches here too (wrap the embedded plant's `audit` sink). */
  onGatewayRecords(records: readonly GatewayAuditRecord[]): void;
  /** Pass every durable audit record with its index (the runtime's audit appender does). */
  onAuditRecord(record: Readonly<Record<string, unknown>>, index: number): void;
  stop(): void;
}

/**
 * Scores an agent publishes: the Cognitive Agent's `{asset_scores: {asset: score}}` (runtime/reasoning/cognitive-core.ts),
 * or `{scores: {asset: score}}` / `{scores: [{asset, score, threshold?}]}`.
 */
export function scoresFromStatus(status: Record<string, unknown>, threshold: number, t = Date.now()): AnomalyScore[] | undefined {
  const raw = status.scores ?? status.asset_scores;
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (Array.isArray(raw)) {
    return raw
      .filter((s): s is { asset: string; score: number; threshold?: number } => typeof s === 'object' && s !== null && typeof (s as { asset?: unknown }).asset === 'string' && ok((s as { score?: unknown }).score))
      .slice(0, 64)
      .map((s) => ({ asset: s.asset.slice(0, 64), score: s.score, threshold: ok(s.threshold) ? s.threshold : threshold, t }));
  }
  if (raw && typeof raw === 'object') {
    return Object.entries(raw as Record<string, unknown>)
      .filter((e): e is [string, number] => ok(e[1]))
      .slice(0, 64)
      .map(([asset, score]) => ({ asset: asset.slice(0, 64), score, threshold, t }));
  }
  return undefined;
}

/**
 * Connects a ConsoleFeed to the running pieces: agent transitions and published scores from the supervisor, plant
 * snapshots, gateway decisions, the runtime alert rules and the audit checkpoint. Serve the result with
 * `consoleRoutes(wired.view)` and `eventRoutes(wired.view)`; call `stop()` on shutdown.
 */
export function wireConsole(options: WireConsoleOptions): WiredConsole {
  const feed = new ConsoleFeed(options.feed);
  const { supervisor } = options;
  const threshold = options.scoreThreshold ?? 0.5;
  const onTransition = () => feed.agentsChanged(createConsoleView({ zones: options.zones, agents: () => supervisor.agents(), feed }).agents());
  const onStatus = (_agent: string, status: Record<string, unknown>) => {
    const scores = scoresFromStatus(status, threshold);
    if (scores) feed.setScores(scores);
  };
  const unwatch = supervisor.watchAgents(onTransition, onStatus);
  const unsubscribePlant = options.plant?.onSnapshot((s) => feed.pushPlant(plantViewFromSnapshot(s)));
  const alerts = new AlertEvaluator(options.metrics);
  alerts.start(options.alertIntervalMs ?? 1000, (list) => {
    feed.setAlerts(list);
    feed.alarms.syncAlerts(list);
  });
  let lastCheckpoint = -1;
  const checkpointTimer = setInterval(() => {
    const size = options.audit?.latestCheckpoint()?.size;
    if (size !== undefined && size !== lastCheckpoint) {
      lastCheckpoint = size;
      feed.checkpoint(size);
    }
  }, 2000);
  checkpointTimer.unref();
  return {
    view: createConsoleView({ zones: options.zones, agents: () => supervisor.agents(), feed }),
    feed,
    onGatewayRecords(records) {
      feed.pushDecisions(records.filter((r) => r.type === 'modbus.decision'), decisionFromGatewayRecord);
    },
    onAuditRecord(record, index) {
      feed.auditRecord(record, index);
    },
    stop() {
      unwatch();
      unsubscribePlant?.();
      alerts.stop();
      clearInterval(checkpointTimer);
      feed.flushDecisions();
    },
  };
}
