/**
 * Quality of the shipped model on held-out simulator data: seeded windows (seed 13) that neither training (seed 11)
 * nor threshold selection (seed 12) saw, generated here by the same simulator code.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../runtime/config/load';
import { reasoningSettings } from '../../runtime/reasoning/config';
import { CLASS_NAMES } from '../../runtime/reasoning/model-contract';
import { loadAnomalyModel } from '../../runtime/reasoning/anomaly-model';
import { generateWindows } from '../../runtime/industrial/plant/dataset';
import { FP32_MODEL, INT8_MODEL, sha256Of, windowsTensor } from '../../bench/scenarios/inference';
import { quality, scoreAll, wireQuantize } from '../../scripts/train/evaluate';

const HELD_OUT_SEED = 13;
const COUNT = 1000;
/** int8 vs fp32 tolerance on the anomaly score (1 - P(normal)). */
export const MEAN_ABS_TOLERANCE = 0.02;
export const DECISION_AGREEMENT = 0.99;

test(`GIVEN ${COUNT} held-out seeded simulator windows WHEN the int8 model scores them at the configured threshold THEN each fault is detected with recall >= 95% at a false-positive rate <= 1% (also at wire resolution), and int8 agrees with fp32`, async () => {
  const threshold = reasoningSettings(loadConfig().cognitive).threshold;
  const windows = generateWindows({ seed: HELD_OUT_SEED, count: COUNT });
  const labels = windows.map((w) => CLASS_NAMES.indexOf(w.label));
  const x = windowsTensor(windows);
  const int8 = await loadAnomalyModel({ file: INT8_MODEL, expectedSha256: sha256Of(INT8_MODEL) });
  const fp32 = await loadAnomalyModel({ file: FP32_MODEL, expectedSha256: sha256Of(FP32_MODEL) });
  const s8 = await scoreAll(int8, x);
  const s32 = await scoreAll(fp32, x);
  const q = quality(s8, labels, threshold);
  const figures = JSON.stringify({ threshold, fpr: q.fpr, recall: q.recall, classified: q.classified, counts: q.counts });
  assert.ok(q.fpr <= 0.01, `false-positive rate ${q.fpr} > 1% (${figures})`);
  for (const fault of ['bearing_wear', 'leak', 'stuck_sensor']) {
    assert.ok((q.counts[fault] ?? 0) >= 40, `enough ${fault} windows to measure (${q.counts[fault]})`);
    assert.ok((q.recall[fault] as number) >= 0.95, `${fault} recall ${q.recall[fault]} < 95% (${figures})`);
  }
  // The Industrial agent's snapshots carry register resolution (1 mm, 0.01 m3/h, ...): the model must not mistake it
  // for frozen sensors.
  const wire = quality(await scoreAll(int8, wireQuantize(x)), labels, threshold);
  assert.ok(wire.fpr <= 0.01, `false-positive rate at wire resolution ${wire.fpr} > 1%`);
  for (const fault of ['bearing_wear', 'leak', 'stuck_sensor']) assert.ok((wire.recall[fault] as number) >= 0.95, `${fault} recall at wire resolution ${wire.recall[fault]}`);
  const diffs = s8.map((s, i) => Math.abs(s.anomaly - (s32[i]?.anomaly as number)));
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  const agree = s8.filter((s, i) => (s.anomaly >= threshold) === ((s32[i]?.anomaly as number) >= threshold)).length / s8.length;
  assert.ok(mean <= MEAN_ABS_TOLERANCE, `int8 vs fp32 mean |score difference| ${mean} > ${MEAN_ABS_TOLERANCE}`);
  assert.ok(agree >= DECISION_AGREEMENT, `int8 and fp32 agree on ${agree} of the detections (< ${DECISION_AGREEMENT})`);
  await int8.close();
  await fp32.close();
});
