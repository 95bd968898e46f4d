/**
 * The plant model: assets, their signals and states, the zones they live in, and the snapshot every consumer reads.
 * Shared by the simulator, the real-PLC process image, the gateway, the agents and the API, so it lives here and not
 * in any one of them. Plain data and types only.
 */
export const FAULT_KINDS = ['bearing_wear', 'leak', 'stuck_sensor'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type AssetKind = 'pump' | 'tank' | 'valve' | 'safety';

/** Which faults each kind of asset can suffer. */
export const FAULTS_BY_KIND: Readonly<Record<AssetKind, readonly FaultKind[]>> = {
  pump: ['bearing_wear', 'leak', 'stuck_sensor'],
  tank: ['leak', 'stuck_sensor'],
  valve: ['stuck_sensor'],
  safety: [],
};

export interface PumpValues {
  flow_m3h: number;
  discharge_pressure_bar: number;
  vibration_mm_s: number;
  bearing_temperature_c: number;
  speed_pct: number;
}
export interface TankValues { level_m: number }
export interface ValveValues { position_pct: number; flow_m3h: number }
export interface SafetyValues { tank_1_level_high_high_m: number; tank_2_level_low_low_m: number }

interface AssetSnapshotBase { readonly zone: string; readonly faults: FaultKind[] }
export interface PumpSnapshot extends AssetSnapshotBase {
  readonly kind: 'pump';
  /** Operator command (the `run` coil). */
  readonly run_command: boolean;
  /** Actual state (command and permissives: no emergency stop, no interlock trip). */
  readonly running: boolean;
  readonly speed_setpoint_pct: number;
  readonly values: PumpValues;
}
export interface TankSnapshot extends AssetSnapshotBase { readonly kind: 'tank'; readonly values: TankValues; readonly high_alarm: boolean; readonly low_alarm: boolean }
export interface ValveSnapshot extends AssetSnapshotBase { readonly kind: 'valve'; readonly open_command: boolean; readonly open: boolean; readonly values: ValveValues }
export interface SafetySnapshot extends AssetSnapshotBase {
  readonly kind: 'safety';
  readonly emergency_stop: boolean;
  readonly interlock_bypass: boolean;
  readonly interlock_tripped: boolean;
  readonly values: SafetyValues;
}
export type AssetSnapshot = PumpSnapshot | TankSnapshot | ValveSnapshot | SafetySnapshot;

/** Plain JSON: the simulated time and every asset's readings (as the sensors report them) and states. */
export interface PlantSnapshot {
  readonly time_ms: number;
  readonly seed: number;
  readonly assets: Record<string, AssetSnapshot>;
}

export const PUMP_IDS = ['pump_1', 'pump_2'] as const;
export const TANK_IDS = ['tank_1', 'tank_2'] as const;
export const VALVE_IDS = ['valve_1', 'valve_2'] as const;
export const SAFETY_ID = 'safety_1';
export type PumpId = (typeof PUMP_IDS)[number];
export type TankId = (typeof TANK_IDS)[number];
export type ValveId = (typeof VALVE_IDS)[number];
export const ASSET_IDS = [...PUMP_IDS, ...TANK_IDS, ...VALVE_IDS, SAFETY_ID] as const;
export type AssetId = (typeof ASSET_IDS)[number];

export const PROCESS_ZONE = 'control';
export const SAFETY_ZONE = 'safety';

/** The plant's process topology and limits, as the rules (facts) and the gateway's interlocks read them. */
export interface PlantProfile {
  readonly criticality: Readonly<Record<string, number>>;
  readonly redundant: readonly string[];
  readonly monitored: readonly string[];
  /** [pump, tank]: the pump draws from the tank. */
  readonly suction: readonly (readonly [string, string])[];
  /** [pump, valve]: the valve is on the pump's discharge line. */
  readonly discharge: readonly (readonly [string, string])[];
  readonly tankLowLimitCm: Readonly<Record<string, number>>;
  readonly pressureLimitKPa: Readonly<Record<string, number>>;
}

/**
 * The simulated plant (the simulator in runtime/industrial/plant): pump_2 circulates tank_2 (dry-run hazard below the
 * 0.5 m low alarm); pump_1 feeds tank_1 from an unlimited source; both outlet valves are gravity drains, not pump
 * discharges. Pressure limits sit just under each pump's shut-off head at full speed. The tanks are as critical as
 * the pumps but redundant (each has a twin that carries the duty), so a leak on one is reported, not shut down.
 */
export const SIMULATED_PLANT_PROFILE: PlantProfile = {
  criticality: { pump_1: 4, pump_2: 4, tank_1: 4, tank_2: 4, valve_1: 2, valve_2: 2 },
  redundant: ['tank_1', 'tank_2'],
  monitored: ['pump_1', 'pump_2', 'tank_1', 'tank_2', 'valve_1', 'valve_2'],
  suction: [['pump_2', 'tank_2']],
  discharge: [],
  tankLowLimitCm: { tank_2: 50 },
  pressureLimitKPa: { pump_1: 440, pump_2: 290 },
};
