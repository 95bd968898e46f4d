/**
 * `make benchmark SCENARIO=<name> DURATION=<30s|5m|1h> [REPORT=path.json]`: runs one scenario, draws progress on a TTY,
 * prints a summary table and writes the JSON report (docs/observability.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GlimmerError, asGlimmerError, quote } from '../runtime/errors';
import { machine, type Report } from './lib/report';
import type { Scenario, ScenarioContext } from './lib/scenario';

export const SCENARIOS = ['cold_start', 'rpc', 'threat_analysis', 'audit', 'safety', 'inference', 'pq', 'synth', 'industrial_safety', 'audit_start', 'mcp', 'revocation', 'northbound', 'live_safety'] as const;

export function parseDuration(text: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(text);
  if (!m) throw new GlimmerError('GLM_ERR_BENCH_DURATION_INVALID', `DURATION must look like 30s, 5m or 1h, received ${quote(text)}`);
  const n = Number(m[1]);
  return m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : n;
}

/**
 * Scenarios that time per-call latency of runtime code run from their esbuild bundle (dist/bench-<name>.js, built by
 * `make build` like the agents' bundles), because the agents run bundles: tsx's per-file transform wraps every closure
 * the call creates (keepNames) and, for the rpc call, adds about 0.05 ms to the median and doubles the calls over 1 ms.
 */
export const BUNDLED_SCENARIOS: ReadonlySet<string> = new Set(['rpc']);

export async function loadScenario(name: string): Promise<Scenario> {
  if (!(SCENARIOS as readonly string[]).includes(name)) {
    throw new GlimmerError('GLM_ERR_BENCH_UNKNOWN_SCENARIO', `SCENARIO must be one of ${SCENARIOS.join(', ')}, received ${quote(name)}`);
  }
  if (BUNDLED_SCENARIOS.has(name)) {
    const bundle = path.resolve(__dirname, '..', 'dist', `bench-${name}.js`);
    if (!fs.existsSync(bundle)) throw new GlimmerError('GLM_ERR_BENCH_NOT_BUILT', `scenario ${quote(name)} runs from ${quote(bundle)}; run make build first`);
    return (require(bundle) as { default: Scenario }).default;
  }
  const file = path.join(__dirname, 'scenarios', `${name}.ts`);
  if (!fs.existsSync(file)) throw new GlimmerError('GLM_ERR_BENCH_UNKNOWN_SCENARIO', `scenario ${quote(name)} is not implemented in this build`);
  return ((await import(file)) as { default: Scenario }).default;
}

function progressBar(name: string): ScenarioContext['progress'] {
  const tty = process.stderr.isTTY;
  let last = -1;
  return (fraction, note) => {
    const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
    if (pct === last) return;
    last = pct;
    if (tty) {
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      process.stderr.write(`\r${name} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${note ?? ''}   `);
      if (pct === 100) process.stderr.write('\n');
    } else if (pct % 10 === 0) {
      process.stderr.write(`${name}: ${pct}%${note ? ` ${note}` : ''}\n`);
    }
  };
}

export function summaryTable(report: Report): string {
  const rows = Object.entries(report.metrics).map(([id, m]) => [
    id,
    `${m.value} ${m.unit}`,
    m.baseline === undefined ? '' : `${m.baseline} (${m.baseline_what ?? ''})`,
  ]);
  const header = ['metric', 'value', 'baseline (same run)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

export async function runBenchmark(name: string, durationText: string, reportPath: string): Promise<Report> {
  const durationS = parseDuration(durationText);
  const scenario = await loadScenario(name);
  const dir = path.dirname(path.resolve(reportPath));
  fs.mkdirSync(dir, { recursive: true });
  const ctx: ScenarioContext = {
    durationS,
    progress: progressBar(name),
    artifact(file, content) {
      const out = path.join(dir, `${path.basename(reportPath, '.json')}.${file}`);
      fs.writeFileSync(out, content);
      return out;
    },
  };
  const metrics = await scenario.run(ctx);
  const report: Report = { scenario: name, duration_s: durationS, machine: machine(), metrics };
  fs.writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

async function cli(): Promise<number> {
  const { values } = parseArgs({
    options: { scenario: { type: 'string', default: 'cold_start' }, duration: { type: 'string', default: '30s' }, report: { type: 'string' } },
  });
  const name = values.scenario as string;
  const reportPath = values.report ?? path.join('bench', 'reports', `${name}.json`);
  try {
    const report = await runBenchmark(name, values.duration as string, reportPath);
    process.stdout.write(`\n${summaryTable(report)}\n\nreport: ${reportPath}\n`);
    return 0;
  } catch (err) {
    const e = asGlimmerError(err);
    process.stderr.write(`benchmark: ${e.code}: ${e.message}\n`);
    if (e.code === 'GLM_ERR_INTERNAL') process.stderr.write(`${String((err as Error)?.stack)}\n`);
    return 2;
  }
}

if (require.main === module) {
  cli().then((code) => process.exit(code));
}
