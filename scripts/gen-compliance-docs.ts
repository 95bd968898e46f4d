/**
 * Generates docs/compliance/ from the control catalogues (`make compliance-docs`): one Markdown matrix per standard
 * (without live results: those come from `glimmer compliance` against a system) and an index. A test keeps them fresh.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadCatalogue, STANDARD_IDS, type StandardId } from '../runtime/compliance/catalogue';
import { buildReport, renderMarkdown } from '../runtime/compliance/report';

const ROOT = path.join(__dirname, '..');
export const COMPLIANCE_DOCS_DIR = path.join(ROOT, 'docs', 'compliance');

function levelOf(standard: StandardId): number | undefined {
  return standard === 'iec62443-3-3' ? 3 : undefined;
}

/** File name (under docs/compliance/) to content. */
export function renderComplianceDocs(): Map<string, string> {
  const out = new Map<string, string>();
  const index = [
    '# Compliance evidence',
    '',
    'Generated from `rules/compliance/catalogue/` by `make compliance-docs`; do not edit by hand.',
    '',
    'Glimmer is **mapped and evidenced, not certified**: a certificate is issued by an assessor to a product and its',
    "process. Each matrix maps a standard's requirements to the product control (file), the tests that prove it and the",
    'live checks that `glimmer compliance` runs against a state dir or a running runtime and the synthesized stacks.',
    '',
    '| standard | matrix | met | partly met | not met | out of scope |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const standard of STANDARD_IDS) {
    const report = buildReport(loadCatalogue(ROOT, standard), levelOf(standard), new Map(), false);
    out.set(`${standard}.md`, renderMarkdown(report));
    const c = report.counts;
    index.push(`| ${report.title}${report.sl ? ` (SL ${report.sl})` : ''} | [${standard}.md](${standard}.md) | ${c.met} | ${c['partly-met']} | ${c['not-met']} | ${c['out-of-scope']} |`);
  }
  index.push('', 'Run the live checks:', '', '```sh', 'make synth', 'glimmer compliance --standard iec62443-3-3 --sl 3 --state-dir .glimmer --stacks cdktf.out', '```', '');
  out.set('README.md', index.join('\n'));
  return out;
}

if (require.main === module) {
  fs.mkdirSync(COMPLIANCE_DOCS_DIR, { recursive: true });
  for (const [file, text] of renderComplianceDocs()) fs.writeFileSync(path.join(COMPLIANCE_DOCS_DIR, file), text);
}
