/** Normalises the cognitive part of the configuration once: rule files, inference limit, model path and threshold. */
import path from 'node:path';
import { REPO_ROOT } from '../config/load';
import { rulesDir } from '../config/rules-dir';
import type { CognitiveConfig } from '../config/types';
import { DEFAULT_INFERENCE_LIMIT } from './engine';

export const RULES_DIR = path.join(REPO_ROOT, 'rules');
export const DEFAULT_MODEL_PATH = 'models/anomaly-int8.onnx';
/** Anomaly-score threshold chosen on the validation split at training time (docs/reasoning.md). */
export const DEFAULT_THRESHOLD = 0.2234;

export interface ReasoningSettings {
  readonly rulesDir: string;
  /** Rule files relative to rulesDir, in load order. */
  readonly rulesets: readonly string[];
  readonly inferenceLimit: number;
  /** Model path relative to the repo root (as the release manifest lists it). */
  readonly modelPath: string;
  readonly threshold: number;
}

export function reasoningSettings(cognitive: CognitiveConfig): ReasoningSettings {
  const symbolic = cognitive.hybrid_reasoning.symbolic_components;
  const neural = cognitive.hybrid_reasoning.neural_components[0];
  return {
    rulesDir: rulesDir(),
    rulesets: [...new Set(symbolic.flatMap((s) => s.rulesets))],
    inferenceLimit: Math.min(...symbolic.map((s) => s.inference_limit ?? DEFAULT_INFERENCE_LIMIT)),
    modelPath: neural?.path ?? DEFAULT_MODEL_PATH,
    threshold: neural?.threshold ?? DEFAULT_THRESHOLD,
  };
}
