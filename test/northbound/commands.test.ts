/** The zone step for Sparkplug commands from the enterprise: refused unless a conduit allows them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findMapEntry } from '../../runtime/model/plant-map';
import { commandVerdict, type CommandRequest, type CommandZones } from '../../runtime/northbound/commands';

const entry = (id: string) => {
  const e = findMapEntry(id);
  assert.ok(e, id);
  return e;
};
const stopPump: CommandRequest = { kind: 'DCMD', device: 'pump_1', writes: [{ entry: entry('pump_1.run'), value: false }], unknown: [] };
const closed: CommandZones = { brokerZone: 'enterprise', agentZone: 'dmz', commandZone: 'operations', commandConduits: [] };
const open: CommandZones = { ...closed, commandConduits: [{ from: 'enterprise', to: 'dmz' }] };

test('GIVEN no conduit that sets allow_sparkplug_commands (the default) WHEN a DCMD writes a process coil THEN GLM_ERR_NORTHBOUND_COMMAND_REFUSED names the zones', () => {
  const v = commandVerdict(stopPump, closed);
  assert.equal(v.allow, false);
  assert.ok(!v.allow && v.code === 'GLM_ERR_NORTHBOUND_COMMAND_REFUSED' && /enterprise and zone dmz/.test(v.reason));
});

test('GIVEN a conduit enterprise-dmz that allows commands WHEN a DCMD writes a process coil writable from operations THEN it passes the zone step, to be written through the gateway', () => {
  assert.deepEqual(commandVerdict(stopPump, open), { allow: true, writes: stopPump.writes });
  assert.equal(commandVerdict(stopPump, { ...open, commandConduits: [{ from: 'dmz', to: 'enterprise' }] }).allow, true, 'either direction of the conduit');
});

test('GIVEN a conduit that allows commands WHEN a DCMD writes the interlock bypass (writable from the safety zone only) THEN refused naming the signal', () => {
  const v = commandVerdict({ kind: 'DCMD', device: 'safety_1', writes: [{ entry: entry('safety_1.interlock_bypass'), value: true }], unknown: [] }, open);
  assert.ok(!v.allow && v.code === 'GLM_ERR_NORTHBOUND_COMMAND_REFUSED' && v.reason.includes('safety_1.interlock_bypass'));
});

test('GIVEN a conduit that allows commands WHEN a command names an unknown metric, or no signal at all, or did not decode THEN refused with the matching code', () => {
  const unknown = commandVerdict({ ...stopPump, unknown: ['no_such'] }, open);
  assert.ok(!unknown.allow && unknown.code === 'GLM_ERR_NORTHBOUND_COMMAND_REFUSED' && unknown.reason.includes('no_such'));
  const empty = commandVerdict({ kind: 'NCMD', writes: [], unknown: [] }, open);
  assert.ok(!empty.allow && empty.code === 'GLM_ERR_NORTHBOUND_COMMAND_REFUSED');
  const bad = commandVerdict({ kind: 'NCMD', writes: [], unknown: [], error: { code: 'GLM_ERR_NORTHBOUND_PAYLOAD_INVALID', message: 'does not decode' } }, open);
  assert.ok(!bad.allow && bad.code === 'GLM_ERR_NORTHBOUND_PAYLOAD_INVALID');
});
