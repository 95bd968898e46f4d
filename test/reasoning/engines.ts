/**
 * The two reference engines of the conformance suite, fed exactly what the embedded engine is fed:
 * - native SWI-Prolog 9.0.4 (`swipl`, Debian swi-prolog-nox), one process per run: it consults the rule files as a user
 *   would, and for every fact set retracts all facts and asserts the new ones (a from-scratch reference);
 * - tau-prolog 0.3.4 in-process, driven with the same incremental deltas as the embedded engine.
 * All three answers are reduced to sorted lines: `f <rule> <args>`, `v <asset> <code>`, `s <unit>`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENTRY_GOALS, entryListText, type Evaluation } from '../../runtime/reasoning/engine';
import { HOST_PL } from '../../runtime/reasoning/prolog-host';
import { FactDiff, deltaText, factText, termToString, type Fact, type Term } from '../../runtime/reasoning/terms';

export const RULES_DIR = path.join(__dirname, '..', '..', 'rules');
export const RULESETS = ['industrial_safety.pl', 'iso55001_asset_rules.pl', 'compliance/iso55001_checks.pl'];
const ENTRY_LIST = entryListText(ENTRY_GOALS);

const plain = (t: Term): string => (typeof t === 'object' ? termToString(t) : String(t));

export function linesOf(ev: Evaluation): string[] {
  const out: string[] = [];
  for (const f of ev.fired) out.push(`f ${f.rule} ${Object.values(f.bindings).map(plain).join(' ')}`);
  for (const v of ev.violations) out.push(`v ${plain(v.asset)} ${plain(v.code)}`);
  for (const s of ev.shutdowns) out.push(`s ${plain(s)}`);
  return out.sort();
}

/** Runs every fact set through native swipl; returns the sorted lines per set and whatever swipl wrote to stderr. */
export function swiplRun(vocabulary: readonly string[], factSets: readonly (readonly Fact[])[]): { answers: string[][]; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-conf-'));
  try {
    fs.writeFileSync(path.join(dir, 'host.pl'), HOST_PL);
    const sets = factSets.map((facts, i) => `glimmer_set(${i}, [${facts.map(factText).join(',')}]).`).join('\n');
    const vocab = `[${vocabulary.map((pi) => { const k = pi.lastIndexOf('/'); return `'${pi.slice(0, k)}'/${pi.slice(k + 1)}`; }).join(',')}]`;
    fs.writeFileSync(path.join(dir, 'sets.pl'), `${sets}\n`);
    fs.writeFileSync(path.join(dir, 'driver.pl'), String.raw`
run :- forall(glimmer_set(Id, Facts), run_set(Id, Facts)).
run_set(Id, Facts) :-
    forall(member(N/A, ${vocab}), (functor(H, N, A), retractall(H))),
    forall(member(F, Facts), assertz(F)),
    glimmer_evaluate(${ENTRY_LIST}, Fired, V, S),
    forall((member(Is, Fired), member(G, Is)), (G =.. [R|Args], atomic_list_concat(Args, ' ', AT), format("~w f ~w ~w~n", [Id, R, AT]))),
    forall(member(X-C, V), format("~w v ~w ~w~n", [Id, X, C])),
    forall(member(U, S), format("~w s ~w~n", [Id, U])).
`);
    const files = ['host.pl', ...RULESETS.map((r) => path.join(RULES_DIR, r)), path.join(dir, 'sets.pl'), path.join(dir, 'driver.pl')];
    const args = ['-q', '-g', `maplist(consult, ${JSON.stringify(files).replace(/"/g, "'")}), run`, '-t', 'halt'];
    const stderrFile = path.join(dir, 'stderr');
    const fd = fs.openSync(stderrFile, 'w');
    let stdout: string;
    try {
      stdout = execFileSync('swipl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', fd], maxBuffer: 256 * 1024 * 1024 });
    } finally {
      fs.closeSync(fd);
    }
    const answers: string[][] = factSets.map(() => []);
    for (const line of stdout.split('\n')) {
      if (line === '') continue;
      const sp = line.indexOf(' ');
      (answers[Number(line.slice(0, sp))] as string[]).push(line.slice(sp + 1).trimEnd());
    }
    return { answers: answers.map((a) => a.sort()), stderr: fs.readFileSync(stderrFile, 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface TauTerm { id?: string; args?: TauTerm[]; value?: number; is_float?: boolean }
interface TauSession {
  consult(text: string, opts: { success(): void; error(e: unknown): void }): void;
  query(goal: string, opts: { success(): void; error(e: unknown): void }): void;
  answer(opts: { success(a: { links: Record<string, TauTerm> }): void; fail(): void; error(e: unknown): void; limit(): void }): void;
  format_answer(a: unknown): string;
  get_warnings?(): unknown[];
}

function tauList(t: TauTerm | undefined): TauTerm[] {
  const out: TauTerm[] = [];
  let cur = t;
  while (cur && cur.id === '.' && cur.args?.length === 2) {
    out.push(cur.args[0] as TauTerm);
    cur = cur.args[1];
  }
  return out;
}
const tauText = (t: TauTerm): string => (t.id !== undefined ? (t.args && t.args.length > 0 ? `${t.id}(${t.args.map(tauText).join(',')})` : t.id) : String(t.value));

/** tau-prolog 0.3.4, fed with incremental deltas like the embedded engine. */
export class TauRunner {
  private readonly diff = new FactDiff();
  private constructor(private readonly session: TauSession) {}

  static async create(): Promise<TauRunner> {
     
    const pl = require('tau-prolog') as { create(limit: number): TauSession };
    const session = pl.create(100_000_000);
    const program = [HOST_PL, ...RULESETS.map((r) => fs.readFileSync(path.join(RULES_DIR, r), 'utf8'))];
    for (const text of program) {
      await new Promise<void>((resolve, reject) => session.consult(text, { success: resolve, error: (e) => reject(new Error(session.format_answer(e))) }));
    }
    return new TauRunner(session);
  }

  warnings(): string[] {
    return (this.session.get_warnings?.() ?? []).map((w) => this.session.format_answer(w));
  }

  private once(goal: string): Promise<Record<string, TauTerm>> {
    return new Promise((resolve, reject) => {
      this.session.query(goal, {
        success: () => this.session.answer({
          success: (a) => resolve(a.links),
          fail: () => reject(new Error(`tau-prolog: ${goal.slice(0, 60)} failed`)),
          error: (e) => reject(new Error(this.session.format_answer(e))),
          limit: () => reject(new Error('tau-prolog: resolution limit')),
        }),
        error: (e) => reject(new Error(this.session.format_answer(e))),
      });
    });
  }

  async evaluate(facts: readonly Fact[]): Promise<string[]> {
    const deltas = this.diff.deltas(facts);
    if (deltas.length > 0) await this.once(`glimmer_apply([${deltas.map(deltaText).join(',')}]).`);
    this.diff.commit();
    const links = await this.once(`glimmer_evaluate(${ENTRY_LIST}, F, V, S).`);
    const out: string[] = [];
    for (const inst of tauList(links.F).flatMap((l) => tauList(l))) out.push(`f ${inst.id} ${(inst.args ?? []).map(tauText).join(' ')}`);
    for (const pair of tauList(links.V)) out.push(`v ${tauText((pair.args as TauTerm[])[0] as TauTerm)} ${tauText((pair.args as TauTerm[])[1] as TauTerm)}`);
    for (const u of tauList(links.S)) out.push(`s ${tauText(u)}`);
    return out.sort();
  }
}
