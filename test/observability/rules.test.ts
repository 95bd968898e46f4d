import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { createMetrics } from '../../runtime/observability/metrics';
import { metricNames, seriesNames } from './promql';
import { promtool } from './promtool';

const DIR = path.join(__dirname, '..', '..', 'monitoring', 'prometheus');
const RULES = path.join(DIR, 'custom_rules.yml');
const TESTS = path.join(DIR, 'custom_rules.test.yml');

interface Rule { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const groups = (YAML.parse(fs.readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = groups.flatMap((g) => g.rules);

test('GIVEN custom_rules.yml WHEN promtool check rules runs THEN it reports success', () => {
  const r = promtool(['check', 'rules', RULES]);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /SUCCESS: \d+ rules found/);
});

test('GIVEN the unit tests of every alert WHEN promtool test rules runs THEN every test passes', () => {
  const r = promtool(['test', 'rules', TESTS]);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /SUCCESS/);
});

test('GIVEN the seed WHEN SafetyIntegrityBreach is read THEN it is the seed rule (name, comparison, for, labels, runbook) with TERMINATED agents left out', () => {
  const g = groups.find((x) => x.name === 'industrial_safety');
  assert.ok(g, 'group industrial_safety exists');
  assert.deepEqual(g.rules.find((x) => x.alert === 'SafetyIntegrityBreach'), {
    alert: 'SafetyIntegrityBreach',
    expr: '(safety_integrity_level < required_safety_level) unless ignoring (kind, state) (glimmer_agent_state{state="TERMINATED"} == 1)',
    for: '2m',
    labels: { severity: 'critical', compliance: 'IEC61508' },
    annotations: { response_plan: '/docs/response/iec61508.md#safety-shutdown' },
  });
});

test('GIVEN the issue WHEN the rules are listed THEN denied safety writes, checkpoints, PAUSED agents, certificates and PLCs are covered', () => {
  const names = rules.map((x) => x.alert);
  for (const a of ['SafetyIntegrityBreach', 'SafetyWriteDenied', 'AuditCheckpointOverdue', 'AgentStuckPaused', 'CertificateExpiringSoon', 'CertificateExpiryImminent', 'PlcUnreachable']) {
    assert.ok(names.includes(a), `${a} is defined`);
  }
});

test('GIVEN the unit test file WHEN its cases are read THEN every alert is tested both firing and not firing', () => {
  const spec = YAML.parse(fs.readFileSync(TESTS, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts?: unknown[] }[] }[] };
  const cases = spec.tests.flatMap((t) => t.alert_rule_test);
  for (const r of rules) {
    const mine = cases.filter((c) => c.alertname === r.alert);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${r.alert} is tested firing`);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${r.alert} is tested not firing`);
  }
});

test('GIVEN the runtime registry WHEN the rule expressions are parsed THEN every metric they reference is exported', async () => {
  const exported = seriesNames(await createMetrics().registry.getMetricsAsJSON());
  for (const r of rules) {
    for (const name of metricNames(r.expr)) assert.ok(exported.has(name), `${r.alert} references ${name}, which runtime/observability/metrics.ts exports`);
  }
});

test('GIVEN every alert WHEN its response plan is followed THEN the runbook has that anchor', () => {
  const runbook = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'response', 'iec61508.md'), 'utf8');
  for (const r of rules) {
    const plan = r.annotations?.response_plan;
    assert.ok(plan, `${r.alert} has a response_plan`);
    const [file, anchor] = plan.split('#');
    assert.equal(file, '/docs/response/iec61508.md');
    assert.ok(runbook.includes(`<a name="${anchor}"></a>`), `runbook has anchor ${anchor}`);
  }
});
