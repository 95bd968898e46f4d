/**
 * Output formats of plan-review: SARIF 2.1.0 validated against the required shape of the OASIS schema (ajv), JUnit XML
 * parsed by an independent XML parser (Python's xml.etree), text and JSON.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { ERROR_CATALOGUE } from '../../runtime/errors';
import { render, renderJunit, toSarif, xmlEscape } from '../../runtime/review/formats';
import { reviewFile, reviewText } from '../../runtime/review/plan-review';
import { RULES } from '../../runtime/review/rules';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'plans');
const insecure = () => reviewFile(path.join(FIXTURES, 'edge-insecure.plan.json'));

const text = { type: 'object', required: ['text'], properties: { text: { type: 'string' }, markdown: { type: 'string' } }, additionalProperties: false } as const;
const props = { type: 'object' } as const;
/**
 * The SARIF 2.1.0 schema (https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json)
 * restricted to the objects plan-review writes: their `required` members, types, enums and the allowed property names
 * (the OASIS schema sets additionalProperties: false on each of them).
 */
const SARIF_SUBSET = {
  type: 'object',
  required: ['version', 'runs'],
  additionalProperties: false,
  properties: {
    $schema: { type: 'string', format: 'uri' },
    version: { enum: ['2.1.0'] },
    runs: {
      type: 'array', minItems: 1,
      items: {
        type: 'object', required: ['tool'], additionalProperties: false,
        properties: {
          tool: {
            type: 'object', required: ['driver'], additionalProperties: false,
            properties: {
              driver: {
                type: 'object', required: ['name'], additionalProperties: false,
                properties: {
                  name: { type: 'string' }, version: { type: 'string' }, semanticVersion: { type: 'string' }, informationUri: { type: 'string', format: 'uri' },
                  rules: {
                    type: 'array', uniqueItems: true,
                    items: {
                      type: 'object', required: ['id'], additionalProperties: false,
                      properties: {
                        id: { type: 'string' }, name: { type: 'string' }, shortDescription: text, fullDescription: text, help: text,
                        helpUri: { type: 'string', format: 'uri' },
                        defaultConfiguration: { type: 'object', additionalProperties: false, properties: { level: { enum: ['none', 'note', 'warning', 'error'] } } },
                        properties: props,
                      },
                    },
                  },
                },
              },
            },
          },
          artifacts: {
            type: 'array',
            items: { type: 'object', additionalProperties: false, properties: { location: { $ref: '#/$defs/artifactLocation' } } },
          },
          invocations: {
            type: 'array',
            items: { type: 'object', required: ['executionSuccessful'], additionalProperties: false, properties: { executionSuccessful: { type: 'boolean' }, exitCode: { type: 'integer' } } },
          },
          results: {
            type: 'array',
            items: {
              type: 'object', required: ['message'], additionalProperties: false,
              properties: {
                ruleId: { type: 'string' }, ruleIndex: { type: 'integer', minimum: -1 }, level: { enum: ['none', 'note', 'warning', 'error'] },
                message: text,
                locations: {
                  type: 'array',
                  items: {
                    type: 'object', additionalProperties: false,
                    properties: {
                      physicalLocation: {
                        type: 'object', additionalProperties: false, anyOf: [{ required: ['artifactLocation'] }, { required: ['address'] }],
                        properties: {
                          artifactLocation: { $ref: '#/$defs/artifactLocation' },
                          region: { type: 'object', additionalProperties: false, properties: { startLine: { type: 'integer', minimum: 1 } } },
                        },
                      },
                      logicalLocations: {
                        type: 'array',
                        items: { type: 'object', additionalProperties: false, properties: { fullyQualifiedName: { type: 'string' }, kind: { type: 'string' } } },
                      },
                    },
                  },
                },
                partialFingerprints: { type: 'object', additionalProperties: { type: 'string' } },
                properties: props,
              },
            },
          },
          properties: props,
        },
      },
    },
  },
  $defs: {
    artifactLocation: {
      type: 'object', additionalProperties: false,
      properties: { uri: { type: 'string', format: 'uri-reference' }, uriBaseId: { type: 'string' } },
    },
  },
} as const;

describe('plan-review SARIF 2.1.0', () => {
  const ajv = new Ajv({ strict: true, strictRequired: false, allErrors: true });
  addFormats(ajv);
  const validate = ajv.compile(SARIF_SUBSET);

  test('GIVEN a report with findings WHEN rendered as SARIF THEN it validates against the SARIF 2.1.0 required shape', () => {
    const sarif = toSarif(insecure());
    assert.equal(validate(sarif), true, JSON.stringify(validate.errors, null, 2));
  });

  test('GIVEN a clean report WHEN rendered as SARIF THEN it validates and has no results but every rule', () => {
    const sarif = JSON.parse(render(reviewFile(path.join(FIXTURES, 'cloud-clean.plan.json')), 'sarif'));
    assert.equal(validate(sarif), true, JSON.stringify(validate.errors));
    assert.deepEqual(sarif.runs[0].results, []);
    assert.deepEqual(sarif.runs[0].tool.driver.rules.map((r: { id: string }) => r.id), RULES.map((r) => r.id));
  });

  test('GIVEN findings WHEN rendered as SARIF THEN each result points at its rule, level and resource', () => {
    const report = insecure();
    const sarif = toSarif(report) as { runs: { results: { ruleId: string; ruleIndex: number; level: string; locations: { logicalLocations: { fullyQualifiedName: string }[] }[] }[] }[] };
    const results = sarif.runs[0]?.results ?? [];
    assert.equal(results.length, report.findings.length);
    for (const [i, res] of results.entries()) {
      const f = report.findings[i];
      assert.equal(res.ruleId, f?.ruleId);
      assert.equal(RULES[res.ruleIndex]?.id, res.ruleId);
      assert.equal(res.level, f?.severity === 'blocking' ? 'error' : 'warning');
      assert.equal(res.locations[0]?.logicalLocations[0]?.fullyQualifiedName, f?.address);
    }
  });
});

describe('plan-review JUnit XML', () => {
  const parse = (xml: string) => JSON.parse(execFileSync('python3', ['-c', `
import sys, json, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
suite = root.find('testsuite')
cases = suite.findall('testcase')
print(json.dumps({"root": root.tag, "tests": int(suite.get("tests")), "failures": int(suite.get("failures")), "cases": len(cases),
  "failed": sorted(c.get("classname") + " " + c.get("name") for c in cases if c.find("failure") is not None),
  "warned": len([c for c in cases if c.find("system-out") is not None])}))
`], { input: xml, encoding: 'utf8' }));

  test('GIVEN findings WHEN rendered as JUnit THEN an XML parser reads one failure per blocking finding and a case per rule without findings', () => {
    const report = insecure();
    const out = parse(renderJunit(report));
    assert.equal(out.root, 'testsuites');
    assert.equal(out.failures, report.summary.blocking);
    assert.equal(out.failed.length, report.summary.blocking);
    assert.equal(out.warned, report.summary.warning);
    const rulesWithout = RULES.filter((r) => !report.findings.some((f) => f.ruleId === r.id)).length;
    assert.equal(out.cases, report.findings.length + rulesWithout);
    assert.equal(out.tests, out.cases);
    assert.ok(out.failed.includes('glimmer.plan-review.GLM-NET-001 kubernetes_service_v1.hmi'));
  });

  test('GIVEN addresses with XML metacharacters and invalid XML characters WHEN rendered as JUnit THEN the XML still parses', () => {
    const t = '{"format_version":"1.2","resource_changes":[{"address":"aws_sns_topic.a[\\"<&>\'\\"]\\ufffe","type":"aws_sns_topic","name":"a","change":{"actions":["create"],"before":null,"after":{}}}]}';
    const out = parse(renderJunit(reviewText(t, 'x<y>.json')));
    assert.equal(out.failures, 1);
    assert.equal(xmlEscape('a<b>&"\'\u0001'), 'a&lt;b&gt;&amp;&quot;&apos;?');
  });
});

describe('plan-review text and JSON', () => {
  test('GIVEN findings WHEN rendered as text THEN each shows severity, rule id, address and a fix, and a summary line', () => {
    const out = render(insecure(), 'text');
    assert.match(out, /^BLOCKING GLM-NET-001 kubernetes_service_v1\.hmi \(line \d+\)$/m);
    assert.match(out, /^ {2}fix: /m);
    assert.match(out, /^15 blocking, 5 warnings: FAIL$/m);
  });
  test('GIVEN a report WHEN rendered as JSON THEN it round-trips with the summary and exit code', () => {
    const r = insecure();
    const back = JSON.parse(render(r, 'json'));
    assert.deepEqual(back.summary, { blocking: 15, warning: 5 });
    assert.equal(back.exitCode, 1);
    assert.equal(back.findings.length, r.findings.length);
  });
});

describe('docs/ci.md agrees with the catalogues', () => {
  const doc = fs.readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'ci.md'), 'utf8');
  test('GIVEN the rule catalogue WHEN docs/ci.md is read THEN each rule has a table row with its id and severity', () => {
    for (const r of RULES) assert.match(doc, new RegExp(`^\\| \`${r.id}\` \\| ${r.severity} \\|`, 'm'), r.id);
    const documented = [...doc.matchAll(/^\| `(GLM-[A-Z0-9]+-\d{3})` \|/gm)].map((m) => m[1]);
    assert.deepEqual(documented, RULES.map((r) => r.id));
  });
  test('GIVEN the review error codes WHEN docs/ci.md is read THEN each is documented', () => {
    for (const code of Object.keys(ERROR_CATALOGUE).filter((c) => /^GLM_ERR_(REVIEW|THREAT|PRECOMMIT|RELEASE)_/.test(c))) assert.ok(doc.includes(code), code);
  });
});
