/**
 * Plant-map operations that touch a snapshot or the simulation, or refuse an unknown signal with a catalogued error.
 * The map itself (entries, tables, raw conversion) is plant model: runtime/model/plant-map.ts.
 */
import { GlimmerError, quote } from '../../errors';
import type { PlantSnapshot } from '../../model/plant';
import { findMapEntry, plantMap, type PlantMapEntry } from '../../model/plant-map';
import type { PlantSimulation } from './simulation';

/** The engineering value of one signal in a snapshot (booleans for coils and discrete inputs). */
export function signalValue(snapshot: PlantSnapshot, entry: PlantMapEntry): number | boolean {
  const a = snapshot.assets[entry.asset];
  if (!a) throw new GlimmerError('GLM_ERR_PLANT_ASSET_UNKNOWN', `map entry ${quote(entry.id)} names no asset in the snapshot`);
  switch (a.kind) {
    case 'pump':
      if (entry.signal === 'run') return a.run_command;
      if (entry.signal === 'running') return a.running;
      if (entry.signal === 'speed_setpoint_pct') return a.speed_setpoint_pct;
      return a.values[entry.signal as keyof typeof a.values];
    case 'tank':
      if (entry.signal === 'high_alarm') return a.high_alarm;
      if (entry.signal === 'low_alarm') return a.low_alarm;
      return a.values.level_m;
    case 'valve':
      if (entry.signal === 'open') return a.open_command;
      if (entry.signal === 'open_limit') return a.open;
      return a.values[entry.signal as keyof typeof a.values];
    case 'safety':
      if (entry.signal === 'emergency_stop') return a.emergency_stop;
      if (entry.signal === 'interlock_bypass') return a.interlock_bypass;
      if (entry.signal === 'interlock_tripped') return a.interlock_tripped;
      return a.values[entry.signal as keyof typeof a.values];
  }
}

/** Applies a write (coil or holding register, engineering value) to the simulation. */
export function applyWrite(sim: PlantSimulation, entry: PlantMapEntry, value: number | boolean): void {
  if (entry.writable_from.length === 0) throw new GlimmerError('GLM_ERR_PLANT_COMMAND_INVALID', `signal ${quote(entry.id)} is read-only`);
  const on = typeof value === 'boolean' ? value : value !== 0;
  switch (entry.signal) {
    case 'run': return on ? sim.startPump(entry.asset) : sim.stopPump(entry.asset);
    case 'open': return on ? sim.openValve(entry.asset) : sim.closeValve(entry.asset);
    case 'speed_setpoint_pct': return sim.setPumpSpeed(entry.asset, Number(value));
    case 'emergency_stop': return sim.setEmergencyStop(on);
    case 'interlock_bypass': return sim.setInterlockBypass(on);
    case 'tank_1_level_high_high_m':
    case 'tank_2_level_low_low_m':
      return sim.setTripSetpoint(entry.signal, Number(value));
    default:
      throw new GlimmerError('GLM_ERR_PLANT_COMMAND_INVALID', `signal ${quote(entry.id)} has no command`);
  }
}

/** Looks an entry up by its id (`pump_1.flow_m3h`). */
export function mapEntry(id: string): PlantMapEntry {
  const e = findMapEntry(id);
  if (!e) throw new GlimmerError('GLM_ERR_PLANT_ASSET_UNKNOWN', `no signal ${quote(id)} in the plant map`);
  return e;
}

/**
 * The inverse of `signalValue`: a PlantSnapshot-shaped object from signal values (what a client sees over OPC UA or
 * Modbus), so consumers get one shape whether they read the simulation or the wire. Faults are not observable on the
 * wire: `faults` is empty.
 */
export function snapshotFromSignals(values: ReadonlyMap<string, number | boolean>, timeMs: number, seed = 0): PlantSnapshot {
  const assets: Record<string, Record<string, unknown>> = {};
  for (const e of plantMap()) {
    const v = values.get(e.id);
    const a = (assets[e.asset] ??= { kind: e.asset.replace(/_\d+$/, ''), zone: e.zone, values: {}, faults: [] });
    if (v === undefined) continue;
    const field = SNAPSHOT_FIELDS[e.signal];
    if (field) a[field] = v;
    else (a.values as Record<string, unknown>)[e.signal] = v;
  }
  return { time_ms: timeMs, seed, assets: assets as unknown as PlantSnapshot['assets'] };
}

/** Signals that are snapshot state fields rather than `values` readings. */
const SNAPSHOT_FIELDS: Readonly<Record<string, string>> = {
  run: 'run_command', running: 'running', speed_setpoint_pct: 'speed_setpoint_pct', open: 'open_command', open_limit: 'open',
  high_alarm: 'high_alarm', low_alarm: 'low_alarm', emergency_stop: 'emergency_stop', interlock_bypass: 'interlock_bypass', interlock_tripped: 'interlock_tripped',
};
