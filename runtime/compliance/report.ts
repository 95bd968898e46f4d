/**
 * Joins a catalogue with live check results into the compliance report, and renders it as a Markdown matrix or
 * JSON. The verdict is strict in one direction only: a requirement marked met whose live check fails makes the report
 * fail (exit 1); a check that could not run is shown as such and never counts as evidence.
 */
import { selectedAt, type Catalogue, type Requirement, type Status } from './catalogue';
import type { CheckResult } from './checks';
import { liveCheckTitle } from './checks';

export interface RowResult {
  readonly requirement: Requirement;
  readonly checks: readonly CheckResult[];
  /** A met requirement with a failing live check. */
  readonly failed: boolean;
}

export interface ComplianceReport {
  readonly standard: Catalogue['standard'];
  readonly title: string;
  readonly version: string;
  readonly source: string;
  readonly sl?: number;
  readonly rows: readonly RowResult[];
  readonly counts: Readonly<Record<Status, number>>;
  readonly liveRan: boolean;
  readonly ok: boolean;
}

export function buildReport(catalogue: Catalogue, sl: number | undefined, results: ReadonlyMap<string, CheckResult>, liveRan: boolean): ComplianceReport {
  const rows = selectedAt(catalogue, sl).map((requirement) => {
    const checks = (requirement.live ?? []).map((id) => results.get(id) ?? { id, outcome: 'not-run' as const, detail: 'not requested' });
    return { requirement, checks, failed: requirement.status === 'met' && checks.some((c) => c.outcome === 'fail') };
  });
  const counts: Record<Status, number> = { met: 0, 'partly-met': 0, 'not-met': 0, 'out-of-scope': 0 };
  for (const r of rows) counts[r.requirement.status] += 1;
  return {
    standard: catalogue.standard,
    title: catalogue.title,
    version: catalogue.version,
    source: catalogue.source,
    ...(sl === undefined ? {} : { sl }),
    rows,
    counts,
    liveRan,
    ok: rows.every((r) => !r.failed),
  };
}

/** Requirement ids with their enhancements at the target level: `SR 1.1 (RE 1, RE 2)`. */
export function requirementLabel(r: Requirement, sl: number | undefined): string {
  const res = (r.enhancements ?? []).filter((e) => sl === undefined || e.sl <= sl).map((e) => e.id);
  return res.length ? `${r.id} (${res.join(', ')})` : r.id;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const OUTCOME_MARK = { pass: 'pass', fail: '**FAIL**', 'not-run': 'not run' } as const;

export function renderMarkdown(report: ComplianceReport): string {
  const lines: string[] = [];
  lines.push(`# ${report.title}${report.sl === undefined ? '' : `, security level ${report.sl}`}`);
  lines.push('');
  lines.push(`Mapped and evidenced, not certified: a certificate is issued by an assessor to a product and its process.`);
  lines.push(`Identifiers and titles: ${report.source}. Catalogue: \`rules/compliance/catalogue/${report.standard}.yml\`.`);
  lines.push('');
  lines.push(`Status counts: met ${report.counts.met}, partly met ${report.counts['partly-met']}, not met ${report.counts['not-met']}, out of scope ${report.counts['out-of-scope']}.`);
  if (report.liveRan) lines.push(`Live checks: ${report.ok ? 'every requirement marked met passed its live checks' : '**a requirement marked met FAILED its live check**'}.`);
  lines.push('');
  lines.push('| requirement | title | status | product control | tests | live check |');
  lines.push('| --- | --- | --- | --- | --- | --- |');
  for (const row of report.rows) {
    const r = row.requirement;
    const status = r.status === 'met' ? 'met' : r.status === 'out-of-scope' ? `out of scope: ${r.reason}` : `${r.status === 'partly-met' ? 'partly met' : 'not met'}: ${r.missing}`;
    const controls = (r.controls ?? []).map((c) => `\`${c}\``).join('<br>');
    const tests = (r.tests ?? []).map((t) => `\`${t.slice(0, t.indexOf(': '))}\``).filter((t, i, a) => a.indexOf(t) === i).join('<br>');
    const live = row.checks.map((c) => (report.liveRan ? `${c.id}: ${OUTCOME_MARK[c.outcome]} (${c.detail})` : `${c.id}`)).join('<br>');
    const how = r.how ? `${r.title}. ${r.how}` : r.title;
    lines.push(`| ${cell(requirementLabel(r, report.sl))}${row.failed ? ' **FAILED**' : ''} | ${cell(how)} | ${cell(status)} | ${cell(controls)} | ${cell(tests)} | ${cell(live)} |`);
  }
  const used = [...new Set(report.rows.flatMap((r) => r.requirement.live ?? []))].sort();
  if (used.length) {
    lines.push('');
    lines.push('Live checks:');
    lines.push('');
    for (const id of used) lines.push(`- \`${id}\`: ${liveCheckTitle(id) ?? 'unknown check'}`);
  }
  return `${lines.join('\n')}\n`;
}

export function renderJson(report: ComplianceReport): string {
  return `${JSON.stringify({
    standard: report.standard,
    title: report.title,
    version: report.version,
    ...(report.sl === undefined ? {} : { security_level: report.sl }),
    ok: report.ok,
    counts: report.counts,
    requirements: report.rows.map((row) => ({
      id: row.requirement.id,
      label: requirementLabel(row.requirement, report.sl),
      title: row.requirement.title,
      status: row.requirement.status,
      ...(row.requirement.how ? { how: row.requirement.how } : {}),
      ...(row.requirement.missing ? { missing: row.requirement.missing } : {}),
      ...(row.requirement.reason ? { reason: row.requirement.reason } : {}),
      controls: row.requirement.controls ?? [],
      tests: row.requirement.tests ?? [],
      live: row.checks,
      failed: row.failed,
    })),
  }, null, 2)}\n`;
}
