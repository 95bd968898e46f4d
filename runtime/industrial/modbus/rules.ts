/**
 * The gateway's static rules, compiled once into lookup tables so the per-frame path is array indexing only:
 * which units exist and which zone may reach them, each zone's function-code allow-list, each table's size,
 * and per zone which addresses it may write (writable_from) and within which raw range.
 *
 * Defaults from the runtime configuration (IEC 62443 zones and conduits):
 * - a zone may reach a unit when the unit's zone is the client zone or reachable from it through conduits that
 *   carry `modbus` (transitively: the gateway is the conduit);
 * - read functions (01-04) for every such zone; write functions (05, 06, 15, 16) only for zones that appear in some
 *   map entry's writable_from. Every write is then checked address by address.
 */
import { GlimmerError, quote } from '../../errors';
import { modbusReach, type ConduitEnds, type ZoneLevel } from '../../model/zones';
import { type PlantMapEntry, plantMap, toRaw } from '../../model/plant-map';
import { FC, TABLE_NAMES } from './frame';

export const READ_FUNCTIONS = [FC.READ_COILS, FC.READ_DISCRETE_INPUTS, FC.READ_HOLDING_REGISTERS, FC.READ_INPUT_REGISTERS] as const;
export const WRITE_FUNCTIONS = [FC.WRITE_SINGLE_COIL, FC.WRITE_SINGLE_REGISTER, FC.WRITE_MULTIPLE_COILS, FC.WRITE_MULTIPLE_REGISTERS] as const;

export interface ZoneRule {
  readonly zone: string;
  /** Function codes this zone may use. */
  readonly functions: readonly number[];
  /** Unit ids this zone may reach. */
  readonly units: readonly number[];
}

export interface UnitTables {
  readonly unitId: number;
  readonly zone: string;
  /** Per table (TABLE.*): number of addresses. */
  readonly sizes: Int32Array;
  /** Per table: the map entry at each address. */
  readonly entries: readonly (readonly (PlantMapEntry | undefined)[])[];
  /** Per zone index, per table: 1 where that zone may write the address. */
  readonly writable: readonly (readonly Uint8Array[])[];
  /** Per table: 1 where the address is a safety signal. */
  readonly safety: readonly Uint8Array[];
  /** Holding registers: allowed raw minimum and maximum per address. */
  readonly rawMin: Int32Array;
  readonly rawMax: Int32Array;
}

export interface CompiledRules {
  readonly zones: readonly string[];
  /** Per zone index: 256 flags, 1 where the function code is allowed. */
  readonly functions: readonly Uint8Array[];
  /** Per zone index: 256 flags, 1 where the unit id is reachable. */
  readonly reach: readonly Uint8Array[];
  /** Per unit id (0..255). */
  readonly units: readonly (UnitTables | undefined)[];
  zoneIndex(zone: string): number;
}

/** The zone model as far as the gateway needs it (the file as written or the normalised config). */
export interface GatewayZoneModel {
  readonly zones: readonly Pick<ZoneLevel, 'name'>[];
  readonly conduits: readonly ConduitEnds[];
}

/** Zone rules from the configuration's zones and modbus conduits (see the module comment). */
export function defaultZoneRules(config: GatewayZoneModel, map: readonly PlantMapEntry[] = plantMap()): ZoneRule[] {
  const unitZones = new Map<number, string>();
  for (const e of map) unitZones.set(e.unit_id, e.zone);
  const writers = new Set(map.flatMap((e) => e.writable_from));
  const reach = modbusReach(config.zones, config.conduits);
  const rules: ZoneRule[] = [];
  for (const z of config.zones) {
    const reachable = reach.get(z.name) as Set<string>;
    const units = [...unitZones].filter(([, zone]) => reachable.has(zone)).map(([u]) => u).sort((a, b) => a - b);
    if (units.length === 0) continue;
    rules.push({ zone: z.name, units, functions: writers.has(z.name) ? [...READ_FUNCTIONS, ...WRITE_FUNCTIONS] : [...READ_FUNCTIONS] });
  }
  return rules;
}

export function compileRules(zoneRules: readonly ZoneRule[], map: readonly PlantMapEntry[] = plantMap()): CompiledRules {
  const zones = zoneRules.map((r) => r.zone);
  if (new Set(zones).size !== zones.length) throw new GlimmerError('GLM_ERR_MODBUS_CONFIG_INVALID', `gateway zone rules name a zone twice: ${quote(zones)}`);
  const functions = zoneRules.map((r) => {
    const f = new Uint8Array(256);
    for (const fc of r.functions) {
      if (!([...READ_FUNCTIONS, ...WRITE_FUNCTIONS] as number[]).includes(fc)) throw new GlimmerError('GLM_ERR_MODBUS_CONFIG_INVALID', `zone ${quote(r.zone)}: function code ${quote(fc)} is not supported by the gateway (01-06, 15, 16)`);
      f[fc] = 1;
    }
    return f;
  });
  const reach = zoneRules.map((r) => {
    const u = new Uint8Array(256);
    for (const id of r.units) {
      if (!Number.isInteger(id) || id < 0 || id > 255) throw new GlimmerError('GLM_ERR_MODBUS_CONFIG_INVALID', `zone ${quote(r.zone)}: unit id ${quote(id)} is not 0..255`);
      u[id] = 1;
    }
    return u;
  });
  const units: (UnitTables | undefined)[] = new Array(256).fill(undefined);
  const unitIds = [...new Set(map.map((e) => e.unit_id))];
  for (const unitId of unitIds) {
    const own = map.filter((e) => e.unit_id === unitId);
    const sizes = new Int32Array(4);
    for (const e of own) { const t = TABLE_NAMES.indexOf(e.table); sizes[t] = Math.max(sizes[t] as number, e.address + 1); }
    const entries = [0, 1, 2, 3].map((t) => { const a: (PlantMapEntry | undefined)[] = new Array(sizes[t]).fill(undefined); return a; });
    const safety = [0, 1, 2, 3].map((t) => new Uint8Array(sizes[t] as number));
    const rawMin = new Int32Array(sizes[3] as number).fill(0);
    const rawMax = new Int32Array(sizes[3] as number).fill(65535);
    for (const e of own) {
      const t = TABLE_NAMES.indexOf(e.table);
      (entries[t] as (PlantMapEntry | undefined)[])[e.address] = e;
      if (e.safety) (safety[t] as Uint8Array)[e.address] = 1;
      if (t === 3 && e.range) { rawMin[e.address] = toRaw(e, e.range[0]); rawMax[e.address] = toRaw(e, e.range[1]); }
    }
    const writable = zones.map((zone) => [0, 1, 2, 3].map((t) => {
      const w = new Uint8Array(sizes[t] as number);
      for (const e of own) if (TABLE_NAMES.indexOf(e.table) === t && (t === 0 || t === 3) && e.writable_from.includes(zone)) w[e.address] = 1;
      return w;
    }));
    units[unitId] = { unitId, zone: own[0]?.zone ?? '', sizes, entries, writable, safety, rawMin, rawMax };
  }
  const index = new Map(zones.map((z, i) => [z, i]));
  return {
    zones, functions, reach, units,
    zoneIndex(zone: string): number {
      const i = index.get(zone);
      if (i === undefined) throw new GlimmerError('GLM_ERR_MODBUS_CONFIG_INVALID', `no gateway rules for zone ${quote(zone)}; known: ${zones.join(', ')}`);
      return i;
    },
  };
}
