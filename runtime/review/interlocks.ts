/**
 * Verifies the PLC safety interlocks and trips the safety functions expect against the rule files:
 * 1. statically: the predicate is defined and the violation code appears in one of its clauses (prolog-scan.ts);
 * 2. by behaviour: the embedded rule engine (runtime/reasoning, the one the Cognitive Agent runs) fires the code on the
 *    hazard scenario, commands the shutdown where one is expected, and stays quiet on the safe scenario.
 * An expected interlock that is absent, or present but not firing as expected, is a gap.
 */
import fs from 'node:fs';
import path from 'node:path';
import { asGlimmerError } from '../errors';
import { definedPredicates, scanProlog, type ScannedClause } from './prolog-scan';
import type { InterlockScenario, SafetyFunction } from './safety-functions';

export interface RuleFileInventory {
  readonly file: string;
  readonly predicates: readonly string[];
  readonly codes: readonly string[];
}

export interface RuleCheck {
  readonly functionId: string;
  readonly predicate: string;
  readonly code: string;
  readonly defined: boolean;
  /** File and line of the clause mentioning the code, when found. */
  readonly where?: string;
  readonly firesOnHazard?: boolean;
  readonly shutdownOnHazard?: boolean;
  readonly quietWhenSafe?: boolean;
  readonly status: 'verified' | 'gap';
  readonly detail: string;
}

const CODE = /^(IL|SIF|ISO\d*)-[A-Z0-9.-]+$/;

function plFiles(dir: string, depth = 0): string[] {
  if (depth > 4 || !fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return plFiles(p, depth + 1);
    return e.isFile() && e.name.endsWith('.pl') ? [p] : [];
  }).sort();
}

export function scanRules(rulesDir: string, root: string): { clauses: ScannedClause[]; inventory: RuleFileInventory[] } {
  const clauses: ScannedClause[] = [];
  const inventory: RuleFileInventory[] = [];
  for (const file of plFiles(rulesDir)) {
    const rel = path.relative(root, file).split(path.sep).join('/');
    const text = fs.readFileSync(file, 'utf8');
    const cls = scanProlog(text.length > 1 << 20 ? text.slice(0, 1 << 20) : text, rel);
    clauses.push(...cls);
    inventory.push({ file: rel, predicates: [...definedPredicates(cls)].sort(), codes: [...new Set(cls.flatMap((c) => c.atoms).filter((a) => CODE.test(a)))].sort() });
  }
  return { clauses, inventory };
}

type Term = string | number | { name: string; args: readonly Term[] };
interface Engine {
  sync(facts: readonly { pred: string; args: readonly (string | number)[] }[]): number;
  evaluate(): unknown;
}

export interface VerifyOptions {
  readonly root: string;
  readonly rulesDir: string;
  /** Rule files in load order, relative to rulesDir (cognitive.yml's rulesets). */
  readonly rulesets: readonly string[];
}

export async function verifyInterlocks(functions: readonly SafetyFunction[], opts: VerifyOptions): Promise<{ inventory: RuleFileInventory[]; checks: RuleCheck[] }> {
  const { clauses, inventory } = scanRules(opts.rulesDir, opts.root);
  const defined = definedPredicates(clauses);
  const expected = functions.filter((f) => f.rule !== undefined);
  let engine: Engine | undefined;
  let check: ((ev: unknown) => { violations: { asset: Term; code: Term }[]; shutdowns: Term[] }) | undefined;
  let engineError: string | undefined;
  if (expected.length > 0) {
    try {
      const mod = await import('../reasoning/engine');
      engine = (await mod.RuleEngine.create({ rulesDir: opts.rulesDir, rulesets: opts.rulesets })) as unknown as Engine;
      check = mod.checkResult as unknown as typeof check;
    } catch (err) {
      const e = asGlimmerError(err);
      engineError = `the rule files do not load in the embedded engine (${e.code}: ${e.message.split('\n')[0]})`;
    }
  }
  const run = (scenario: InterlockScenario) => {
    (engine as Engine).sync(scenario.facts);
    return (check as NonNullable<typeof check>)((engine as Engine).evaluate());
  };
  const checks: RuleCheck[] = [];
  for (const fn of expected) {
    const rule = fn.rule as NonNullable<SafetyFunction['rule']>;
    const mention = clauses.find((c) => c.predicate === rule.predicate && c.atoms.includes(rule.code));
    const base = { functionId: fn.id, predicate: rule.predicate, code: rule.code, defined: defined.has(rule.predicate), ...(mention ? { where: `${mention.file}:${mention.line}` } : {}) };
    if (!mention) {
      checks.push({ ...base, status: 'gap', detail: base.defined ? `${rule.predicate} is defined but no clause of it logs ${rule.code}: the expected interlock is absent` : `${rule.predicate} is not defined in the rule files: the expected interlock is absent` });
      continue;
    }
    if (engine === undefined) {
      checks.push({ ...base, status: 'gap', detail: `present at ${base.where ?? '?'}, but its behaviour could not be verified: ${engineError ?? 'no engine'}` });
      continue;
    }
    try {
      const fires = run(rule.hazard);
      const firesOnHazard = fires.violations.some((v) => v.code === rule.code && v.asset === rule.asset);
      const shutdownOnHazard = fires.shutdowns.some((s) => s === rule.asset);
      const quiet = run(rule.safe);
      const quietWhenSafe = !quiet.violations.some((v) => v.code === rule.code) && !(rule.shutdown && quiet.shutdowns.some((s) => s === rule.asset));
      const problems = [
        ...(firesOnHazard ? [] : [`does not log ${rule.code} for ${rule.asset} on its hazard scenario`]),
        ...(rule.shutdown && !shutdownOnHazard ? [`does not command the shutdown of ${rule.asset}`] : []),
        ...(quietWhenSafe ? [] : ['fires on the safe scenario (spurious trip)']),
      ];
      checks.push({
        ...base, firesOnHazard, shutdownOnHazard, quietWhenSafe, status: problems.length === 0 ? 'verified' : 'gap',
        detail: problems.length === 0
          ? `fires ${rule.code} for ${rule.asset}${rule.shutdown ? ' and commands its shutdown' : ''} on the hazard scenario, stays quiet on the safe one`
          : `present at ${base.where ?? '?'} but ${problems.join('; ')}`,
      });
    } catch (err) {
      const e = asGlimmerError(err);
      checks.push({ ...base, status: 'gap', detail: `present at ${base.where ?? '?'} but its scenario cannot run (${e.code}: ${e.message.split('\n')[0]})` });
    }
  }
  return { inventory, checks };
}
