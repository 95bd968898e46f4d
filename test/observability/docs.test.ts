import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { createMetrics } from '../../runtime/observability/metrics';

const ROOT = path.join(__dirname, '..', '..');
const doc = fs.readFileSync(path.join(ROOT, 'docs', 'observability.md'), 'utf8');

test('GIVEN the registry WHEN docs/observability.md is read THEN every Glimmer metric is documented with its labels', async () => {
  const { registry } = createMetrics();
  for (const { name } of await registry.getMetricsAsJSON()) {
    if (/^glimmer_(process|nodejs)_/.test(name)) continue; // prom-client defaults, documented as a group
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
    assert.ok(row, `${name} has a row in docs/observability.md`);
    const { labelNames } = registry.getSingleMetric(name) as unknown as { labelNames: readonly string[] };
    for (const label of labelNames) assert.ok(row.includes(`\`${label}\``), `${name}: label ${label} is documented`);
  }
});

test('GIVEN the alert rules WHEN docs/observability.md is read THEN every alert is documented', () => {
  const rules = (YAML.parse(fs.readFileSync(path.join(ROOT, 'monitoring', 'prometheus', 'custom_rules.yml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules);
  for (const r of rules) assert.match(doc, new RegExp(`\\| \`${r.alert}\``), `${r.alert} is documented`);
});
