/**
 * Renderers of a plan-review report: text (terminals and CI logs), JSON (scripts), SARIF 2.1.0 (code-scanning UIs)
 * and JUnit XML (CI test tabs). All of them carry the rule ids; none carries anything from the plan that the report
 * did not already clean.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PlanReviewReport, ReviewedFinding } from './plan-review';
import { RULES, type RuleSpec } from './rules';

export const REVIEW_FORMATS = ['text', 'json', 'sarif', 'junit'] as const;
export type ReviewFormat = (typeof REVIEW_FORMATS)[number];

export const SARIF_SCHEMA_URI = 'https://json.schemastore.org/sarif-2.1.0.json';
const DOCS_URI = 'https://github.com/glimmer-ai/glimmer/blob/main/docs/ci.md';

export function renderText(r: PlanReviewReport): string {
  const kind = r.input.kind === 'terraform-plan'
    ? `terraform plan, format ${r.input.formatVersion ?? '?'}${r.input.terraformVersion ? `, terraform ${r.input.terraformVersion}` : ''}`
    : 'synthesized configuration';
  const lines = [`${r.tool.name}: ${r.input.file} (${kind}): ${r.resourcesReviewed} resources reviewed`];
  for (const f of r.findings) {
    lines.push('', `${f.severity === 'blocking' ? 'BLOCKING' : 'WARNING '} ${f.ruleId} ${f.address}${f.line ? ` (line ${f.line})` : ''}`);
    lines.push(`  ${f.message}`);
    if (f.constructPath) lines.push(`  construct: ${f.constructPath}`);
    lines.push(`  fix: ${f.fix}`);
  }
  lines.push('', `${r.summary.blocking} blocking, ${r.summary.warning} warning${r.summary.warning === 1 ? '' : 's'}: ${r.exitCode === 0 ? 'PASS' : 'FAIL'}`);
  return `${lines.join('\n')}\n`;
}

export function renderJson(r: PlanReviewReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

function ruleName(spec: RuleSpec): string {
  return spec.title.replace(/[^A-Za-z0-9 ]/g, ' ').split(/\s+/).filter(Boolean).map((w) => w[0]?.toUpperCase() + w.slice(1)).join('');
}

function fingerprint(f: ReviewedFinding): string {
  return crypto.createHash('sha256').update(`${f.ruleId}\u0000${f.address}\u0000${f.message}`).digest('hex');
}

/** An absolute path becomes a file: URI; a relative one stays relative to the checkout (%SRCROOT%). */
function artifactLocation(file: string): { uri: string; uriBaseId?: string } {
  if (path.isAbsolute(file)) return { uri: pathToFileURL(file).href };
  return { uri: encodeURI(file.split(path.sep).join('/')), uriBaseId: '%SRCROOT%' };
}

/** SARIF 2.1.0 log: one run, the rule catalogue as the driver's rules, one result per finding. */
export function toSarif(r: PlanReviewReport): Record<string, unknown> {
  const rules = RULES.map((spec) => ({
    id: spec.id,
    name: ruleName(spec),
    shortDescription: { text: spec.title },
    fullDescription: { text: spec.description },
    help: { text: spec.fix, markdown: `**Fix:** ${spec.fix}` },
    helpUri: `${DOCS_URI}#plan-review-rules`,
    defaultConfiguration: { level: spec.severity === 'blocking' ? 'error' : 'warning' },
    properties: { tags: ['security', 'terraform', 'glimmer'] },
  }));
  const index = new Map<string, number>(RULES.map((s, i) => [s.id, i]));
  const location = artifactLocation(r.input.file);
  const results = r.findings.map((f) => ({
    ruleId: f.ruleId,
    ruleIndex: index.get(f.ruleId) as number,
    level: f.severity === 'blocking' ? 'error' : 'warning',
    message: { text: `${f.message}. Fix: ${f.fix}` },
    locations: [{
      physicalLocation: { artifactLocation: location, ...(f.line ? { region: { startLine: f.line } } : {}) },
      logicalLocations: [{ fullyQualifiedName: f.address, kind: 'resource' }],
    }],
    partialFingerprints: { 'glimmerFinding/v1': fingerprint(f) },
    properties: { severity: f.severity, jsonPointer: f.pointer, ...(f.constructPath ? { constructPath: f.constructPath } : {}) },
  }));
  return {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: [{
      tool: { driver: { name: r.tool.name, version: r.tool.version, semanticVersion: r.tool.version, informationUri: DOCS_URI, rules } },
      artifacts: [{ location }],
      invocations: [{ executionSuccessful: true, exitCode: r.exitCode }],
      results,
      properties: { input: r.input, resourcesReviewed: r.resourcesReviewed, summary: r.summary },
    }],
  };
}

export function renderSarif(r: PlanReviewReport): string {
  return `${JSON.stringify(toSarif(r), null, 2)}\n`;
}

// eslint-disable-next-line no-control-regex
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function xmlEscape(s: string): string {
  return s.replace(XML_INVALID, '?').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/**
 * JUnit XML: one test case per finding (blocking = failure, warning = a passing case with the warning on system-out),
 * and one passing case per rule without findings, so CI test tabs show every rule that ran.
 */
export function renderJunit(r: PlanReviewReport): string {
  const cases: string[] = [];
  for (const spec of RULES) {
    const mine = r.findings.filter((f) => f.ruleId === spec.id);
    const cls = xmlEscape(`glimmer.plan-review.${spec.id}`);
    if (mine.length === 0) {
      cases.push(`    <testcase classname="${cls}" name="${xmlEscape(`${spec.title}: no finding`)}" time="0"/>`);
      continue;
    }
    for (const f of mine) {
      const body = xmlEscape(`${f.message}\nfix: ${f.fix}`);
      const name = xmlEscape(f.address);
      if (f.severity === 'blocking') {
        cases.push(`    <testcase classname="${cls}" name="${name}" time="0">\n      <failure message="${xmlEscape(f.message)}" type="${spec.id}">${body}</failure>\n    </testcase>`);
      } else {
        cases.push(`    <testcase classname="${cls}" name="${name}" time="0">\n      <system-out>WARNING ${body}</system-out>\n    </testcase>`);
      }
    }
  }
  const tests = cases.length;
  const failures = r.summary.blocking;
  const suite = xmlEscape(`${r.tool.name}: ${r.input.file}`);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlEscape(r.tool.name)}" tests="${tests}" failures="${failures}" errors="0" time="0">`,
    `  <testsuite name="${suite}" tests="${tests}" failures="${failures}" errors="0" skipped="0" time="0">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

export function render(r: PlanReviewReport, format: ReviewFormat): string {
  switch (format) {
    case 'text': return renderText(r);
    case 'json': return renderJson(r);
    case 'sarif': return renderSarif(r);
    case 'junit': return renderJunit(r);
  }
}
