/**
 * The anomaly model's input/output contract. A user model swapped in through config/cognitive.yml must keep it:
 *   input  `windows`     float32 [batch, WINDOW_LENGTH, FEATURE_COUNT]  raw sensor readings in FEATURE_NAMES order
 *   output `class_probs` float32 [batch, CLASS_NAMES.length]            softmax over normal and the failure modes
 *   output `asset_probs` float32 [batch, FAULT_ASSETS.length]           softmax: which asset the anomaly is on
 * The anomaly score of asset a in a window is (1 - class_probs[normal]) * asset_probs[a].
 */
export const WINDOW_LENGTH = 60;
export const CLASS_NAMES = ['normal', 'bearing_wear', 'leak', 'stuck_sensor'] as const;
export type FailureMode = (typeof CLASS_NAMES)[number];
export const FAULT_ASSETS = ['pump_1', 'pump_2', 'tank_1', 'tank_2', 'valve_1', 'valve_2'] as const;
export const INPUT_NAME = 'windows';
export const OUTPUT_NAMES = ['class_probs', 'asset_probs'] as const;
