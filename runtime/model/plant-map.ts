/**
 * The plant's address map: one entry per signal, from which both protocol faces are generated (the simulated PLC's
 * Modbus process image and its OPC UA address space) and which the gateway enforces (ranges, safety flag,
 * writable_from). The same map describes a real plant's PLCs (plant.mode external). `glimmer plant map --json` prints it.
 *
 * Two PLCs, routed by Modbus unit id: unit 1 is the process PLC (zone `control`), unit 2 the safety PLC
 * (zone `safety`). Addresses are 0-based PDU addresses. Analog values are integers: raw = round(value * scale).
 */
import { PROCESS_ZONE, SAFETY_ZONE } from './plant';

export const MODBUS_TABLES = ['coil', 'discrete', 'input', 'holding'] as const;
export type ModbusTable = (typeof MODBUS_TABLES)[number];

export const OPCUA_NAMESPACE_URI = 'urn:glimmer:plant';
/** The namespace index of our namespace in the simulated PLC's OPC UA server (0: OPC UA, 1: the server's own, 2: ours). */
export const OPCUA_NAMESPACE_INDEX = 2;

export const PROCESS_UNIT_ID = 1;
export const SAFETY_UNIT_ID = 2;

export interface PlantMapEntry {
  /** `<asset>.<signal>`; also the OPC UA browse path below Objects/Plant. */
  readonly id: string;
  readonly asset: string;
  readonly signal: string;
  readonly unit_id: number;
  readonly table: ModbusTable;
  readonly address: number;
  readonly zone: string;
  readonly safety: boolean;
  /** Zones whose clients may write this signal (empty: read-only). */
  readonly writable_from: readonly string[];
  readonly opcua_node_id: string;
  /** Engineering unit of the value ('' for booleans). */
  readonly unit: string;
  /** raw register value = round(engineering value * scale); 1 for booleans. */
  readonly scale: number;
  readonly type: 'bool' | 'uint16' | 'int16';
  /** Writable registers: the allowed engineering range (a write outside it gets exception 03). */
  readonly range?: readonly [number, number];
  readonly description: string;
}

/** The zones that may operate the process (start/stop, setpoints): the operations and control zones. */
const PROCESS_WRITERS = ['operations', PROCESS_ZONE] as const;

type Row = [id: string, unitId: number, table: ModbusTable, address: number, unit: string, scale: number, type: PlantMapEntry['type'], writableFrom: readonly string[], safety: boolean, description: string];

const ROWS: readonly Row[] = [
  // process PLC: coils (commands)
  ['pump_1.run', 1, 'coil', 0, '', 1, 'bool', PROCESS_WRITERS, false, 'Feed pump P-1 run command'],
  ['pump_2.run', 1, 'coil', 1, '', 1, 'bool', PROCESS_WRITERS, false, 'Circulation pump P-2 run command'],
  ['valve_1.open', 1, 'coil', 2, '', 1, 'bool', PROCESS_WRITERS, false, 'Transfer valve V-1 open command'],
  ['valve_2.open', 1, 'coil', 3, '', 1, 'bool', PROCESS_WRITERS, false, 'Outlet valve V-2 open command'],
  // process PLC: discrete inputs (states)
  ['pump_1.running', 1, 'discrete', 0, '', 1, 'bool', [], false, 'P-1 running feedback'],
  ['pump_2.running', 1, 'discrete', 1, '', 1, 'bool', [], false, 'P-2 running feedback'],
  ['valve_1.open_limit', 1, 'discrete', 2, '', 1, 'bool', [], false, 'V-1 fully open limit switch'],
  ['valve_2.open_limit', 1, 'discrete', 3, '', 1, 'bool', [], false, 'V-2 fully open limit switch'],
  ['tank_1.high_alarm', 1, 'discrete', 4, '', 1, 'bool', [], false, 'T-1 level high alarm'],
  ['tank_1.low_alarm', 1, 'discrete', 5, '', 1, 'bool', [], false, 'T-1 level low alarm'],
  ['tank_2.high_alarm', 1, 'discrete', 6, '', 1, 'bool', [], false, 'T-2 level high alarm'],
  ['tank_2.low_alarm', 1, 'discrete', 7, '', 1, 'bool', [], false, 'T-2 level low alarm'],
  // process PLC: input registers (measurements)
  ['pump_1.flow_m3h', 1, 'input', 0, 'm3/h', 100, 'uint16', [], false, 'P-1 flow'],
  ['pump_1.discharge_pressure_bar', 1, 'input', 1, 'bar', 1000, 'uint16', [], false, 'P-1 discharge pressure'],
  ['pump_1.vibration_mm_s', 1, 'input', 2, 'mm/s', 1000, 'uint16', [], false, 'P-1 vibration velocity (RMS)'],
  ['pump_1.bearing_temperature_c', 1, 'input', 3, 'degC', 100, 'int16', [], false, 'P-1 bearing temperature'],
  ['pump_1.speed_pct', 1, 'input', 4, '%', 10, 'uint16', [], false, 'P-1 actual speed'],
  ['pump_2.flow_m3h', 1, 'input', 5, 'm3/h', 100, 'uint16', [], false, 'P-2 flow'],
  ['pump_2.discharge_pressure_bar', 1, 'input', 6, 'bar', 1000, 'uint16', [], false, 'P-2 discharge pressure'],
  ['pump_2.vibration_mm_s', 1, 'input', 7, 'mm/s', 1000, 'uint16', [], false, 'P-2 vibration velocity (RMS)'],
  ['pump_2.bearing_temperature_c', 1, 'input', 8, 'degC', 100, 'int16', [], false, 'P-2 bearing temperature'],
  ['pump_2.speed_pct', 1, 'input', 9, '%', 10, 'uint16', [], false, 'P-2 actual speed'],
  ['tank_1.level_m', 1, 'input', 10, 'm', 1000, 'uint16', [], false, 'T-1 level'],
  ['tank_2.level_m', 1, 'input', 11, 'm', 1000, 'uint16', [], false, 'T-2 level'],
  ['valve_1.position_pct', 1, 'input', 12, '%', 10, 'uint16', [], false, 'V-1 position'],
  ['valve_1.flow_m3h', 1, 'input', 13, 'm3/h', 100, 'uint16', [], false, 'V-1 flow'],
  ['valve_2.position_pct', 1, 'input', 14, '%', 10, 'uint16', [], false, 'V-2 position'],
  ['valve_2.flow_m3h', 1, 'input', 15, 'm3/h', 100, 'uint16', [], false, 'V-2 flow'],
  // process PLC: holding registers (setpoints)
  ['pump_1.speed_setpoint_pct', 1, 'holding', 0, '%', 10, 'uint16', PROCESS_WRITERS, false, 'P-1 speed setpoint (0..100 %)'],
  ['pump_2.speed_setpoint_pct', 1, 'holding', 1, '%', 10, 'uint16', PROCESS_WRITERS, false, 'P-2 speed setpoint (0..100 %)'],
  // safety PLC
  ['safety_1.emergency_stop', 2, 'coil', 0, '', 1, 'bool', [PROCESS_ZONE, SAFETY_ZONE], true, 'Emergency stop (latched: 1 trips, 0 resets)'],
  ['safety_1.interlock_bypass', 2, 'coil', 1, '', 1, 'bool', [SAFETY_ZONE], true, 'Bypass of the level interlocks (maintenance only)'],
  ['safety_1.interlock_tripped', 2, 'discrete', 0, '', 1, 'bool', [], true, 'A level interlock has tripped'],
  ['safety_1.tank_1_level_high_high_m', 2, 'holding', 0, 'm', 1000, 'uint16', [SAFETY_ZONE], true, 'T-1 high-high trip (stops P-1)'],
  ['safety_1.tank_2_level_low_low_m', 2, 'holding', 1, 'm', 1000, 'uint16', [SAFETY_ZONE], true, 'T-2 low-low trip (stops P-2, dry-run protection)'],
];

/** Engineering ranges of the writable registers. */
const RANGES: Readonly<Record<string, readonly [number, number]>> = {
  speed_setpoint_pct: [0, 100],
  tank_1_level_high_high_m: [0.5, 4],
  tank_2_level_low_low_m: [0, 2],
};

let cached: readonly PlantMapEntry[] | undefined;

/** The address map of the simulated plant (frozen; the same array on every call). */
export function plantMap(): readonly PlantMapEntry[] {
  cached ??= Object.freeze(ROWS.map(([id, unitId, table, address, unit, scale, type, writableFrom, safety, description]) => {
    const [asset, signal] = id.split('.') as [string, string];
    return Object.freeze({
      id, asset, signal, unit_id: unitId, table, address,
      zone: unitId === SAFETY_UNIT_ID ? SAFETY_ZONE : PROCESS_ZONE,
      safety, writable_from: Object.freeze([...writableFrom]),
      opcua_node_id: `ns=${OPCUA_NAMESPACE_INDEX};s=${id}`, unit, scale, type,
      ...(RANGES[signal] ? { range: RANGES[signal] } : {}), description,
    });
  }));
  return cached;
}

/** Number of addresses each unit exposes per table (the valid range is 0 .. size-1). */
export function tableSizes(map: readonly PlantMapEntry[] = plantMap()): Map<number, Record<ModbusTable, number>> {
  const sizes = new Map<number, Record<ModbusTable, number>>();
  for (const e of map) {
    const s = sizes.get(e.unit_id) ?? { coil: 0, discrete: 0, input: 0, holding: 0 };
    s[e.table] = Math.max(s[e.table], e.address + 1);
    sizes.set(e.unit_id, s);
  }
  return sizes;
}

/** Engineering value -> 16-bit register word (two's complement for int16, clamped to the type's range). */
export function toRaw(entry: PlantMapEntry, value: number | boolean): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  const raw = Math.round(value * entry.scale);
  if (entry.type === 'int16') return (Math.max(-32768, Math.min(32767, raw)) + 65536) % 65536;
  return Math.max(0, Math.min(65535, raw));
}

/** 16-bit register word -> engineering value. */
export function fromRaw(entry: PlantMapEntry, raw: number): number {
  const signed = entry.type === 'int16' && raw >= 32768 ? raw - 65536 : raw;
  return signed / entry.scale;
}

/** The entry of a signal id (`pump_1.flow_m3h`), or undefined. */
export function findMapEntry(id: string): PlantMapEntry | undefined {
  return plantMap().find((x) => x.id === id);
}
