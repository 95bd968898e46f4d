/**
 * The anomaly model: an ONNX transformer encoder run by onnxruntime-node on one intra-op thread. The file is read
 * once, hashed, checked against the hash the signed release manifest lists (so the bytes measured are the bytes run),
 * then its input/output contract is checked by metadata and by one probe run.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { GlimmerError, quote } from '../errors';
import { CLASS_NAMES, FAULT_ASSETS, INPUT_NAME, OUTPUT_NAMES, WINDOW_LENGTH, type FailureMode } from './model-contract';

export const FEATURE_COUNT = 16;
const MAX_MODEL_BYTES = 64 * 1024 * 1024;

export interface WindowScores {
  /** 1 - P(normal): how anomalous the window is. */
  readonly anomaly: number;
  /** The most likely failure mode among the faults (argmax over the non-normal classes). */
  readonly mode: Exclude<FailureMode, 'normal'>;
  readonly classProbs: readonly number[];
  /** anomaly * P(asset): the per-asset anomaly score. */
  readonly assetScores: Readonly<Record<string, number>>;
  /** The asset the anomaly is most likely on. */
  readonly asset: string;
}

export interface AnomalyModel {
  readonly file: string;
  readonly sha256: string;
  /** Scores `batch` windows laid out as float32 [batch, 60, 16]. */
  score(windows: Float32Array, batch: number): Promise<WindowScores[]>;
  close(): Promise<void>;
}

export interface LoadModelOptions {
  readonly file: string;
  /** The sha256 (hex) the signed release manifest lists for this file; anything else is refused. */
  readonly expectedSha256: string;
}

type Ort = typeof import('onnxruntime-node');

function contract(file: string, why: string): GlimmerError {
  return new GlimmerError('GLM_ERR_MODEL_CONTRACT', `model ${quote(file)} does not keep the contract: ${why}`, { details: { file } });
}

export async function loadAnomalyModel(options: LoadModelOptions): Promise<AnomalyModel> {
  const { file } = options;
  let bytes: Buffer;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile() || stat.size > MAX_MODEL_BYTES) throw new Error(`not a regular file of at most ${MAX_MODEL_BYTES} bytes`);
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new GlimmerError('GLM_ERR_MODEL_UNREADABLE', `model ${quote(file)} cannot be read`, { cause: err });
  }
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  const want = options.expectedSha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(want) || !crypto.timingSafeEqual(Buffer.from(sha256, 'hex'), Buffer.from(want, 'hex'))) {
    throw new GlimmerError('GLM_ERR_MODEL_UNTRUSTED', `model ${quote(file)} has sha256 ${sha256}, the signed release manifest lists ${quote(options.expectedSha256)}`, {
      details: { file, actual: sha256 },
    });
  }
   
  const ort = require('onnxruntime-node') as Ort;
  let session: import('onnxruntime-node').InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  } catch (err) {
    throw new GlimmerError('GLM_ERR_MODEL_UNREADABLE', `model ${quote(file)} is not a model onnxruntime can load`, { cause: err });
  }
  if (session.inputNames.length !== 1 || session.inputNames[0] !== INPUT_NAME) throw contract(file, `inputs must be [${INPUT_NAME}], found ${quote(session.inputNames)}`);
  for (const out of OUTPUT_NAMES) if (!session.outputNames.includes(out)) throw contract(file, `output ${out} is missing (outputs: ${quote(session.outputNames)})`);
  const meta = (session as unknown as { inputMetadata?: readonly { name: string; isTensor: boolean; type?: string; shape?: readonly (number | string)[] }[] }).inputMetadata;
  const input = meta?.find((m) => m.name === INPUT_NAME);
  if (input) {
    if (!input.isTensor || input.type !== 'float32') throw contract(file, `input ${INPUT_NAME} must be a float32 tensor, found ${quote(input.type)}`);
    const shape = input.shape ?? [];
    if (shape.length !== 3 || shape[1] !== WINDOW_LENGTH || shape[2] !== FEATURE_COUNT) {
      throw contract(file, `input ${INPUT_NAME} must have shape [batch, ${WINDOW_LENGTH}, ${FEATURE_COUNT}], found ${quote(shape)}`);
    }
  }
  const run = async (windows: Float32Array, batch: number) => {
    const feeds = { [INPUT_NAME]: new ort.Tensor('float32', windows, [batch, WINDOW_LENGTH, FEATURE_COUNT]) };
    return session.run(feeds);
  };
  // Probe: one all-zero window must give [1, 4] and [1, 6] probabilities.
  let probe: Awaited<ReturnType<typeof run>>;
  try {
    probe = await run(new Float32Array(WINDOW_LENGTH * FEATURE_COUNT), 1);
  } catch (err) {
    throw contract(file, `a [1, ${WINDOW_LENGTH}, ${FEATURE_COUNT}] window does not run: ${quote((err as Error).message, 200)}`);
  }
  const dims = (name: string) => [...(probe[name]?.dims ?? [])].join(',');
  if (dims('class_probs') !== `1,${CLASS_NAMES.length}`) throw contract(file, `class_probs must be [batch, ${CLASS_NAMES.length}], found [${dims('class_probs')}]`);
  if (dims('asset_probs') !== `1,${FAULT_ASSETS.length}`) throw contract(file, `asset_probs must be [batch, ${FAULT_ASSETS.length}], found [${dims('asset_probs')}]`);

  return {
    file,
    sha256,
    async score(windows, batch) {
      if (windows.length !== batch * WINDOW_LENGTH * FEATURE_COUNT) throw new GlimmerError('GLM_ERR_USAGE', `expected ${batch} windows of ${WINDOW_LENGTH}x${FEATURE_COUNT} values, received ${windows.length} values`);
      const out = await run(windows, batch);
      const cp = out.class_probs?.data as Float32Array;
      const ap = out.asset_probs?.data as Float32Array;
      const scores: WindowScores[] = [];
      for (let b = 0; b < batch; b++) {
        const classProbs = Array.from(cp.subarray(b * CLASS_NAMES.length, (b + 1) * CLASS_NAMES.length));
        const anomaly = 1 - (classProbs[0] as number);
        let m = 1;
        for (let k = 2; k < classProbs.length; k++) if ((classProbs[k] as number) > (classProbs[m] as number)) m = k;
        const assetScores: Record<string, number> = {};
        let best = 0;
        FAULT_ASSETS.forEach((a, k) => {
          const p = ap[b * FAULT_ASSETS.length + k] as number;
          assetScores[a] = anomaly * p;
          if (p > (ap[b * FAULT_ASSETS.length + best] as number)) best = k;
        });
        scores.push({ anomaly, mode: CLASS_NAMES[m] as WindowScores['mode'], classProbs, assetScores, asset: FAULT_ASSETS[best] as string });
      }
      return scores;
    },
    async close() {
      await session.release();
    },
  };
}
