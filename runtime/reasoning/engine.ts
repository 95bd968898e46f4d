/**
 * The embedded rule engine: SWI-Prolog compiled to WebAssembly (swipl-wasm), loaded lazily.
 *
 * Why not tau-prolog (the design card's choice): the same rule files and the same 1,000-asset fact set take about 20 s
 * per full evaluation in tau-prolog 0.3.4 and about 15 ms in swipl-wasm (docs/reasoning.md has the numbers); the
 * safety target is 50 ms. The rule files stay engine-neutral and the conformance suite runs them in tau-prolog, in
 * swipl-wasm and in native SWI-Prolog 9.0.4.
 *
 * Use: `create()` checks and loads the rule files (refusing syntax errors, unknown directives and redefined built-ins
 * with file and line), `sync()`/`apply()` move facts by assert/retract deltas, `evaluate()` runs every entry goal in
 * one query under an inference limit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GlimmerError, quote, type ErrorCode } from '../errors';
import { HOST_PL, LOADER_PL } from './prolog-host';
import { FactDiff, deltaText, type Atomic, type Fact, type FactDelta, type Term } from './terms';

/** An entry goal: a rule predicate whose every solution is one firing, with the names of its head arguments. */
export interface EntryGoal {
  readonly rule: string;
  readonly params: readonly string[];
}

/** The entry goals of the shipped rule files (rules/); the explanation names the bindings after `params`. */
export const ENTRY_GOALS: readonly EntryGoal[] = [
  { rule: 'safety_integrity_check', params: ['Agent'] },
  { rule: 'asset_risk_policy', params: ['Asset'] },
  { rule: 'safety_interlock', params: ['Asset'] },
  { rule: 'dry_run_protection', params: ['Pump'] },
  { rule: 'overpressure_protection', params: ['Pump'] },
  { rule: 'leak_containment', params: ['Asset'] },
  { rule: 'asset_risk_treatment', params: ['Asset'] },
  { rule: 'condition_monitoring_gap', params: ['Asset'] },
  { rule: 'sensor_integrity', params: ['Asset'] },
  { rule: 'no_action_reason', params: ['Asset', 'Reason'] },
];

/**
 * The entry goals as one Prolog list. Named variables, not `_`: tau-prolog 0.3.4 leaves the template of
 * findall/3 unbound when the goal came from a query with anonymous variables (found by the conformance suite).
 */
export function entryListText(entries: readonly EntryGoal[]): string {
  return `[${entries.map((e, i) => `${e.rule}(${e.params.map((_, k) => `_E${i}_${k}`).join(',')})`).join(',')}]`;
}

export const DEFAULT_INFERENCE_LIMIT = 5_000_000;
const MAX_FILE_BYTES = 1024 * 1024;
const VFS_ROOT = '/glimmer';

export interface RuleEngineOptions {
  /** Directory the rule file names are relative to. */
  readonly rulesDir: string;
  /** Rule files in load order, e.g. ['industrial_safety.pl', 'compliance/iso55001_checks.pl']. */
  readonly rulesets: readonly string[];
  /** @default 5000000 inferences per evaluation */
  readonly inferenceLimit?: number;
  /** @default ENTRY_GOALS */
  readonly entries?: readonly EntryGoal[];
  /** Receives the engine's own warnings (singleton variables and the like), one line each. */
  readonly onWarning?: (line: string) => void;
}

export interface Firing {
  readonly rule: string;
  readonly bindings: Readonly<Record<string, Term>>;
}

export interface Evaluation {
  readonly fired: readonly Firing[];
  readonly violations: readonly { readonly asset: Term; readonly code: Term }[];
  readonly shutdowns: readonly Term[];
}

interface SwiQuery { once(): unknown }
interface SwiModule {
  FS: { mkdirTree(p: string): void; writeFile(p: string, data: string): void; unlink(p: string): void };
  prolog: { query(goal: string, input?: Record<string, unknown>): SwiQuery };
}
type SwiFactory = (opts: Record<string, unknown>) => Promise<SwiModule>;

interface SwiAnswer {
  readonly success?: boolean;
  readonly error?: boolean;
  readonly message?: string;
  readonly [binding: string]: unknown;
}

/** Converts swipl-wasm's JSON for a term ({$t:'t', name:[[args]]} for compounds) into a Term. */
export function fromSwi(v: unknown): Term {
  if (typeof v === 'string' || typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return { name: '[|]', args: v.map(fromSwi) };
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (o.$t === 't') {
      const name = typeof o.functor === 'string' ? o.functor : (Object.keys(o).find((k) => k !== '$t' && k !== 'functor') as string);
      const raw = o[name] as unknown[];
      const args = (Array.isArray(raw[0]) && raw.length === 1 ? raw[0] : raw) as unknown[];
      return { name, args: args.map(fromSwi) };
    }
    if (o.$t === 's' && typeof o.v === 'string') return o.v;
    if (o.$t === 'v') return '_';
  }
  return String(v);
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function readBounded(file: string, what: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    throw new GlimmerError('GLM_ERR_RULES_UNREADABLE', `${what} ${quote(file)} cannot be read`, { cause: err });
  }
  if (!stat.isFile() || stat.size > MAX_FILE_BYTES) throw new GlimmerError('GLM_ERR_RULES_UNREADABLE', `${what} ${quote(file)} is not a regular file of at most ${MAX_FILE_BYTES} bytes`);
  const text = fs.readFileSync(file, 'utf8');
  if (text.includes('\uFFFD')) throw new GlimmerError('GLM_ERR_RULES_UNREADABLE', `${what} ${quote(file)} is not valid UTF-8`);
  return text;
}

const KIND_CODES: Record<string, ErrorCode> = {
  syntax: 'GLM_ERR_RULES_SYNTAX',
  directive: 'GLM_ERR_RULES_DIRECTIVE',
  redefined: 'GLM_ERR_RULES_REDEFINED',
  clause: 'GLM_ERR_RULES_SYNTAX',
  fact: 'GLM_ERR_RULES_FACTS_INVALID',
};

function problemError(file: string, problems: unknown[], fallback: ErrorCode): GlimmerError {
  const first = fromSwi(problems[0]);
  const [kind, line, text] = typeof first === 'object' ? first.args : ['syntax', 0, ''];
  const code = KIND_CODES[String(kind)] ?? fallback;
  return new GlimmerError(code, `${file}:${String(line)}: ${String(text)}`, { details: { file, line, problems: problems.length } });
}

export class RuleEngine {
  private readonly diff = new FactDiff();
  private vfsCounter = 0;

  private constructor(
    private readonly swi: SwiModule,
    private readonly entries: readonly EntryGoal[],
    private readonly inferenceLimit: number,
    /** The fact vocabulary: every predicate the rule files declare dynamic, as name/arity. */
    readonly vocabulary: readonly string[],
    private readonly entryList: string,
  ) {}

  /** Boots the engine, checks every rule file, then loads them. Throws the first problem found, with file and line. */
  static async create(options: RuleEngineOptions): Promise<RuleEngine> {
    const limit = options.inferenceLimit ?? DEFAULT_INFERENCE_LIMIT;
    if (!Number.isInteger(limit) || limit < 1000) throw new GlimmerError('GLM_ERR_USAGE', `inference limit must be an integer >= 1000, received ${quote(limit)}`);
    const sources = options.rulesets.map((rel) => {
      const file = path.resolve(options.rulesDir, rel);
      return { rel, file, text: readBounded(file, 'rule file') };
    });
    // swipl-wasm is ~6 MB of WebAssembly: load it only when a rule engine is wanted.
     
    const factory = require('swipl-wasm') as SwiFactory;
    const warn = options.onWarning ?? (() => undefined);
    const swi = await factory({ arguments: ['-q', '--no-tty'], print: warn, printErr: warn });
    swi.FS.mkdirTree(`${VFS_ROOT}/host`);
    swi.FS.writeFile(`${VFS_ROOT}/host/host.pl`, HOST_PL);
    swi.FS.writeFile(`${VFS_ROOT}/host/loader.pl`, LOADER_PL);
    for (const f of ['host', 'loader']) RuleEngine.mustSucceed(swi, `load_files('${VFS_ROOT}/host/${f}.pl', [silent(true)])`, 'loading the host predicates');

    const definedBy = new Map<string, string>();
    const dynamic = new Set<string>();
    for (const src of sources) {
      const vpath = `${VFS_ROOT}/rules/${src.rel.replace(/[^A-Za-z0-9_./-]/g, '_')}`;
      swi.FS.mkdirTree(path.posix.dirname(vpath));
      swi.FS.writeFile(vpath, src.text);
      const ans = swi.prolog.query(`glimmer_check_rules(F, D, P)`, { F: vpath }).once() as SwiAnswer;
      if (!ans.success) throw new GlimmerError('GLM_ERR_RULES_SYNTAX', `${src.file}: cannot be checked: ${String(ans.message ?? 'failed')}`);
      const problems = list(ans.P);
      if (problems.length > 0) throw problemError(src.file, problems, 'GLM_ERR_RULES_SYNTAX');
      // A predicate defined in two rule files would be silently replaced by the second consult: refuse it.
      for (const d of list(ans.D)) {
        const t = fromSwi(d);
        if (typeof t !== 'object' || t.args.length !== 2) continue;
        const [pi, line] = t.args as [Term, Term];
        const key = typeof pi === 'object' ? `${String(pi.args[0])}/${String(pi.args[1])}` : String(pi);
        if (t.name === 'dyn') {
          dynamic.add(key);
          continue;
        }
        const owner = definedBy.get(key);
        if (owner !== undefined && owner !== src.rel) {
          throw new GlimmerError('GLM_ERR_RULES_REDEFINED', `${src.file}:${String(line)}: ${key} is already defined by ${owner}`, { details: { file: src.file, line } });
        }
        definedBy.set(key, src.rel);
      }
      RuleEngine.mustSucceed(swi, `load_files('${vpath}', [silent(true)])`, `loading ${src.rel}`);
    }
    const vocabulary = [...dynamic].sort();
    const entries = options.entries ?? ENTRY_GOALS;
    return new RuleEngine(swi, entries, limit, vocabulary, entryListText(entries));
  }

  private static mustSucceed(swi: SwiModule, goal: string, what: string): void {
    const ans = swi.prolog.query(goal).once() as SwiAnswer;
    if (!ans.success) throw new GlimmerError('GLM_ERR_RULES_SYNTAX', `${what} failed: ${String(ans.message ?? 'goal failed')}`);
  }

  /** Applies fact deltas in one query (assertz / retract). */
  apply(deltas: readonly FactDelta[]): void {
    if (deltas.length === 0) return;
    const ans = this.swi.prolog.query(`glimmer_apply([${deltas.map(deltaText).join(',')}])`).once() as SwiAnswer;
    if (!ans.success) throw new GlimmerError('GLM_ERR_RULES_EVALUATION', `applying ${deltas.length} fact deltas failed: ${String(ans.message ?? 'failed')}`);
  }

  /** Makes the engine's facts equal `facts` by asserting and retracting only what changed; returns the delta count. */
  sync(facts: readonly Fact[]): number {
    for (const f of facts) {
      if (!this.vocabulary.includes(`${f.pred}/${f.args.length}`)) {
        throw new GlimmerError('GLM_ERR_RULES_FACTS_INVALID', `${f.pred}/${f.args.length} is not in the fact vocabulary of the loaded rule files`);
      }
    }
    const deltas = this.diff.deltas(facts);
    this.apply(deltas);
    this.diff.commit();
    return deltas.length;
  }

  /** Reads a fact file (ground facts of the vocabulary only) and asserts its facts; returns how many. */
  loadFactsFile(file: string): number {
    const text = readBounded(file, 'fact file');
    const vpath = `${VFS_ROOT}/facts/${++this.vfsCounter}.pl`;
    this.swi.FS.mkdirTree(`${VFS_ROOT}/facts`);
    this.swi.FS.writeFile(vpath, text);
    try {
      const known = `[${this.vocabulary.map((pi) => { const i = pi.lastIndexOf('/'); return `'${pi.slice(0, i)}'/${pi.slice(i + 1)}`; }).join(',')}]`;
      const ans = this.swi.prolog.query(`glimmer_read_facts(F, ${known}, Fs, P), length(Fs, N), (P == [] -> forall(member(X, Fs), assertz(X)) ; true)`, { F: vpath }).once() as SwiAnswer;
      if (!ans.success) throw new GlimmerError('GLM_ERR_RULES_FACTS_INVALID', `${file}: cannot be read as facts: ${String(ans.message ?? 'failed')}`);
      const problems = list(ans.P);
      if (problems.length > 0) throw problemError(file, problems, 'GLM_ERR_RULES_FACTS_INVALID');
      return Number(ans.N);
    } finally {
      this.swi.FS.unlink(vpath);
    }
  }

  /** Runs every entry goal over all its solutions in one query, under the inference limit. */
  evaluate(): Evaluation {
    const ans = this.swi.prolog.query(
      `call_with_inference_limit(glimmer_evaluate(${this.entryList}, F, V, S), ${this.inferenceLimit}, R)`,
    ).once() as SwiAnswer;
    if (ans.error || !ans.success) {
      throw new GlimmerError('GLM_ERR_RULES_EVALUATION', `rule evaluation raised: ${quote(String(ans.message ?? 'failed'), 300)}`);
    }
    if (ans.R === 'inference_limit_exceeded') {
      throw new GlimmerError('GLM_ERR_RULES_INFERENCE_LIMIT', `rule evaluation exceeded the inference limit of ${this.inferenceLimit}; a rule is probably recursing without end`, {
        details: { limit: this.inferenceLimit },
      });
    }
    const fired: Firing[] = [];
    list(ans.F).forEach((instances, i) => {
      const entry = this.entries[i] as EntryGoal;
      for (const inst of list(instances)) {
        const t = fromSwi(inst);
        const args = typeof t === 'object' ? t.args : [];
        const bindings: Record<string, Term> = {};
        entry.params.forEach((p, k) => { bindings[p] = args[k] as Term; });
        fired.push({ rule: entry.rule, bindings });
      }
    });
    const violations = list(ans.V).map((v) => {
      const t = fromSwi(v);
      const [asset, code] = typeof t === 'object' ? t.args : [t, ''];
      return { asset: asset as Term, code: code as Term };
    });
    return { fired, violations, shutdowns: list(ans.S).map(fromSwi) };
  }
}

/** The CLI's JSON answer: violations and shutdowns, sorted so equal fact sets give byte-equal output. */
export function checkResult(ev: Evaluation): { violations: { asset: Atomic | Term; code: Atomic | Term }[]; shutdowns: Term[] } {
  const key = (t: unknown) => JSON.stringify(t);
  const violations = [...ev.violations].sort((a, b) => key([a.asset, a.code]).localeCompare(key([b.asset, b.code])));
  const shutdowns = [...ev.shutdowns].sort((a, b) => key(a).localeCompare(key(b)));
  return { violations: violations.map((v) => ({ asset: v.asset, code: v.code })), shutdowns };
}
