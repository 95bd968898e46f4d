/**
 * inference: the int8 anomaly model on one intra-op thread (onnxruntime-node), one window per call as the Cognitive
 * Agent runs it. `inference_p99_ms` is the p99 latency of one window; windows/s is the sequential throughput, and a
 * batch of 32 is measured too. Baseline: the fp32 model (same graph before quantization) in the same run.
 * Windows are real: seeded simulated-plant windows with and without faults.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO_ROOT } from '../../runtime/config/load';
import { featureVector, generateWindows, type LabelledWindow } from '../../runtime/industrial/plant/dataset';
import { WINDOW_LENGTH } from '../../runtime/reasoning/model-contract';
import { FEATURE_COUNT, loadAnomalyModel, type AnomalyModel } from '../../runtime/reasoning/anomaly-model';
import { round, summarize, type Metric } from '../lib/report';
import type { Scenario } from '../lib/scenario';

export const INT8_MODEL = path.join(REPO_ROOT, 'models', 'anomaly-int8.onnx');
export const FP32_MODEL = path.join(REPO_ROOT, 'models', 'anomaly-fp32.onnx');

export function sha256Of(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Windows as the model input, float32 [count, 60, 16]. */
export function windowsTensor(windows: readonly LabelledWindow[]): Float32Array {
  const out = new Float32Array(windows.length * WINDOW_LENGTH * FEATURE_COUNT);
  let k = 0;
  for (const w of windows) for (const s of w.snapshots) for (const v of featureVector(s)) out[k++] = v;
  return out;
}

/** Seeded plant windows as float32 [count, 60, 16]. */
export function plantWindows(seed: number, count: number): Float32Array {
  return windowsTensor(generateWindows({ seed, count, length: WINDOW_LENGTH }));
}

async function timeModel(model: AnomalyModel, windows: Float32Array, count: number, budgetMs: number): Promise<{ single: number[]; singlePerS: number; batchPerS: number }> {
  const size = WINDOW_LENGTH * FEATURE_COUNT;
  for (let i = 0; i < 20; i++) await model.score(windows.subarray((i % count) * size, (i % count + 1) * size), 1);
  const single: number[] = [];
  const start = performance.now();
  for (let i = 0; performance.now() - start < budgetMs; i++) {
    const w = windows.slice((i % count) * size, (i % count + 1) * size);
    const t0 = performance.now();
    await model.score(w, 1);
    single.push(performance.now() - t0);
  }
  const elapsed = performance.now() - start;
  const batch = 32;
  const bw = windows.slice(0, batch * size);
  let batches = 0;
  const b0 = performance.now();
  while (performance.now() - b0 < budgetMs / 4) { await model.score(bw, batch); batches++; }
  return { single, singlePerS: single.length / (elapsed / 1000), batchPerS: (batches * batch) / ((performance.now() - b0) / 1000) };
}

const scenario: Scenario = {
  description: 'int8 anomaly model: one-window latency and windows/s on one thread, against the fp32 model',
  async run(ctx) {
    ctx.progress(0, 'generating windows');
    const count = 64;
    const windows = plantWindows(4242, count);
    const int8 = await loadAnomalyModel({ file: INT8_MODEL, expectedSha256: sha256Of(INT8_MODEL) });
    const fp32 = await loadAnomalyModel({ file: FP32_MODEL, expectedSha256: sha256Of(FP32_MODEL) });
    const budget = Math.max(2000, (ctx.durationS * 1000) / 3);
    ctx.progress(0.1, 'fp32');
    const base = await timeModel(fp32, windows, count, budget);
    ctx.progress(0.5, 'int8');
    const q = await timeModel(int8, windows, count, budget);
    ctx.progress(1);
    const s = summarize(q.single);
    const b = summarize(base.single);
    await int8.close();
    await fp32.close();
    const m: Record<string, Metric> = {
      inference_p99_ms: {
        value: round(s.p99), unit: 'ms', baseline: round(b.p99),
        baseline_what: 'the fp32 model (the same graph before quantization), one window per call, p99 in the same run',
        detail: {
          p50_ms: round(s.p50), windows_per_s: round(q.singlePerS, 1), batch32_windows_per_s: round(q.batchPerS, 1),
          fp32_p50_ms: round(b.p50), fp32_windows_per_s: round(base.singlePerS, 1), fp32_batch32_windows_per_s: round(base.batchPerS, 1),
          calls: s.n, intra_op_threads: 1, model_sha256: int8.sha256,
        },
      },
    };
    return m;
  },
};
export default scenario;
