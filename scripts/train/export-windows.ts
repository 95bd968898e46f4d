/**
 * Exports seeded, labelled windows of the simulated plant for the anomaly-model trainer (scripts/train/train.py).
 *   npx tsx scripts/train/export-windows.ts --seed 1 --count 4000 --out /tmp/glimmer-train/train
 * writes <out>.f32 (float32 little-endian, [count, length, features]) and <out>.json (labels, assets, shape).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FEATURE_NAMES, featureVector, generateWindows } from '../../runtime/industrial/plant/dataset';
import { mapEntry } from '../../runtime/industrial/plant/map';
import { CLASS_NAMES, FAULT_ASSETS, WINDOW_LENGTH } from '../../runtime/reasoning/model-contract';

function main(): void {
  const { values } = parseArgs({ options: { seed: { type: 'string' }, count: { type: 'string' }, out: { type: 'string' } } });
  const seed = Number(values.seed);
  const count = Number(values.count);
  if (!Number.isInteger(seed) || !Number.isInteger(count) || count < 1 || !values.out) {
    process.stderr.write('usage: export-windows.ts --seed N --count N --out PATH\n');
    process.exit(2);
  }
  const windows = generateWindows({ seed, count, length: WINDOW_LENGTH });
  const data = new Float32Array(count * WINDOW_LENGTH * FEATURE_NAMES.length);
  let k = 0;
  for (const w of windows) for (const s of w.snapshots) for (const v of featureVector(s)) data[k++] = v;
  fs.mkdirSync(path.dirname(values.out), { recursive: true });
  fs.writeFileSync(`${values.out}.f32`, Buffer.from(data.buffer));
  fs.writeFileSync(`${values.out}.json`, JSON.stringify({
    shape: [count, WINDOW_LENGTH, FEATURE_NAMES.length],
    features: FEATURE_NAMES,
    // Register scaling of each reading on the wire (Modbus/OPC UA): the model rounds its input to it.
    wire_scale: FEATURE_NAMES.map((name) => mapEntry(name).scale),
    classes: CLASS_NAMES,
    assets: FAULT_ASSETS,
    labels: windows.map((w) => CLASS_NAMES.indexOf(w.label)),
    asset_labels: windows.map((w) => (w.asset === null ? -1 : FAULT_ASSETS.indexOf(w.asset as (typeof FAULT_ASSETS)[number]))),
  }));
  process.stdout.write(`${count} windows -> ${values.out}.f32\n`);
}
main();
