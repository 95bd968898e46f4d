/**
 * safety: the rule engine on the safety path.
 *
 * - `safety_eval_p99_ms`: one full evaluation of every rule over a 1,000-asset plant (about 5,700 facts), each time
 *   after a realistic change (2 % of the live facts move, applied as assert/retract deltas): apply + evaluate, on
 *   one core. Baseline: the same rule files, facts and evaluation in native SWI-Prolog 9.0.4 measured in the same run.
 *   Detail: tau-prolog 0.3.4 on a 100-asset plant (the engine the design card named; the reason it is not embedded).
 * - `hazard_to_shutdown_p99_ms`: from the plant tick that makes the state hazardous (pump_2 running while tank_2 falls
 *   below its 50 cm low limit) to the shutdown command reaching the simulated PLC over Modbus/TCP (the PLC's process
 *   image shows pump_2's run coil off). Baseline: the same path with the rule engine replaced by a hard-coded level
 *   check. `measureHazardToShutdown` is exported so industrial_safety can run it through its gateway.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import { mapEntry } from '../../runtime/industrial/plant/map';
import { startSimulatedPlc } from '../../runtime/industrial/plant/plc-modbus';
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import type { ShutdownOrder } from '../../runtime/model/messages';
import type { PlantSnapshot } from '../../runtime/model/plant';
import { CognitiveCore } from '../../runtime/reasoning/cognitive-core';
import { RULES_DIR } from '../../runtime/reasoning/config';
import { ENTRY_GOALS, RuleEngine, entryListText } from '../../runtime/reasoning/engine';
import { SIMULATED_PLANT_PROFILE } from '../../runtime/model/plant';
import { staticFacts } from '../../runtime/reasoning/plant-facts';
import { HOST_PL } from '../../runtime/reasoning/prolog-host';
import { prng, syntheticPlantFacts } from '../../runtime/reasoning/synthetic-plant';
import { factText, type Fact, type FactDelta } from '../../runtime/reasoning/terms';
import { round, summarize, type Metric } from '../lib/report';
import type { Scenario } from '../lib/scenario';

export const SHIPPED_RULESETS = ['industrial_safety.pl', 'iso55001_asset_rules.pl', 'compliance/iso55001_checks.pl'];
const LIVE = new Set(['pump_running', 'tank_level', 'discharge_pressure', 'anomaly_score', 'failure_mode', 'command_requested']);

/**
 * A 1,000-asset plant and `count` changes to it, each moving ~2 % of the live facts (levels, pressures, pumps,
 * scores, commands) as the assert/retract deltas the runtime sends.
 */
export function evolvingPlant(assets: number, count: number, seed: number): { base: Fact[]; changes: FactDelta[][] } {
  const r = prng(seed);
  const base = syntheticPlantFacts({ assets, seed, density: 0.9 });
  const cur = [...base];
  const changes: FactDelta[][] = [];
  for (let i = 0; i < count; i++) {
    const deltas: FactDelta[] = [];
    cur.forEach((f, k) => {
      if (!LIVE.has(f.pred) || r() >= 0.02) return;
      const a = f.args[0] as string;
      let next: Fact;
      if (f.pred === 'tank_level') next = { pred: f.pred, args: [a, Math.floor(r() * 200)] };
      else if (f.pred === 'discharge_pressure') next = { pred: f.pred, args: [a, Math.floor(r() * 700)] };
      else if (f.pred === 'anomaly_score') next = { pred: f.pred, args: [a, Math.round(r() * 100) / 100] };
      else if (f.pred === 'pump_running') next = { pred: 'command_requested', args: [a, 'start'] };
      else if (f.pred === 'command_requested' && f.args[1] === 'start') next = { pred: 'pump_running', args: [a] };
      else return;
      deltas.push({ op: 'del', fact: f }, { op: 'add', fact: next });
      cur[k] = next;
    });
    changes.push(deltas);
  }
  return { base, changes };
}

/** Evaluation latencies (ms) in the embedded engine: apply one change's deltas, then evaluate every rule. */
export async function measureEmbeddedEval(plant: { base: Fact[]; changes: FactDelta[][] }): Promise<number[]> {
  const engine = await RuleEngine.create({ rulesDir: RULES_DIR, rulesets: SHIPPED_RULESETS });
  engine.sync(plant.base);
  engine.evaluate();
  const samples: number[] = [];
  for (const deltas of plant.changes) {
    const t0 = performance.now();
    engine.apply(deltas);
    engine.evaluate();
    samples.push(performance.now() - t0);
  }
  return samples;
}

/** The same evaluation in native SWI-Prolog 9.0.4 (swipl), timed inside swipl with its wall clock. */
export function measureNativeSwiplEval(facts: readonly Fact[], iterations: number): number[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-bench-'));
  try {
    fs.writeFileSync(path.join(dir, 'host.pl'), HOST_PL);
    fs.writeFileSync(path.join(dir, 'facts.pl'), `bench_facts([${facts.map(factText).join(',')}]).\n`);
    fs.writeFileSync(path.join(dir, 'run.pl'), String.raw`
bench :- bench_facts(Fs), forall(member(F, Fs), assertz(F)),
    forall(between(1, ${iterations}, _),
           ( get_time(T0), glimmer_evaluate(${entryListText(ENTRY_GOALS)}, _, _, _), get_time(T1),
             Ms is (T1 - T0) * 1000, format("~6f~n", [Ms]) )).
`);
    const files = ['host.pl', ...SHIPPED_RULESETS.map((r) => path.join(RULES_DIR, r)), 'facts.pl', 'run.pl'];
    const out = execFileSync('swipl', ['-q', '-g', `maplist(consult, ${JSON.stringify(files).replace(/"/g, "'")}), bench`, '-t', 'halt'], { cwd: dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return out.trim().split('\n').map(Number);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** One full evaluation of a `assets`-asset plant in tau-prolog 0.3.4 (ms). */
export async function measureTauEval(assets: number): Promise<number> {
   
  const pl = require('tau-prolog') as { create(limit: number): TauSession };
  interface TauSession {
    consult(t: string, o: { success(): void; error(e: unknown): void }): void;
    query(g: string, o: { success(): void; error(e: unknown): void }): void;
    answer(o: { success(): void; fail(): void; error(e: unknown): void; limit(): void }): void;
  }
  const s = pl.create(1_000_000_000);
  const run = (goal: string) => new Promise<void>((resolve, reject) => s.query(goal, {
    success: () => s.answer({ success: resolve, fail: () => reject(new Error('failed')), error: reject, limit: () => reject(new Error('limit')) }),
    error: reject,
  }));
  for (const text of [HOST_PL, ...SHIPPED_RULESETS.map((r) => fs.readFileSync(path.join(RULES_DIR, r), 'utf8'))]) {
    await new Promise<void>((resolve, reject) => s.consult(text, { success: resolve, error: reject }));
  }
  await run(`glimmer_apply([${syntheticPlantFacts({ assets, seed: 1, density: 0.9 }).map((f) => `add(${factText(f)})`).join(',')}]).`);
  const t0 = performance.now();
  await run(`glimmer_evaluate(${entryListText(ENTRY_GOALS)}, _F, _V, _S).`);
  return performance.now() - t0;
}

export interface HazardOptions {
  readonly samples: number;
  /**
   * Carries a shutdown command to the PLC and resolves once it is written. @default a Modbus/TCP write of the
   * target's `run` coil (off) straight to the simulated PLC on loopback. industrial_safety passes its gateway path.
   */
  readonly deliver?: (command: ShutdownOrder) => Promise<void>;
  /** Replace the rule engine by a hard-coded check (the baseline). @default false */
  readonly bareCheck?: boolean;
  readonly progress?: (fraction: number) => void;
}

/**
 * Drives the simulated plant into the dry-run hazard again and again and measures, per hazard, the time from the plant
 * tick that produced the hazardous snapshot to the PLC's process image showing the pump's run command off.
 */
export async function measureHazardToShutdown(options: HazardOptions): Promise<number[]> {
  const plant = new PlantRuntime({ seed: 7, tickMs: 1000 });
  const plc = await startSimulatedPlc({ plant, port: 0, host: '127.0.0.1' });
  const client = new ModbusTcpClient('127.0.0.1', plc.port);
  await client.connect();
  const deliver = options.deliver ?? (async (command: ShutdownOrder) => {
    const coil = mapEntry(`${command.target}.run`);
    await client.writeCoil(coil.unit_id, coil.address, false);
  });
  let pending: Promise<void> | undefined;
  const onShutdown = (command: ShutdownOrder) => { pending = deliver(command); };
  let feed: (s: PlantSnapshot) => void;
  if (options.bareCheck) {
    feed = (s) => {
      const p = s.assets.pump_2; const t = s.assets.tank_2;
      if (p?.kind === 'pump' && t?.kind === 'tank' && p.running && Math.round(t.values.level_m * 100) < 50) {
        onShutdown({ target: 'pump_2', codes: ['SIF-01-DRY-RUN'], decision_id: 'bare', snapshot_time_ms: s.time_ms });
      }
    };
  } else {
    const engine = await RuleEngine.create({ rulesDir: RULES_DIR, rulesets: SHIPPED_RULESETS });
    const core = new CognitiveCore({
      engine, threshold: 0.5, staticFacts: staticFacts(SIMULATED_PLANT_PROFILE, [], []), ackTimeoutMs: 3_600_000,
      sinks: { shutdown: onShutdown, audit: () => undefined, publish: () => undefined },
    });
    feed = (s) => { core.onSnapshot(s); };
  }
  plant.onSnapshot((s) => feed(s));
  const sim = plant.sim;
  const level2 = () => { const t = plant.snapshot.assets.tank_2; return t?.kind === 'tank' ? t.values.level_m : 0; };
  const samples: number[] = [];
  try {
    for (let i = 0; i < options.samples; i++) {
      // Refill tank_2 with pump_2 running, then drain it through valve_2 with valve_1 closed.
      sim.startPump('pump_2'); sim.openValve('valve_1'); sim.closeValve('valve_2');
      for (let k = 0; k < 600 && level2() < 0.7 + (i % 5) * 0.01; k++) plant.tick(1000);
      sim.closeValve('valve_1'); sim.openValve('valve_2');
      pending = undefined;
      for (let k = 0; k < 600 && pending === undefined; k++) {
        const t0 = performance.now();
        plant.tick(1000);
        if (pending !== undefined) {
          await pending;
          const confirmed = plant.snapshot.assets.pump_2;
          if (confirmed?.kind !== 'pump' || confirmed.run_command) throw new Error('the shutdown did not reach the PLC');
          samples.push(performance.now() - t0);
        }
      }
      options.progress?.((i + 1) / options.samples);
    }
  } finally {
    client.close();
    await plc.close();
  }
  return samples;
}

const scenario: Scenario = {
  description: 'Full rule evaluation over a 1,000-asset plant, and hazard-to-shutdown latency through the simulated PLC',
  async run(ctx) {
    const budget = ctx.durationS;
    const evalCount = Math.max(100, Math.min(2000, Math.floor(budget * 20)));
    const plant = evolvingPlant(1000, evalCount, 2026);
    ctx.progress(0.05, 'native swipl baseline');
    const native = summarize(measureNativeSwiplEval(plant.base, Math.min(500, evalCount)));
    ctx.progress(0.1, 'embedded evaluations');
    const embedded = summarize(await measureEmbeddedEval(plant));
    ctx.progress(0.4, 'tau-prolog reference (100 assets)');
    const tauMs = await measureTauEval(100);
    ctx.progress(0.5, 'hazard to shutdown');
    const samples = Math.max(30, Math.min(400, Math.floor(budget * 6)));
    const hazard = summarize(await measureHazardToShutdown({ samples, progress: (f) => ctx.progress(0.5 + 0.4 * f) }));
    const bare = summarize(await measureHazardToShutdown({ samples: Math.max(20, Math.floor(samples / 3)), bareCheck: true }));
    ctx.progress(1);
    const m: Record<string, Metric> = {
      safety_eval_p99_ms: {
        value: round(embedded.p99), unit: 'ms', baseline: round(native.p99),
        baseline_what: 'the same rule files, facts and batched evaluation in native SWI-Prolog 9.0.4 (p99, same run)',
        detail: { p50_ms: round(embedded.p50), evaluations: embedded.n, assets: 1000, facts: plant.base.length, native_p50_ms: round(native.p50), tau_prolog_100_assets_ms: round(tauMs, 1), target_p99_ms: 50, engine: 'swipl-wasm' },
      },
      hazard_to_shutdown_p99_ms: {
        value: round(hazard.p99), unit: 'ms', baseline: round(bare.p99),
        baseline_what: 'the same plant -> Modbus -> PLC path with a hard-coded level check instead of the rule engine (p99, same run)',
        detail: { p50_ms: round(hazard.p50), hazards: hazard.n, baseline_p50_ms: round(bare.p50), target_p99_ms: 100 },
      },
    };
    return m;
  },
};
export default scenario;
