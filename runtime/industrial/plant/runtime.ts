/**
 * The running plant: a PlantSimulation stepped on a timer, its latest snapshot cached (the PLC's process image),
 * and writes applied through the address map. Both protocol faces (Modbus PLC, OPC UA server) read from here.
 */
import { GlimmerError, quote } from '../../errors';
import { applyWrite, mapEntry, signalValue } from './map';
import { type ModbusTable, type PlantMapEntry, fromRaw, plantMap, toRaw } from '../../model/plant-map';
import { PlantSimulation } from './simulation';
import type { PlantSnapshot } from '../../model/plant';

export type SnapshotListener = (snapshot: PlantSnapshot) => void;

export class PlantRuntime {
  readonly sim: PlantSimulation;
  readonly tickMs: number;
  private current: PlantSnapshot;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<SnapshotListener>();
  /** Per unit id and table: entries by address. */
  private readonly index = new Map<string, (PlantMapEntry | undefined)[]>();

  constructor(options: { seed: number; tickMs?: number }) {
    this.sim = new PlantSimulation({ seed: options.seed });
    this.tickMs = options.tickMs ?? 100;
    this.current = this.sim.snapshot();
    for (const e of plantMap()) {
      const key = `${e.unit_id}/${e.table}`;
      const list = this.index.get(key) ?? [];
      list[e.address] = e;
      this.index.set(key, list);
    }
  }

  get snapshot(): PlantSnapshot { return this.current; }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(this.tickMs), this.tickMs);
    this.timer.unref();
  }

  stop(): void { if (this.timer) clearInterval(this.timer); this.timer = undefined; }

  /** Advances the simulation by dtMs and publishes the new snapshot. */
  tick(dtMs: number): void {
    this.sim.step(dtMs);
    this.refresh();
  }

  private refresh(): void {
    this.current = this.sim.snapshot();
    for (const l of this.listeners) {
      try { l(this.current); } catch { /* a listener's failure must not stop the plant */ }
    }
  }

  onSnapshot(listener: SnapshotListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The map entries of a unit's table (index = address), or undefined when the unit has no such table. */
  table(unitId: number, table: ModbusTable): readonly (PlantMapEntry | undefined)[] | undefined {
    return this.index.get(`${unitId}/${table}`);
  }

  /** Raw words (or 0/1 bits) of `quantity` addresses, or undefined when any address is not mapped. */
  readRaw(unitId: number, table: ModbusTable, address: number, quantity: number): number[] | undefined {
    const entries = this.table(unitId, table);
    if (!entries || address + quantity > entries.length) return undefined;
    const out: number[] = new Array(quantity);
    for (let i = 0; i < quantity; i++) {
      const e = entries[address + i];
      if (!e) return undefined;
      out[i] = toRaw(e, signalValue(this.current, e));
    }
    return out;
  }

  /** Applies a raw write (coil 0/1 or register word) to the plant; refreshes the snapshot at once. */
  writeRaw(entry: PlantMapEntry, raw: number): void {
    applyWrite(this.sim, entry, entry.type === 'bool' ? raw !== 0 : fromRaw(entry, raw));
    this.refresh();
  }

  /** Applies an engineering-value write by signal id (`safety_1.emergency_stop`, `pump_1.speed_setpoint_pct`). */
  write(signalId: string, value: number | boolean): void {
    const entry = mapEntry(signalId);
    if (entry.writable_from.length === 0) throw new GlimmerError('GLM_ERR_PLANT_COMMAND_INVALID', `signal ${quote(signalId)} is read-only`);
    applyWrite(this.sim, entry, value);
    this.refresh();
  }
}
