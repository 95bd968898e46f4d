import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../../runtime/observability/metrics';
import { observeCognitiveRecord, observeCognitiveStatus } from '../../runtime/reasoning/observe';

test('GIVEN a cognitive.decision record WHEN observed THEN new violations count by code and sent shutdowns by target; other records and unbounded labels are ignored', async () => {
  const m = createMetrics();
  observeCognitiveRecord(m, { type: 'cognitive.decision', new_violations: [{ asset: 'pump_2', code: 'SIF-01-DRY-RUN' }, { asset: 'x', code: 'bad label with spaces' }], shutdowns_sent: ['pump_2'] });
  observeCognitiveRecord(m, { type: 'gateway.write', new_violations: [{ code: 'SIF-01-DRY-RUN' }] });
  const text = await m.registry.metrics();
  assert.match(text, /glimmer_compliance_violations_total\{code="SIF-01-DRY-RUN"\} 1/);
  assert.match(text, /glimmer_safety_shutdown_commands_total\{target="pump_2"\} 1/);
  assert.doesNotMatch(text, /bad label/);
});

test('GIVEN two published statuses WHEN observed THEN anomaly scores are set and evaluation outcomes count the difference', async () => {
  const m = createMetrics();
  const first = { asset_scores: { pump_1: 0.91 }, rules: { ok: 3, violation: 1, error: 0, recent_durations_s: [0.002] } };
  const second = { asset_scores: { pump_1: 0.12 }, rules: { ok: 5, violation: 1, error: 1, recent_durations_s: [0.003, 0.004] } };
  observeCognitiveStatus(m, first);
  observeCognitiveStatus(m, second, first);
  const text = await m.registry.metrics();
  assert.match(text, /glimmer_anomaly_score\{asset="pump_1"\} 0\.12/);
  assert.match(text, /glimmer_rule_evaluations_total\{ruleset="all",outcome="ok"\} 5/);
  assert.match(text, /glimmer_rule_evaluations_total\{ruleset="all",outcome="error"\} 1/);
  assert.match(text, /glimmer_rule_evaluation_duration_seconds_count\{ruleset="all"\} 3/);
});
