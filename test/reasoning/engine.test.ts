import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { isGlimmerError, type ErrorCode } from '../../runtime/errors';
import { RuleEngine, checkResult } from '../../runtime/reasoning/engine';
import type { Fact } from '../../runtime/reasoning/terms';
import { RULES_DIR, RULESETS } from './engines';

const REPO = path.join(__dirname, '..', '..');
let dir: string;
let shipped: RuleEngine;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-rules-'));
  shipped = await RuleEngine.create({ rulesDir: RULES_DIR, rulesets: RULESETS });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

async function refusal(files: Record<string, string>, code: ErrorCode, where: RegExp): Promise<void> {
  for (const [name, text] of Object.entries(files)) write(name, text);
  await assert.rejects(RuleEngine.create({ rulesDir: dir, rulesets: Object.keys(files) }), (err: unknown) => {
    assert.ok(isGlimmerError(err, code), `expected ${code}, got ${String((err as Error).message)}`);
    assert.match(err.message, where);
    return true;
  });
}

test('GIVEN a rule file with a syntax error on line 3 WHEN loaded THEN GLM_ERR_RULES_SYNTAX names the file and line 3', async () => {
  await refusal({ 'syntax.pl': 'a(1).\n\nb(X :- c(X).\n' }, 'GLM_ERR_RULES_SYNTAX', /syntax\.pl:3: /);
});

test('GIVEN a rule file with an unknown directive WHEN loaded THEN GLM_ERR_RULES_DIRECTIVE names the file and line (tau-prolog would ignore it silently)', async () => {
  await refusal({ 'directive.pl': 'a(1).\n:- initialization(main).\n' }, 'GLM_ERR_RULES_DIRECTIVE', /directive\.pl:2: .*initialization/);
});

test('GIVEN a dynamic directive in the conjunction form tau-prolog ignores WHEN loaded THEN GLM_ERR_RULES_DIRECTIVE', async () => {
  await refusal({ 'conj.pl': ':- dynamic foo/1, bar/2.\n' }, 'GLM_ERR_RULES_DIRECTIVE', /conj\.pl:1: /);
});

test('GIVEN a rule file defining clauses for a built-in WHEN loaded THEN GLM_ERR_RULES_REDEFINED names atom_length/2, the file and line', async () => {
  await refusal({ 'builtin.pl': '% comment\na(1).\natom_length(_, 3).\n' }, 'GLM_ERR_RULES_REDEFINED', /builtin\.pl:3: atom_length\/2 is a built-in predicate/);
});

test('GIVEN a rule file defining a host hook WHEN loaded THEN GLM_ERR_RULES_REDEFINED (the host owns enforce_safety_shutdown/1)', async () => {
  await refusal({ 'hook.pl': 'enforce_safety_shutdown(_).\n' }, 'GLM_ERR_RULES_REDEFINED', /hook\.pl:1: enforce_safety_shutdown\/1 is a host hook/);
});

test('GIVEN two rule files defining the same predicate WHEN loaded THEN GLM_ERR_RULES_REDEFINED names the second file, its line and the first file', async () => {
  await refusal({ 'one.pl': 'risk(a).\n', 'two.pl': 'x(1).\nrisk(b).\n' }, 'GLM_ERR_RULES_REDEFINED', /two\.pl:2: risk\/1 is already defined by one\.pl/);
});

test('GIVEN a missing rule file WHEN loaded THEN GLM_ERR_RULES_UNREADABLE names it', async () => {
  await assert.rejects(RuleEngine.create({ rulesDir: dir, rulesets: ['nope.pl'] }), (e: unknown) => isGlimmerError(e, 'GLM_ERR_RULES_UNREADABLE') && /nope\.pl/.test(e.message));
});

test('GIVEN a runaway recursive rule WHEN evaluated THEN GLM_ERR_RULES_INFERENCE_LIMIT stops it and names the limit', async () => {
  write('runaway.pl', 'spin(X) :- spin(X).\n');
  const engine = await RuleEngine.create({ rulesDir: dir, rulesets: ['runaway.pl'], inferenceLimit: 100_000, entries: [{ rule: 'spin', params: ['X'] }] });
  assert.throws(() => engine.evaluate(), (e: unknown) => isGlimmerError(e, 'GLM_ERR_RULES_INFERENCE_LIMIT') && /100000/.test(e.message));
});

test('GIVEN a rule raising a type error WHEN evaluated THEN GLM_ERR_RULES_EVALUATION', async () => {
  write('typeerr.pl', 'bad(X) :- X is foo + 1.\n');
  const engine = await RuleEngine.create({ rulesDir: dir, rulesets: ['typeerr.pl'], entries: [{ rule: 'bad', params: ['X'] }] });
  assert.throws(() => engine.evaluate(), (e: unknown) => isGlimmerError(e, 'GLM_ERR_RULES_EVALUATION'));
});

test('GIVEN no inference limit configured WHEN the shipped rules load THEN the default of 5,000,000 applies and a full evaluation stays under it', async () => {
  const engine = await RuleEngine.create({ rulesDir: RULES_DIR, rulesets: RULESETS });
  const { syntheticPlantFacts } = await import('../../runtime/reasoning/synthetic-plant');
  engine.sync(syntheticPlantFacts({ assets: 1000, seed: 1 }));
  assert.ok(engine.evaluate().fired.length > 0);
});

const pumpOnLowTank: Fact[] = [
  { pred: 'pump_running', args: ['pump_2'] },
  { pred: 'pump_suction', args: ['pump_2', 'tank_2'] },
  { pred: 'tank_level', args: ['tank_2', 20] },
  { pred: 'tank_low_limit', args: ['tank_2', 50] },
];

test('GIVEN a running pump on a low tank WHEN evaluated THEN dry_run_protection fires with Pump=pump_2, logs SIF-01-DRY-RUN and shuts pump_2 down', () => {
  shipped.sync(pumpOnLowTank);
  const ev = shipped.evaluate();
  assert.deepEqual(ev.fired, [{ rule: 'dry_run_protection', bindings: { Pump: 'pump_2' } }]);
  assert.deepEqual(checkResult(ev), { violations: [{ asset: 'pump_2', code: 'SIF-01-DRY-RUN' }], shutdowns: ['pump_2'] });
});

test('GIVEN the tank refills WHEN the new facts are synced as deltas THEN only the changed fact moves and nothing fires', () => {
  shipped.sync(pumpOnLowTank);
  const moved = shipped.sync([...pumpOnLowTank.filter((f) => f.pred !== 'tank_level'), { pred: 'tank_level', args: ['tank_2', 120] }]);
  assert.equal(moved, 2, 'one retract and one assert');
  assert.deepEqual(checkResult(shipped.evaluate()), { violations: [], shutdowns: [] });
});

test('GIVEN a start request for a pump whose suction tank is low WHEN evaluated THEN interlock IL-01 refuses it', () => {
  shipped.sync([...pumpOnLowTank.filter((f) => f.pred !== 'pump_running'), { pred: 'command_requested', args: ['pump_2', 'start'] }]);
  assert.deepEqual(checkResult(shipped.evaluate()).violations, [{ asset: 'pump_2', code: 'IL-01-PUMP-START-LOW-TANK' }]);
});

test('GIVEN a close request for the discharge valve of a running pump WHEN evaluated THEN interlock IL-02 refuses it', () => {
  shipped.sync([{ pred: 'pump_running', args: ['pump_1'] }, { pred: 'pump_discharge', args: ['pump_1', 'valve_1'] }, { pred: 'command_requested', args: ['valve_1', 'close'] }]);
  assert.deepEqual(checkResult(shipped.evaluate()).violations, [{ asset: 'valve_1', code: 'IL-02-VALVE-CLOSE-RUNNING-PUMP' }]);
});

test('GIVEN an atom carrying Prolog syntax in a fact WHEN synced THEN it stays an atom (no code injection)', () => {
  const evil = "x'), halt, assertz(pwned('";
  shipped.sync([{ pred: 'operational_criticality', args: [evil, 5] }, { pred: 'monitored', args: [evil] }]);
  assert.deepEqual(checkResult(shipped.evaluate()).violations, [{ asset: evil, code: 'ISO55001-8.2.3' }]);
});

test('GIVEN a fact outside the vocabulary WHEN synced THEN GLM_ERR_RULES_FACTS_INVALID', () => {
  assert.throws(() => shipped.sync([{ pred: 'pwned', args: [1] }]), (e: unknown) => isGlimmerError(e, 'GLM_ERR_RULES_FACTS_INVALID'));
});

for (const [name, text, code, line] of [
  ['a rule', 'monitored(a).\nmonitored(X) :- true.\n', 'GLM_ERR_RULES_FACTS_INVALID', 2],
  ['a directive', ':- dynamic(x/1).\n', 'GLM_ERR_RULES_FACTS_INVALID', 1],
  ['a variable', 'monitored(a).\nmonitored(b).\nmonitored(X).\n', 'GLM_ERR_RULES_FACTS_INVALID', 3],
  ['an unknown predicate', 'halt_plant(now).\n', 'GLM_ERR_RULES_FACTS_INVALID', 1],
  ['a compound argument', 'monitored(f(x)).\n', 'GLM_ERR_RULES_FACTS_INVALID', 1],
  ['a syntax error', 'monitored(a).\nmonitored(\n', 'GLM_ERR_RULES_SYNTAX', 2],
] as const) {
  test(`GIVEN a fact file with ${name} WHEN read THEN ${code} names the file and line ${line}`, () => {
    const file = write(`facts-${name.replace(/\W/g, '_')}.pl`, text);
    assert.throws(() => shipped.loadFactsFile(file), (e: unknown) => isGlimmerError(e, code) && e.message.includes(`${file}:${line}:`));
  });
}

test('GIVEN arbitrary text as a fact file WHEN read THEN it loads or is refused with a rules error code, never anything else', async () => {
  const engine = await RuleEngine.create({ rulesDir: RULES_DIR, rulesets: RULESETS });
  const file = path.join(dir, 'fuzz.pl');
  const fragments = fc.constantFrom('monitored(', 'a', ')', '.', '\n', "'", '"', ':-', 'X', '0\'', '/*', '%', ',', ' ', 'tank_level(t,', '1.5', '[', '|', '\\');
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.array(fragments, { maxLength: 30 }).map((a) => a.join(''))), (text) => {
    fs.writeFileSync(file, text);
    try {
      engine.loadFactsFile(file);
    } catch (e) {
      assert.ok(isGlimmerError(e) && ['GLM_ERR_RULES_SYNTAX', 'GLM_ERR_RULES_FACTS_INVALID', 'GLM_ERR_RULES_UNREADABLE'].includes(e.code), String(e));
    }
  }), { numRuns: 300, seed: 42 });
});

const exec = promisify(execFile);
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, ['--import', 'tsx', path.join(REPO, 'runtime', 'cli', 'entry.ts'), ...args], { cwd: REPO });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

test('GIVEN a fact file with a critical asset without redundancy and an agent in a too-weak zone WHEN glimmer rules check --json runs THEN it prints the violations and shutdowns and exits 1', async () => {
  const file = write('cli.pl', "operational_criticality(pump_1, 4).\nmonitored(pump_1).\noperating_zone('cognitive-1', control).\nzone_safety_level(control, 2).\nrequired_safety_level('cognitive-1', 3).\n");
  const r = await cli(['rules', 'check', '--facts', file, '--json']);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { violations: [{ asset: 'pump_1', code: 'ISO55001-8.2.3' }], shutdowns: ['cognitive-1'] });
});

test('GIVEN a fact file where nothing fires WHEN glimmer rules check --json runs THEN it prints empty lists and exits 0', async () => {
  const r = await cli(['rules', 'check', '--facts', write('clean.pl', 'operational_criticality(pump_1, 2).\n'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { violations: [], shutdowns: [] });
});

test('GIVEN a fact file with a rule in it WHEN glimmer rules check runs THEN it exits 2 with GLM_ERR_RULES_FACTS_INVALID and the line', async () => {
  const file = write('cli-bad.pl', 'monitored(a).\nmonitored(X) :- true.\n');
  const r = await cli(['rules', 'check', '--facts', file, '--json']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /GLM_ERR_RULES_FACTS_INVALID: .*cli-bad\.pl:2:/);
});

test('GIVEN no --facts WHEN glimmer rules check runs THEN it exits 2 with GLM_ERR_USAGE', async () => {
  const r = await cli(['rules', 'check', '--json']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /GLM_ERR_USAGE/);
});
