import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createMetrics } from '../../runtime/observability/metrics';
import { metricNames, seriesNames } from './promql';

interface Panel { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets?: { expr: string }[]; datasource?: { uid: string } }
const dashboard = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'monitoring', 'grafana', 'glimmer.json'), 'utf8')) as {
  uid: string; title: string; panels: Panel[]; __inputs: { name: string; type: string; pluginId: string }[];
};

test('GIVEN the Grafana dashboard WHEN its queries are read THEN every expression references a metric the runtime exports', async () => {
  const exported = seriesNames(await createMetrics().registry.getMetricsAsJSON());
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
  assert.ok(exprs.length >= 10, `the dashboard has queries (${exprs.length})`);
  for (const { panel, expr } of exprs) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `${panel}: ${expr} references a metric`);
    for (const name of names) assert.ok(exported.has(name), `${panel}: ${name} is exported by runtime/observability/metrics.ts`);
  }
});

test('GIVEN the dashboard WHEN imported into Grafana THEN it asks for a Prometheus data source and has stable, unique ids', () => {
  assert.equal(dashboard.uid, 'glimmer-overview');
  assert.deepEqual(dashboard.__inputs.map((i) => [i.name, i.type, i.pluginId]), [['DS_PROMETHEUS', 'datasource', 'prometheus']]);
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of dashboard.panels) {
    if (p.targets) assert.equal(p.datasource?.uid, '${DS_PROMETHEUS}', `${p.title} uses the imported data source`);
    assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
  }
});

test('GIVEN the dashboard WHEN panels are laid out THEN no two panels overlap', () => {
  const cells = new Set<string>();
  for (const p of dashboard.panels) {
    for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
      for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
        const key = `${x},${y}`;
        assert.ok(!cells.has(key), `${p.title} overlaps another panel at ${key}`);
        cells.add(key);
      }
    }
  }
});

test('GIVEN the dashboard WHEN the safety metrics are looked for THEN the seed alert\'s two gauges and every alert\'s metric are on it', () => {
  const all = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
  for (const m of ['safety_integrity_level', 'required_safety_level', 'glimmer_gateway_decisions_total', 'glimmer_plc_up', 'glimmer_agent_state', 'glimmer_audit_checkpoint_age_seconds', 'glimmer_certificate_expiry_timestamp_seconds', 'glimmer_anomaly_score', 'glimmer_plant_process_image_age_seconds']) {
    assert.ok(all.includes(m), `${m} is on the dashboard`);
  }
});
