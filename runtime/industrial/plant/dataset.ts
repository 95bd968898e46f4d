/**
 * Labelled, seeded windows of plant snapshots for training and testing the anomaly model (runtime/reasoning).
 * Every window comes from its own simulation (seed derived from the base seed and the window index), stepped in the
 * running plant's 100 ms ticks and sampled once per second as the Industrial agent samples it, with at most one fault
 * on one asset. The windows cover what the running plant shows, not only its steady states:
 * - a random operating point after a long warm-up, or the plant as `glimmer run` starts it (the simulator's default
 *   operating point) anywhere in its first minutes, levels still settling;
 * - a pump stopped (a safety shutdown, an operator) before or during the window, in fault-free windows;
 * - a fault active for the whole window, or one that starts inside it (leak, stuck sensor; at least
 *   MIN_FAULT_SECONDS of it in the window), labelled with the fault.
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

/** Shortest stretch of a fault that starts inside a window, for the window to be labelled with it. */
export const MIN_FAULT_SECONDS = 30;
/** The plant's integration tick in the running swarm (config plant.tick_ms), which sampling is built from. */
const TICK_MS = 100;

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
    // The plant as `glimmer run` starts it (default operating point, from t = 0), or a random operating point with
    // now and then a closed outlet valve, warmed up so levels and temperatures settle somewhere.
    const startup = pick.next() < 0.3;
    if (!startup) {
      sim.setPumpSpeed('pump_1', 50 + pick.int(51));
      sim.setPumpSpeed('pump_2', 40 + pick.int(61));
      if (pick.next() < 0.1) sim.closeValve('valve_2');
    }
    const warmupMs = startup ? pick.int(600) * 1000 : 120_000 + pick.int(600) * 1000;
    const faulty = pick.next() < faultFraction ? FAULTY_ASSETS[pick.int(FAULTY_ASSETS.length)] : undefined;
    // A fault starts before the window (bearing wear long enough before it to have a random severity), or inside it.
    const inside = faulty !== undefined && faulty.fault !== 'bearing_wear' && pick.next() < 0.3;
    const onsetMs = !faulty ? Infinity
      : inside ? warmupMs + pick.int(length - MIN_FAULT_SECONDS + 1) * stepMs
        : Math.max(0, warmupMs - (faulty.fault === 'bearing_wear' ? 60_000 + pick.int(840) * 1000 : 5_000 + pick.int(25) * 1000));
    // A fault-free window may see a pump stopped before or during it (pump_2 more often: the circulation loop).
    const stop = !faulty && pick.next() < 0.15 ? { pump: pick.next() < 0.7 ? 'pump_2' : 'pump_1', atMs: Math.max(0, warmupMs - 180_000 + pick.int(180 + length) * 1000) } : undefined;
    const endMs = warmupMs + length * stepMs;
    const snapshots: PlantSnapshot[] = [];
    for (let t = 0; t < endMs; t += TICK_MS) {
      if (t === onsetMs && faulty) sim.injectFault(faulty.asset, faulty.fault);
      if (stop && t === stop.atMs) sim.stopPump(stop.pump);
      sim.step(TICK_MS);
      if (t + TICK_MS > warmupMs && (t + TICK_MS - warmupMs) % stepMs === 0) snapshots.push(sim.snapshot());
    }
    windows.push({ label: faulty?.fault ?? 'normal', asset: faulty?.asset ?? null, seed, snapshots });
  }
  return windows;
}
