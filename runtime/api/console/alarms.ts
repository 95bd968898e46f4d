/**
 * The console's alarm list, with the states of ISA-18.2 (ANSI/ISA-18.2-2016, the alarm state transition diagram):
 *   normal -> unack (active, unacknowledged) -> acked (acknowledged) -> normal when the condition clears;
 *   unack -> rtn_unack (returned to normal before anyone acknowledged) -> normal on acknowledge;
 *   any state -> shelved (hidden from the list for a bounded time, then back to its underlying state).
 * Alarms come from the runtime alert rules (one per alert and label set) and from safety decisions (one per shut-down
 * target, linked to the decision's audit entry, so the operator goes from the alarm to its explanation). Acknowledging
 * and shelving are an operator's actions: the routes audit them with the operator's identity before they apply.
 */
import { GlimmerError, quote } from '../../errors';
import type { ActiveAlert } from '../../observability/alerts';

export type AlarmState = 'unack' | 'acked' | 'rtn_unack' | 'shelved';

export interface Alarm {
  readonly id: string;
  readonly name: string;
  readonly severity: 'critical' | 'warning';
  readonly summary: string;
  /** The plant asset the alarm is about, when there is one (the mimic marks it). */
  readonly asset: string | null;
  readonly state: AlarmState;
  /** The condition holds now. */
  readonly active: boolean;
  /** epoch ms of the last activation. */
  readonly since: number;
  readonly acked_by: string | null;
  readonly shelved_until: number | null;
  /** Audit index of the safety decision that raised it (the timeline row). */
  readonly decision_index: number | null;
  readonly decision_id: string | null;
  readonly response_plan: string | null;
}

interface Slot {
  id: string;
  name: string;
  severity: 'critical' | 'warning';
  summary: string;
  asset: string | null;
  active: boolean;
  acked: boolean;
  since: number;
  ackedBy: string | null;
  shelvedUntil: number | null;
  decisionIndex: number | null;
  decisionId: string | null;
  responsePlan: string | null;
}

/** At most this many alarms are held (oldest inactive ones go first): the list stays bounded under an alarm flood. */
const MAX_ALARMS = 200;
export const MAX_SHELVE_MINUTES = 480;

const labelKey = (labels: Readonly<Record<string, string>>) => Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',');

export class AlarmBook {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly onChange: (alarms: readonly Alarm[]) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** The alarms an operator sees (shelved ones included, marked), most urgent first. */
  list(): Alarm[] {
    const t = this.now();
    const order: Record<AlarmState, number> = { unack: 0, rtn_unack: 1, acked: 2, shelved: 3 };
    return [...this.slots.values()]
      .map((s) => this.view(s, t))
      .sort((a, b) => order[a.state] - order[b.state] || (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1) || b.since - a.since);
  }

  get(id: string): Alarm {
    const s = this.slots.get(id);
    if (!s) throw new GlimmerError('GLM_ERR_ALARM_UNKNOWN', `no alarm ${quote(id)}`);
    return this.view(s, this.now());
  }

  /** The runtime alert rules' current list: firing alerts are active alarms, alerts gone from it have cleared. */
  syncAlerts(alerts: readonly ActiveAlert[]): void {
    const seen = new Set<string>();
    let changed = false;
    for (const a of alerts) {
      if (a.state !== 'firing') continue;
      const id = `alert:${a.name}{${labelKey(a.labels)}}`;
      seen.add(id);
      changed = this.activate({ id, name: a.name, severity: a.severity, summary: a.summary, asset: a.labels.asset ?? null, responsePlan: a.response_plan, since: a.since }) || changed;
    }
    for (const s of this.slots.values()) if (s.id.startsWith('alert:') && s.active && !seen.has(s.id)) changed = this.clear(s) || changed;
    if (changed) this.changed();
  }

  /** A safety decision ordered `target` shut down: its alarm (re)activates and points at the decision. */
  raiseSafety(target: string, summary: string, decisionIndex: number, decisionId: string): void {
    this.activate({ id: `safety:${target}`, name: 'SafetyShutdown', severity: 'critical', summary, asset: target, responsePlan: '/docs/response/iec61508.md#safety-shutdown', since: this.now(), decisionIndex, decisionId });
    this.changed();
  }

  /** The rules no longer demand the shutdown of `target`. */
  clearSafety(target: string): void {
    const s = this.slots.get(`safety:${target}`);
    if (s && this.clear(s)) this.changed();
  }

  /** ISA-18.2 acknowledge; returns the alarm as it was before. */
  acknowledge(id: string, by: string): Alarm {
    const before = this.get(id);
    const s = this.slots.get(id) as Slot;
    s.acked = true;
    s.ackedBy = by;
    if (!s.active) this.slots.delete(id);
    this.changed();
    return before;
  }

  shelve(id: string, minutes: number): Alarm {
    const before = this.get(id);
    (this.slots.get(id) as Slot).shelvedUntil = this.now() + minutes * 60_000;
    this.changed();
    return before;
  }

  unshelve(id: string): Alarm {
    const before = this.get(id);
    (this.slots.get(id) as Slot).shelvedUntil = null;
    this.changed();
    return before;
  }

  private activate(a: { id: string; name: string; severity: 'critical' | 'warning'; summary: string; asset: string | null; responsePlan: string | null; since: number; decisionIndex?: number; decisionId?: string }): boolean {
    const s = this.slots.get(a.id);
    if (s && s.active && s.decisionIndex === (a.decisionIndex ?? s.decisionIndex) && s.summary === a.summary) return false;
    if (s) {
      // A condition that returns (or a new decision on the same target) needs a new acknowledgement.
      if (!s.active || (a.decisionIndex !== undefined && a.decisionIndex !== s.decisionIndex)) {
        s.acked = false;
        s.ackedBy = null;
        s.since = a.since;
      }
      s.active = true;
      s.summary = a.summary;
      if (a.decisionIndex !== undefined) s.decisionIndex = a.decisionIndex;
      if (a.decisionId !== undefined) s.decisionId = a.decisionId;
      return true;
    }
    this.slots.set(a.id, {
      id: a.id, name: a.name, severity: a.severity, summary: a.summary, asset: a.asset, active: true, acked: false, since: a.since,
      ackedBy: null, shelvedUntil: null, decisionIndex: a.decisionIndex ?? null, decisionId: a.decisionId ?? null, responsePlan: a.responsePlan,
    });
    this.bound();
    return true;
  }

  /** The condition cleared: an acknowledged alarm returns to normal (leaves the list), an unacknowledged one waits. */
  private clear(s: Slot): boolean {
    if (!s.active) return false;
    s.active = false;
    if (s.acked) this.slots.delete(s.id);
    return true;
  }

  private bound(): void {
    if (this.slots.size <= MAX_ALARMS) return;
    const victim = [...this.slots.values()].filter((s) => !s.active).sort((a, b) => a.since - b.since)[0] ?? [...this.slots.values()].sort((a, b) => a.since - b.since)[0];
    if (victim) this.slots.delete(victim.id);
  }

  private view(s: Slot, t: number): Alarm {
    const shelved = s.shelvedUntil !== null && s.shelvedUntil > t;
    if (s.shelvedUntil !== null && !shelved) s.shelvedUntil = null;
    const state: AlarmState = shelved ? 'shelved' : s.active ? (s.acked ? 'acked' : 'unack') : 'rtn_unack';
    return {
      id: s.id, name: s.name, severity: s.severity, summary: s.summary, asset: s.asset, state, active: s.active, since: s.since, acked_by: s.ackedBy,
      shelved_until: shelved ? s.shelvedUntil : null, decision_index: s.decisionIndex, decision_id: s.decisionId, response_plan: s.responsePlan,
    };
  }

  private changed(): void {
    this.onChange(this.list());
  }
}
