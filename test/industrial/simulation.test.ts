import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlantSimulation } from '../../runtime/industrial/plant/simulation';
import { applyWrite, mapEntry, signalValue } from '../../runtime/industrial/plant/map';
import { plantMap, tableSizes } from '../../runtime/model/plant-map';
import { featureVector, FEATURE_NAMES, generateWindows, MIN_FAULT_SECONDS } from '../../runtime/industrial/plant/dataset';
import { isGlimmerError } from '../../runtime/errors';

function run(seed: number, seconds: number, fault?: [string, 'bearing_wear' | 'leak' | 'stuck_sensor']) {
  const sim = new PlantSimulation({ seed });
  if (fault) sim.injectFault(fault[0], fault[1]);
  const out = [];
  for (let i = 0; i < seconds; i++) { sim.step(1000); out.push(sim.snapshot()); }
  return out;
}

test('GIVEN two simulations with the same seed WHEN stepped alike THEN their snapshots are identical (noise included)', () => {
  assert.deepEqual(run(7, 30), run(7, 30));
  assert.notDeepEqual(run(7, 30), run(8, 30));
});

test('GIVEN a pump with bearing wear WHEN time passes THEN its vibration and temperature rise above the healthy twin', () => {
  const healthy = run(3, 600).at(-1)!.assets.pump_1!;
  const worn = run(3, 600, ['pump_1', 'bearing_wear']).at(-1)!.assets.pump_1!;
  assert.equal(worn.kind, 'pump');
  const hv = healthy.values as { vibration_mm_s: number; bearing_temperature_c: number };
  const wv = worn.values as { vibration_mm_s: number; bearing_temperature_c: number };
  assert.ok(wv.vibration_mm_s > hv.vibration_mm_s + 0.5, `${wv.vibration_mm_s} vs ${hv.vibration_mm_s}`);
  assert.ok(wv.bearing_temperature_c > hv.bearing_temperature_c + 2);
  assert.deepEqual(worn.faults, ['bearing_wear']);
});

test('GIVEN a leaking tank WHEN time passes THEN its level ends below the healthy twin', () => {
  const h = run(5, 300).at(-1)!.assets.tank_2!.values as { level_m: number };
  const l = run(5, 300, ['tank_2', 'leak']).at(-1)!.assets.tank_2!.values as { level_m: number };
  assert.ok(l.level_m < h.level_m - 0.02, `${l.level_m} vs ${h.level_m}`);
});

test('GIVEN a stuck level sensor WHEN the process moves THEN the reading stays frozen', () => {
  const snaps = run(9, 60, ['tank_1', 'stuck_sensor']);
  const levels = new Set(snaps.map((s) => (s.assets.tank_1!.values as { level_m: number }).level_m));
  assert.equal(levels.size, 1);
  const moving = new Set(snaps.map((s) => (s.assets.pump_1!.values as { flow_m3h: number }).flow_m3h));
  assert.ok(moving.size > 10);
});

test('GIVEN the emergency stop coil WHEN written through the map THEN pumps stop and valves close', () => {
  const sim = new PlantSimulation({ seed: 1 });
  sim.step(10_000);
  applyWrite(sim, mapEntry('safety_1.emergency_stop'), true);
  sim.step(10_000);
  const s = sim.snapshot();
  assert.equal(signalValue(s, mapEntry('pump_1.running')), false);
  assert.equal(signalValue(s, mapEntry('valve_1.open_limit')), false);
  assert.ok((signalValue(s, mapEntry('pump_1.flow_m3h')) as number) < 1);
  assert.equal(signalValue(s, mapEntry('safety_1.emergency_stop')), true);
});

test('GIVEN a fault that does not fit the asset WHEN injected THEN GLM_ERR_PLANT_FAULT_INVALID; unknown asset THEN GLM_ERR_PLANT_ASSET_UNKNOWN', () => {
  const sim = new PlantSimulation({ seed: 1 });
  assert.throws(() => sim.injectFault('tank_1', 'bearing_wear'), (e) => isGlimmerError(e, 'GLM_ERR_PLANT_FAULT_INVALID'));
  assert.throws(() => sim.injectFault('pump_9', 'leak'), (e) => isGlimmerError(e, 'GLM_ERR_PLANT_ASSET_UNKNOWN'));
  assert.throws(() => sim.setPumpSpeed('pump_1', 101), (e) => isGlimmerError(e, 'GLM_ERR_PLANT_COMMAND_INVALID'));
});

test('GIVEN the plant map THEN addresses are unique per unit and table, safety entries live on unit 2, and every entry resolves in a snapshot', () => {
  const seen = new Set<string>();
  const snap = new PlantSimulation({ seed: 2 }).snapshot();
  for (const e of plantMap()) {
    const key = `${e.unit_id}/${e.table}/${e.address}`;
    assert.ok(!seen.has(key), key);
    seen.add(key);
    if (e.safety) assert.equal(e.unit_id, 2);
    const v = signalValue(snap, e);
    assert.equal(typeof v, e.type === 'bool' ? 'boolean' : 'number', e.id);
  }
  assert.deepEqual(tableSizes().get(1), { coil: 4, discrete: 8, input: 16, holding: 2 });
});

test('GIVEN generateWindows WHEN called twice with one seed THEN the same labelled windows come back, 1 s apart, faults among them, each labelled fault active for at least MIN_FAULT_SECONDS of its window', () => {
  const a = generateWindows({ seed: 11, count: 40, length: 60 });
  const b = generateWindows({ seed: 11, count: 40, length: 60 });
  assert.deepEqual(a, b);
  assert.equal(a[0]!.snapshots.length, 60);
  assert.equal(featureVector(a[0]!.snapshots[0]!).length, FEATURE_NAMES.length);
  for (const w of a) {
    assert.deepEqual(new Set(w.snapshots.slice(1).map((s, k) => s.time_ms - w.snapshots[k]!.time_ms)), new Set([1000]));
    if (w.label === 'normal') continue;
    const active = w.snapshots.filter((s) => s.assets[w.asset!]!.faults.includes(w.label as never)).length;
    assert.ok(active >= MIN_FAULT_SECONDS, `${w.label} on ${w.asset} active in ${active} snapshots`);
  }
  assert.ok(a.some((w) => w.label !== 'normal') && a.some((w) => w.label === 'normal'));
});

test('GIVEN the CLI WHEN `glimmer plant map --json` runs THEN every entry has address, table, zone, safety, writable_from and an OPC UA node id', async () => {
  const { execFile } = await import('node:child_process');
  const path = await import('node:path');
  const root = path.resolve(__dirname, '..', '..');
  const stdout = await new Promise<string>((resolve, reject) => execFile(process.execPath, ['--import', 'tsx', path.join(root, 'runtime/cli/entry.ts'), 'plant', 'map', '--json'], { cwd: root }, (err, out) => (err ? reject(err) : resolve(out))));
  const entries = JSON.parse(stdout) as Record<string, unknown>[];
  assert.equal(entries.length, plantMap().length);
  for (const e of entries) {
    assert.equal(typeof e.address, 'number');
    assert.ok(['coil', 'discrete', 'input', 'holding'].includes(e.table as string));
    assert.equal(typeof e.zone, 'string');
    assert.equal(typeof e.safety, 'boolean');
    assert.ok(Array.isArray(e.writable_from));
    assert.match(e.opcua_node_id as string, /^ns=2;s=/);
  }
  assert.ok(entries.some((e) => e.id === 'safety_1.emergency_stop' && e.safety === true));
});
