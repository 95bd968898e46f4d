/**
 * Plant state -> facts. Static facts (criticality, redundancy, topology, limits) come from the plant profile and the
 * configuration; live facts (running pumps, levels, pressures, pending commands, model scores) from each snapshot.
 * Numbers are integers in engineering units (cm, kPa) so the facts change only when the plant does.
 */
import type { AgentSpec, Zone } from '../config/types';
import type { Fact } from './terms';
import type { WindowScores } from './anomaly-model';
import type { PlantProfile } from '../model/plant';

const f = (pred: string, ...args: (string | number)[]): Fact => ({ pred, args });

export function staticFacts(profile: PlantProfile, agents: readonly AgentSpec[], zones: readonly Zone[]): Fact[] {
  const out: Fact[] = [];
  for (const [asset, level] of Object.entries(profile.criticality)) out.push(f('operational_criticality', asset, level));
  for (const a of profile.redundant) out.push(f('has_redundancy', a));
  for (const a of profile.monitored) out.push(f('monitored', a));
  for (const [p, t] of profile.suction) out.push(f('pump_suction', p, t));
  for (const [p, v] of profile.discharge) out.push(f('pump_discharge', p, v));
  for (const [t, cm] of Object.entries(profile.tankLowLimitCm)) out.push(f('tank_low_limit', t, cm));
  for (const [p, kpa] of Object.entries(profile.pressureLimitKPa)) out.push(f('pressure_limit', p, kpa));
  for (const z of zones) out.push(f('zone_safety_level', z.name, z.security_level));
  for (const a of agents) out.push(f('operating_zone', a.name, a.zone), f('required_safety_level', a.name, a.required_safety_level));
  return out;
}

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const ASSET_ID = /^[a-z][a-z0-9_]{0,31}$/;

/** Live facts from one snapshot (untrusted shape: anything unexpected is skipped, never thrown). */
export function snapshotFacts(snapshot: unknown): Fact[] {
  const out: Fact[] = [];
  if (!isRec(snapshot) || !isRec(snapshot.assets)) return out;
  for (const [id, a] of Object.entries(snapshot.assets)) {
    if (!ASSET_ID.test(id) || !isRec(a) || !isRec(a.values)) continue;
    if (a.kind === 'pump') {
      if (a.running === true) out.push(f('pump_running', id));
      else if (a.run_command === true) out.push(f('command_requested', id, 'start'));
      const bar = num(a.values.discharge_pressure_bar);
      if (bar !== undefined) out.push(f('discharge_pressure', id, Math.round(bar * 100)));
    } else if (a.kind === 'tank') {
      const m = num(a.values.level_m);
      if (m !== undefined) out.push(f('tank_level', id, Math.round(m * 100)));
    } else if (a.kind === 'valve') {
      if (a.open_command === false && a.open === true) out.push(f('command_requested', id, 'close'));
    }
  }
  return out;
}

/** Model facts: a per-asset anomaly score (2 decimals) and failure mode (normal below the threshold). */
export function scoreFacts(scores: WindowScores | undefined, threshold: number): Fact[] {
  if (!scores) return [];
  const out: Fact[] = [];
  for (const [asset, s] of Object.entries(scores.assetScores)) {
    const score = Math.round(s * 100) / 100;
    out.push(f('anomaly_score', asset, score), f('failure_mode', asset, s >= threshold ? scores.mode : 'normal'));
  }
  return out;
}
