/**
 * Labelled, seeded windows of plant snapshots for training and testing the anomaly model (runtime/reasoning).
 * Every window comes from its own simulation (seed derived from the base seed and the window index), at a random
 * operating point, with at most one fault active on one asset for the whole window.
 */
import { FAULTS_BY_KIND, type FaultKind, PUMP_IDS, type PlantSnapshot, TANK_IDS, VALVE_IDS } from '../../model/plant';
import { PlantSimulation, SeededRandom } from './simulation';

export type WindowLabel = 'normal' | FaultKind;

export interface LabelledWindow {
  readonly label: WindowLabel;
  /** The faulty asset, or null for a normal window. */
  readonly asset: string | null;
  readonly seed: number;
  readonly snapshots: PlantSnapshot[];
}

export interface WindowOptions {
  readonly seed: number;
  readonly count: number;
  /** Snapshots per window. @default 60 */
  readonly length?: number;
  /** Simulated time between snapshots. @default 1000 */
  readonly stepMs?: number;
  /** Share of windows with a fault. @default 0.5 */
  readonly faultFraction?: number;
}

/** The numeric readings of a snapshot in a fixed order (see FEATURE_NAMES). */
export const FEATURE_NAMES: readonly string[] = [
  ...PUMP_IDS.flatMap((p) => ['flow_m3h', 'discharge_pressure_bar', 'vibration_mm_s', 'bearing_temperature_c', 'speed_pct'].map((f) => `${p}.${f}`)),
  ...TANK_IDS.map((t) => `${t}.level_m`),
  ...VALVE_IDS.flatMap((v) => ['position_pct', 'flow_m3h'].map((f) => `${v}.${f}`)),
];

export function featureVector(snapshot: PlantSnapshot): number[] {
  return FEATURE_NAMES.map((name) => {
    const [asset, field] = name.split('.') as [string, string];
    const values = snapshot.assets[asset]?.values as Record<string, number> | undefined;
    return values?.[field] ?? 0;
  });
}

const FAULTY_ASSETS: readonly { asset: string; fault: FaultKind }[] = [
  ...PUMP_IDS.flatMap((asset) => FAULTS_BY_KIND.pump.map((fault) => ({ asset, fault }))),
  ...TANK_IDS.flatMap((asset) => FAULTS_BY_KIND.tank.map((fault) => ({ asset, fault }))),
  ...VALVE_IDS.flatMap((asset) => FAULTS_BY_KIND.valve.map((fault) => ({ asset, fault }))),
];

/** Generates `count` windows; the same options always give the same windows. */
export function generateWindows(options: WindowOptions): LabelledWindow[] {
  const length = options.length ?? 60;
  const stepMs = options.stepMs ?? 1000;
  const faultFraction = options.faultFraction ?? 0.5;
  const pick = new SeededRandom(options.seed ^ 0x5eed);
  const windows: LabelledWindow[] = [];
  for (let i = 0; i < options.count; i++) {
    const seed = (Math.imul(options.seed, 1_000_003) + i) | 0;
    const sim = new PlantSimulation({ seed });
    // A random operating point: pump speeds, and now and then a closed outlet valve.
    sim.setPumpSpeed('pump_1', 50 + pick.int(51));
    sim.setPumpSpeed('pump_2', 40 + pick.int(61));
    if (pick.next() < 0.1) sim.closeValve('valve_2');
    const faulty = pick.next() < faultFraction ? FAULTY_ASSETS[pick.int(FAULTY_ASSETS.length)] : undefined;
    // Warm up so levels and temperatures settle somewhere; a fault starts during the warm-up (bearing wear long
    // enough before the window to have a random severity), so it is active for the whole window.
    const warmupMs = 120_000 + pick.int(600) * 1000;
    const onsetBeforeMs = faulty?.fault === 'bearing_wear' ? 60_000 + pick.int(840) * 1000 : 5_000 + pick.int(25) * 1000;
    const injectAt = faulty ? Math.max(0, warmupMs - onsetBeforeMs) : warmupMs;
    sim.step(injectAt);
    if (faulty) sim.injectFault(faulty.asset, faulty.fault);
    sim.step(warmupMs - injectAt);
    const snapshots: PlantSnapshot[] = [];
    for (let k = 0; k < length; k++) {
      sim.step(stepMs);
      snapshots.push(sim.snapshot());
    }
    windows.push({ label: faulty?.fault ?? 'normal', asset: faulty?.asset ?? null, seed, snapshots });
  }
  return windows;
}
