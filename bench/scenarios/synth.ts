/**
 * synth: wall time and peak memory to synthesize every stack of both topologies (cloud, cloud-platform, cloud-runtime,
 * edge, edge-runtime), exactly as `make synth TOPOLOGY=all` does (stacks/synth.cjs: esbuild bundle of the app, then
 * plain node), each run in a fresh child process writing a fresh output directory.
 * Baseline (same run): `node -e 0` in a child process. Detail: a bare cdktf App with one empty stack, the peak RSS of
 * the synth process (esbuild's own small process not included), p99s, and the targets (<= 5 s, <= 1 GB).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round, summarize } from '../lib/report';
import type { Scenario } from '../lib/scenario';

const ROOT = path.resolve(__dirname, '..', '..');
const SYNTH = path.join(ROOT, 'stacks', 'synth.cjs');
const RSS_MARK = 'GLIMMER_BENCH_USAGE=';

/** Runs `node -e <code>` reporting its own peak RSS and CPU at exit; returns wall and CPU seconds and peak RSS in MB. */
function timedNode(code: string, args: string[]): { seconds: number; cpuSeconds: number; rssMb: number } {
  const report = "const u = process.resourceUsage(); process.stderr.write('\\n" + RSS_MARK + "' + u.maxRSS + ',' + (u.userCPUTime + u.systemCPUTime) + '\\n')";
  const script = `process.on('exit', () => { ${report}; });\n${code}`;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['-e', script, '--', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`synth child failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const m = new RegExp(`${RSS_MARK}(\\d+),(\\d+)`).exec(r.stderr);
  return { seconds, rssMb: Number(m?.[1] ?? Number.NaN) / 1024, cpuSeconds: Number(m?.[2] ?? Number.NaN) / 1e6 };
}

const scenario: Scenario = {
  description: 'synth: wall time and peak memory of synthesizing all five stacks of both topologies (make synth TOPOLOGY=all)',
  async run(ctx) {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-bench-synth-'));
    const synth: number[] = [];
    const rss: number[] = [];
    const cpu: number[] = [];
    const bare: number[] = [];
    const bareRss: number[] = [];
    const node0: number[] = [];
    const budgetMs = Math.max(10, ctx.durationS) * 1000;
    const started = performance.now();
    try {
      for (let i = 0; i < 30 && (i < 3 || performance.now() - started < budgetMs); i++) {
        node0.push(timedNode('0', []).seconds);
        const bareRun = timedNode(
          "const {App,TerraformStack}=require('cdktf'); const a=new App({outdir: process.argv[1], stackTraces:false}); new TerraformStack(a,'empty'); a.synth();",
          [path.join(out, `bare-${i}`)],
        );
        bare.push(bareRun.seconds);
        bareRss.push(bareRun.rssMb);
        const dir = path.join(out, `all-${i}`);
        const run = timedNode(`process.argv = [process.argv[0], ${JSON.stringify(SYNTH)}, ...process.argv.slice(1)]; require(${JSON.stringify(SYNTH)});`, ['--topology', 'all', '--outdir', dir]);
        const stacks = fs.readdirSync(path.join(dir, 'stacks')).sort();
        if (stacks.join(',') !== 'cloud,cloud-platform,cloud-runtime,edge,edge-runtime') throw new Error(`synth wrote ${stacks.join(',')}`);
        synth.push(run.seconds);
        rss.push(run.rssMb);
        cpu.push(run.cpuSeconds);
        fs.rmSync(dir, { recursive: true, force: true });
        ctx.progress(Math.min(1, (performance.now() - started) / budgetMs), `${synth.length} runs`);
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
    ctx.progress(1);
    const s = summarize(synth);
    const b = summarize(bare);
    const n = summarize(node0);
    return {
      synth_seconds: {
        value: round(s.p50, 3),
        unit: 's',
        baseline: round(n.p50, 3),
        baseline_what: 'node -e 0 in a child process, p50, same run',
        detail: {
          p99_s: round(s.p99, 3),
          runs: s.n,
          cpu_s_p50: round(summarize(cpu).p50, 3),
          peak_rss_mb_max: round(Math.max(...rss), 1),
          peak_rss_mb_p50: round(summarize(rss).p50, 1),
          bare_cdktf_app_p50_s: round(b.p50, 3),
          bare_cdktf_app_p99_s: round(b.p99, 3),
          bare_cdktf_app_peak_rss_mb: round(Math.max(...bareRss), 1),
          node_e0_p99_s: round(n.p99, 3),
          target_s: 5,
          target_mb: 1024,
          load_average_1m: round(os.loadavg()[0] ?? 0, 2),
          stacks: 'cloud, cloud-platform, cloud-runtime, edge, edge-runtime',
        },
      },
    };
  },
};

export default scenario;
