/**
 * Replays a fault schedule on the simulated plant as the running swarm samples it (1 s snapshots from 100 ms plant
 * ticks, from t = 0 without warm-up, every reading at its wire resolution) and prints the model's class, asset and
 * score every 10 s; a pump the model finds leaking with a score >= 0.9 is stopped, as leak_containment would.
 *   npx tsx scripts/train/replay-demo.ts [--model models/anomaly-int8.onnx] [--seconds 420]
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../../runtime/config/load';
import { featureVector } from '../../runtime/industrial/plant/dataset';
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import type { FaultKind } from '../../runtime/model/plant';
import { loadAnomalyModel } from '../../runtime/reasoning/anomaly-model';
import { WINDOW_LENGTH } from '../../runtime/reasoning/model-contract';
import { sha256Of } from '../../bench/scenarios/inference';
import { wireQuantize } from './evaluate';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { model: { type: 'string', default: 'models/anomaly-int8.onnx' }, seconds: { type: 'string', default: '420' } } });
  const config = loadConfig();
  const model = await loadAnomalyModel({ file: values.model, expectedSha256: sha256Of(values.model) });
  const plant = new PlantRuntime({ seed: config.plant.seed, tickMs: config.plant.tickMs });
  const rows: number[][] = [];
  for (let s = 1; s <= Number(values.seconds); s++) {
    for (const e of config.plant.faultSchedule) {
      if (e.at_s === s - 1) plant.sim.injectFault(e.asset, e.fault as FaultKind);
      if ((e as { clear_at_s?: number }).clear_at_s === s - 1) plant.sim.clearFaults(e.asset);
    }
    for (let k = 0; k < 10; k++) plant.tick(100);
    rows.push(featureVector(plant.snapshot));
    if (rows.length >= WINDOW_LENGTH && s % 10 === 0) {
      const w = wireQuantize(new Float32Array(rows.slice(-WINDOW_LENGTH).flat()));
      const [sc] = await model.score(w, 1);
      if (!sc) continue;
      const top = Object.entries(sc.assetScores).sort((a, b) => b[1] - a[1])[0] as [string, number];
      if (sc.mode === 'leak' && top[1] >= 0.9 && top[0].startsWith('pump_')) plant.sim.stopPump(top[0]);
      const p = plant.snapshot.assets;
      process.stdout.write(`${String(s).padStart(4)} s  anomaly ${sc.anomaly.toFixed(3)}  ${sc.mode.padEnd(12)} ${top[0]} ${top[1].toFixed(3)}  faults ${JSON.stringify(plant.sim.activeFaults())}  levels ${(p.tank_1?.values as { level_m: number }).level_m} ${(p.tank_2?.values as { level_m: number }).level_m}\n`);
    }
  }
  await model.close();
}
void main();
