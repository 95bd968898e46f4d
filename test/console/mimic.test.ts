/**
 * The process picture's layout from a plant map: the simulated plant's (runtime/model/plant-map.ts) and an external
 * plant's, whose assets, PLCs and signals differ: every asset is drawn with the kind its signals say.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mimicLayout } from '../../runtime/api/console/mimic';
import { plantMap, type PlantMapEntry } from '../../runtime/model/plant-map';

test('GIVEN the simulated plant\'s map WHEN laid out THEN pumps, tanks and valves sit in the process PLC joined by the process line, the safety PLC comes last with its logic and its e-stop', () => {
  const m = mimicLayout(plantMap());
  const kinds = Object.fromEntries(m.symbols.map((s) => [`${s.asset}:${s.kind}`, s.signals]));
  assert.deepEqual(Object.keys(kinds).sort(), ['pump_1:pump', 'pump_2:pump', 'safety_1:estop', 'safety_1:safety', 'tank_1:tank', 'tank_2:tank', 'valve_1:valve', 'valve_2:valve']);
  assert.deepEqual(m.units.map((u) => [u.unit_id, u.zone, u.safety]), [[1, 'control', false], [2, 'safety', true]]);
  assert.deepEqual(kinds['pump_1:pump'], { command: 'pump_1.run', running: 'pump_1.running', flow: 'pump_1.flow_m3h', pressure: 'pump_1.discharge_pressure_bar' });
  assert.equal(kinds['safety_1:estop']?.estop, 'safety_1.emergency_stop');
  assert.equal(m.pipes.length, 5, 'six process symbols, five pipe segments');
  for (const s of m.symbols) {
    const unit = m.units.find((u) => s.y > u.y && s.y < u.y + u.height && s.x > u.x && s.x < u.x + u.width);
    assert.ok(unit, `${s.asset} lies inside a PLC box`);
    assert.equal(unit.safety, s.kind === 'safety' || s.kind === 'estop');
  }
  assert.ok(m.width >= Math.max(...m.units.map((u) => u.x + u.width)) && m.height >= Math.max(...m.units.map((u) => u.y + u.height)));
});

const entry = (id: string, unit: number, table: PlantMapEntry['table'], address: number, safety = false): PlantMapEntry => {
  const [asset, signal] = id.split('.') as [string, string];
  return { id, asset, signal, unit_id: unit, table, address, zone: unit === 9 ? 'sis' : 'line_a', safety, writable_from: [], opcua_node_id: `ns=2;s=${id}`, unit: '', scale: 1, type: 'bool', description: `${id} of the external plant` };
};

test('GIVEN an external plant\'s map (other asset names, PLC unit ids and zones, an e-stop of its own) WHEN laid out THEN every asset is drawn with the kind its signals say, in its own PLC box', () => {
  const map = [
    entry('feed_pump.run', 4, 'coil', 0), entry('feed_pump.running', 4, 'discrete', 0),
    entry('buffer.level_m', 4, 'input', 0), entry('buffer.high_alarm', 4, 'discrete', 1),
    entry('drain.open', 4, 'coil', 1), entry('mixer.torque_nm', 4, 'input', 1),
    entry('line_stop.emergency_stop', 9, 'coil', 0, true),
  ];
  const m = mimicLayout(map);
  assert.deepEqual(m.symbols.map((s) => `${s.asset}:${s.kind}`), ['feed_pump:pump', 'buffer:tank', 'drain:valve', 'mixer:other', 'line_stop:estop']);
  assert.deepEqual(m.units.map((u) => [u.unit_id, u.zone, u.safety]), [[4, 'line_a', false], [9, 'sis', true]]);
  assert.equal(m.symbols.find((s) => s.asset === 'buffer')?.signals.alarm_high, 'buffer.high_alarm');
  assert.equal(m.pipes.length, 2, 'the process line joins pump, tank and valve; other equipment stands apart');
  assert.deepEqual(mimicLayout([]), { width: 300, height: 30, units: [], symbols: [], pipes: [] });
});
