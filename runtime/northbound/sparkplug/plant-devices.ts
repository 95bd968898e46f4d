/**
 * The plant as Sparkplug devices: one device per asset of the plant map, one metric per signal, named by the signal
 * and carrying its engineering unit (property `engUnit`) and description. Aliases are numbered across the whole edge
 * node (the specification wants them unique per node) in plant map order, so they stay the same across restarts.
 *
 * Report by exception: a metric is reported when it changed by more than its deadband since it was last reported;
 * booleans on any change. The default deadband of an analog signal is half of its resolution on the PLC (one raw count
 * is 1/scale engineering units), so noise below what the PLC can show is never sent; a configured per-signal
 * deadband (engineering units) overrides it.
 *
 * Besides the plant's assets, one device `safety_events` carries the runtime's safety shutdowns (target, outcome,
 * violation codes, a running count): its records go to the safety stream like the safety PLC's.
 */
import type { PlantMapEntry } from '../../model/plant-map';
import { DataType, type Metric } from './payload';

export interface DeviceMetric {
  /** The signal; for the safety events device a read-only stand-in (no unit, no PLC address anyone may write). */
  readonly entry: PlantMapEntry;
  readonly name: string;
  readonly alias: number;
  readonly datatype: number;
  readonly deadband: number;
}

export interface SparkplugDevice {
  readonly id: string;
  /** Any of its signals is a safety function: its records go to the safety stream. */
  readonly safety: boolean;
  readonly metrics: readonly DeviceMetric[];
}

/** Aliases 1 and 2 are the node's own metrics (bdSeq, Node Control/Rebirth). */
export const NODE_ALIAS_BDSEQ = 1;
export const NODE_ALIAS_REBIRTH = 2;
const FIRST_SIGNAL_ALIAS = 10;

export function plantDevices(map: readonly PlantMapEntry[], deadbands: Readonly<Record<string, number>> = {}): SparkplugDevice[] {
  const byAsset = new Map<string, DeviceMetric[]>();
  map.forEach((entry, i) => {
    const metrics = byAsset.get(entry.asset) ?? [];
    metrics.push({
      entry,
      name: entry.signal,
      alias: FIRST_SIGNAL_ALIAS + i,
      datatype: entry.type === 'bool' ? DataType.Boolean : DataType.Double,
      deadband: deadbands[entry.id] ?? (entry.type === 'bool' ? 0 : 0.5 / entry.scale),
    });
    byAsset.set(entry.asset, metrics);
  });
  const devices = [...byAsset].map(([id, metrics]) => ({ id, safety: metrics.some((m) => m.entry.safety), metrics }));
  return [...devices, safetyEventsDevice(FIRST_SIGNAL_ALIAS + map.length)];
}

export const SAFETY_EVENTS_DEVICE = 'safety_events';

const EVENT_METRICS: readonly [signal: string, datatype: number, description: string][] = [
  ['shutdown_target', DataType.String, 'Plant unit or agent the last safety shutdown was for'],
  ['shutdown_outcome', DataType.String, 'Outcome of the last safety shutdown (executed, refused, failed, ...)'],
  ['shutdown_codes', DataType.String, 'Rule violation codes behind the last safety shutdown'],
  ['shutdowns', DataType.Int64, 'Safety shutdowns since the Data Agent started'],
];

function safetyEventsDevice(firstAlias: number): SparkplugDevice {
  return {
    id: SAFETY_EVENTS_DEVICE,
    safety: true,
    metrics: EVENT_METRICS.map(([signal, datatype, description], i) => ({
      entry: {
        id: `${SAFETY_EVENTS_DEVICE}.${signal}`, asset: SAFETY_EVENTS_DEVICE, signal, unit_id: 0, table: 'input', address: i, zone: 'safety', safety: true,
        writable_from: [], opcua_node_id: '', unit: '', scale: 1, type: 'uint16', description,
      },
      name: signal, alias: firstAlias + i, datatype, deadband: 0,
    })),
  };
}

export type SignalValue = number | boolean | string;

/** A metric as a birth carries it: name, alias, type, engineering unit, current value. */
export function birthMetric(m: DeviceMetric, value: SignalValue | undefined, ts: number): Metric {
  return {
    name: m.name,
    alias: m.alias,
    timestamp: ts,
    datatype: m.datatype,
    properties: { keys: ['engUnit', 'description'], values: [{ type: DataType.String, stringValue: m.entry.unit }, { type: DataType.String, stringValue: m.entry.description }] },
    ...valueField(m, value),
  };
}

/** A metric as data carries it: alias only (the birth told the name), timestamp and value. */
export function dataMetric(m: DeviceMetric, value: SignalValue, ts: number, historical: boolean): Metric {
  return { alias: m.alias, timestamp: ts, ...(historical ? { isHistorical: true } : {}), ...valueField(m, value) };
}

function valueField(m: DeviceMetric, value: SignalValue | undefined): Partial<Metric> {
  if (value === undefined) return { isNull: true };
  if (m.datatype === DataType.String) return { stringValue: String(value) };
  if (m.datatype === DataType.Int64) return { longValue: Number(value) };
  return m.datatype === DataType.Boolean ? { booleanValue: Boolean(value) } : { doubleValue: Number(value) };
}

/** Report by exception: the last reported value per alias, and whether a new value passes the deadband. */
export class ExceptionFilter {
  readonly #last = new Map<number, SignalValue>();

  /** The metrics of `values` to report now (and remembers them as reported). */
  changes(device: SparkplugDevice, values: ReadonlyMap<string, SignalValue>): { metric: DeviceMetric; value: SignalValue }[] {
    const out: { metric: DeviceMetric; value: SignalValue }[] = [];
    for (const m of device.metrics) {
      const value = values.get(m.entry.id);
      if (value === undefined) continue;
      const last = this.#last.get(m.alias);
      const changed = last === undefined || (typeof value === 'number' && typeof last === 'number' ? Math.abs(value - last) > m.deadband : value !== last);
      if (!changed) continue;
      this.#last.set(m.alias, value);
      out.push({ metric: m, value });
    }
    return out;
  }

  /** A birth reports every current value: exceptions are measured from it. */
  born(device: SparkplugDevice, values: ReadonlyMap<string, SignalValue>): void {
    for (const m of device.metrics) {
      const v = values.get(m.entry.id);
      if (v !== undefined) this.#last.set(m.alias, v);
    }
  }
}
