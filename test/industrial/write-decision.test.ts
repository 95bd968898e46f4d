/**
 * The write decision (runtime/industrial/write-decision.ts): its native interlock check answers exactly as
 * rules/industrial_safety.pl's interlock/2 does on the same facts (random plant states, profiles and commands through
 * the real rule engine), and its steps run in the documented order with the fail-safe direction never blocked.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  commandsOf,
  composeWriteDecision,
  denySafetyWrites,
  failSafeOnly,
  movesToSafeState,
  safetyTripped,
  tripsEmergencyStop,
  violatedInterlocks,
  type Command,
  type InterlockProfile,
  type WriteDecider,
  type WriteRequest,
} from '../../runtime/industrial/write-decision';
import { findMapEntry, type PlantMapEntry } from '../../runtime/model/plant-map';
import type { PlantSnapshot } from '../../runtime/model/plant';
import { PlantSimulation } from '../../runtime/industrial/plant/simulation';
import { snapshotFromSignals } from '../../runtime/industrial/plant/map';
import { RuleEngine } from '../../runtime/reasoning/engine';
import { SIMULATED_PLANT_PROFILE } from '../../runtime/model/plant';
import type { Fact } from '../../runtime/reasoning/terms';

const RULES = path.join(__dirname, '..', '..', 'rules');
const PUMPS = ['pump_1', 'pump_2'];
const TANKS = ['tank_1', 'tank_2'];
const VALVES = ['valve_1', 'valve_2'];

function snapshotOf(levels: number[], running: boolean[]): PlantSnapshot {
  const assets: Record<string, unknown> = {};
  TANKS.forEach((t, i) => (assets[t] = { kind: 'tank', values: { level_m: levels[i] } }));
  PUMPS.forEach((p, i) => (assets[p] = { kind: 'pump', running: running[i], values: {} }));
  return { assets } as unknown as PlantSnapshot;
}

function facts(profile: InterlockProfile, snap: PlantSnapshot, command: Command): Fact[] {
  const out: Fact[] = [];
  for (const [p, t] of profile.suction) out.push({ pred: 'pump_suction', args: [p, t] });
  for (const [p, v] of profile.discharge) out.push({ pred: 'pump_discharge', args: [p, v] });
  for (const [t, cm] of Object.entries(profile.tankLowLimitCm)) out.push({ pred: 'tank_low_limit', args: [t, cm] });
  for (const t of TANKS) out.push({ pred: 'tank_level', args: [t, Math.round((snap.assets as Record<string, { values: { level_m: number } }>)[t]!.values.level_m * 100)] });
  for (const p of PUMPS) if ((snap.assets as Record<string, { running: boolean }>)[p]!.running) out.push({ pred: 'pump_running', args: [p] });
  out.push({ pred: 'command_requested', args: [command.asset, command.action] });
  return out;
}

const pair = (a: string[], b: string[]) => fc.tuple(fc.constantFrom(...a), fc.constantFrom(...b));

test('GIVEN random plant states, profiles and commands WHEN the native interlock check and the Prolog rules decide THEN they agree on every case', async () => {
  const engine = await RuleEngine.create({ rulesDir: RULES, rulesets: ['industrial_safety.pl'], entries: [{ rule: 'interlock', params: ['Asset', 'Code'] }] });
  let blocked = 0;
  let runs = 0;
  fc.assert(
    fc.property(
      fc.uniqueArray(pair(PUMPS, TANKS), { maxLength: 2, selector: (x) => x[0] }),
      fc.uniqueArray(pair(PUMPS, VALVES), { maxLength: 2 }),
      fc.dictionary(fc.constantFrom(...TANKS), fc.integer({ min: 0, max: 300 })),
      fc.array(fc.double({ min: 0, max: 3, noNaN: true }), { minLength: 2, maxLength: 2 }),
      fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
      fc.oneof(
        fc.record({ asset: fc.constantFrom(...PUMPS), action: fc.constantFrom('start' as const, 'stop' as const) }),
        fc.record({ asset: fc.constantFrom(...VALVES), action: fc.constantFrom('open' as const, 'close' as const) }),
      ),
      (suction, discharge, limits, levels, run, command) => {
        const profile: InterlockProfile = { suction, discharge, tankLowLimitCm: limits };
        const snap = snapshotOf(levels, run);
        engine.sync(facts(profile, snap, command));
        const prolog = engine.evaluate().fired.filter((f) => f.bindings.Asset === command.asset).map((f) => String(f.bindings.Code));
        const native = violatedInterlocks(profile, snap, command);
        assert.deepEqual([...new Set(prolog)].sort(), [...native].sort(), JSON.stringify({ profile, levels, run, command }));
        runs += 1;
        if (native.length > 0) blocked += 1;
      },
    ),
    { numRuns: 400 },
  );
  assert.ok(blocked > 20 && blocked < runs, `both outcomes exercised (${blocked}/${runs} blocked)`);
});

function entry(id: string): PlantMapEntry {
  const e = findMapEntry(id);
  assert.ok(e, id);
  return e;
}

function write(ids: string[], values: number[]): WriteRequest {
  const signals = ids.map(entry);
  const first = signals[0] as PlantMapEntry;
  return { zone: 'control', connectionId: 1, unitId: first.unit_id, functionCode: 15, table: first.table === 'holding' ? 'holding' : 'coil', address: first.address, quantity: signals.length, signals, values, safety: signals.some((e) => e.safety) };
}

const allowAll: WriteDecider = () => ({ allow: true });
const decider = (image: () => PlantSnapshot | undefined, policy: WriteDecider = allowAll) => composeWriteDecision({ policy, profile: SIMULATED_PLANT_PROFILE, image });

test('GIVEN the simulated plant with tank_2 drained below its low limit WHEN a write starts pump_2 THEN the gateway decision is a deny by interlock IL-01; stopping it is allowed', () => {
  const sim = new PlantSimulation({ seed: 1 });
  const snap = sim.snapshot() as PlantSnapshot & { assets: Record<string, { values: { level_m: number } }> };
  const low = { ...snap, assets: { ...snap.assets, tank_2: { ...snap.assets.tank_2, values: { ...snap.assets.tank_2!.values, level_m: 0.2 } } } } as unknown as PlantSnapshot;
  const decide = decider(() => low);
  const start = decide(write(['pump_2.run'], [1]));
  assert.equal(start.allow, false);
  assert.equal(start.by, 'interlock');
  assert.match(start.reason ?? '', /IL-01-PUMP-START-LOW-TANK/);
  assert.equal(decide(write(['pump_2.run'], [0])).allow, true);
  assert.equal(decide(write(['pump_1.run'], [1])).allow, true, 'pump_1 has no suction tank in the profile');
});

test('GIVEN a policy deny WHEN interlocks wrap it THEN the policy decision stands (interlocks never widen a policy)', () => {
  const decide = decider(() => {
    throw new Error('the process image is not read when the policy already refused');
  }, () => ({ allow: false, reason: 'policy: default-deny', by: 'policy' }));
  assert.deepEqual(decide(write(['pump_1.run'], [1])), { allow: false, reason: 'policy: default-deny', by: 'policy' });
});

test('GIVEN no process image yet WHEN a write passes the policy THEN it is refused by the interlocks (fail closed)', () => {
  const decide = decider(() => undefined);
  assert.deepEqual(decide(write(['pump_1.run'], [0])), { allow: false, reason: 'interlocks: no fresh process image', by: 'interlock' });
});

test('GIVEN no fresh process image (external PLCs unreachable) WHEN the emergency stop is tripped or reset THEN the trip passes and the reset is refused', () => {
  const decide = decider(() => undefined);
  const estop = (value: number) => write(['safety_1.emergency_stop'], [value]);
  assert.deepEqual(decide(estop(1)), { allow: true }, 'moving towards the safe state is never blocked by an interlock');
  assert.equal(decide(estop(0)).allow, false);
});

test('GIVEN multi-signal writes WHEN decoded THEN each run/open signal becomes its command', () => {
  assert.deepEqual(commandsOf({ signals: ['pump_1.run', 'valve_2.open', 'pump_2.speed_setpoint_pct'].map(entry), values: [1, 0, 50] }), [
    { asset: 'pump_1', action: 'start' },
    { asset: 'valve_2', action: 'close' },
  ]);
});

/** The simulated plant's snapshot with the safety PLC's state replaced (undefined: the asset is absent). */
function withSafety(interlockTripped: boolean | undefined): PlantSnapshot {
  const snap = new PlantSimulation({ seed: 3 }).snapshot();
  const assets = { ...snap.assets };
  const safety = assets.safety_1;
  assert.ok(safety?.kind === 'safety');
  if (interlockTripped === undefined) delete assets.safety_1;
  else assets.safety_1 = { ...safety, interlock_tripped: interlockTripped };
  return { ...snap, assets };
}

test('GIVEN a tripped safety interlock WHEN safety writes pass the policy THEN only tripping the emergency stop goes through; process writes still pass the interlock steps', () => {
  const decide = decider(() => withSafety(true));
  assert.deepEqual(decide(write(['safety_1.emergency_stop'], [1])), { allow: true });
  for (const [id, value] of [['safety_1.emergency_stop', 0], ['safety_1.interlock_bypass', 1]] as const) {
    const d = decide(write([id], [value]));
    assert.equal(d.allow, false, id);
    assert.equal(d.by, 'interlock');
    assert.match(d.reason ?? '', /safety interlock is tripped/);
  }
  assert.equal(decide(write(['safety_1.tank_1_level_high_high_m'], [3000])).allow, false);
  assert.equal(decide(write(['pump_1.run'], [0])).allow, true);
  assert.equal(decider(() => withSafety(false))(write(['safety_1.emergency_stop'], [0])).allow, true, 'untripped: a reset passes');
});

test('GIVEN an unknown safety PLC state (no safety asset, no image, or no boolean) WHEN a safety write moves away from the safe state THEN it is refused as if tripped, in both plant modes', () => {
  const unknown = withSafety(undefined);
  // What a polled image holds for the safety PLC when none of its signals came in (the shape external mode reads).
  const noBoolean = snapshotFromSignals(new Map(), Date.now());
  // embedded: the simulator's snapshot; external: the polled image is undefined while stale, or built from signals.
  for (const [mode, image] of [['embedded', unknown], ['external, stale image', undefined], ['external, no boolean', noBoolean]] as const) {
    assert.equal(safetyTripped(image), true, mode);
    const decide = decider(() => image);
    assert.equal(decide(write(['safety_1.emergency_stop'], [0])).allow, false, mode);
    assert.equal(decide(write(['safety_1.emergency_stop'], [0])).by, 'interlock', mode);
    assert.equal(decide(write(['safety_1.emergency_stop'], [1])).allow, true, `${mode}: the trip passes`);
  }
});

test('GIVEN a write that only trips the emergency stop WHEN the image would refuse everything else THEN the image is not even read', () => {
  const decide = decider(() => { throw new Error('the fail-safe direction never waits on the process image'); });
  assert.deepEqual(decide(write(['safety_1.emergency_stop'], [1])), { allow: true });
});

test('GIVEN writes of run and open coils with 0 and 1 WHEN decoded THEN start, stop, open and close come out in signal order, and other signals none', () => {
  assert.deepEqual(commandsOf({ signals: ['pump_1.run', 'pump_2.run', 'valve_1.open', 'valve_2.open', 'safety_1.emergency_stop'].map(entry), values: [1, 0, 1, 0, 1] }), [
    { asset: 'pump_1', action: 'start' },
    { asset: 'pump_2', action: 'stop' },
    { asset: 'valve_1', action: 'open' },
    { asset: 'valve_2', action: 'close' },
  ]);
});

test('GIVEN a tank exactly at its low limit WHEN its pump starts THEN allowed (only a level below the limit blocks); one centimetre below THEN IL-01', () => {
  const profile: InterlockProfile = { suction: [['pump_2', 'tank_2']], discharge: [], tankLowLimitCm: { tank_2: 30 } };
  assert.deepEqual(violatedInterlocks(profile, snapshotOf([1, 0.3], [false, false]), { asset: 'pump_2', action: 'start' }), []);
  assert.deepEqual(violatedInterlocks(profile, snapshotOf([1, 0.29], [false, false]), { asset: 'pump_2', action: 'start' }), ['IL-01-PUMP-START-LOW-TANK']);
});

test('GIVEN a process image that lacks the tank, the tank\'s values or the pump WHEN an interlocked command is checked THEN no interlock fires and nothing throws (as the rule engine, which has no fact to fire on)', () => {
  const profile: InterlockProfile = { suction: [['pump_2', 'tank_2']], discharge: [['pump_1', 'valve_1']], tankLowLimitCm: { tank_2: 30 } };
  const without = (drop: string, replace?: unknown) => {
    const snap = snapshotOf([1, 0.1], [true, false]) as unknown as { assets: Record<string, unknown> };
    if (replace === undefined) delete snap.assets[drop];
    else snap.assets[drop] = replace;
    return snap as unknown as PlantSnapshot;
  };
  assert.deepEqual(violatedInterlocks(profile, without('tank_2'), { asset: 'pump_2', action: 'start' }), []);
  assert.deepEqual(violatedInterlocks(profile, without('tank_2', { kind: 'tank' }), { asset: 'pump_2', action: 'start' }), []);
  assert.deepEqual(violatedInterlocks(profile, without('pump_1'), { asset: 'valve_1', action: 'close' }), []);
  // With the pump there and running, closing its discharge valve is refused.
  assert.deepEqual(violatedInterlocks(profile, snapshotOf([1, 0.1], [true, false]), { asset: 'valve_1', action: 'close' }), ['IL-02-VALVE-CLOSE-RUNNING-PUMP']);
});

test('GIVEN writes of the emergency stop, pump stops and other signals WHEN classified THEN only all-signals e-stop = 1 trips it, and only that or all-signals run = 0 moves to the safe state', () => {
  const cases: [string[], number[], boolean, boolean][] = [
    [['safety_1.emergency_stop'], [1], true, true],
    [['safety_1.emergency_stop'], [0], false, false],
    [['pump_1.run'], [0], false, true],
    [['pump_1.run', 'pump_2.run'], [0, 0], false, true],
    [['pump_1.run', 'pump_2.run'], [0, 1], false, false],
    [['pump_1.run'], [1], false, false],
    [['valve_1.open'], [0], false, false],
  ];
  for (const [ids, values, trips, safe] of cases) {
    const r = write(ids, values);
    assert.equal(tripsEmergencyStop(r), trips, `trips ${ids.join(',')}=${values.join(',')}`);
    assert.equal(movesToSafeState(r), safe, `safe ${ids.join(',')}=${values.join(',')}`);
  }
  // Signals given by hand: a second e-stop signal, a stop mixed with an e-stop reset, a register table, no signals.
  const estop = entry('safety_1.emergency_stop');
  const run = entry('pump_1.run');
  assert.equal(tripsEmergencyStop({ table: 'coil', signals: [estop, estop], values: [1, 1] }), true);
  assert.equal(tripsEmergencyStop({ table: 'coil', signals: [estop, estop], values: [1, 0] }), false);
  assert.equal(tripsEmergencyStop({ table: 'coil', signals: [estop, run], values: [1, 1] }), false);
  assert.equal(tripsEmergencyStop({ table: 'holding', signals: [estop], values: [1] }), false);
  assert.equal(tripsEmergencyStop({ table: 'coil', signals: [], values: [] }), false);
  assert.equal(movesToSafeState({ table: 'holding', signals: [run], values: [0] }), false);
  assert.equal(movesToSafeState({ table: 'coil', signals: [], values: [] }), false);
  assert.equal(movesToSafeState({ table: 'coil', signals: [run, estop], values: [0, 1] }), false);
});

test('GIVEN no policy decision point WHEN failSafeOnly or denySafetyWrites decide THEN process writes pass; of safety writes failSafeOnly passes only the e-stop trip and denySafetyWrites none, each with its reason', () => {
  assert.deepEqual(failSafeOnly(write(['pump_1.run'], [1])), { allow: true });
  assert.deepEqual(failSafeOnly(write(['safety_1.emergency_stop'], [1])), { allow: true });
  assert.deepEqual(failSafeOnly(write(['safety_1.emergency_stop'], [0])), { allow: false, reason: 'only tripping the emergency stop is allowed without a policy decision point' });
  assert.deepEqual(denySafetyWrites(write(['pump_1.run'], [1])), { allow: true });
  assert.deepEqual(denySafetyWrites(write(['safety_1.emergency_stop'], [1])), { allow: false, reason: 'no policy decision point configured' });
});

test('GIVEN a composed decision without a policy WHEN writes arrive on a healthy plant THEN failSafeOnly is the policy: process writes pass, an e-stop reset is refused by policy', () => {
  const decide = composeWriteDecision({ profile: SIMULATED_PLANT_PROFILE, image: () => withSafety(false) });
  assert.deepEqual(decide(write(['pump_1.run'], [0])), { allow: true });
  assert.deepEqual(decide(write(['safety_1.emergency_stop'], [1])), { allow: true });
  assert.deepEqual(decide(write(['safety_1.emergency_stop'], [0])), { allow: false, reason: 'only tripping the emergency stop is allowed without a policy decision point' });
});

test('GIVEN interlock and safety-trip refusals WHEN decided THEN the reasons name the interlock code, command and asset, or the tripped safety PLC', () => {
  const sim = new PlantSimulation({ seed: 1 });
  const snap = sim.snapshot() as PlantSnapshot & { assets: Record<string, { values: { level_m: number } }> };
  const low = { ...snap, assets: { ...snap.assets, tank_2: { ...snap.assets.tank_2, values: { ...snap.assets.tank_2!.values, level_m: 0.2 } } } } as unknown as PlantSnapshot;
  assert.deepEqual(decider(() => low)(write(['pump_2.run'], [1])), { allow: false, reason: 'interlock IL-01-PUMP-START-LOW-TANK: start pump_2', by: 'interlock' });
  assert.deepEqual(decider(() => withSafety(true))(write(['safety_1.emergency_stop'], [0])), {
    allow: false,
    reason: 'a safety interlock is tripped (or the safety PLC state is unknown): only the emergency stop may be written',
    by: 'interlock',
  });
  // A run signal without a value decodes as a stop (nothing to start).
  assert.deepEqual(commandsOf({ signals: [entry('pump_2.run')], values: [] }), [{ asset: 'pump_2', action: 'stop' }]);
});
