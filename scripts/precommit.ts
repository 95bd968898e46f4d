/**
 * `make precommit CHECKERS="vulnscan,static-analysis,sbom-gen"` (any subset, in the order given):
 * - vulnscan: `npm audit --omit=dev --audit-level=high` against the registry; fails on high or critical advisories,
 *   and fails closed when the registry's audit endpoint cannot be reached;
 * - static-analysis: eslint (with the eslint-plugin-security rules of eslint.config.mjs) and `tsc --noEmit`;
 * - sbom-gen: a CycloneDX 1.6 JSON SBOM of the production dependencies via @cyclonedx/cyclonedx-npm into sbom.json,
 *   validated against the CycloneDX JSON schema the library ships.
 * Prints a summary table at the end. Exit codes: 0 all passed, 1 a checker failed or could not run, 2 usage
 * (an unknown checker is GLM_ERR_PRECOMMIT_UNKNOWN_CHECKER).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { GlimmerError, isGlimmerError, quote } from '../runtime/errors';

export const CHECKERS = ['vulnscan', 'static-analysis', 'sbom-gen'] as const;
export type CheckerName = (typeof CHECKERS)[number];

export interface CheckResult {
  readonly checker: CheckerName;
  readonly status: 'PASS' | 'FAIL' | 'ERROR';
  readonly details: string;
  readonly seconds: number;
}

export interface CheckOptions {
  /** Project directory (package.json, lockfile, node_modules). @default the repository root */
  readonly cwd?: string;
  /** Extra environment for the tools (e.g. npm_config_registry). */
  readonly env?: NodeJS.ProcessEnv;
  /** Where sbom-gen writes. @default <cwd>/sbom.json */
  readonly sbomFile?: string;
  /** Echo tool output as it runs. @default true */
  readonly echo?: boolean;
}

const ROOT = path.resolve(__dirname, '..');

/** Parses `a,b c` into checker names; unknown names are a typed usage error. */
export function parseCheckers(value: string): CheckerName[] {
  const names = value.split(/[\s,]+/).filter(Boolean);
  if (names.length === 0) throw new GlimmerError('GLM_ERR_PRECOMMIT_UNKNOWN_CHECKER', `CHECKERS is empty; allowed: ${CHECKERS.join(', ')}`);
  for (const n of names) {
    if (!(CHECKERS as readonly string[]).includes(n)) {
      throw new GlimmerError('GLM_ERR_PRECOMMIT_UNKNOWN_CHECKER', `unknown checker ${quote(n)}; allowed: ${CHECKERS.join(', ')}`, { details: { checker: n } });
    }
  }
  return [...new Set(names)] as CheckerName[];
}

interface Run { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], opts: CheckOptions, echo = false): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; if (echo) process.stdout.write(d); });
    child.stderr.on('data', (d: Buffer) => { stderr += d; if (echo) process.stderr.write(d); });
    child.on('error', (err) => resolve({ code: 127, stdout, stderr: `${stderr}${err.message}` }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const bin = (cwd: string, name: string) => path.join(cwd, 'node_modules', '.bin', name);

// --- vulnscan -----------------------------------------------------------------------------------------------------------

export interface AuditCounts { info: number; low: number; moderate: number; high: number; critical: number }

/** Reads `npm audit --json` output: the severity counts, or the error npm reported. */
export function summarizeAudit(stdout: string): { counts?: AuditCounts; packages?: string[]; error?: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    return { error: `npm audit printed no JSON (${quote(stdout.slice(0, 120))})` };
  }
  const d = doc as { metadata?: { vulnerabilities?: Partial<AuditCounts> }; vulnerabilities?: Record<string, { severity?: string }>; error?: { summary?: string }; message?: string; statusCode?: number };
  const v = d.metadata?.vulnerabilities;
  if (v === undefined) {
    const why = [d.error?.summary, d.message].find((x) => typeof x === 'string' && x.trim() !== '') ?? 'no metadata.vulnerabilities in the report';
    return { error: `the registry's audit endpoint did not answer: ${why.split('\n')[0]}` };
  }
  const counts: AuditCounts = { info: v.info ?? 0, low: v.low ?? 0, moderate: v.moderate ?? 0, high: v.high ?? 0, critical: v.critical ?? 0 };
  const packages = Object.entries(d.vulnerabilities ?? {}).filter(([, x]) => x.severity === 'high' || x.severity === 'critical').map(([name, x]) => `${name} (${x.severity})`).sort();
  return { counts, packages };
}

export async function vulnscan(opts: CheckOptions = {}): Promise<Omit<CheckResult, 'checker' | 'seconds'>> {
  const r = await run('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], opts);
  const s = summarizeAudit(r.stdout);
  if (s.error !== undefined || s.counts === undefined) {
    return { status: 'ERROR', details: `${s.error ?? 'no report'}; vulnerabilities were NOT checked (run where the registry audit API is reachable)` };
  }
  const c = s.counts;
  const line = `${c.critical} critical, ${c.high} high, ${c.moderate} moderate, ${c.low} low (production dependencies)`;
  if (c.critical + c.high > 0) return { status: 'FAIL', details: `${line}: ${(s.packages ?? []).join(', ')}; run \`npm audit --omit=dev\` for the fixes` };
  return { status: 'PASS', details: line };
}

// --- static-analysis ----------------------------------------------------------------------------------------------------

interface EslintMessage { ruleId: string | null; severity: number; message: string; line?: number; column?: number }

export async function staticAnalysis(opts: CheckOptions = {}): Promise<Omit<CheckResult, 'checker' | 'seconds'>> {
  const cwd = opts.cwd ?? ROOT;
  const [lint, tsc] = await Promise.all([
    run(process.execPath, [bin(cwd, 'eslint'), '--format', 'json', '.'], opts),
    run(process.execPath, [bin(cwd, 'tsc'), '-p', 'tsconfig.json', '--noEmit', '--pretty', 'false'], opts),
  ]);
  let files: { filePath: string; messages: EslintMessage[] }[] = [];
  try {
    files = JSON.parse(lint.stdout);
  } catch {
    return { status: 'ERROR', details: `eslint did not run: ${quote((lint.stderr || lint.stdout).trim().split('\n')[0] ?? '', 200)}` };
  }
  const problems = files.flatMap((f) => f.messages.map((m) => ({ ...m, file: path.relative(cwd, f.filePath) })));
  const errors = problems.filter((p) => p.severity === 2);
  const warnings = problems.filter((p) => p.severity === 1);
  const security = problems.filter((p) => p.ruleId?.startsWith('security/'));
  for (const p of problems) process.stdout.write(`${p.file}:${p.line ?? 0}:${p.column ?? 0} ${p.severity === 2 ? 'error' : 'warning'} ${p.message} (${p.ruleId ?? 'parse'})\n`);
  const tsErrors = tsc.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
  if (opts.echo !== false) for (const l of tsErrors) process.stdout.write(`${l}\n`);
  if (tsc.code !== 0 && tsErrors.length === 0) return { status: 'ERROR', details: `tsc did not run: ${quote((tsc.stderr || tsc.stdout).trim().split('\n')[0] ?? '', 200)}` };
  const details = `eslint: ${errors.length} errors, ${warnings.length} warnings (${security.length} from security rules); tsc: ${tsErrors.length} errors`;
  return { status: errors.length === 0 && tsErrors.length === 0 ? 'PASS' : 'FAIL', details };
}

// --- sbom-gen -----------------------------------------------------------------------------------------------------------

const SCHEMA_DIR = (cwd: string) => path.join(cwd, 'node_modules', '@cyclonedx', 'cyclonedx-library', 'res', 'schema');

/** Validates a CycloneDX JSON document against the schema of its specVersion shipped by @cyclonedx/cyclonedx-library. */
export function validateSbom(doc: unknown, cwd = ROOT): { ok: boolean; errors: string[]; specVersion?: string; components?: number } {
  const d = doc as { bomFormat?: unknown; specVersion?: unknown; components?: unknown[] };
  if (d === null || typeof d !== 'object' || d.bomFormat !== 'CycloneDX' || typeof d.specVersion !== 'string' || !/^1\.[2-7]$/.test(d.specVersion)) {
    return { ok: false, errors: ['not a CycloneDX JSON document (bomFormat/specVersion)'] };
  }
  const dir = SCHEMA_DIR(cwd);
  const load = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addFormat('idn-email', /^[^\s@]+@[^\s@]+$/u);
  ajv.addFormat('iri-reference', /^\S*$/u);
  // The bom schema refers to its companions by their SNAPSHOT file names.
  for (const f of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json']) ajv.addSchema({ ...load(f), $id: `http://cyclonedx.org/schema/${f}` });
  const validate = ajv.compile(load(`bom-${d.specVersion}.SNAPSHOT.schema.json`));
  const ok = validate(doc) as boolean;
  return {
    ok, specVersion: d.specVersion, components: Array.isArray(d.components) ? d.components.length : 0,
    errors: (validate.errors ?? []).slice(0, 10).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`),
  };
}

export async function sbomGen(opts: CheckOptions = {}): Promise<Omit<CheckResult, 'checker' | 'seconds'>> {
  const cwd = opts.cwd ?? ROOT;
  const out = opts.sbomFile ?? path.join(cwd, 'sbom.json');
  const r = await run(process.execPath, [bin(cwd, 'cyclonedx-npm'), '--omit', 'dev', '--spec-version', '1.6', '--output-reproducible', '--output-format', 'JSON', '--output-file', out], opts);
  if (r.code !== 0 || !fs.existsSync(out)) return { status: 'ERROR', details: `cyclonedx-npm failed: ${quote((r.stderr || r.stdout).trim().split('\n').slice(-1)[0] ?? '', 200)}` };
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(out, 'utf8'));
  } catch {
    return { status: 'FAIL', details: `${path.relative(cwd, out)} is not JSON` };
  }
  const v = validateSbom(doc, cwd);
  if (!v.ok) return { status: 'FAIL', details: `${path.relative(cwd, out)} does not match the CycloneDX ${v.specVersion ?? ''} schema: ${v.errors.join('; ')}` };
  return { status: 'PASS', details: `${path.relative(cwd, out) || out}: CycloneDX ${v.specVersion} JSON, ${v.components} components (production dependencies), schema-valid` };
}

const RUNNERS: Record<CheckerName, (o: CheckOptions) => Promise<Omit<CheckResult, 'checker' | 'seconds'>>> = {
  vulnscan, 'static-analysis': staticAnalysis, 'sbom-gen': sbomGen,
};

export function summaryTable(results: readonly CheckResult[]): string {
  const rows = [['checker', 'status', 'time', 'details'], ...results.map((r) => [r.checker, r.status, `${r.seconds.toFixed(1)}s`, r.details])];
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((row) => (row[i] as string).length)));
  const fmt = (row: string[]) => row.map((c, i) => (i < 3 ? c.padEnd(w[i] as number) : c)).join('  ');
  return [fmt(rows[0] as string[]), w.map((n) => '-'.repeat(n)).join('  ') + '  -------', ...rows.slice(1).map(fmt)].join('\n');
}

export async function runPrecommit(checkers: readonly CheckerName[], opts: CheckOptions = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const name of checkers) {
    process.stdout.write(`\n== precommit: ${name}\n`);
    const t0 = process.hrtime.bigint();
    let r: Omit<CheckResult, 'checker' | 'seconds'>;
    try {
      r = await RUNNERS[name](opts);
    } catch (err) {
      r = { status: 'ERROR', details: (err as Error).message.split('\n')[0] ?? 'failed' };
    }
    results.push({ checker: name, ...r, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
  }
  return results;
}

async function main(argv: string[]): Promise<number> {
  let checkers: CheckerName[];
  try {
    const { values } = parseArgs({ args: argv, options: { checkers: { type: 'string', default: CHECKERS.join(',') } } });
    checkers = parseCheckers(values.checkers as string);
  } catch (err) {
    const code = isGlimmerError(err) ? err.code : 'GLM_ERR_USAGE';
    process.stderr.write(`precommit: ${code}: ${(err as Error).message}\nUsage: make precommit CHECKERS="${CHECKERS.join(',')}" (any subset)\n`);
    return 2;
  }
  const results = await runPrecommit(checkers);
  process.stdout.write(`\n${summaryTable(results)}\n`);
  return results.every((r) => r.status === 'PASS') ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => { process.stderr.write(`precommit: ${String(err)}\n`); process.exitCode = 2; });
}
