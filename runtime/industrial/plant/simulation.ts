/**
 * The simulated plant: pure, protocol-free and deterministic from its seed (sensor noise included).
 *
 * Process (edge default, zone `control`; the safety coils live in zone `safety`):
 *
 *   source --pump_1--> tank_1 --valve_1 (gravity)--> tank_2 --valve_2 (gravity)--> drain
 *                                                     ^  |
 *                                                     +--pump_2 (circulation loop through a cooler)
 *
 * Both tanks drain by gravity through their outlet valve (q = Cv * position * sqrt(level)), so the levels settle
 * by themselves; pump_2 circulates tank_2 and does not change its level unless its seal leaks. The PLC logic
 * inside the simulation implements the safety functions: the emergency stop (latched: pumps off, valves closed) and
 * two level interlocks (tank_1 high-high stops pump_1, tank_2 low-low stops pump_2 against dry running), both
 * defeated by the interlock_bypass coil.
 *
 * Faults are subtle on purpose (the anomaly model must learn them, not threshold them):
 * - bearing_wear (pumps): severity grows with time; vibration and bearing temperature creep up.
 * - leak (tanks, pumps): a tank loses volume its flow meters do not see; a pump's seal leak drops its discharge
 *   pressure and loses part of its flow (so the downstream level rises slower than the flow meter explains).
 * - stuck_sensor (any process asset): its readings freeze while the process keeps moving.
 */
import { GlimmerError, quote } from '../../errors';
import {
  ASSET_IDS, FAULTS_BY_KIND, PROCESS_ZONE, PUMP_IDS, SAFETY_ID, SAFETY_ZONE, TANK_IDS, VALVE_IDS,
  type AssetId, type AssetKind, type AssetSnapshot, type FaultKind, type PlantSnapshot, type PumpId, type PumpValues, type TankId, type TankValues, type ValveId, type ValveValues,
} from '../../model/plant';

// ---- physical constants of the simulated process -------------------------------------------------------------
const AMBIENT_C = 25;
const TANK_AREA_M2 = 0.5;
const TANK_HEIGHT_M = 4;
const VALVE_CV = 7; // m3/h per sqrt(m) at 100 % open
const VALVE_STROKE_PCT_S = 20; // full stroke in 5 s
const PUMP_MAX_FLOW_M3H = { pump_1: 10, pump_2: 8 } as const;
const PUMP_SHUTOFF_BAR = { pump_1: 4.5, pump_2: 3.0 } as const;
const FLOW_TAU_S = 1.5;
const THERMAL_TAU_S = 90;
const SUBSTEP_MS = 100;
const WEAR_GROWTH_PER_S = 1 / 900; // bearing wear reaches full severity after 15 simulated minutes
const TANK_LEAK_M3H = 0.9; // at full tank, scales with sqrt(level)
const SEAL_LEAK_FRACTION = 0.12;
const HIGH_ALARM_M = 3.4;
const LOW_ALARM_M = 0.5;

/** Sensor noise standard deviations, in the reading's unit. */
const NOISE = { flow: 0.05, pressure: 0.01, vibration: 0.04, temperature: 0.05, level: 0.002, position: 0.1 } as const;

/** sfc32: small, fast, well-mixed 32-bit PRNG; state seeded by splitmix32 so nearby seeds diverge at once. */
export class SeededRandom {
  private a: number; private b: number; private c: number; private d: number;
  private spare: number | undefined;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next(); this.b = next(); this.c = next(); this.d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number { return this.uint32() / 4294967296; }

  /** Standard normal (Box-Muller, both values used). */
  gaussian(): number {
    if (this.spare !== undefined) { const v = this.spare; this.spare = undefined; return v; }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  int(maxExclusive: number): number { return Math.floor(this.next() * maxExclusive); }
}

interface PumpState {
  runCommand: boolean; speedSetpointPct: number; flow: number; pressure: number; temperature: number;
  wear: number; readings: PumpValues;
}
interface TankState { level: number; readings: TankValues }
interface ValveState { openCommand: boolean; position: number; flow: number; readings: ValveValues }

const round = (v: number, digits: number): number => { const f = 10 ** digits; return Math.round(v * f) / f; };
const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

export class PlantSimulation {
  readonly seed: number;
  private readonly rng: SeededRandom;
  private timeMs = 0;
  private readonly pumps: Record<PumpId, PumpState>;
  private readonly tanks: Record<TankId, TankState>;
  private readonly valves: Record<ValveId, ValveState>;
  private readonly faults = new Map<AssetId, Set<FaultKind>>();
  private emergencyStop = false;
  private interlockBypass = false;
  private trip1 = false;
  private trip2 = false;
  private highHighTripM = 3.6;
  private lowLowTripM = 0.25;

  constructor(options: { seed: number }) {
    if (!Number.isInteger(options.seed)) throw new GlimmerError('GLM_ERR_PLANT_COMMAND_INVALID', `plant seed must be an integer, received ${quote(options.seed)}`);
    this.seed = options.seed;
    this.rng = new SeededRandom(options.seed);
    const pump = (speed: number): PumpState => ({
      runCommand: true, speedSetpointPct: speed, flow: 0, pressure: 0, temperature: AMBIENT_C, wear: 0,
      readings: { flow_m3h: 0, discharge_pressure_bar: 0, vibration_mm_s: 0, bearing_temperature_c: AMBIENT_C, speed_pct: 0 },
    });
    this.pumps = { pump_1: pump(80), pump_2: pump(70) };
    const tank = (level: number): TankState => ({ level, readings: { level_m: level } });
    this.tanks = { tank_1: tank(1.2), tank_2: tank(0.9) };
    const valve = (pos: number): ValveState => ({ openCommand: true, position: pos, flow: 0, readings: { position_pct: pos, flow_m3h: 0 } });
    this.valves = { valve_1: valve(100), valve_2: valve(100) };
    this.sample(new Set());
  }

  /** Simulated time since construction, in ms. */
  get time(): number { return this.timeMs; }

  /** Advances the process by dtMs (integrated in sub-steps of at most 100 ms), then samples the sensors once. */
  step(dtMs: number): void {
    if (!Number.isFinite(dtMs) || dtMs < 0 || dtMs > 3_600_000) throw new GlimmerError('GLM_ERR_PLANT_COMMAND_INVALID', `plant step must be 0..3600000 ms, received ${quote(dtMs)}`);
    let left = dtMs;
    while (left > 0) {
      const h = Math.min(SUBSTEP_MS, left);
      this.integrate(h / 1000);
      left -= h;
    }
    this.timeMs += dtMs;
    this.sample(this.stuckAssets());
  }

  private has(asset: AssetId, fault: FaultKind): boolean { return this.faults.get(asset)?.has(fault) ?? false; }

  private pumpRunning(id: PumpId): boolean {
    const p = this.pumps[id];
    if (!p.runCommand || this.emergencyStop) return false;
    if (this.interlockBypass) return true;
    return id === 'pump_1' ? !this.trip1 : !this.trip2;
  }

  private integrate(dtS: number): void {
    const t1 = this.tanks.tank_1; const t2 = this.tanks.tank_2;
    // Interlocks trip at the limit and latch until the level is back inside a hysteresis band.
    this.trip1 = t1.level >= this.highHighTripM || (this.trip1 && t1.level > this.highHighTripM - 0.2);
    this.trip2 = t2.level <= this.lowLowTripM || (this.trip2 && t2.level < this.lowLowTripM + 0.1);

    // Valves: travel toward the commanded end position; the emergency stop closes them (fail-safe).
    for (const id of VALVE_IDS) {
      const v = this.valves[id];
      const target = v.openCommand && !this.emergencyStop ? 100 : 0;
      const stroke = VALVE_STROKE_PCT_S * dtS;
      v.position = v.position < target ? Math.min(target, v.position + stroke) : Math.max(target, v.position - stroke);
    }
    const alpha = 1 - Math.exp(-dtS / FLOW_TAU_S);
    const thermal = 1 - Math.exp(-dtS / THERMAL_TAU_S);

    // Pumps: first-order flow response, quadratic pump curve, thermal lag, bearing wear.
    for (const id of PUMP_IDS) {
      const p = this.pumps[id];
      const running = this.pumpRunning(id);
      const s = running ? p.speedSetpointPct / 100 : 0;
      const suction = id === 'pump_2' ? clamp(t2.level / 0.3, 0, 1) : 1;
      const target = PUMP_MAX_FLOW_M3H[id] * s * suction;
      p.flow += (target - p.flow) * alpha;
      const q = p.flow / PUMP_MAX_FLOW_M3H[id];
      let pressure = PUMP_SHUTOFF_BAR[id] * s * s * (1 - 0.35 * q * q);
      if (this.has(id, 'leak')) pressure *= 1 - SEAL_LEAK_FRACTION * 1.2;
      p.pressure = pressure;
      if (this.has(id, 'bearing_wear')) p.wear = Math.min(1, p.wear + WEAR_GROWTH_PER_S * dtS);
      const load = s * (10 + 6 * q) + (running ? 12 * p.wear * (0.6 + 0.4 * s) : 0) + (running && suction < 0.5 ? 8 : 0);
      p.temperature += (AMBIENT_C + load - p.temperature) * thermal;
    }

    // Tanks: volume balance. Gravity outflow through the outlet valve, pump_1 fills tank_1.
    const v1 = this.valves.valve_1; const v2 = this.valves.valve_2;
    v1.flow = VALVE_CV * (v1.position / 100) * Math.sqrt(Math.max(0, t1.level));
    v2.flow = VALVE_CV * (v2.position / 100) * Math.sqrt(Math.max(0, t2.level));
    const p1 = this.pumps.pump_1; const p2 = this.pumps.pump_2;
    const delivered1 = this.has('pump_1', 'leak') ? p1.flow * (1 - SEAL_LEAK_FRACTION) : p1.flow;
    const sealLoss2 = this.has('pump_2', 'leak') ? p2.flow * SEAL_LEAK_FRACTION : 0;
    const tankLeak = (id: TankId): number => (this.has(id, 'leak') ? TANK_LEAK_M3H * Math.sqrt(Math.max(0, this.tanks[id].level) / TANK_HEIGHT_M) : 0);
    const dV1 = (delivered1 - v1.flow - tankLeak('tank_1')) * dtS / 3600;
    const dV2 = (v1.flow - v2.flow - sealLoss2 - tankLeak('tank_2')) * dtS / 3600;
    t1.level = clamp(t1.level + dV1 / TANK_AREA_M2, 0, TANK_HEIGHT_M);
    t2.level = clamp(t2.level + dV2 / TANK_AREA_M2, 0, TANK_HEIGHT_M);
  }

  private stuckAssets(): Set<AssetId> {
    const stuck = new Set<AssetId>();
    for (const [asset, set] of this.faults) if (set.has('stuck_sensor')) stuck.add(asset);
    return stuck;
  }

  /** Reads every sensor once. Noise is drawn for every sensor on every sample (stuck or not) so the random sequence,
   *  and therefore every later reading, does not depend on which faults are active. */
  private sample(stuck: Set<AssetId>): void {
    const g = () => this.rng.gaussian();
    for (const id of PUMP_IDS) {
      const p = this.pumps[id];
      const running = p.flow > 0.05 || this.pumpRunning(id);
      const s = this.pumpRunning(id) ? p.speedSetpointPct / 100 : 0;
      const q = p.flow / PUMP_MAX_FLOW_M3H[id];
      const offBep = Math.abs(1 - q / 0.8);
      const vib = running ? 0.9 + 1.1 * s + 0.6 * offBep + p.wear * (0.4 + 2.6 * s) : 0.05;
      const next: PumpValues = {
        flow_m3h: round(Math.max(0, p.flow + NOISE.flow * g()), 3),
        discharge_pressure_bar: round(Math.max(0, p.pressure + NOISE.pressure * g()), 3),
        vibration_mm_s: round(Math.max(0, vib + NOISE.vibration * g() * (running ? 1 : 0.3)), 3),
        bearing_temperature_c: round(p.temperature + NOISE.temperature * g(), 2),
        speed_pct: round(s * 100, 1),
      };
      if (!stuck.has(id)) p.readings = next;
    }
    for (const id of TANK_IDS) {
      const t = this.tanks[id];
      const next = { level_m: round(clamp(t.level + NOISE.level * g(), 0, TANK_HEIGHT_M), 4) };
      if (!stuck.has(id)) t.readings = next;
    }
    for (const id of VALVE_IDS) {
      const v = this.valves[id];
      const next = { position_pct: round(clamp(v.position + NOISE.position * g(), 0, 100), 2), flow_m3h: round(Math.max(0, v.flow + NOISE.flow * g()), 3) };
      if (!stuck.has(id)) v.readings = next;
    }
  }

  snapshot(): PlantSnapshot {
    const faults = (id: AssetId): FaultKind[] => [...(this.faults.get(id) ?? [])].sort();
    const assets: Record<string, AssetSnapshot> = {};
    for (const id of PUMP_IDS) {
      const p = this.pumps[id];
      assets[id] = { kind: 'pump', zone: PROCESS_ZONE, run_command: p.runCommand, running: this.pumpRunning(id), speed_setpoint_pct: p.speedSetpointPct, values: { ...p.readings }, faults: faults(id) };
    }
    for (const id of TANK_IDS) {
      const t = this.tanks[id];
      assets[id] = { kind: 'tank', zone: PROCESS_ZONE, values: { ...t.readings }, high_alarm: t.readings.level_m >= HIGH_ALARM_M, low_alarm: t.readings.level_m <= LOW_ALARM_M, faults: faults(id) };
    }
    for (const id of VALVE_IDS) {
      const v = this.valves[id];
      assets[id] = { kind: 'valve', zone: PROCESS_ZONE, open_command: v.openCommand, open: v.position >= 99.5, values: { ...v.readings }, faults: faults(id) };
    }
    assets[SAFETY_ID] = {
      kind: 'safety', zone: SAFETY_ZONE, emergency_stop: this.emergencyStop, interlock_bypass: this.interlockBypass, interlock_tripped: this.trip1 || this.trip2,
      values: { tank_1_level_high_high_m: this.highHighTripM, tank_2_level_low_low_m: this.lowLowTripM }, faults: [],
    };
    return { time_ms: this.timeMs, seed: this.seed, assets };
  }

  // ---- faults ----------------------------------------------------------------------------------------------------

  injectFault(assetId: string, fault: FaultKind): void {
    this.checkFault(assetId, fault);
    const set = this.faults.get(assetId as AssetId) ?? new Set<FaultKind>();
    set.add(fault);
    this.faults.set(assetId as AssetId, set);
  }

  /** Throws what injectFault would throw, changing nothing (the API audits an injection before applying it). */
  checkFault(assetId: string, fault: FaultKind): void {
    const kind = this.kindOf(assetId);
    if (!(FAULTS_BY_KIND[kind] as readonly string[]).includes(fault)) {
      throw new GlimmerError('GLM_ERR_PLANT_FAULT_INVALID', `fault ${quote(fault)} does not apply to ${kind} ${quote(assetId)}; allowed: ${FAULTS_BY_KIND[kind].join(', ') || 'none'}`);
    }
  }

  /** Throws GLM_ERR_PLANT_ASSET_UNKNOWN for an asset the plant does not have. */
  checkAssetId(assetId: string): void {
    this.checkAsset(assetId);
  }

  /** Clears the faults of one asset, or of every asset. Bearing wear is repaired (severity back to 0). */
  clearFaults(assetId?: string): void {
    const ids = assetId === undefined ? [...this.faults.keys()] : [this.checkAsset(assetId)];
    for (const id of ids) {
      this.faults.delete(id);
      if ((PUMP_IDS as readonly string[]).includes(id)) this.pumps[id as PumpId].wear = 0;
    }
  }

  activeFaults(): { asset: AssetId; fault: FaultKind }[] {
    const out: { asset: AssetId; fault: FaultKind }[] = [];
    for (const [asset, set] of this.faults) for (const fault of set) out.push({ asset, fault });
    return out;
  }

  // ---- commands (what the PLC's coils and holding registers drive) ------------------------------------------------

  startPump(id: string): void { this.pump(id).runCommand = true; }
  stopPump(id: string): void { this.pump(id).runCommand = false; }
  setPumpSpeed(id: string, pct: number): void {
    if (!Number.isFinite(pct) || pct < 0 || pct > 100) throw new GlimmerError('GLM_ERR_PLANT_COMMAND_INVALID', `pump speed must be 0..100 %, received ${quote(pct)}`);
    this.pump(id).speedSetpointPct = pct;
  }
  openValve(id: string): void { this.valve(id).openCommand = true; }
  closeValve(id: string): void { this.valve(id).openCommand = false; }
  /** Latches the emergency stop (true) or resets it (false). While latched, pumps stay off and valves closed. */
  setEmergencyStop(active: boolean): void { this.emergencyStop = active; }
  emergencyStopNow(): void { this.setEmergencyStop(true); }
  setInterlockBypass(active: boolean): void { this.interlockBypass = active; }
  /** Safety trip setpoints (safety PLC holding registers). */
  setTripSetpoint(which: 'tank_1_level_high_high_m' | 'tank_2_level_low_low_m', metres: number): void {
    if (!Number.isFinite(metres) || metres < 0 || metres > TANK_HEIGHT_M) throw new GlimmerError('GLM_ERR_PLANT_COMMAND_INVALID', `trip setpoint must be 0..${TANK_HEIGHT_M} m, received ${quote(metres)}`);
    if (which === 'tank_1_level_high_high_m') this.highHighTripM = metres; else this.lowLowTripM = metres;
  }

  private kindOf(assetId: string): AssetKind {
    const id = this.checkAsset(assetId);
    if ((PUMP_IDS as readonly string[]).includes(id)) return 'pump';
    if ((TANK_IDS as readonly string[]).includes(id)) return 'tank';
    if ((VALVE_IDS as readonly string[]).includes(id)) return 'valve';
    return 'safety';
  }
  private checkAsset(assetId: string): AssetId {
    if (!(ASSET_IDS as readonly string[]).includes(assetId)) throw new GlimmerError('GLM_ERR_PLANT_ASSET_UNKNOWN', `no asset ${quote(assetId)} in the plant; known: ${ASSET_IDS.join(', ')}`);
    return assetId as AssetId;
  }
  private pump(id: string): PumpState {
    if (!(PUMP_IDS as readonly string[]).includes(id)) throw new GlimmerError('GLM_ERR_PLANT_ASSET_UNKNOWN', `no pump ${quote(id)}; known: ${PUMP_IDS.join(', ')}`);
    return this.pumps[id as PumpId];
  }
  private valve(id: string): ValveState {
    if (!(VALVE_IDS as readonly string[]).includes(id)) throw new GlimmerError('GLM_ERR_PLANT_ASSET_UNKNOWN', `no valve ${quote(id)}; known: ${VALVE_IDS.join(', ')}`);
    return this.valves[id as ValveId];
  }
}
