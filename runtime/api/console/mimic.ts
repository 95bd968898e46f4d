/**
 * The process picture's layout, computed from a plant map alone (the simulated plant's, or a real plant's under
 * plant.mode external): one box per PLC (Modbus unit), and in it one symbol per asset, its kind read from its signals
 * (a `run`/`running` signal is a pump, `open`/`position_pct` a valve, `level_m` a tank, `emergency_stop` or a safety
 * signal a safety function). The console draws it as SVG (ISA-101: grey process, colour only for abnormal states)
 * and binds each symbol to the live values by the map's signal ids.
 */
import type { PlantMapEntry } from '../../model/plant-map';

export type MimicKind = 'pump' | 'valve' | 'tank' | 'estop' | 'safety' | 'other';

export interface MimicSymbol {
  readonly asset: string;
  readonly kind: MimicKind;
  readonly x: number;
  readonly y: number;
  /** The map's description of the asset's first signal (a tooltip). */
  readonly label: string;
  /** Signal ids (`asset.signal`) by role, for live values: running, open, level, alarm_high, alarm_low, tripped, bypass, estop. */
  readonly signals: Readonly<Record<string, string>>;
}

export interface MimicUnit {
  readonly unit_id: number;
  readonly zone: string;
  readonly safety: boolean;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface MimicLayout {
  readonly width: number;
  readonly height: number;
  readonly units: readonly MimicUnit[];
  readonly symbols: readonly MimicSymbol[];
  /** The process line joining the process symbols in map order (x1, y1, x2, y2). */
  readonly pipes: readonly (readonly [number, number, number, number])[];
}

const STEP = 130;
const ROW = 150;
const PAD = 30;

function kindOf(signals: ReadonlySet<string>, safety: boolean): MimicKind {
  if (signals.has('emergency_stop')) return safety && signals.size > 1 ? 'safety' : 'estop';
  if (signals.has('run') || signals.has('running')) return 'pump';
  if (signals.has('open') || signals.has('position_pct')) return 'valve';
  if (signals.has('level_m')) return 'tank';
  return safety ? 'safety' : 'other';
}

const ROLES: readonly [string, RegExp][] = [
  ['running', /^running$/], ['command', /^(run|open)$/], ['open', /^open_limit$/], ['level', /^level_m$/],
  ['alarm_high', /^high_alarm$/], ['alarm_low', /^low_alarm$/], ['estop', /^emergency_stop$/], ['tripped', /^interlock_tripped$/],
  ['bypass', /^interlock_bypass$/], ['flow', /^flow_m3h$/], ['pressure', /pressure_bar$/], ['position', /^position_pct$/],
];

export function mimicLayout(map: readonly PlantMapEntry[]): MimicLayout {
  const byUnit = new Map<number, Map<string, PlantMapEntry[]>>();
  for (const e of map) {
    const assets = byUnit.get(e.unit_id) ?? new Map<string, PlantMapEntry[]>();
    assets.set(e.asset, [...(assets.get(e.asset) ?? []), e]);
    byUnit.set(e.unit_id, assets);
  }
  const units: MimicUnit[] = [];
  const symbols: MimicSymbol[] = [];
  const pipes: [number, number, number, number][] = [];
  let y = PAD;
  let width = 0;
  // The safety PLC's box comes last, under the process it protects.
  const ordered = [...byUnit.entries()].sort(([a, ea], [b, eb]) => Number([...ea.values()].flat().some((e) => e.safety)) - Number([...eb.values()].flat().some((e) => e.safety)) || a - b);
  for (const [unitId, assets] of ordered) {
    const entries = [...assets.values()].flat();
    const safety = entries.some((e) => e.safety);
    const inUnit: MimicSymbol[] = [];
    let x = PAD + STEP / 2;
    // Within a PLC: the asset symbols and, for a safety PLC holding several functions, the e-stop beside its logic box.
    for (const [asset, signals] of assets) {
      const names = new Set(signals.map((e) => e.signal));
      const roles: Record<string, string> = {};
      for (const e of signals) {
        const role = ROLES.find(([, re]) => re.test(e.signal));
        if (role && roles[role[0]] === undefined) roles[role[0]] = e.id;
      }
      const kind = kindOf(names, safety);
      inUnit.push({ asset, kind, x, y: y + ROW / 2 + 10, label: signals[0]?.description ?? asset, signals: roles });
      x += STEP;
      if (kind === 'safety' && roles.estop) {
        inUnit.push({ asset, kind: 'estop', x, y: y + ROW / 2 + 10, label: 'Emergency stop', signals: { estop: roles.estop } });
        x += STEP;
      }
    }
    const process = inUnit.filter((s) => s.kind === 'pump' || s.kind === 'valve' || s.kind === 'tank');
    for (let i = 1; i < process.length; i++) {
      const a = process[i - 1] as MimicSymbol;
      const b = process[i] as MimicSymbol;
      pipes.push([a.x, a.y, b.x, b.y]);
    }
    const w = x - STEP / 2 + PAD - PAD / 2;
    units.push({ unit_id: unitId, zone: entries[0]?.zone ?? '', safety, x: PAD / 2, y, width: w, height: ROW });
    symbols.push(...inUnit);
    width = Math.max(width, w + PAD);
    y += ROW + PAD;
  }
  return { width: Math.max(width, 300), height: y, units, symbols, pipes };
}
