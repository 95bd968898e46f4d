/** The plant as Sparkplug devices: one per asset, stable aliases, report by exception with deadbands. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { plantMap } from '../../../runtime/model/plant-map';
import { ExceptionFilter, plantDevices, SAFETY_EVENTS_DEVICE, type SparkplugDevice } from '../../../runtime/northbound/sparkplug/plant-devices';

const device = (devices: SparkplugDevice[], id: string) => devices.find((d) => d.id === id) as SparkplugDevice;

test('GIVEN the plant map WHEN turned into devices THEN one device per asset plus the safety events, aliases unique and the same on every call, safety_1 and the events in the safety stream', () => {
  const a = plantDevices(plantMap());
  const b = plantDevices(plantMap());
  assert.deepEqual(a.map((d) => d.id), [...new Set(plantMap().map((e) => e.asset)), SAFETY_EVENTS_DEVICE]);
  const aliases = a.flatMap((d) => d.metrics.map((m) => m.alias));
  assert.equal(new Set(aliases).size, aliases.length);
  assert.deepEqual(aliases, b.flatMap((d) => d.metrics.map((m) => m.alias)));
  assert.deepEqual(a.filter((d) => d.safety).map((d) => d.id), ['safety_1', SAFETY_EVENTS_DEVICE]);
});

test('GIVEN the default deadband (half a raw count) and a configured one WHEN values move THEN only moves past the deadband are reported, booleans on any change', () => {
  const devices = plantDevices(plantMap(), { 'pump_1.flow_m3h': 0.5 });
  const pump = device(devices, 'pump_1');
  const rbe = new ExceptionFilter();
  const at = (flow: number, pressure: number, running: boolean) => rbe.changes(pump, new Map<string, number | boolean>([['pump_1.flow_m3h', flow], ['pump_1.discharge_pressure_bar', pressure], ['pump_1.running', running]])).map((c) => c.metric.name);
  assert.deepEqual(at(10, 2, true), ['running', 'flow_m3h', 'discharge_pressure_bar'], 'the first values are all reported');
  assert.deepEqual(at(10.4, 2.0004, true), [], 'below both deadbands (0.5 m3/h configured; 0.0005 bar = half a count at scale 1000)');
  assert.deepEqual(at(10.6, 2.0006, true), ['flow_m3h', 'discharge_pressure_bar']);
  assert.deepEqual(at(10.6, 2.0006, false), ['running']);
  assert.deepEqual(at(10.2, 2.0006, false), [], 'measured from the last reported value (10.6), not the last seen');
});
