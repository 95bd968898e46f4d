/**
 * Scores exported windows with the fp32 and int8 models and prints the figures docs/reasoning.md quotes:
 * the threshold (lowest score with FPR <= --fpr on the validation split), then per-fault recall, FPR and the
 * int8/fp32 agreement on the held-out test split. With --config, the chosen threshold is written into that
 * cognitive.yml (`make model` does), and --out keeps the report (models/anomaly-eval.json: the held-out figures the
 * live-attribution test holds the running swarm to).
 *   npx tsx scripts/train/evaluate.ts --data /tmp/glimmer-train --models models [--config config/cognitive.yml] [--out FILE]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FEATURE_NAMES } from '../../runtime/industrial/plant/dataset';
import { fromRaw, toRaw } from '../../runtime/model/plant-map';
import { mapEntry } from '../../runtime/industrial/plant/map';
import { CLASS_NAMES, WINDOW_LENGTH } from '../../runtime/reasoning/model-contract';
import { FEATURE_COUNT, loadAnomalyModel, type AnomalyModel, type WindowScores } from '../../runtime/reasoning/anomaly-model';
import { sha256Of } from '../../bench/scenarios/inference';

export async function scoreAll(model: AnomalyModel, x: Float32Array, batch = 64): Promise<WindowScores[]> {
  const size = WINDOW_LENGTH * FEATURE_COUNT;
  const n = x.length / size;
  const out: WindowScores[] = [];
  for (let i = 0; i < n; i += batch) {
    const b = Math.min(batch, n - i);
    out.push(...(await model.score(x.slice(i * size, (i + b) * size), b)));
  }
  return out;
}

/** The same windows as the Industrial agent sees them: every reading through its Modbus/OPC UA register scaling. */
export function wireQuantize(x: Float32Array): Float32Array {
  const entries = FEATURE_NAMES.map((name) => mapEntry(name));
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const e = entries[i % FEATURE_COUNT] as ReturnType<typeof mapEntry>;
    out[i] = fromRaw(e, toRaw(e, x[i] as number));
  }
  return out;
}

/** The smallest threshold whose false-positive rate on normal windows is at most `fpr`. */
export function chooseThreshold(scores: readonly number[], labels: readonly number[], fpr: number): number {
  const normals = scores.filter((_, i) => labels[i] === 0).sort((a, b) => b - a);
  const allowed = Math.floor(normals.length * fpr);
  return (normals[allowed] ?? 0) + 1e-6;
}

export interface Quality {
  readonly fpr: number;
  readonly recall: Record<string, number>;
  readonly classified: Record<string, number>;
  readonly counts: Record<string, number>;
}

export function quality(scores: readonly WindowScores[], labels: readonly number[], threshold: number): Quality {
  const counts: Record<string, number> = {};
  const hit: Record<string, number> = {};
  const right: Record<string, number> = {};
  let fp = 0;
  scores.forEach((s, i) => {
    const name = CLASS_NAMES[labels[i] as number] as string;
    counts[name] = (counts[name] ?? 0) + 1;
    const flagged = s.anomaly >= threshold;
    if (name === 'normal') { if (flagged) fp++; return; }
    if (flagged) hit[name] = (hit[name] ?? 0) + 1;
    if (flagged && s.mode === name) right[name] = (right[name] ?? 0) + 1;
  });
  const faults = CLASS_NAMES.filter((c) => c !== 'normal');
  return {
    fpr: fp / (counts.normal ?? 1),
    recall: Object.fromEntries(faults.map((f) => [f, (hit[f] ?? 0) / (counts[f] ?? 1)])),
    classified: Object.fromEntries(faults.map((f) => [f, (right[f] ?? 0) / (counts[f] ?? 1)])),
    counts,
  };
}

function load(prefix: string): { x: Float32Array; labels: number[] } {
  const meta = JSON.parse(fs.readFileSync(`${prefix}.json`, 'utf8')) as { labels: number[] };
  const buf = fs.readFileSync(`${prefix}.f32`);
  return { x: new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4).slice(), labels: meta.labels };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { data: { type: 'string', default: '/tmp/glimmer-train' }, models: { type: 'string', default: 'models' }, fpr: { type: 'string', default: '0.005' }, config: { type: 'string' }, out: { type: 'string' } } });
  const file = (n: string) => path.join(values.models, n);
  const int8 = await loadAnomalyModel({ file: file('anomaly-int8.onnx'), expectedSha256: sha256Of(file('anomaly-int8.onnx')) });
  const fp32 = await loadAnomalyModel({ file: file('anomaly-fp32.onnx'), expectedSha256: sha256Of(file('anomaly-fp32.onnx')) });
  const val = load(path.join(values.data, 'val'));
  const valScores = await scoreAll(int8, val.x);
  // Four decimals, as cognitive.yml carries it, rounded up so the validation FPR bound still holds.
  const threshold = Math.ceil(chooseThreshold(valScores.map((s) => s.anomaly), val.labels, Number(values.fpr)) * 10_000) / 10_000;
  const report: Record<string, unknown> = { threshold, validation: quality(valScores, val.labels, threshold) };
  const testPrefix = path.join(values.data, 'test');
  if (fs.existsSync(`${testPrefix}.json`)) {
    const test = load(testPrefix);
    const q8 = await scoreAll(int8, test.x);
    const q32 = await scoreAll(fp32, test.x);
    const diffs = q8.map((s, i) => Math.abs(s.anomaly - (q32[i] as WindowScores).anomaly));
    const agree = q8.filter((s, i) => (s.anomaly >= threshold) === ((q32[i] as WindowScores).anomaly >= threshold)).length / q8.length;
    const wire = await scoreAll(int8, wireQuantize(test.x));
    report.test = { int8_wire_resolution: quality(wire, test.labels, threshold), int8: quality(q8, test.labels, threshold), fp32: quality(q32, test.labels, threshold), max_abs_diff: Math.max(...diffs), mean_abs_diff: diffs.reduce((a, b) => a + b, 0) / diffs.length, decision_agreement: agree };
  }
  const text = `${JSON.stringify({ model: { int8_sha256: int8.sha256, fp32_sha256: fp32.sha256 }, ...report }, null, 2)}\n`;
  if (values.out) fs.writeFileSync(values.out, text);
  if (values.config) writeThreshold(values.config, threshold);
  process.stdout.write(text);
}

/** Rewrites the `threshold:` line of a cognitive.yml in place (its comments and layout stay). */
export function writeThreshold(file: string, threshold: number): void {
  const text = fs.readFileSync(file, 'utf8');
  const next = text.replace(/^(\s*threshold:\s*)[0-9.]+/m, `$1${threshold.toFixed(4)}`);
  if (next === text && !/^\s*threshold:/m.test(text)) throw new Error(`${file} has no threshold line`);
  fs.writeFileSync(file, next);
}

if (require.main === module) void main();
