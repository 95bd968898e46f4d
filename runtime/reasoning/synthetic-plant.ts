/**
 * Seeded synthetic fact sets over the whole fact vocabulary: the 1,000-asset plant of the safety benchmark and the
 * randomized fact sets of the conformance suite. Values straddle every threshold in the rule files (criticality 3,
 * scores 0.4/0.5/0.7/0.9, equal level and limit, equal pressure and limit) so boundary behaviour is compared too.
 */
import type { Fact } from './terms';

/** mulberry32: a tiny seeded PRNG (deterministic across runs and machines). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MODES = ['normal', 'bearing_wear', 'leak', 'stuck_sensor'] as const;
const SCORES = [0, 0.1, 0.39, 0.4, 0.5, 0.69, 0.7, 0.85, 0.9, 0.95, 1];

export interface SyntheticOptions {
  readonly assets: number;
  readonly seed: number;
  /** Agents with zones and safety levels. @default max(3, assets / 100) */
  readonly agents?: number;
  /** Probability that a fact an asset could have is present. @default 0.7 */
  readonly density?: number;
}

/** Assets cycle pump, tank, valve, motor; each pump draws from the next tank and discharges through the next valve. */
export function syntheticPlantFacts(options: SyntheticOptions): Fact[] {
  const r = prng(options.seed);
  const density = options.density ?? 0.7;
  const maybe = () => r() < density;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const facts: Fact[] = [];
  const add = (pred: string, ...args: (string | number)[]) => facts.push({ pred, args });
  for (let i = 0; i < options.assets; i++) {
    const kind = ['pump', 'tank', 'valve', 'motor'][i % 4] as string;
    const a = `${kind}_${i}`;
    if (maybe()) add('operational_criticality', a, 1 + Math.floor(r() * 5));
    if (r() < 0.4) add('has_redundancy', a);
    if (maybe()) add('monitored', a);
    if (maybe()) add('anomaly_score', a, pick(SCORES));
    if (maybe()) add('failure_mode', a, pick(MODES));
    if (kind === 'pump') {
      add('pump_suction', a, `tank_${i + 1}`);
      add('pump_discharge', a, `valve_${i + 2}`);
      if (maybe()) add('pump_running', a);
      if (maybe()) add('discharge_pressure', a, pick([100, 300, 450, 500, 501, 700]));
      if (maybe()) add('pressure_limit', a, 500);
      if (r() < 0.15) add('command_requested', a, pick(['start', 'stop']));
    } else if (kind === 'tank') {
      if (maybe()) add('tank_level', a, pick([0, 10, 49, 50, 51, 200]));
      if (maybe()) add('tank_low_limit', a, 50);
    } else if (kind === 'valve' && r() < 0.15) {
      add('command_requested', a, pick(['open', 'close']));
    }
  }
  const agents = options.agents ?? Math.max(3, Math.floor(options.assets / 100));
  const zones = ['control', 'safety', 'dmz'];
  zones.forEach((z) => { if (r() < 0.9) add('zone_safety_level', z, 1 + Math.floor(r() * 4)); });
  for (let j = 0; j < agents; j++) {
    const agent = `${pick(['industrial', 'cognitive', 'data'])}-${j}`;
    if (maybe()) add('operating_zone', agent, pick(zones));
    if (maybe()) add('required_safety_level', agent, 1 + Math.floor(r() * 4));
  }
  return facts;
}
