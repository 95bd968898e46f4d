/** The catalogues stay honest: every file, test and live check they cite exists, and IEC 62443-3-3 is complete. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadCatalogue, parseCatalogue, parseTestRef, selectedAt, STANDARD_IDS } from '../../runtime/compliance/catalogue';
import { LIVE_CHECK_IDS } from '../../runtime/compliance/checks';
import { isGlimmerError } from '../../runtime/errors';
import { COMPLIANCE_DOCS_DIR, renderComplianceDocs } from '../../scripts/gen-compliance-docs';

const ROOT = path.join(__dirname, '..', '..');

/** SR ids of IEC 62443-3-3 from the number of system requirements per foundational requirement (FR 1 to FR 7). */
const SR_PER_FR = [13, 12, 9, 3, 4, 2, 8];
const ALL_SRS = SR_PER_FR.flatMap((n, fr) => Array.from({ length: n }, (_, i) => `SR ${fr + 1}.${i + 1}`));

/** Test titles of a test file: the first string argument of each test( call. */
function titles(file: string): string[] {
  const source = fs.readFileSync(path.join(ROOT, file), 'utf8');
  return [...source.matchAll(/\btest\(\s*(['`"])((?:\\.|(?!\1).)*)\1/gs)].map((m) => (m[2] as string).replace(/\\(.)/g, '$1'));
}

test('GIVEN every catalogue WHEN loaded THEN each cited control file, test title and live check exists, and every met row names a test', () => {
  let rows = 0;
  for (const standard of STANDARD_IDS) {
    const catalogue = loadCatalogue(ROOT, standard);
    for (const r of catalogue.requirements) {
      rows += 1;
      for (const file of r.controls ?? []) assert.ok(fs.existsSync(path.join(ROOT, file)), `${standard} ${r.id}: control file ${file} does not exist`);
      for (const ref of r.tests ?? []) {
        const { file, title } = parseTestRef(ref);
        assert.ok(fs.existsSync(path.join(ROOT, file)), `${standard} ${r.id}: test file ${file} does not exist`);
        assert.ok(titles(file).some((t) => t.includes(title)), `${standard} ${r.id}: no test in ${file} has a title containing ${JSON.stringify(title)}`);
      }
      for (const id of r.live ?? []) assert.ok(LIVE_CHECK_IDS.includes(id), `${standard} ${r.id}: unknown live check ${id}`);
      if (r.status === 'met') assert.ok((r.tests ?? []).length > 0, `${standard} ${r.id} is met without a test`);
    }
  }
  assert.ok(rows > 100, `only ${rows} rows`);
});

test('GIVEN the IEC 62443-3-3 catalogue WHEN read at SL 3 THEN every system requirement SR 1.1 to SR 7.8 appears exactly once, each with its enhancements at or below its level', () => {
  const catalogue = loadCatalogue(ROOT, 'iec62443-3-3');
  const ids = selectedAt(catalogue, 3).map((r) => r.id);
  assert.deepEqual([...ids].sort(), [...ALL_SRS].sort());
  assert.equal(new Set(ids).size, ids.length);
  for (const r of catalogue.requirements) for (const e of r.enhancements ?? []) assert.ok(e.sl >= (r.sl ?? 1), `${r.id} ${e.id} is selected below its requirement`);
  // Levels select monotonically: SL 1 picks a strict subset, and SR 2.7 / SR 2.12 start at SL 3.
  assert.ok(selectedAt(catalogue, 1).length < ALL_SRS.length);
  assert.deepEqual(['SR 2.7', 'SR 2.12'].map((id) => catalogue.requirements.find((r) => r.id === id)?.sl), [3, 3]);
});

const GOOD = `standard: iec62443-3-3
title: t
version: v
updated: "2026-12-05"
source: s
requirements:
`;

test('GIVEN malformed catalogues WHEN parsed THEN each is refused with GLM_ERR_COMPLIANCE_CATALOGUE_INVALID naming the row and the rule', () => {
  const cases: [string, string, RegExp][] = [
    ['not YAML', 'a: [', /x\.yml: not YAML/],
    ['an unknown key', `${GOOD}  - { id: SR 1.1, title: t, status: met, tests: [a], controls: [b], colour: red }`, /at \/requirements\/0: must NOT have additional properties/],
    ['an unknown status', `${GOOD}  - { id: SR 1.1, title: t, status: certified }`, /at \/requirements\/0\/status: must be equal to one of the allowed values/],
    ['a duplicate requirement', `${GOOD}  - { id: SR 1.1, title: t, status: out-of-scope, reason: r }\n  - { id: SR 1.1, title: t, status: out-of-scope, reason: r }`, /requirement "SR 1\.1" appears twice/],
    ['met without a test', `${GOOD}  - { id: SR 1.1, title: t, status: met, controls: [b] }`, /"SR 1\.1" is marked met but names no test/],
    ['met without a control', `${GOOD}  - { id: SR 1.1, title: t, status: met, tests: [a] }`, /"SR 1\.1" is marked met but names no control/],
    ['partly met without what is missing', `${GOOD}  - { id: SR 1.1, title: t, status: partly-met, tests: [a], controls: [b] }`, /"SR 1\.1" is partly-met but does not say what is missing/],
    ['out of scope without a reason', `${GOOD}  - { id: SR 1.1, title: t, status: out-of-scope }`, /"SR 1\.1" is out of scope without a reason/],
  ];
  for (const [what, text, message] of cases) {
    assert.throws(() => parseCatalogue(text, 'x.yml'), (e: unknown) => isGlimmerError(e, 'GLM_ERR_COMPLIANCE_CATALOGUE_INVALID') && message.test(e.message), what);
  }
  assert.throws(() => parseTestRef('test/x.test.ts'), (e: unknown) => isGlimmerError(e, 'GLM_ERR_COMPLIANCE_CATALOGUE_INVALID') && /"<file>: <title text>"/.test(e.message));
});

test('GIVEN the catalogues WHEN docs/compliance/ is compared with a fresh rendering THEN they agree (regenerate with make compliance-docs)', () => {
  const rendered = renderComplianceDocs();
  assert.deepEqual(fs.readdirSync(COMPLIANCE_DOCS_DIR).sort(), [...rendered.keys()].sort());
  for (const [file, text] of rendered) assert.equal(fs.readFileSync(path.join(COMPLIANCE_DOCS_DIR, file), 'utf8'), text, `docs/compliance/${file} is stale`);
});
