/**
 * The Modbus/TCP inspection pipeline (runtime/industrial/modbus/inspector.ts) driven in-process through its own API:
 * real Inspector and ClientSession objects, real ADUs built with modbus/frame.ts, and the hooks a transport implements
 * recorded as events. Expectations are written out from the Modbus specification (exception codes, MBAP framing) and
 * the inspector's documented contract (verdicts, audit fields, metric labels, inflight bound and its half-way resume,
 * the partial-frame clock, write-ahead evidence), with limits tested at n-1, n and n+1.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import pino from 'pino';
import { adu, requestPdu, TABLE, type DecodedRequest } from '../../runtime/industrial/modbus/frame';
import {
  AuditBatcher, DEFAULT_INSPECTOR_LIMITS, Inspector,
  type GatewayAuditRecord, type InspectorLimits, type SessionHooks, type WriteEvidence,
} from '../../runtime/industrial/modbus/inspector';
import { compileRules } from '../../runtime/industrial/modbus/rules';
import type { ReadPolicy, ReadRequest } from '../../runtime/industrial/read-decision';
import type { WriteDecider, WriteRequest } from '../../runtime/industrial/write-decision';
import type { ModbusTable, PlantMapEntry } from '../../runtime/model/plant-map';
import { createMetrics, type Metrics } from '../../runtime/observability/metrics';
import type { ErrorCode } from '../../runtime/errors';

// A small plant map written for these tests: unit 1 (zone control) mixes safety and plain signals in each table so a
// loop that reads one address too many or the wrong way shows; input 2048 makes a table wider than the read cache's
// key span; unit 2 (zone safety) carries the emergency stop and the interlock bypass.
function entry(id: string, unitId: number, table: ModbusTable, address: number, o: { safety?: boolean; writable?: string[]; range?: [number, number]; scale?: number } = {}): PlantMapEntry {
  const [asset, signal] = id.split('.') as [string, string];
  return {
    id, asset, signal, unit_id: unitId, table, address, zone: unitId === 2 ? 'safety' : 'control', safety: o.safety ?? false,
    writable_from: o.writable ?? [], opcua_node_id: `ns=1;s=${id}`, unit: '', scale: o.scale ?? 1, type: 'uint16',
    ...(o.range ? { range: o.range } : {}), description: id,
  };
}
const MAP: PlantMapEntry[] = [
  entry('pump_1.run', 1, 'coil', 0, { writable: ['operations', 'control'] }),
  entry('pump_2.run', 1, 'coil', 1, { writable: ['control'] }),
  entry('valve_1.open', 1, 'coil', 2, { writable: ['control'], safety: true }),
  entry('valve_2.open', 1, 'coil', 3),
  entry('pump_1.running', 1, 'discrete', 0),
  entry('tank_1.low_alarm', 1, 'discrete', 1),
  entry('pump_1.flow', 1, 'input', 0),
  entry('pump_1.pressure', 1, 'input', 1),
  entry('tank_1.trip_level', 1, 'input', 2, { safety: true }),
  entry('pump_1.vibration', 1, 'input', 3),
  entry('tank_9.level', 1, 'input', 2048),
  entry('pump_1.speed_setpoint', 1, 'holding', 0, { writable: ['control'], range: [0, 100], scale: 10 }), // raw 0..1000
  entry('tank_1.trip_setpoint', 1, 'holding', 1, { writable: ['control'], range: [0.5, 4], scale: 1000, safety: true }), // raw 500..4000
  entry('pump_1.mode', 1, 'holding', 2, { writable: ['control'] }), // no range: raw 0..65535
  entry('pump_1.serial', 1, 'holding', 3),
  entry('safety_1.emergency_stop', 2, 'coil', 0, { writable: ['control', 'safety'], safety: true }),
  entry('safety_1.interlock_bypass', 2, 'coil', 1, { writable: ['safety'], safety: true }),
];
const ALL_FUNCTIONS = [1, 2, 3, 4, 5, 6, 15, 16];
// Zone indexes: operations 0, control 1, safety 2. Unit 7 is reachable from control but has no map entry.
const RULES = compileRules([
  { zone: 'operations', functions: [1, 2, 3, 4], units: [1] },
  { zone: 'control', functions: ALL_FUNCTIONS, units: [1, 2, 7] },
  { zone: 'safety', functions: ALL_FUNCTIONS, units: [2] },
], MAP);
const at = (id: string): PlantMapEntry => MAP.find((e) => e.id === id) as PlantMapEntry;

/** The exception ADU the Modbus spec prescribes: echoed MBAP with length 3, function | 0x80, the code. */
function exception(tx: number, unit: number, fc: number, code: number): string {
  return Buffer.from([tx >> 8, tx & 0xff, 0, 0, 0, 3, unit, fc | 0x80, code]).toString('hex');
}
const read = (tx: number, unit: number, fc: number, address: number, quantity: number): Buffer => adu(tx, unit, requestPdu.read(fc, address, quantity));

interface Rig {
  inspector: Inspector;
  hooks: SessionHooks;
  events: string[];
  forwarded: { request: DecodedRequest; adu: Buffer }[];
  /** Flushes the audit batch and returns (and forgets) the records so far. */
  audited(): GatewayAuditRecord[];
}
function rig(options: { decide?: WriteDecider; readPolicy?: ReadPolicy; limits?: Partial<InspectorLimits>; evidence?: WriteEvidence; metrics?: Metrics; logger?: pino.Logger; rules?: typeof RULES; hooks?: Partial<SessionHooks> } = {}): Rig {
  let records: GatewayAuditRecord[] = [];
  const inspector = new Inspector({ rules: options.rules ?? RULES, audit: (batch) => { records.push(...batch); }, ...options });
  const events: string[] = [];
  const forwarded: { request: DecodedRequest; adu: Buffer }[] = [];
  const hooks: SessionHooks = {
    forward: (s, request, bytes) => { events.push(`forward ${request.transactionId}`); forwarded.push({ request: { ...request }, adu: Buffer.from(bytes) }); options.hooks?.forward?.(s, request, bytes); },
    reply: (s, bytes) => { events.push(`reply ${bytes.toString('hex')}`); options.hooks?.reply?.(s, bytes); },
    close: (_s, code) => { events.push(`close ${code}`); },
    pause: () => { events.push('pause'); },
    resume: () => { events.push('resume'); },
  };
  return { inspector, hooks, events, forwarded, audited: () => { inspector.audit.flush(); const r = records; records = []; return r; } };
}
function take(events: string[]): string[] { return events.splice(0, events.length); }
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Pino writing JSON lines into an array. */
function captureLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } }) };
}

/** A read policy with a rule of its own, counting what it is asked. */
class RangePolicy implements ReadPolicy {
  version = 1;
  readonly asked: ReadRequest[] = [];
  constructor(public allow: (r: ReadRequest) => boolean) {}
  decide(r: ReadRequest): { allow: boolean } { this.asked.push({ ...r }); return { allow: this.allow(r) }; }
}

/** Write evidence whose commits the test resolves or rejects. */
function evidenceLog(o: { committing?: boolean; admit?: (peer: string) => boolean } = {}) {
  const pending: { record: GatewayAuditRecord; resolve: () => void; reject: (e: Error) => void }[] = [];
  const state = { committing: o.committing ?? true, admitted: [] as string[] };
  const evidence: WriteEvidence = {
    committing: () => state.committing,
    commit: (record) => new Promise<void>((resolve, reject) => { pending.push({ record, resolve, reject }); }),
    ...(o.admit ? { admit: (peer: string) => { state.admitted.push(peer); return (o.admit as (p: string) => boolean)(peer); } } : {}),
  };
  return { evidence, pending, state };
}

// --- sessions ---------------------------------------------------------------------------------------------------

test('GIVEN an inspector without limits WHEN two sessions open THEN the defaults apply (20000/s, burst 2000, 64 inflight), ids count 1, 2 and a session starts with a full bucket, not paused, closed, spoken or holding, no peer', () => {
  const { inspector, hooks, events } = rig();
  assert.deepEqual(inspector.limits, { ratePerSecond: 20_000, burst: 2_000, maxInflightPerClient: 64 });
  assert.deepEqual(DEFAULT_INSPECTOR_LIMITS, { ratePerSecond: 20_000, burst: 2_000, maxInflightPerClient: 64 });
  const a = inspector.session('control', 100);
  const b = inspector.session('safety', 200);
  assert.deepEqual([a.id, b.id], [1, 2]);
  assert.deepEqual([a.zone, a.zoneName, b.zone, b.zoneName], [1, 'control', 2, 'safety']);
  assert.deepEqual([a.tokens, a.refilledAt, a.lastActivity, a.openedAt, a.inflight], [2000, 100, 100, 100, 0]);
  assert.deepEqual([a.paused, a.closed, a.spoke, a.holding, a.corked, a.peer, a.peerPort, a.pendingBytes, a.hasPartialFrame()], [false, false, false, false, false, '', 0, 0, false]);
  a.feed(read(1, 1, 3, 0, 1), 150, hooks);
  assert.deepEqual(events, ['forward 1'], 'a fresh session neither pauses nor resumes');
  assert.equal(a.lastActivity, 150);
  assert.throws(() => inspector.session('nowhere', 0), /nowhere/);
});

test('GIVEN a control client WHEN it reads 4 holding registers of unit 1 THEN the exact ADU is forwarded, one request is in flight and the audit record names peer, transaction, range and allow/zone', () => {
  const { inspector, hooks, events, forwarded, audited } = rig();
  const s = inspector.session('control', 0);
  s.peer = '10.0.0.9'; s.peerPort = 40_001;
  const frame = read(0x1234, 1, 3, 0, 4);
  s.feed(frame, 5, hooks);
  assert.deepEqual(events, ['forward 4660']);
  assert.equal(forwarded[0]?.adu.toString('hex'), frame.toString('hex'));
  assert.deepEqual(forwarded[0]?.request, { transactionId: 0x1234, unitId: 1, functionCode: 3, table: TABLE.HOLDING, write: false, address: 0, quantity: 4, valueOffset: 0, valueBytes: 0 });
  assert.equal(s.inflight, 1);
  assert.equal(s.spoke, true);
  assert.deepEqual(audited(), [{
    type: 'modbus.decision', time_ms: 5, zone: 'control', connection: 1, peer: '10.0.0.9', peer_port: 40_001, transaction: 0x1234, unit: 1, function_code: 3,
    address: 0, quantity: 4, decision: 'allow', reason: 'zone', exception: 0, code: null, safety: false,
  }]);
  s.settled(6, hooks);
  assert.equal(s.inflight, 0);
  assert.deepEqual(events, ['forward 4660'], 'settling below the bound of a session that never paused resumes nothing');
});

// --- refusals before the decision ----------------------------------------------------------------------------------

interface Refusal { zone: string; frame: Buffer; reply: string; reason: string; exception: number; code: ErrorCode; unit: number; fc: number; address: number; quantity: number; safety: boolean }
const REFUSALS: Record<string, Refusal> = {
  'unit 9 (no route)': { zone: 'control', frame: read(10, 9, 4, 0, 1), reply: exception(10, 9, 4, 0x0a), reason: 'route', exception: 0x0a, code: 'GLM_ERR_MODBUS_UNIT_UNKNOWN', unit: 9, fc: 4, address: 0, quantity: 0, safety: false },
  'unit 2 from operations (mapped, not reachable)': { zone: 'operations', frame: read(11, 2, 1, 0, 1), reply: exception(11, 2, 1, 0x0a), reason: 'route', exception: 0x0a, code: 'GLM_ERR_MODBUS_UNIT_UNKNOWN', unit: 2, fc: 1, address: 0, quantity: 0, safety: false },
  'unit 7 from control (reachable, no map entry)': { zone: 'control', frame: read(12, 7, 3, 0, 1), reply: exception(12, 7, 3, 0x0a), reason: 'route', exception: 0x0a, code: 'GLM_ERR_MODBUS_UNIT_UNKNOWN', unit: 7, fc: 3, address: 0, quantity: 0, safety: false },
  'a write from read-only operations': { zone: 'operations', frame: adu(13, 1, requestPdu.writeCoil(0, true)), reply: exception(13, 1, 5, 0x01), reason: 'function', exception: 1, code: 'GLM_ERR_MODBUS_FUNCTION_DENIED', unit: 1, fc: 5, address: 0, quantity: 0, safety: false },
  'function 0x2B (not on any allow-list)': { zone: 'control', frame: adu(14, 1, Buffer.from([0x2b, 0x0e, 0x01, 0x00])), reply: exception(14, 1, 0x2b, 0x01), reason: 'function', exception: 1, code: 'GLM_ERR_MODBUS_FUNCTION_DENIED', unit: 1, fc: 0x2b, address: 0, quantity: 0, safety: false },
  'a read of quantity 0': { zone: 'control', frame: read(15, 1, 3, 2, 0), reply: exception(15, 1, 3, 0x03), reason: 'sanity', exception: 3, code: 'GLM_ERR_MODBUS_VALUE_INVALID', unit: 1, fc: 3, address: 2, quantity: 0, safety: false },
  'a read past 0xFFFF': { zone: 'control', frame: read(16, 1, 4, 0xffff, 2), reply: exception(16, 1, 4, 0x02), reason: 'address', exception: 2, code: 'GLM_ERR_MODBUS_ADDRESS_DENIED', unit: 1, fc: 4, address: 0xffff, quantity: 2, safety: false },
  'a read past the table (holding 3..4 of 4)': { zone: 'control', frame: read(17, 1, 3, 3, 2), reply: exception(17, 1, 3, 0x02), reason: 'address', exception: 2, code: 'GLM_ERR_MODBUS_ADDRESS_DENIED', unit: 1, fc: 3, address: 3, quantity: 2, safety: false },
  'a write of a read-only register': { zone: 'control', frame: adu(18, 1, requestPdu.writeRegister(3, 1)), reply: exception(18, 1, 6, 0x01), reason: 'zone', exception: 1, code: 'GLM_ERR_MODBUS_WRITE_DENIED', unit: 1, fc: 6, address: 3, quantity: 1, safety: false },
  'a write of coils 2..3 (safety valve writable, valve 2 not)': { zone: 'control', frame: adu(19, 1, requestPdu.writeCoils(2, [true, true])), reply: exception(19, 1, 15, 0x01), reason: 'zone', exception: 1, code: 'GLM_ERR_MODBUS_WRITE_DENIED', unit: 1, fc: 15, address: 2, quantity: 2, safety: true },
  'the bypass from control (writable from safety only)': { zone: 'control', frame: adu(20, 2, requestPdu.writeCoil(1, true)), reply: exception(20, 2, 5, 0x01), reason: 'zone', exception: 1, code: 'GLM_ERR_MODBUS_WRITE_DENIED', unit: 2, fc: 5, address: 1, quantity: 1, safety: true },
  'speed setpoint raw 1001 (range 0..1000)': { zone: 'control', frame: adu(21, 1, requestPdu.writeRegister(0, 1001)), reply: exception(21, 1, 6, 0x03), reason: 'sanity', exception: 3, code: 'GLM_ERR_MODBUS_VALUE_INVALID', unit: 1, fc: 6, address: 0, quantity: 1, safety: false },
  'trip setpoint raw 499 (range 500..4000)': { zone: 'control', frame: adu(22, 1, requestPdu.writeRegister(1, 499)), reply: exception(22, 1, 6, 0x03), reason: 'sanity', exception: 3, code: 'GLM_ERR_MODBUS_VALUE_INVALID', unit: 1, fc: 6, address: 1, quantity: 1, safety: true },
  'trip setpoint raw 4001 (range 500..4000)': { zone: 'control', frame: adu(23, 1, requestPdu.writeRegister(1, 4001)), reply: exception(23, 1, 6, 0x03), reason: 'sanity', exception: 3, code: 'GLM_ERR_MODBUS_VALUE_INVALID', unit: 1, fc: 6, address: 1, quantity: 1, safety: true },
  'registers 0..1 = 1000, 499 (second out of range)': { zone: 'control', frame: adu(24, 1, requestPdu.writeRegisters(0, [1000, 499])), reply: exception(24, 1, 16, 0x03), reason: 'sanity', exception: 3, code: 'GLM_ERR_MODBUS_VALUE_INVALID', unit: 1, fc: 16, address: 0, quantity: 2, safety: true },
};
for (const [name, r] of Object.entries(REFUSALS)) {
  test(`GIVEN ${name} WHEN inspected THEN exception ${r.exception} is answered, nothing forwarded, and the record says deny/${r.reason} with ${r.code}`, () => {
    let decided = 0;
    const { inspector, hooks, events, audited } = rig({ decide: () => { decided++; return { allow: true }; } });
    const s = inspector.session(r.zone, 0);
    s.feed(r.frame, 7, hooks);
    assert.deepEqual(events, [`reply ${r.reply}`]);
    assert.equal(s.inflight, 0);
    assert.equal(decided, 0, 'the write decision is not asked');
    const [record, ...rest] = audited();
    assert.deepEqual(rest, []);
    assert.deepEqual(record, {
      type: 'modbus.decision', time_ms: 7, zone: r.zone, connection: 1, peer: '', peer_port: 0, transaction: r.frame.readUInt16BE(0), unit: r.unit, function_code: r.fc,
      address: r.address, quantity: r.quantity, decision: 'deny', reason: r.reason, exception: r.exception, code: r.code, safety: r.safety,
    });
  });
}

test('GIVEN rules that let control use function 0x2B WHEN a 0x2B request passes the allow-list THEN decoding refuses it with exception 01 and GLM_ERR_MODBUS_FUNCTION_DENIED (deny/function)', () => {
  const functions = RULES.functions.map((f) => { const c = Uint8Array.from(f); c[0x2b] = 1; return c; });
  const { inspector, hooks, events, audited } = rig({ rules: { ...RULES, functions } });
  inspector.session('control', 0).feed(adu(30, 1, Buffer.from([0x2b, 0x0e, 0x01, 0x00])), 1, hooks);
  assert.deepEqual(events, [`reply ${exception(30, 1, 0x2b, 1)}`]);
  assert.deepEqual(audited().map((r) => [r.reason, r.exception, r.code, r.safety]), [['function', 1, 'GLM_ERR_MODBUS_FUNCTION_DENIED', false]]);
});

test('GIVEN holding table size 4 WHEN reading (3,1), (2,2), (3,2), (4,1) THEN the ranges inside are forwarded and the ones ending at 5 answered 02', () => {
  const { inspector, hooks, events } = rig();
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([read(1, 1, 3, 3, 1), read(2, 1, 3, 2, 2), read(3, 1, 3, 3, 2), read(4, 1, 3, 4, 1)]), 0, hooks);
  assert.deepEqual(events, ['forward 1', 'forward 2', `reply ${exception(3, 1, 3, 2)}`, `reply ${exception(4, 1, 3, 2)}`]);
});

test('GIVEN value ranges 0..1000 and 500..4000 WHEN writing raw 0, 1000, 500 and 4000 THEN each boundary value reaches the decision and is forwarded', () => {
  const seen: number[][] = [];
  const { inspector, hooks, events } = rig({ decide: (r) => { seen.push([...r.values]); return { allow: true }; } });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([adu(1, 1, requestPdu.writeRegister(0, 0)), adu(2, 1, requestPdu.writeRegister(0, 1000)), adu(3, 1, requestPdu.writeRegister(1, 500)), adu(4, 1, requestPdu.writeRegister(1, 4000)), adu(5, 1, requestPdu.writeRegister(2, 65535))]), 0, hooks);
  assert.deepEqual(events, ['forward 1', 'forward 2', 'forward 3', 'forward 4', 'forward 5']);
  assert.deepEqual(seen, [[0], [1000], [500], [4000], [65535]]);
});

// --- the write decision -------------------------------------------------------------------------------------------

test('GIVEN a write of registers 0..1 WHEN inspected THEN the decision gets zone, connection, unit, function, table, range, the map entries, raw values and safety, and an allow is forwarded as allow/policy', () => {
  const asked: WriteRequest[] = [];
  const { inspector, hooks, events, forwarded, audited } = rig({ decide: (r) => { asked.push(r); return { allow: true }; } });
  inspector.session('safety', 0);
  const s = inspector.session('control', 0);
  const frame = adu(40, 1, requestPdu.writeRegisters(0, [250, 1500]));
  s.feed(frame, 3, hooks);
  assert.deepEqual(asked, [{ zone: 'control', connectionId: 2, unitId: 1, functionCode: 16, table: 'holding', address: 0, quantity: 2, signals: [at('pump_1.speed_setpoint'), at('tank_1.trip_setpoint')], values: [250, 1500], safety: true }]);
  assert.deepEqual(events, ['forward 40']);
  assert.equal(forwarded[0]?.adu.toString('hex'), frame.toString('hex'));
  assert.equal(s.inflight, 1);
  assert.deepEqual(audited().map((r) => [r.connection, r.decision, r.reason, r.exception, r.code, r.safety, r.address, r.quantity]), [[2, 'allow', 'policy', 0, null, true, 0, 2]]);
});

test('GIVEN writes of coils 1..2, coil 0 on and coil 0 off WHEN inspected THEN the decision sees the coil entries, values 1/0 and safety only where a safety coil is written', () => {
  const asked: WriteRequest[] = [];
  const { inspector, hooks, events } = rig({ decide: (r) => { asked.push(r); return { allow: true }; } });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([adu(1, 1, requestPdu.writeCoils(1, [false, true])), adu(2, 1, requestPdu.writeCoil(0, true)), adu(3, 1, requestPdu.writeCoil(0, false))]), 0, hooks);
  assert.deepEqual(events, ['forward 1', 'forward 2', 'forward 3']);
  assert.deepEqual(asked.map((r) => [r.table, r.address, r.signals.map((e) => e.id), r.values, r.safety]), [
    ['coil', 1, ['pump_2.run', 'valve_1.open'], [0, 1], true],
    ['coil', 0, ['pump_1.run'], [1], false],
    ['coil', 0, ['pump_1.run'], [0], false],
  ]);
});

test('GIVEN a decision that refuses by policy, by interlock, or throws WHEN a write is inspected THEN exception 01 GLM_ERR_MODBUS_POLICY_DENIED is answered (deny/policy, deny/interlock, deny/policy) and nothing forwarded', () => {
  const verdicts: (() => ReturnType<WriteDecider>)[] = [
    () => ({ allow: false, reason: 'no', by: 'policy' }),
    () => ({ allow: false, reason: 'IL-01', by: 'interlock' }),
    () => { throw new Error('decision point down'); },
    () => ({ allow: false }),
  ];
  let i = 0;
  const { inspector, hooks, events, audited } = rig({ decide: () => (verdicts[i++] as () => ReturnType<WriteDecider>)() });
  const s = inspector.session('control', 0);
  for (let tx = 1; tx <= 4; tx++) s.feed(adu(tx, 2, requestPdu.writeCoil(0, true)), tx, hooks);
  assert.deepEqual(events, [1, 2, 3, 4].map((tx) => `reply ${exception(tx, 2, 5, 1)}`));
  assert.equal(s.inflight, 0);
  assert.deepEqual(audited().map((r) => [r.decision, r.reason, r.exception, r.code, r.safety]), [
    ['deny', 'policy', 1, 'GLM_ERR_MODBUS_POLICY_DENIED', true], ['deny', 'interlock', 1, 'GLM_ERR_MODBUS_POLICY_DENIED', true],
    ['deny', 'policy', 1, 'GLM_ERR_MODBUS_POLICY_DENIED', true], ['deny', 'policy', 1, 'GLM_ERR_MODBUS_POLICY_DENIED', true],
  ]);
});

test('GIVEN no decision configured WHEN control writes the emergency stop and the pump THEN the safety write is refused (denySafetyWrites) and the process write forwarded', () => {
  const { inspector, hooks, events } = rig();
  inspector.session('control', 0).feed(Buffer.concat([adu(1, 2, requestPdu.writeCoil(0, true)), adu(2, 1, requestPdu.writeCoil(0, true))]), 0, hooks);
  assert.deepEqual(events, [`reply ${exception(1, 2, 5, 1)}`, 'forward 2']);
});

// --- read policy --------------------------------------------------------------------------------------------------

test('GIVEN a read policy WHEN an allowed read is inspected THEN the policy gets zone, unit, function, address, quantity and the read is forwarded as allow/policy', () => {
  const policy = new RangePolicy(() => true);
  const { inspector, hooks, events, audited } = rig({ readPolicy: policy });
  inspector.session('control', 0).feed(read(1, 1, 4, 1, 3), 0, hooks);
  assert.deepEqual(policy.asked, [{ zone: 'control', unitId: 1, functionCode: 4, address: 1, quantity: 3 }]);
  assert.deepEqual(events, ['forward 1']);
  assert.deepEqual(audited().map((r) => [r.decision, r.reason, r.safety]), [['allow', 'policy', false]]);
});

test('GIVEN a read policy that refuses WHEN input 0..1 (plain), 1..2 and 2..3 (safety at 2) are read THEN each gets 02 GLM_ERR_MODBUS_ADDRESS_DENIED as deny/policy, flagged safety only when the range holds input 2', () => {
  const { inspector, hooks, events, audited } = rig({ readPolicy: new RangePolicy(() => false) });
  inspector.session('control', 0).feed(Buffer.concat([read(1, 1, 4, 0, 2), read(2, 1, 4, 1, 2), read(3, 1, 4, 2, 2), read(4, 1, 4, 3, 1)]), 0, hooks);
  assert.deepEqual(events, [1, 2, 3, 4].map((tx) => `reply ${exception(tx, 1, 4, 2)}`));
  assert.deepEqual(audited().map((r) => [r.address, r.quantity, r.decision, r.reason, r.exception, r.code, r.safety]), [
    [0, 2, 'deny', 'policy', 2, 'GLM_ERR_MODBUS_ADDRESS_DENIED', false], [1, 2, 'deny', 'policy', 2, 'GLM_ERR_MODBUS_ADDRESS_DENIED', true],
    [2, 2, 'deny', 'policy', 2, 'GLM_ERR_MODBUS_ADDRESS_DENIED', true], [3, 1, 'deny', 'policy', 2, 'GLM_ERR_MODBUS_ADDRESS_DENIED', false],
  ]);
});

test('GIVEN a read policy WHEN the same range is read twice and neighbouring ranges once THEN it is asked once per (zone, unit, function, address, quantity) and the cached answer is applied', () => {
  const policy = new RangePolicy((r) => r.address !== 1);
  const { inspector, hooks, events } = rig({ readPolicy: policy });
  const c = inspector.session('control', 0);
  const o = inspector.session('operations', 0);
  c.feed(Buffer.concat([read(1, 1, 4, 0, 1), read(2, 1, 4, 0, 1), read(3, 1, 4, 1, 1), read(4, 1, 4, 1, 1), read(5, 1, 4, 0, 2), read(6, 1, 3, 0, 1), read(7, 2, 1, 0, 1)]), 0, hooks);
  o.feed(read(8, 1, 4, 0, 1), 0, hooks);
  assert.deepEqual(events, ['forward 1', 'forward 2', `reply ${exception(3, 1, 4, 2)}`, `reply ${exception(4, 1, 4, 2)}`, 'forward 5', 'forward 6', 'forward 7', 'forward 8']);
  assert.deepEqual(policy.asked.map((r) => [r.zone, r.unitId, r.functionCode, r.address, r.quantity]), [
    ['control', 1, 4, 0, 1], ['control', 1, 4, 1, 1], ['control', 1, 4, 0, 2], ['control', 1, 3, 0, 1], ['control', 2, 1, 0, 1], ['operations', 1, 4, 0, 1],
  ]);
});

test('GIVEN cached read answers WHEN the policy version changes THEN every range is asked again and the new answer applies (operations and control, functions 3 and 4)', () => {
  let allow = true;
  const policy = new RangePolicy(() => allow);
  const { inspector, hooks, events } = rig({ readPolicy: policy });
  const o = inspector.session('operations', 0);
  const c = inspector.session('control', 0);
  const round = (tx: number) => { o.feed(read(tx, 1, 4, 0, 1), 0, hooks); c.feed(read(tx + 1, 1, 4, 0, 1), 0, hooks); c.feed(read(tx + 2, 1, 3, 0, 1), 0, hooks); };
  round(1);
  assert.deepEqual(take(events), ['forward 1', 'forward 2', 'forward 3']);
  allow = false; policy.version = 2;
  round(11);
  assert.deepEqual(take(events), [11, 12, 13].map((tx) => `reply ${exception(tx, 1, tx === 13 ? 3 : 4, 2)}`));
  round(21);
  assert.deepEqual(take(events), [21, 22, 23].map((tx) => `reply ${exception(tx, 1, tx === 23 ? 3 : 4, 2)}`));
  assert.equal(policy.asked.length, 6, 'three ranges asked under each version, none twice under one');
});

test('GIVEN input 2048 exists WHEN (address 0, quantity 2) is allowed and (2048, 1) refused THEN both answers apply: the cache keys do not collide', () => {
  const policy = new RangePolicy((r) => r.address === 0);
  const { inspector, hooks, events } = rig({ readPolicy: policy });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([read(1, 1, 4, 0, 2), read(2, 1, 4, 2048, 1), read(3, 1, 4, 0, 2), read(4, 1, 4, 2048, 1)]), 0, hooks);
  assert.deepEqual(events, ['forward 1', `reply ${exception(2, 1, 4, 2)}`, 'forward 3', `reply ${exception(4, 1, 4, 2)}`]);
  assert.equal(policy.asked.length, 2);
});

test('GIVEN a read policy that throws WHEN reads arrive THEN each is refused with 02 (fail closed), asked again every time, and logged at most once per 10 s with the count refused since the last line', () => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  try {
    const policy = new RangePolicy(() => { throw new Error('cedar down'); });
    const { logger, lines } = captureLogger();
    const { inspector, hooks, events, audited } = rig({ readPolicy: policy, logger });
    const s = inspector.session('control', 0);
    s.feed(read(1, 1, 4, 0, 1), 0, hooks);
    mock.timers.tick(9_999);
    s.feed(read(2, 1, 4, 0, 1), 0, hooks);
    s.feed(read(3, 2, 1, 1, 1), 0, hooks);
    mock.timers.tick(1);
    s.feed(read(4, 1, 4, 0, 1), 0, hooks);
    assert.deepEqual(events, [`reply ${exception(1, 1, 4, 2)}`, `reply ${exception(2, 1, 4, 2)}`, `reply ${exception(3, 2, 1, 2)}`, `reply ${exception(4, 1, 4, 2)}`]);
    assert.equal(policy.asked.length, 4);
    assert.deepEqual(audited().map((r) => [r.reason, r.code, r.safety]), [['policy', 'GLM_ERR_MODBUS_ADDRESS_DENIED', false], ['policy', 'GLM_ERR_MODBUS_ADDRESS_DENIED', false], ['policy', 'GLM_ERR_MODBUS_ADDRESS_DENIED', true], ['policy', 'GLM_ERR_MODBUS_ADDRESS_DENIED', false]]);
    assert.deepEqual(lines.map((l) => [l.level, l.msg, l.err, l.zone, l.unit, l.refused]), [
      [50, 'read policy failed: reads refused', 'cedar down', 'control', 1, 1],
      [50, 'read policy failed: reads refused', 'cedar down', 'control', 1, 3],
    ]);
  } finally {
    mock.timers.reset();
  }
});

test('GIVEN a read policy that throws and no logger WHEN a read arrives THEN it is refused with 02 without an error escaping', () => {
  const { inspector, hooks, events } = rig({ readPolicy: new RangePolicy(() => { throw new Error('down'); }) });
  inspector.session('control', 0).feed(read(1, 1, 3, 0, 1), 0, hooks);
  assert.deepEqual(events, [`reply ${exception(1, 1, 3, 2)}`]);
});

test('GIVEN 65,536 cached read answers WHEN one more range is asked THEN the cache is dropped and refilled (the first range is asked again), and not before', () => {
  const policy = new RangePolicy(() => true);
  let forwards = 0;
  const hooks: SessionHooks = { forward: (s) => { forwards++; s.settled(0, hooks); }, reply: () => undefined, close: () => undefined, pause: () => undefined, resume: () => undefined };
  const inspector = new Inspector({ rules: RULES, readPolicy: policy, audit: () => undefined, limits: { burst: 1e9, ratePerSecond: 1e9 } });
  const s = inspector.session('control', 0);
  // Distinct ranges of input registers (table size 2049): quantity 1..125 at addresses 0..524 = 65,625 ranges.
  const ranges: [number, number][] = [];
  for (let a = 0; ranges.length < 65_537; a++) for (let q = 1; q <= 125 && ranges.length < 65_537; q++) ranges.push([a, q]);
  const frames = (list: [number, number][]) => Buffer.concat(list.map(([a, q]) => read(1, 1, 4, a, q)));
  s.feed(frames(ranges.slice(0, 65_536)), 0, hooks);
  assert.equal(policy.asked.length, 65_536);
  s.feed(frames([ranges[0] as [number, number], ranges[65_535] as [number, number]]), 0, hooks);
  assert.equal(policy.asked.length, 65_536, 'all 65,536 answers still cached');
  s.feed(frames([ranges[65_536] as [number, number], ranges[0] as [number, number], ranges[65_536] as [number, number]]), 0, hooks);
  assert.deepEqual(policy.asked.slice(65_536).map((r) => [r.address, r.quantity]), [ranges[65_536], ranges[0]]);
  assert.equal(forwards, 65_541);
});

// --- rate limit ---------------------------------------------------------------------------------------------------

test('GIVEN burst 2 and 1000 requests/s WHEN 3 reads arrive at t=0 and more at t=1 and t=1.5 THEN the third gets 06 GLM_ERR_MODBUS_RATE_LIMITED, one token comes back per millisecond, and half a token is not enough', () => {
  const { inspector, hooks, events, audited } = rig({ limits: { burst: 2, ratePerSecond: 1000 } });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([read(1, 2, 1, 0, 1), read(2, 2, 1, 0, 1), read(3, 2, 1, 0, 1)]), 0, hooks);
  assert.deepEqual(take(events), ['forward 1', 'forward 2', `reply ${exception(3, 2, 1, 6)}`]);
  s.feed(Buffer.concat([read(4, 1, 3, 0, 1), read(5, 1, 3, 0, 1)]), 1, hooks);
  assert.deepEqual(take(events), ['forward 4', `reply ${exception(5, 1, 3, 6)}`]);
  s.feed(read(6, 1, 3, 0, 1), 1.5, hooks);
  assert.deepEqual(take(events), [`reply ${exception(6, 1, 3, 6)}`]);
  s.feed(read(7, 1, 3, 0, 1), 2, hooks);
  assert.deepEqual(take(events), ['forward 7']);
  s.feed(Buffer.concat([read(8, 1, 3, 0, 1), read(9, 1, 3, 0, 1), read(10, 1, 3, 0, 1)]), 1000, hooks);
  assert.deepEqual(take(events), ['forward 8', 'forward 9', `reply ${exception(10, 1, 3, 6)}`], 'a long pause refills to the burst, not beyond');
  const records = audited();
  assert.deepEqual(records.filter((r) => r.reason === 'rate_limit').map((r) => [r.transaction, r.unit, r.function_code, r.address, r.quantity, r.exception, r.code, r.safety]), [
    [3, 2, 1, 0, 0, 6, 'GLM_ERR_MODBUS_RATE_LIMITED', false], [5, 1, 3, 0, 0, 6, 'GLM_ERR_MODBUS_RATE_LIMITED', false],
    [6, 1, 3, 0, 0, 6, 'GLM_ERR_MODBUS_RATE_LIMITED', false], [10, 1, 3, 0, 0, 6, 'GLM_ERR_MODBUS_RATE_LIMITED', false],
  ]);
});

test('GIVEN burst 2 and 1000 requests/s with one token spent at t=0 WHEN 3 reads arrive at t=10 THEN 2 pass and the third gets 06: the bucket never holds more than its size', () => {
  const { inspector, hooks, events } = rig({ limits: { burst: 2, ratePerSecond: 1000 } });
  const s = inspector.session('control', 0);
  s.feed(read(1, 1, 3, 0, 1), 0, hooks);
  s.feed(Buffer.concat([read(2, 1, 3, 0, 1), read(3, 1, 3, 0, 1), read(4, 1, 3, 0, 1)]), 10, hooks);
  assert.deepEqual(events, ['forward 1', 'forward 2', 'forward 3', `reply ${exception(4, 1, 3, 6)}`]);
});

test('GIVEN burst 2 with one token left at t=100 WHEN the clock steps back to t=50 THEN the token left still serves a read and no time is credited until the clock passes t=100 again', () => {
  const { inspector, hooks, events } = rig({ limits: { burst: 2, ratePerSecond: 1000 } });
  const s = inspector.session('control', 100);
  s.feed(read(1, 1, 3, 0, 1), 100, hooks);
  s.feed(Buffer.concat([read(2, 1, 3, 0, 1), read(3, 1, 3, 0, 1)]), 50, hooks);
  assert.deepEqual(take(events), ['forward 1', 'forward 2', `reply ${exception(3, 1, 3, 6)}`]);
  s.feed(Buffer.concat([read(4, 1, 3, 0, 1), read(5, 1, 3, 0, 1)]), 101, hooks);
  assert.deepEqual(take(events), ['forward 4', `reply ${exception(5, 1, 3, 6)}`]);
});

// --- framing ------------------------------------------------------------------------------------------------------

test('GIVEN a protocol id of 1, an MBAP length of 1, or of 255 WHEN fed THEN the session closes with GLM_ERR_MODBUS_FRAME_MALFORMED, _MALFORMED, _OVERSIZE, audited deny/malformed, and later bytes are ignored', () => {
  const bad = [Buffer.from([0, 1, 0, 1, 0, 6, 1, 3]), Buffer.from([0, 1, 0, 0, 0, 1, 1]), Buffer.from([0, 1, 0, 0, 0, 255, 1, 3])];
  const codes = ['GLM_ERR_MODBUS_FRAME_MALFORMED', 'GLM_ERR_MODBUS_FRAME_MALFORMED', 'GLM_ERR_MODBUS_FRAME_OVERSIZE'];
  bad.forEach((frame, i) => {
    const { inspector, hooks, events, audited } = rig();
    const s = inspector.session('control', 0);
    s.feed(Buffer.from([0, 9, 0]), 5, hooks);
    assert.equal(s.hasPartialFrame(), true);
    s.feed(Buffer.concat([read(9, 1, 3, 0, 1).subarray(3), frame, read(2, 1, 3, 0, 1)]), 10, hooks);
    assert.deepEqual(events, ['forward 9', `close ${codes[i]}`]);
    assert.deepEqual([s.closed, s.pendingBytes, s.hasPartialFrame()], [true, 0, false]);
    s.feed(read(3, 1, 3, 0, 1), 20, hooks);
    s.fail(21, 'GLM_ERR_MODBUS_CLIENT_TIMEOUT', hooks);
    assert.deepEqual(events, ['forward 9', `close ${codes[i]}`], 'a closed session neither inspects nor closes again');
    assert.deepEqual(audited().slice(1), [{
      type: 'modbus.decision', time_ms: 10, zone: 'control', connection: 1, peer: '', peer_port: 0, transaction: 0, unit: 0, function_code: 0,
      address: 0, quantity: 0, decision: 'deny', reason: 'malformed', exception: 0, code: codes[i], safety: false,
    }]);
  });
});

test('GIVEN a session WHEN it fails for a client timeout or a full write buffer THEN the close is audited as deny/slow_client with that code', () => {
  const { inspector, hooks, events, audited } = rig();
  const a = inspector.session('control', 0);
  const b = inspector.session('safety', 0);
  a.fail(30, 'GLM_ERR_MODBUS_CLIENT_TIMEOUT', hooks);
  b.fail(31, 'GLM_ERR_MODBUS_BUFFER_OVERFLOW', hooks);
  assert.deepEqual(events, ['close GLM_ERR_MODBUS_CLIENT_TIMEOUT', 'close GLM_ERR_MODBUS_BUFFER_OVERFLOW']);
  assert.deepEqual(audited().map((r) => [r.time_ms, r.zone, r.connection, r.decision, r.reason, r.code, r.safety]), [[30, 'control', 1, 'deny', 'slow_client', 'GLM_ERR_MODBUS_CLIENT_TIMEOUT', false], [31, 'safety', 2, 'deny', 'slow_client', 'GLM_ERR_MODBUS_BUFFER_OVERFLOW', false]]);
});

test('GIVEN a reply hook that closes the session (as a transport with a full write buffer does) WHEN two refused frames arrive in one chunk THEN the second is not inspected', () => {
  const { inspector, hooks, events, audited } = rig({ hooks: { reply: (s) => s.fail(0, 'GLM_ERR_MODBUS_BUFFER_OVERFLOW', hooks) } });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([read(1, 9, 3, 0, 1), read(2, 9, 3, 0, 1)]), 0, hooks);
  assert.deepEqual(events, [`reply ${exception(1, 9, 3, 0x0a)}`, 'close GLM_ERR_MODBUS_BUFFER_OVERFLOW']);
  assert.equal(audited().length, 2);
});

test('GIVEN a read ADU fed one byte at a time WHEN the last byte arrives THEN it is forwarded once, and before that the session holds the bytes, has not spoken and has a partial frame since the first byte', () => {
  const { inspector, hooks, events } = rig();
  const s = inspector.session('control', 0);
  const frame = read(0x0102, 1, 3, 0, 1);
  for (let i = 0; i < frame.length - 1; i++) {
    s.feed(frame.subarray(i, i + 1), 100 + i, hooks);
    assert.deepEqual([s.pendingBytes, s.spoke, s.hasPartialFrame(), s.partialSince], [i + 1, false, true, 100], `after byte ${i + 1}`);
  }
  assert.deepEqual(events, []);
  s.feed(frame.subarray(frame.length - 1), 200, hooks);
  assert.deepEqual(events, ['forward 258']);
  assert.deepEqual([s.pendingBytes, s.spoke, s.hasPartialFrame(), s.partialSince], [0, true, false, 0]);
  s.feed(Buffer.alloc(0), 201, hooks);
  assert.deepEqual([s.pendingBytes, s.hasPartialFrame(), events.length], [0, false, 1]);
});

test('GIVEN a partial frame begun at t=100 WHEN more of it arrives at t=200, then its end with 3 bytes of the next frame at t=300 THEN the slow-client clock stays at 100 and restarts at 300', () => {
  const { inspector, hooks, events } = rig();
  const s = inspector.session('control', 0);
  const f1 = read(1, 1, 3, 0, 1); const f2 = read(2, 1, 3, 1, 1);
  s.feed(f1.subarray(0, 3), 100, hooks);
  assert.equal(s.partialSince, 100);
  s.feed(f1.subarray(3, 5), 200, hooks);
  assert.equal(s.partialSince, 100);
  s.feed(Buffer.concat([f1.subarray(5), f2.subarray(0, 3)]), 300, hooks);
  assert.deepEqual([events, s.partialSince, s.pendingBytes, s.hasPartialFrame()], [['forward 1'], 300, 3, true]);
  s.feed(f2.subarray(3), 400, hooks);
  assert.deepEqual([events, s.partialSince, s.hasPartialFrame()], [['forward 1', 'forward 2'], 0, false]);
});

test('GIVEN 30 pipelined reads followed by 5 bytes of the next WHEN fed as one chunk THEN all 30 are forwarded in order and the 5 bytes wait as a partial frame', () => {
  const { inspector, hooks, events } = rig();
  const s = inspector.session('control', 0);
  const frames = Array.from({ length: 30 }, (_, i) => read(i + 1, 1, 3, 0, 1));
  s.feed(Buffer.concat([...frames, read(31, 1, 3, 0, 1).subarray(0, 5)]), 50, hooks);
  assert.deepEqual(events, frames.map((_, i) => `forward ${i + 1}`));
  assert.deepEqual([s.closed, s.pendingBytes, s.partialSince, s.inflight], [false, 5, 50, 30]);
});

// --- inflight bound: pause and resume -----------------------------------------------------------------------------

test('GIVEN an inflight bound of 2 WHEN exactly 2 reads arrive THEN both are forwarded without pausing; WHEN a third arrives THEN it is held and reading pauses once', () => {
  const { inspector, hooks, events } = rig({ limits: { maxInflightPerClient: 2 } });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([read(1, 1, 3, 0, 1), read(2, 1, 3, 0, 1)]), 0, hooks);
  assert.deepEqual(take(events), ['forward 1', 'forward 2']);
  assert.equal(s.paused, false);
  const third = read(3, 1, 3, 0, 1);
  s.feed(third, 1, hooks);
  assert.deepEqual(take(events), ['pause']);
  assert.deepEqual([s.paused, s.pendingBytes, s.hasPartialFrame(), s.partialSince], [true, third.length, false, 0], 'complete frames held back are not a slow client');
  s.feed(read(4, 1, 3, 0, 1), 2, hooks);
  assert.deepEqual(take(events), [], 'already paused: no second pause');
  assert.equal(s.pendingBytes, 2 * third.length);
});

test('GIVEN an inflight bound of 1 WHEN 25 reads arrive in one chunk THEN the 24 held back (288 bytes, more than one 260-byte ADU) wait without closing the connection: only a partial frame is bounded by one ADU', () => {
  const { inspector, hooks, events } = rig({ limits: { maxInflightPerClient: 1 } });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat(Array.from({ length: 25 }, (_, i) => read(i + 1, 1, 3, 0, 1))), 0, hooks);
  assert.deepEqual([events, s.closed, s.pendingBytes], [['forward 1', 'pause'], false, 288]);
});

test('GIVEN an inflight bound of 4 paused with 2 reads held WHEN answers settle THEN reading resumes only at 2 in flight (half), after the held reads are inspected', () => {
  const { inspector, hooks, events } = rig({ limits: { maxInflightPerClient: 4 } });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat(Array.from({ length: 6 }, (_, i) => read(i + 1, 1, 3, 0, 1))), 0, hooks);
  assert.deepEqual(take(events), ['forward 1', 'forward 2', 'forward 3', 'forward 4', 'pause']);
  s.settled(1, hooks);
  assert.deepEqual([take(events), s.inflight, s.paused], [[], 3, true]);
  s.settled(2, hooks);
  assert.deepEqual([take(events), s.inflight, s.paused], [['forward 5', 'forward 6', 'resume'], 4, false]);
  s.settled(3, hooks); s.settled(3, hooks);
  assert.deepEqual([take(events), s.inflight], [[], 2], 'not paused: settling resumes nothing');
});

test('GIVEN an inflight bound of 2 paused with 3 reads held WHEN half settles THEN one held read goes out, the bound is reached again, and reading stays paused (pause again, no resume)', () => {
  const { inspector, hooks, events } = rig({ limits: { maxInflightPerClient: 2 } });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat(Array.from({ length: 5 }, (_, i) => read(i + 1, 1, 3, 0, 1))), 0, hooks);
  assert.deepEqual(take(events), ['forward 1', 'forward 2', 'pause']);
  s.settled(1, hooks);
  assert.deepEqual([take(events), s.paused, s.inflight], [['forward 3', 'pause'], true, 2]);
});

test('GIVEN an inflight bound of 1 paused with a malformed frame held WHEN the answer settles THEN the held frame closes the session and reading does not resume', () => {
  const { inspector, hooks, events } = rig({ limits: { maxInflightPerClient: 1 } });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([read(1, 1, 3, 0, 1), Buffer.from([0, 2, 0, 7, 0, 6, 1, 3, 0, 0, 0, 1])]), 0, hooks);
  assert.deepEqual(take(events), ['forward 1', 'pause']);
  s.settled(1, hooks);
  assert.deepEqual(take(events), ['close GLM_ERR_MODBUS_FRAME_MALFORMED']);
});

test('GIVEN an inflight bound of 4, paused with a refused frame held and 3 in flight WHEN the socket delivers another chunk THEN the held frames are inspected and reading resumes; at 4 in flight it stays paused', () => {
  const { inspector, hooks, events } = rig({ limits: { maxInflightPerClient: 4 } });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([...Array.from({ length: 4 }, (_, i) => read(i + 1, 1, 3, 0, 1)), read(5, 9, 3, 0, 1)]), 0, hooks);
  assert.deepEqual(take(events), ['forward 1', 'forward 2', 'forward 3', 'forward 4', 'pause']);
  s.settled(1, hooks);
  assert.deepEqual([take(events), s.inflight, s.paused], [[], 3, true]);
  s.feed(read(6, 9, 3, 0, 1), 2, hooks);
  assert.deepEqual([take(events), s.paused], [[`reply ${exception(5, 9, 3, 0x0a)}`, `reply ${exception(6, 9, 3, 0x0a)}`, 'resume'], false]);
  // Paused again at the bound, with one in flight answered (3) and a chunk that brings it back to 4.
  s.feed(Buffer.concat([read(7, 1, 3, 0, 1), read(8, 1, 3, 0, 1)]), 3, hooks);
  assert.deepEqual(take(events), ['forward 7', 'pause']);
  s.settled(4, hooks);
  s.feed(Buffer.alloc(0), 5, hooks);
  assert.deepEqual([take(events), s.inflight, s.paused], [['forward 8'], 4, true]);
});

test('GIVEN a partial frame since t=100 completed at t=150 with 3 bytes of the next, filling the inflight bound of 1 WHEN paused THEN no partial frame is timed (the gateway is not reading); after the answer at t=3000 the clock runs from 3000', () => {
  const { inspector, hooks, events } = rig({ limits: { maxInflightPerClient: 1 } });
  const s = inspector.session('control', 0);
  const a = read(1, 1, 3, 0, 1); const b = read(2, 1, 3, 0, 1);
  s.feed(a.subarray(0, 3), 100, hooks);
  assert.equal(s.partialSince, 100);
  s.feed(Buffer.concat([a.subarray(3), b.subarray(0, 3)]), 150, hooks);
  assert.deepEqual([take(events), s.paused, s.pendingBytes, s.hasPartialFrame()], [['forward 1', 'pause'], true, 3, false]);
  s.settled(3000, hooks);
  assert.deepEqual([take(events), s.paused, s.hasPartialFrame(), s.partialSince], [['resume'], false, true, 3000]);
});

// --- write-ahead evidence -----------------------------------------------------------------------------------------

test('GIVEN write-ahead evidence WHEN an allowed write is followed by a read in one chunk THEN reading pauses, the read waits, and once the record is durable the write goes out, reading resumes and the read follows', async () => {
  const log = evidenceLog();
  const { inspector, hooks, events, forwarded, audited } = rig({ evidence: log.evidence, decide: () => ({ allow: true }) });
  const s = inspector.session('control', 0);
  s.peer = '10.1.1.1';
  const write = adu(1, 1, requestPdu.writeRegister(0, 500));
  s.feed(Buffer.concat([read(9, 1, 3, 0, 1).subarray(0, 4)]), 0, hooks);
  s.feed(Buffer.concat([read(9, 1, 3, 0, 1).subarray(4), write, read(2, 1, 3, 0, 1)]), 10, hooks);
  assert.deepEqual(take(events), ['forward 9', 'pause']);
  assert.deepEqual([s.holding, s.inflight, s.pendingBytes, s.hasPartialFrame()], [true, 2, 12, false]);
  assert.equal(log.pending.length, 1);
  assert.deepEqual(log.pending[0]?.record, {
    type: 'modbus.decision', time_ms: 10, zone: 'control', connection: 1, peer: '10.1.1.1', peer_port: 0, transaction: 1, unit: 1, function_code: 6,
    address: 0, quantity: 1, decision: 'allow', reason: 'policy', exception: 0, code: null, safety: false,
  });
  assert.deepEqual(audited().map((r) => r.transaction), [9], 'the write record goes to the evidence, not the batch');
  s.feed(read(3, 1, 3, 0, 1), 11, hooks);
  assert.deepEqual([take(events), s.pendingBytes], [[], 24], 'later chunks wait behind the write too');
  log.pending[0]?.resolve();
  await settle();
  assert.deepEqual(take(events), ['forward 1', 'resume', 'forward 2', 'forward 3']);
  assert.equal(forwarded[1]?.adu.toString('hex'), write.toString('hex'));
  assert.deepEqual(forwarded[1]?.request, { transactionId: 1, unitId: 1, functionCode: 6, table: TABLE.HOLDING, write: true, address: 0, quantity: 1, valueOffset: forwarded[1]?.request.valueOffset, valueBytes: 2 });
  assert.deepEqual([s.holding, s.inflight], [false, 4]);
});

test('GIVEN write-ahead evidence WHEN the write is the second frame of a chunk THEN the bytes forwarded after the commit are exactly that write', async () => {
  const log = evidenceLog();
  const { inspector, hooks, forwarded } = rig({ evidence: log.evidence, decide: () => ({ allow: true }) });
  const write = adu(2, 1, requestPdu.writeRegisters(0, [100, 600]));
  inspector.session('control', 0).feed(Buffer.concat([read(1, 1, 3, 0, 1), write]), 0, hooks);
  log.pending[0]?.resolve();
  await settle();
  assert.deepEqual(forwarded.map((f) => f.adu.toString('hex')), [read(1, 1, 3, 0, 1).toString('hex'), write.toString('hex')]);
});

test('GIVEN an audit log that cannot commit WHEN a setpoint write arrives THEN it is refused with 04 GLM_ERR_MODBUS_AUDIT_UNAVAILABLE (deny/audit) without trying to commit', () => {
  const log = evidenceLog({ committing: false });
  const { inspector, hooks, events, audited } = rig({ evidence: log.evidence, decide: () => ({ allow: true }) });
  const s = inspector.session('control', 0);
  s.feed(adu(5, 1, requestPdu.writeRegister(1, 600)), 3, hooks);
  assert.deepEqual(events, [`reply ${exception(5, 1, 6, 4)}`]);
  assert.deepEqual([log.pending.length, s.inflight, s.holding], [0, 0, false]);
  assert.deepEqual(audited().map((r) => [r.decision, r.reason, r.exception, r.code, r.safety]), [['deny', 'audit', 4, 'GLM_ERR_MODBUS_AUDIT_UNAVAILABLE', true]]);
});

test('GIVEN an audit budget WHEN a client address over it writes THEN the write is refused with 06 GLM_ERR_MODBUS_RATE_LIMITED (deny/rate_limit); an address within it goes to the commit', () => {
  const log = evidenceLog({ admit: (peer) => peer === '10.0.0.1' });
  const { inspector, hooks, events, audited } = rig({ evidence: log.evidence, decide: () => ({ allow: true }) });
  const over = inspector.session('control', 0); over.peer = '10.0.0.2';
  over.feed(adu(6, 1, requestPdu.writeCoil(1, true)), 0, hooks);
  assert.deepEqual(take(events), [`reply ${exception(6, 1, 5, 6)}`]);
  assert.deepEqual(audited().map((r) => [r.reason, r.exception, r.code, r.safety]), [['rate_limit', 6, 'GLM_ERR_MODBUS_RATE_LIMITED', false]]);
  const within = inspector.session('control', 0); within.peer = '10.0.0.1';
  within.feed(adu(7, 1, requestPdu.writeCoil(1, true)), 0, hooks);
  assert.deepEqual([take(events), log.pending.length, log.state.admitted], [['pause'], 1, ['10.0.0.2', '10.0.0.1']]);
});

test('GIVEN evidence without an audit budget WHEN a write arrives THEN it goes to the commit', () => {
  const log = evidenceLog();
  const { inspector, hooks, events } = rig({ evidence: log.evidence, decide: () => ({ allow: true }) });
  inspector.session('control', 0).feed(adu(1, 1, requestPdu.writeCoil(1, true)), 0, hooks);
  assert.deepEqual([events, log.pending.length], [['pause'], 1]);
});

test('GIVEN an audit log that cannot commit and is over budget WHEN the emergency stop is tripped or pumps stopped THEN those writes still go to the commit (fail-safe direction), but starting a pump does not', () => {
  const log = evidenceLog({ committing: false, admit: () => false });
  const { inspector, hooks, events } = rig({ evidence: log.evidence, decide: () => ({ allow: true }) });
  const s = inspector.session('control', 0);
  s.feed(adu(1, 2, requestPdu.writeCoil(0, true)), 0, hooks);
  assert.deepEqual([take(events), log.pending.map((p) => [p.record.transaction, p.record.safety])], [['pause'], [[1, true]]]);
  const t = inspector.session('control', 0);
  t.feed(adu(2, 1, requestPdu.writeCoils(0, [false, false])), 0, hooks);
  assert.deepEqual([take(events), log.pending.length], [['pause'], 2]);
  const u = inspector.session('control', 0);
  u.feed(adu(3, 1, requestPdu.writeCoil(0, true)), 0, hooks);
  assert.deepEqual([take(events), log.pending.length, log.state.admitted], [[`reply ${exception(3, 1, 5, 4)}`], 2, []]);
});

test('GIVEN a commit that fails WHEN the write trips the emergency stop THEN it is forwarded anyway and the missing record logged; WHEN it sets a setpoint THEN 04 is answered, audited deny/audit, and the inflight slot freed', async () => {
  const log = evidenceLog();
  const { logger, lines } = captureLogger();
  const { inspector, hooks, events, audited } = rig({ evidence: log.evidence, decide: () => ({ allow: true }), logger });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([adu(1, 2, requestPdu.writeCoil(0, true)), read(2, 1, 3, 0, 1)]), 0, hooks);
  log.pending[0]?.reject(new Error('disk full'));
  await settle();
  assert.deepEqual(take(events), ['pause', 'forward 1', 'resume', 'forward 2']);
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.zone, l.unit, l.address]), [[50, 'fail-safe write forwarded without a durable audit record: the audit log cannot commit', 'control', 2, 0]]);
  assert.deepEqual(audited().map((r) => r.transaction), [2]);
  assert.equal(s.inflight, 2);

  const t = inspector.session('control', 0);
  const before = Date.now();
  t.feed(Buffer.concat([adu(3, 1, requestPdu.writeRegister(1, 700)), read(4, 1, 3, 0, 1)]), 0, hooks);
  log.pending[1]?.reject(new Error('disk full'));
  await settle();
  assert.deepEqual(take(events), ['pause', `reply ${exception(3, 1, 6, 4)}`, 'resume', 'forward 4']);
  const [refusal, ...rest] = audited();
  assert.equal(rest.length, 1);
  assert.ok((refusal?.time_ms ?? 0) >= before, 'the refusal is timed when the commit failed');
  assert.deepEqual({ ...refusal, time_ms: 0 }, {
    type: 'modbus.decision', time_ms: 0, zone: 'control', connection: 2, peer: '', peer_port: 0, transaction: 3, unit: 1, function_code: 6,
    address: 1, quantity: 1, decision: 'deny', reason: 'audit', exception: 4, code: 'GLM_ERR_MODBUS_AUDIT_UNAVAILABLE', safety: true,
  });
  assert.deepEqual([t.inflight, t.holding, lines.length], [1, false, 1]);
});

test('GIVEN a failing commit and no logger WHEN a pump stop is written THEN it is still forwarded', async () => {
  const log = evidenceLog();
  const { inspector, hooks, events } = rig({ evidence: log.evidence, decide: () => ({ allow: true }) });
  inspector.session('control', 0).feed(adu(1, 1, requestPdu.writeCoil(1, false)), 0, hooks);
  log.pending[0]?.reject(new Error('io'));
  await settle();
  assert.deepEqual(events, ['pause', 'forward 1', 'resume']);
});

test('GIVEN a write waiting for its record WHEN the session closes meanwhile THEN the durable write is still forwarded but reading neither resumes nor inspects what was held', async () => {
  const log = evidenceLog();
  const { inspector, hooks, events } = rig({ evidence: log.evidence, decide: () => ({ allow: true }) });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([adu(1, 1, requestPdu.writeRegister(0, 10)), read(2, 1, 3, 0, 1)]), 0, hooks);
  s.fail(1, 'GLM_ERR_MODBUS_CLIENT_TIMEOUT', hooks);
  log.pending[0]?.resolve();
  await settle();
  assert.deepEqual(events, ['pause', 'close GLM_ERR_MODBUS_CLIENT_TIMEOUT', 'forward 1']);
});

test('GIVEN an inflight bound of 4 paused at the bound WHEN one answer settles and a write fills the bound again THEN its durable commit forwards it without resuming reading', async () => {
  const log = evidenceLog();
  const { inspector, hooks, events } = rig({ evidence: log.evidence, decide: () => ({ allow: true }), limits: { maxInflightPerClient: 4 } });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([...Array.from({ length: 4 }, (_, i) => read(i + 1, 1, 3, 0, 1)), read(5, 9, 3, 0, 1)]), 0, hooks);
  assert.deepEqual(take(events), ['forward 1', 'forward 2', 'forward 3', 'forward 4', 'pause']);
  s.settled(1, hooks);
  s.feed(adu(6, 1, requestPdu.writeRegister(0, 10)), 2, hooks);
  assert.deepEqual([take(events), s.inflight, s.paused, s.holding], [[`reply ${exception(5, 9, 3, 0x0a)}`, 'pause'], 4, true, true]);
  log.pending[0]?.resolve();
  await settle();
  assert.deepEqual([take(events), s.paused, s.holding], [['forward 6'], true, false]);
});

test('GIVEN an inflight bound of 6 paused at the bound, two answers settled (4 in flight) WHEN a write arrives and waits for its record THEN reading stays paused until the record is durable, and resumes after the write is forwarded', async () => {
  const log = evidenceLog();
  const { inspector, hooks, events } = rig({ evidence: log.evidence, decide: () => ({ allow: true }), limits: { maxInflightPerClient: 6 } });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([...Array.from({ length: 6 }, (_, i) => read(i + 1, 1, 3, 0, 1)), read(7, 9, 3, 0, 1)]), 0, hooks);
  assert.deepEqual(take(events), ['forward 1', 'forward 2', 'forward 3', 'forward 4', 'forward 5', 'forward 6', 'pause']);
  s.settled(1, hooks); s.settled(1, hooks);
  s.feed(adu(8, 1, requestPdu.writeRegister(0, 10)), 2, hooks);
  assert.deepEqual([take(events), s.inflight, s.holding], [[`reply ${exception(7, 9, 3, 0x0a)}`, 'pause'], 5, true], 'no resume while the write waits');
  log.pending[0]?.resolve();
  await settle();
  assert.deepEqual([take(events), s.paused, s.inflight], [['forward 8', 'resume'], false, 5]);
});

// --- records outside a request: upstream failures, refused connections ----------------------------------------------

test('GIVEN a forwarded read WHEN its upstream fails THEN the failure is audited as deny/upstream with the exception and code given, no range, and not safety', () => {
  const { inspector, audited } = rig();
  const s = inspector.session('safety', 0);
  s.peer = '10.2.2.2'; s.peerPort = 5020;
  inspector.upstreamFailed(s, 77, 0x0a0b, 2, 1, 0x0b, 'GLM_ERR_MODBUS_UPSTREAM_TIMEOUT');
  assert.deepEqual(audited(), [{
    type: 'modbus.decision', time_ms: 77, zone: 'safety', connection: 1, peer: '10.2.2.2', peer_port: 5020, transaction: 0x0a0b, unit: 2, function_code: 1,
    address: 0, quantity: 0, decision: 'deny', reason: 'upstream', exception: 0x0b, code: 'GLM_ERR_MODBUS_UPSTREAM_TIMEOUT', safety: false,
  }]);
});

test('GIVEN the connection budget refuses a client WHEN reported THEN it is audited as deny/connection with GLM_ERR_MODBUS_CONNECTION_LIMIT and no connection, request or safety', () => {
  const { inspector, audited } = rig();
  inspector.connectionRefused('operations', '192.0.2.7', 88);
  assert.deepEqual(audited(), [{
    type: 'modbus.decision', time_ms: 88, zone: 'operations', connection: 0, peer: '192.0.2.7', peer_port: 0, transaction: 0, unit: 0, function_code: 0,
    address: 0, quantity: 0, decision: 'deny', reason: 'connection', exception: 0, code: 'GLM_ERR_MODBUS_CONNECTION_LIMIT', safety: false,
  }]);
});

// --- metrics ------------------------------------------------------------------------------------------------------

async function decisionSeries(metrics: Metrics): Promise<string[]> {
  const { values } = await metrics.gatewayDecisions.get();
  return values.map((v) => `${v.labels.zone} ${v.labels.function} ${v.labels.decision} ${v.labels.reason} ${v.value}`).sort();
}

test('GIVEN decisions on every function, both units, an unknown unit and a refused connection WHEN the counter is scraped THEN each counts under the addressed unit\'s zone, its function name, decision and reason', async () => {
  const metrics = createMetrics();
  const { inspector, hooks } = rig({ metrics, decide: () => ({ allow: true }) });
  const s = inspector.session('control', 0);
  s.feed(Buffer.concat([
    read(1, 1, 1, 0, 1), read(2, 1, 2, 0, 1), read(3, 1, 3, 0, 1), read(4, 1, 4, 0, 1), read(5, 1, 4, 0, 1),
    adu(6, 1, requestPdu.writeCoil(0, true)), adu(7, 1, requestPdu.writeRegister(0, 1)), adu(8, 1, requestPdu.writeCoils(0, [true])), adu(9, 1, requestPdu.writeRegisters(0, [1])),
    adu(10, 2, requestPdu.writeCoil(0, true)), read(11, 2, 1, 5, 1), read(12, 9, 3, 0, 1), adu(13, 1, Buffer.from([0x2b, 0x0e, 0x01, 0x00])),
  ]), 0, hooks);
  inspector.connectionRefused('dmz', '192.0.2.1', 0);
  assert.equal(metrics.heldGatewayDecisions.size, 1);
  // Scraped before any audit flush: the scrape takes what the inspector holds.
  assert.deepEqual(await decisionSeries(metrics), [
    'control other deny function 1',
    'control read_coils allow zone 1',
    'control read_discrete_inputs allow zone 1',
    'control read_holding_registers allow zone 1',
    'control read_input_registers allow zone 2',
    'control write_multiple_coils allow policy 1',
    'control write_multiple_registers allow policy 1',
    'control write_single_coil allow policy 1',
    'control write_single_register allow policy 1',
    'safety read_coils deny address 1',
    'safety write_single_coil allow policy 1',
    'unknown other deny connection 1',
    'unknown read_holding_registers deny route 1',
  ]);
  assert.deepEqual(await decisionSeries(metrics), (await decisionSeries(metrics)), 'a second scrape adds nothing');
});

test('GIVEN an inspector with metrics WHEN its audit batch is flushed THEN the counts reach the counter with the flush; WHEN disposed THEN the last batch is flushed and scrapes no longer ask it', async () => {
  const metrics = createMetrics();
  const batches: number[] = [];
  const inspector = new Inspector({ rules: RULES, metrics, audit: (b) => { batches.push(b.length); } });
  const hooks: SessionHooks = { forward: () => undefined, reply: () => undefined, close: () => undefined, pause: () => undefined, resume: () => undefined };
  const s = inspector.session('safety', 0);
  s.feed(read(1, 2, 1, 0, 1), 0, hooks);
  inspector.audit.flush();
  assert.deepEqual(batches, [1]);
  const held = [...metrics.heldGatewayDecisions];
  metrics.heldGatewayDecisions.clear();
  assert.deepEqual(await decisionSeries(metrics), ['safety read_coils allow zone 1']);
  held.forEach((h) => metrics.heldGatewayDecisions.add(h));
  s.feed(read(2, 2, 1, 0, 1), 0, hooks);
  inspector.dispose();
  assert.deepEqual([batches, metrics.heldGatewayDecisions.size], [[1, 1], 0]);
  assert.deepEqual(await decisionSeries(metrics), ['safety read_coils allow zone 2']);
});

// --- audit batching -----------------------------------------------------------------------------------------------

const rec = (n: number): GatewayAuditRecord => ({ type: 'modbus.decision', time_ms: n, zone: 'z', connection: 0, peer: '', peer_port: 0, transaction: n, unit: 0, function_code: 0, address: 0, quantity: 0, decision: 'deny', reason: 'connection', exception: 0, code: null, safety: false });

test('GIVEN a batcher of 3 records WHEN 2 are pushed THEN nothing is handed over; WHEN the third is pushed THEN all 3 go to the sink at once', () => {
  const batches: number[][] = [];
  let flushes = 0;
  const b = new AuditBatcher((batch) => { batches.push(batch.map((r) => r.transaction)); }, () => { flushes++; }, undefined, 3, 60_000);
  b.push(rec(1)); b.push(rec(2));
  assert.deepEqual([batches, flushes], [[], 0]);
  b.push(rec(3));
  assert.deepEqual([batches, flushes], [[[1, 2, 3]], 1]);
  b.flush();
  assert.deepEqual([batches, flushes], [[[1, 2, 3]], 2], 'an empty flush reaches no sink but still flushes the counts');
});

test('GIVEN a batcher with a 20 ms flush WHEN one record is pushed THEN it reaches the sink after the delay; WHEN flushed early THEN the timer is gone and the next record gets a timer of its own', async () => {
  const batches: number[][] = [];
  let flushes = 0;
  const b = new AuditBatcher((batch) => { batches.push(batch.map((r) => r.transaction)); }, () => { flushes++; }, undefined, 100, 20);
  b.push(rec(1)); b.push(rec(2));
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual([batches, flushes], [[[1, 2]], 1]);
  b.push(rec(3)); b.push(rec(4));
  b.flush();
  assert.deepEqual([batches, flushes], [[[1, 2], [3, 4]], 2]);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(flushes, 2, 'the early flush cancelled the pending timer');
  b.push(rec(5));
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual([batches, flushes], [[[1, 2], [3, 4], [5]], 3]);
});

test('GIVEN a sink that throws WHEN a batch is flushed THEN the failure is logged with the record count and the counts are still flushed', () => {
  const { logger, lines } = captureLogger();
  let flushes = 0;
  const b = new AuditBatcher(() => { throw new Error('sink gone'); }, () => { flushes++; }, logger, 10, 60_000);
  b.push(rec(1)); b.push(rec(2));
  b.flush();
  assert.equal(flushes, 1);
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.err, l.records]), [[50, 'modbus audit sink failed', 'sink gone', 2]]);
  const quiet = new AuditBatcher(() => { throw new Error('sink gone'); }, () => { flushes++; }, undefined, 1);
  quiet.push(rec(3));
  assert.equal(flushes, 2, 'without a logger the failure is swallowed too');
});
