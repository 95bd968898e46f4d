/**
 * `make mutation`: StrykerJS over the safety and evidence paths, one module at a time (`--concurrency 1`, the tap
 * runner executing only that module's node:test files, per-file coverage so a mutant runs only the files that reach
 * it). Each module writes reports/mutation/<module>/mutation.{html,json}; reports/mutation/summary.json holds the scores.
 *
 * A run fails when a module scores under the threshold or when a mutant survives that mutation/equivalent-mutants.json
 * does not list with the reason it is equivalent (an entry that no longer matches a surviving mutant fails a full run
 * too, so the list cannot go stale). The score leaves the listed equivalent mutants out:
 * killed / (killed + survived + no coverage), timeouts counting as killed (Stryker's own rule).
 *
 * Usage: node --import tsx scripts/mutation.ts [--module pdp,merkle] [--since <git rev>] [--threshold 90]
 *   --since: incremental (CI): mutate only the lines changed since <rev> in the listed files; nothing listed changed,
 *            nothing runs. Stale equivalent entries are not checked then (most mutants are not generated).
 *   --survivors: mutate only the lines where the module's last report has survivors (after adding tests), and score
 *            that report with the rerun's answers merged in (reports/mutation/<module>/merged.json).
 *   --score-only: score the last reports again (after editing the equivalent list) without running Stryker.
 *   --budget-min: stop a run that takes longer and report what did not run, without failing (default: none; CI
 *            passes one so the incremental run stays within its time limit).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(__dirname, '..');
const REPORTS = path.join(ROOT, 'reports', 'mutation');
export const EQUIVALENT_FILE = path.join(ROOT, 'mutation', 'equivalent-mutants.json');

export interface MutationModule {
  readonly name: string;
  /** Source files mutated. */
  readonly mutate: readonly string[];
  /** The node:test files that exercise them (run by the tap runner, each in its own process). */
  readonly tests: readonly string[];
}

export const MODULES: readonly MutationModule[] = [
  { name: 'write-decision', mutate: ['runtime/industrial/write-decision.ts'], tests: ['test/industrial/write-decision.test.ts'] },
  { name: 'inspector', mutate: ['runtime/industrial/modbus/inspector.ts'], tests: ['test/industrial/inspector.test.ts', 'test/industrial/fuzz.test.ts', 'test/industrial/gateway.test.ts'] },
  { name: 'pdp', mutate: ['runtime/trust/policy/pdp.ts'], tests: ['test/trust/policy.test.ts', 'test/trust/decision-cache.test.ts', 'test/trust/frame-cache.test.ts'] },
  { name: 'frame-cache', mutate: ['runtime/trust/policy/frame-decider.ts'], tests: ['test/trust/frame-cache.test.ts', 'test/trust/frame-decider.test.ts'] },
  { name: 'measured-boot', mutate: ['runtime/lifecycle/boot.ts', 'runtime/lifecycle/manifest.ts'], tests: ['test/lifecycle/measured-boot.test.ts', 'test/lifecycle/verify-boot.test.ts'] },
  { name: 'audit-writer', mutate: ['runtime/audit/writer.ts'], tests: ['test/audit/writer.test.ts', 'test/audit/durability.test.ts', 'test/audit/log.test.ts'] },
  { name: 'audit-log', mutate: ['runtime/audit/log.ts'], tests: ['test/audit/log-contract.test.ts', 'test/audit/log-recovery.test.ts', 'test/audit/log.test.ts', 'test/audit/durability.test.ts', 'test/audit/archive.test.ts'] },
  { name: 'merkle', mutate: ['runtime/audit/merkle.ts', 'runtime/audit/tree.ts'], tests: ['test/audit/merkle.test.ts'] },
  { name: 'verifier', mutate: ['runtime/audit/verify.ts', 'runtime/audit/note.ts'], tests: ['test/audit/note.test.ts', 'test/audit/verify-remote.test.ts', 'test/audit/verify.test.ts'] },
  { name: 'archive-verifier', mutate: ['runtime/audit/verify-bucket.ts'], tests: ['test/audit/verify-bucket.test.ts', 'test/audit/archive.test.ts'] },
  { name: 'svid', mutate: ['runtime/trust/svid.ts'], tests: ['test/trust/svid.test.ts'] },
];

export interface EquivalentMutant {
  readonly file: string;
  readonly mutator: string;
  /** The source text the mutant replaces, and what it puts there (as Stryker reports them). */
  readonly original: string;
  readonly replacement: string;
  /**
   * The source line the mutant starts on, trimmed: only for a mutant whose text also occurs on a line where the same
   * change is not equivalent, so the entry excuses this occurrence alone (the text, not the number, survives edits).
   */
  readonly line?: string;
  /** Why no test can tell the mutant from the original. */
  readonly reason: string;
}

interface ReportMutant {
  readonly id: string;
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly status: string;
  readonly location: { start: { line: number; column: number }; end: { line: number; column: number } };
}
interface Report { readonly files: Record<string, { source: string; mutants: ReportMutant[] }> }

export interface Survivor { readonly file: string; readonly mutator: string; readonly original: string; readonly replacement: string; readonly line: number; readonly status: string }

export interface ModuleResult {
  readonly module: string;
  readonly killed: number;
  readonly survived: number;
  readonly equivalent: number;
  readonly invalid: number;
  /** killed / (killed + survived), equivalent mutants excluded; undefined when no mutant was generated. */
  readonly score: number | undefined;
  readonly unlisted: readonly Survivor[];
  readonly seconds: number;
}

/** The source text a mutant replaces (mutation-testing-report-schema locations: 1-based lines and columns); `lines` is the source split once per file. */
function originalText(source: string, lines: readonly string[], m: ReportMutant): string {
  const offset = (p: { line: number; column: number }) => lines.slice(0, p.line - 1).reduce((n, l) => n + l.length + 1, 0) + p.column - 1;
  return source.slice(offset(m.location.start), offset(m.location.end));
}

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

/** Scores one module's JSON report against the equivalent-mutant list. */
export function scoreReport(module: string, report: Report, equivalents: readonly EquivalentMutant[], seconds = 0): ModuleResult & { matched: Set<EquivalentMutant> } {
  let killed = 0;
  let survived = 0;
  let equivalent = 0;
  let invalid = 0;
  const unlisted: Survivor[] = [];
  const matched = new Set<EquivalentMutant>();
  for (const [file, { source, mutants }] of Object.entries(report.files)) {
    const rel = path.isAbsolute(file) ? path.relative(ROOT, file) : file;
    const lines = source.split('\n');
    for (const m of mutants) {
      if (DETECTED.has(m.status)) killed += 1;
      else if (UNDETECTED.has(m.status)) {
        const s: Survivor = { file: rel, mutator: m.mutatorName, original: originalText(source, lines, m), replacement: m.replacement ?? '', line: m.location.start.line, status: m.status };
        const eq = equivalents.find((e) => e.file === s.file && e.mutator === s.mutator && e.original === s.original && e.replacement === s.replacement && (e.line === undefined || e.line === lines[s.line - 1]?.trim()));
        if (eq) {
          equivalent += 1;
          matched.add(eq);
        } else {
          survived += 1;
          unlisted.push(s);
        }
      } else invalid += 1;
    }
  }
  const total = killed + survived;
  return { module, killed, survived, equivalent, invalid, score: total === 0 ? undefined : (100 * killed) / total, unlisted, seconds, matched };
}

/** `file:a-b` ranges of the lines changed since `rev` (working tree included), per file. */
export function changedLines(rev: string, files: readonly string[], cwd = ROOT): string[] {
  const r = spawnSync('git', ['diff', '--unified=0', '--no-color', rev, '--', ...files], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git diff ${rev} failed: ${r.stderr}`);
  const out: string[] = [];
  let file = '';
  for (const line of r.stdout.split('\n')) {
    const f = /^\+\+\+ b\/(.*)$/.exec(line);
    if (f) { file = f[1] as string; continue; }
    const h = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (!h || !file) continue;
    const start = Number(h[1]);
    const count = h[2] === undefined ? 1 : Number(h[2]);
    if (count > 0) out.push(`${file}:${start}-${start + count - 1}`);
  }
  return out;
}

/**
 * `file:a-a` for each line holding a mutant that survived the module's last full run (from its JSON report): after new
 * tests, only those lines are mutated again. The result is merged into the last report (see mergeReports).
 */
function survivorLines(module: MutationModule): string[] {
  // The whole picture so far: the last merge when survivors were rerun before, else the last full run.
  const file = ['merged.json', 'mutation.json'].map((f) => path.join(REPORTS, module.name, f)).find((f) => fs.existsSync(f));
  if (file === undefined) return [...module.mutate];
  const report = JSON.parse(fs.readFileSync(file, 'utf8')) as Report;
  fs.copyFileSync(file, path.join(REPORTS, module.name, 'previous.json'));
  const lines = new Set<string>();
  for (const [f, { mutants }] of Object.entries(report.files)) {
    const rel = path.isAbsolute(f) ? path.relative(ROOT, f) : f;
    for (const m of mutants) if (UNDETECTED.has(m.status)) lines.add(`${rel}:${m.location.start.line}-${m.location.end.line}`);
  }
  return [...lines];
}

/**
 * The previous full report with each mutant the rerun tried again replaced by the rerun's answer, matched by line,
 * mutator, original text and replacement (so an edit within a line still matches; an edit that moves lines needs a
 * full run). A mutant the rerun no longer generates (its code was removed) is dropped.
 */
function mergeReports(previous: Report, rerun: Report): Report {
  const files: Report['files'] = {};
  for (const [f, entry] of Object.entries(previous.files)) {
    const again = rerun.files[f];
    if (!again) {
      files[f] = entry;
      continue;
    }
    const key = (source: string, lines: readonly string[], m: ReportMutant) => `${m.mutatorName} ${m.location.start.line} ${originalText(source, lines, m)} ${m.replacement ?? ''}`;
    const againLines = again.source.split('\n');
    const entryLines = entry.source.split('\n');
    const answers = new Map(again.mutants.map((m) => [key(again.source, againLines, m), m]));
    const rerunLines = new Set(again.mutants.map((m) => m.location.start.line));
    const mutants = entry.mutants.flatMap((m) => {
      const answer = answers.get(key(entry.source, entryLines, m));
      if (answer) return [{ ...answer, location: m.location }];
      return rerunLines.has(m.location.start.line) && UNDETECTED.has(m.status) ? [] : [m];
    });
    files[f] = { source: entry.source, mutants };
  }
  return { files };
}

function strykerConfig(module: MutationModule, mutate: readonly string[]): Record<string, unknown> {
  const dir = path.join('reports', 'mutation', module.name);
  return {
    testRunner: 'tap',
    plugins: ['@stryker-mutator/tap-runner'],
    // TAP explicitly: Node 26 prints its spec reporter by default even into a pipe, which the tap runner cannot read.
    tap: { testFiles: module.tests, nodeArgs: ['--import', 'tsx', '--test-reporter=tap', '--require', '{{hookFile}}', '{{testFile}}'], forceBail: true },
    mutate,
    coverageAnalysis: 'perTest',
    concurrency: 1,
    reporters: ['html', 'json', 'progress-append-only'],
    htmlReporter: { fileName: path.join(dir, 'mutation.html') },
    jsonReporter: { fileName: path.join(dir, 'mutation.json') },
    // The sandbox needs the sources, the tests, the release key the runtime checks and the agent bundle the release
    // fixtures copy (test/lifecycle/fixtures.ts); not the other bundles, the reports, or another module's sandbox
    // (two modules run at once from one checkout would copy each other's half-written files).
    ignorePatterns: ['dist/**', '!dist/release-key.pub.pem', '!dist/agent.js', 'reports', 'bench/reports', 'cdktf.out', '.glimmer-release', '.stryker-tmp-*', 'test-results'],
    tempDirName: `.stryker-tmp-${module.name}`,
    cleanTempDir: 'always',
    timeoutMS: 30_000,
  };
}

/** Prints a module's score and unlisted survivors; true when they fail the run. */
function printResult(result: ModuleResult, threshold: number, full: boolean): boolean {
  const score = result.score === undefined ? 'n/a' : `${result.score.toFixed(1)} %`;
  console.log(`mutation ${result.module}: ${score} killed (${result.killed} killed, ${result.survived} survived, ${result.equivalent} equivalent, ${result.invalid} invalid) in ${result.seconds} s`);
  for (const s of result.unlisted) console.log(`  survived: ${s.file}:${s.line} ${s.mutator} ${JSON.stringify(s.original)} -> ${JSON.stringify(s.replacement)}`);
  return result.unlisted.length > 0 || (full && result.score !== undefined && result.score < threshold);
}

function readEquivalents(): EquivalentMutant[] {
  return JSON.parse(fs.readFileSync(EQUIVALENT_FILE, 'utf8')) as EquivalentMutant[];
}

function main(): number {
  const { values } = parseArgs({ options: { module: { type: 'string' }, since: { type: 'string' }, survivors: { type: 'boolean' }, 'score-only': { type: 'boolean' }, threshold: { type: 'string', default: '90' }, 'budget-min': { type: 'string' } } });
  const wanted = values.module ? values.module.split(',') : MODULES.map((m) => m.name);
  const unknown = wanted.filter((n) => !MODULES.some((m) => m.name === n));
  if (unknown.length > 0) {
    console.error(`unknown module(s) ${unknown.join(', ')}; known: ${MODULES.map((m) => m.name).join(', ')}`);
    return 2;
  }
  if (values.since !== undefined && spawnSync('git', ['rev-parse', '--verify', '--quiet', `${values.since}^{commit}`], { cwd: ROOT }).status !== 0) {
    // A shallow clone or a first commit has no base to compare with: nothing counts as changed.
    console.log(`mutation: ${values.since} is not a commit here; no changed lines to mutate`);
    return 0;
  }
  const threshold = Number(values.threshold);
  const deadline = values['budget-min'] ? Date.now() + Number(values['budget-min']) * 60_000 : Infinity;
  const equivalents = readEquivalents();
  fs.mkdirSync(REPORTS, { recursive: true });
  const results: ModuleResult[] = [];
  const used = new Set<EquivalentMutant>();
  let failed = false;
  for (const module of MODULES.filter((m) => wanted.includes(m.name))) {
    const mutate = values.survivors ? survivorLines(module) : values.since === undefined ? [...module.mutate] : changedLines(values.since, module.mutate);
    if (mutate.length === 0) {
      console.log(`mutation ${module.name}: no change since ${values.since}`);
      continue;
    }
    if (values['score-only']) {
      // Scores the module's last report again (e.g. after editing the equivalent list), without running Stryker.
      const last = ['merged.json', 'mutation.json'].map((f) => path.join(REPORTS, module.name, f)).find((f) => fs.existsSync(f));
      if (last === undefined) {
        console.log(`mutation ${module.name}: no report yet`);
        continue;
      }
      const previousRun = fs.existsSync(path.join(REPORTS, 'summary.json')) ? (JSON.parse(fs.readFileSync(path.join(REPORTS, 'summary.json'), 'utf8')) as Record<string, ModuleResult>)[module.name] : undefined;
      const r = scoreReport(module.name, JSON.parse(fs.readFileSync(last, 'utf8')) as Report, equivalents, previousRun?.seconds ?? 0);
      r.matched.forEach((e) => used.add(e));
      const { matched: _matched, ...result } = r;
      results.push(result);
      failed = printResult(result, threshold, values.since === undefined) || failed;
      continue;
    }
    const configFile = path.join(REPORTS, `${module.name}.stryker.json`);
    fs.writeFileSync(configFile, JSON.stringify(strykerConfig(module, mutate), null, 2));
    console.log(`mutation ${module.name}: ${mutate.join(' ')} against ${module.tests.join(' ')}`);
    const started = Date.now();
    const left = deadline - started;
    const run = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js'), 'run', configFile], {
      cwd: ROOT, stdio: 'inherit', ...(Number.isFinite(left) ? { timeout: Math.max(1, left) } : {}),
    });
    const seconds = Math.round((Date.now() - started) / 1000);
    if (Date.now() >= deadline && (run.error || run.status !== 0)) {
      // The budget keeps CI within its time limit: what could not run is reported, not failed; `make mutation` runs it.
      console.log(`mutation ${module.name}: the time budget ran out after ${seconds} s; not scored (run make mutation MODULES=${module.name})`);
      break;
    }
    if (run.error || run.status !== 0) {
      console.error(`mutation ${module.name}: stryker did not finish (${run.error?.message ?? `exit ${String(run.status)}`})`);
      failed = true;
      break;
    }
    let report = JSON.parse(fs.readFileSync(path.join(ROOT, 'reports', 'mutation', module.name, 'mutation.json'), 'utf8')) as Report;
    const previousFile = path.join(REPORTS, module.name, 'previous.json');
    const mergedFile = path.join(REPORTS, module.name, 'merged.json');
    if (values.survivors && fs.existsSync(previousFile)) {
      report = mergeReports(JSON.parse(fs.readFileSync(previousFile, 'utf8')) as Report, report);
      fs.writeFileSync(mergedFile, JSON.stringify(report));
    } else if (values.since === undefined) {
      // A full run replaces every earlier answer: a merge of older runs would be scored instead of it.
      fs.rmSync(mergedFile, { force: true });
      fs.rmSync(previousFile, { force: true });
    }
    const r = scoreReport(module.name, report, equivalents, seconds);
    r.matched.forEach((e) => used.add(e));
    const { matched: _matched, ...result } = r;
    results.push(result);
    failed = printResult(result, threshold, values.since === undefined) || failed;
    if (values.since === undefined) {
      const files = new Set(module.mutate);
      for (const e of equivalents.filter((x) => files.has(x.file) && !used.has(x))) {
        console.log(`  stale equivalent entry (no surviving mutant matches it): ${e.file} ${e.mutator} ${JSON.stringify(e.original)} -> ${JSON.stringify(e.replacement)}`);
        failed = true;
      }
    }
  }
  const summaryFile = path.join(REPORTS, 'summary.json');
  const previous = fs.existsSync(summaryFile) ? (JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as Record<string, ModuleResult>) : {};
  for (const r of results) previous[r.module] = r;
  fs.writeFileSync(summaryFile, `${JSON.stringify(previous, null, 2)}\n`);
  return failed ? 1 : 0;
}

if (require.main === module) process.exitCode = main();
