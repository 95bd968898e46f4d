/**
 * cold_start: fork of a fresh agent process (its kind's esbuild bundle, dist/agent-<kind>.js) until it reports ACTIVE: certificate
 * validation, measured boot of its artifacts against the signed manifest, and resource allocation included.
 * Baseline: `node -e 0` (spawn to exit) measured in the same run, interleaved so both see the same machine load.
 */
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, REPO_ROOT } from '../../runtime/config/load';
import type { AgentKind } from '../../runtime/config/types';
import type { AgentToSupervisor, BootCommand } from '../../runtime/lifecycle/ipc';
import { PUBLIC_KEY_FILE, agentBundle } from '../../runtime/lifecycle/release';
import { ensureCa } from '../../runtime/trust/ca';
import { issueSvid } from '../../runtime/trust/svid';
import { round, summarize } from '../lib/report';
import type { Scenario } from '../lib/scenario';

const MIN_STARTS = 50;

function nodeBaseline(): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
  });
}

/** Forks one agent and resolves with the milliseconds from fork to its ACTIVE transition, then terminates it. */
export async function coldStartOnce(boot: BootCommand): Promise<number> {
  const entry = path.join(REPO_ROOT, agentBundle(REPO_ROOT, boot.spec.kind));
  const t0 = process.hrtime.bigint();
  // execArgv: [] as the supervisor forks it; the default would inherit this runner's --import tsx.
  const child = fork(entry, [], { execArgv: [], stdio: ['ignore', 'ignore', 'ignore', 'ipc'], serialization: 'advanced' });
  return new Promise((resolve, reject) => {
    let active = 0;
    child.on('message', (msg: AgentToSupervisor) => {
      if (msg.type === 'transition' && msg.transition.to === 'ACTIVE') {
        active = Number(process.hrtime.bigint() - t0) / 1e6;
        child.send({ type: 'terminate', reason: 'benchmark' });
      } else if (msg.type === 'final-audit') {
        child.send({ type: 'sealed' });
      } else if (msg.type === 'refused') {
        reject(new Error(`agent refused to start: ${msg.code}: ${msg.message}`));
      }
    });
    child.once('exit', () => (active > 0 ? resolve(active) : reject(new Error('agent exited before ACTIVE'))));
    child.send(boot);
  });
}

export async function bootCommandFor(kind: AgentKind, stateDir: string): Promise<BootCommand> {
  const config = loadConfig();
  const spec = config.agents.find((a) => a.kind === kind);
  if (!spec) throw new Error(`no ${kind} agent in the default config`);
  const ca = await ensureCa(stateDir, config.topology.trust_domain);
  const svid = await issueSvid(ca, { zone: spec.zone, agent: spec.name });
  return {
    type: 'boot',
    spec,
    config,
    stateDir,
    root: REPO_ROOT,
    identity: { certPem: svid.certPem, keyPem: svid.keyPem, bundlePem: ca.bundlePem },
    releaseKeyPem: fs.readFileSync(path.join(REPO_ROOT, PUBLIC_KEY_FILE), 'utf8'),
    configPins: {},
    endpoints: {},
  };
}

const scenario: Scenario = {
  description: 'fork of a fresh agent process to ACTIVE (p99) vs node -e 0',
  async run(ctx) {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-cold-'));
    const boot = await bootCommandFor('data', stateDir);
    const starts: number[] = [];
    const baseline: number[] = [];
    const deadline = Date.now() + ctx.durationS * 1000;
    await coldStartOnce(boot); // warm the page cache once, as any deployment would be
    await nodeBaseline();
    while (starts.length < MIN_STARTS || (Date.now() < deadline && starts.length < 2000)) {
      baseline.push(await nodeBaseline());
      starts.push(await coldStartOnce(boot));
      ctx.progress(Math.min(starts.length / MIN_STARTS, (Date.now() - deadline + ctx.durationS * 1000) / (ctx.durationS * 1000)));
    }
    ctx.progress(1);
    const a = summarize(starts);
    const b = summarize(baseline);
    return {
      agent_cold_start_p99_ms: {
        value: round(a.p99, 1),
        unit: 'ms',
        baseline: round(b.p99, 1),
        baseline_what: 'node -e 0 spawn-to-exit p99, same run, interleaved',
        detail: { p50_ms: round(a.p50, 1), starts: a.n, baseline_p50_ms: round(b.p50, 1), agent_kind: 'data', target_p99_ms: 250, seed_claim_p99_ms: 850 },
      },
    };
  },
};
export default scenario;
