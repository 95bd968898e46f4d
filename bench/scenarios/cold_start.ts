/**
 * cold_start: fork of a fresh agent process (its kind's esbuild bundle, dist/agent-<kind>.js) until it reports ACTIVE: certificate
 * validation, measured boot of its artifacts against the signed manifest, and resource allocation included, per kind:
 * the Data Agent; the Industrial Agent up to its OPC UA session (SignAndEncrypt) with the embedded plant started
 * here; the Cognitive Agent up to its rules engine (swipl-wasm) and ONNX model loaded.
 * Baseline: `node -e 0` (spawn to exit) measured in the same run, interleaved so both see the same machine load.
 * Beside the wall times, each kind's detail gives the agent process's own CPU time to ACTIVE (p50, user + system, all
 * its threads), which a loaded machine inflates far less than the wall time.
 * Attested variant (`agent_cold_start_p99_ms_attested`): the same starts with `attestation: tpm` against a swtpm,
 * timed from the identity request (PCR reset and extends, quote, verification, unseal, SVID) to ACTIVE, beside the
 * plain start of the same kind; the quote step alone is reported as its p50/p99.
 */
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, REPO_ROOT } from '../../runtime/config/load';
import { launchArtifacts } from '../../runtime/agents/artifacts';
import type { AgentKind, AgentSpec } from '../../runtime/config/types';
import { Attestor } from '../../runtime/lifecycle/attestation/attestor';
import { identitySource } from '../../runtime/lifecycle/attestation/identity';
import { Tpm } from '../../runtime/lifecycle/attestation/tpm';
import type { AgentToSupervisor, BootCommand } from '../../runtime/lifecycle/ipc';
import type { AgentIdentity } from '../../runtime/trust/svid';
import { MANIFEST_FILE, PUBLIC_KEY_FILE, agentBundle } from '../../runtime/lifecycle/release';
import { agentProcessEnv } from '../../runtime/lifecycle/supervisor';
import { ensureCa } from '../../runtime/trust/ca';
import { issueSvid } from '../../runtime/trust/svid';
import { freePort } from '../../test/helpers/ports';
import { round, summarize } from '../lib/report';
import type { Scenario } from '../lib/scenario';

const MIN_STARTS: Readonly<Record<AgentKind, number>> = { data: 50, industrial: 20, cognitive: 20 };
const TARGET_P99_MS: Readonly<Record<AgentKind, number>> = { data: 250, industrial: 500, cognitive: 500 };
const KINDS: readonly AgentKind[] = ['data', 'industrial', 'cognitive'];
const ATTESTED_STARTS = 20;

function nodeBaseline(): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
  });
}

/** CPU milliseconds (user + system, all threads) a live process used so far; undefined where /proc is absent. */
function processCpuMs(pid: number | undefined): number | undefined {
  try {
    // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised command), in USER_HZ ticks: 100 per second on Linux.
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * Forks one agent and resolves with the milliseconds from fork to its ACTIVE transition, then terminates it; the
 * process's CPU time at ACTIVE goes to `cpuMs` when given.
 */
export async function coldStartOnce(boot: BootCommand, cpuMs?: number[]): Promise<number> {
  const entry = path.join(REPO_ROOT, agentBundle(REPO_ROOT, boot.spec.kind));
  const t0 = process.hrtime.bigint();
  // execArgv: [] and the environment as the supervisor forks it; the default would inherit this runner's --import tsx.
  const child = fork(entry, [], { execArgv: [], env: agentProcessEnv(boot.stateDir), stdio: ['ignore', 'ignore', 'ignore', 'ipc'], serialization: 'advanced' });
  return new Promise((resolve, reject) => {
    let active = 0;
    child.on('message', (msg: AgentToSupervisor) => {
      if (msg.type === 'transition' && msg.transition.to === 'ACTIVE') {
        active = Number(process.hrtime.bigint() - t0) / 1e6;
        const cpu = cpuMs && processCpuMs(child.pid);
        if (cpu !== undefined) cpuMs?.push(cpu);
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

export async function bootCommandFor(kind: AgentKind, stateDir: string, endpoints: Readonly<Record<string, string>> = {}): Promise<BootCommand> {
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
    endpoints,
  };
}

async function measureKind(boot: BootCommand, seconds: number, min: number, progress: (f: number) => void) {
  const starts: number[] = [];
  const baseline: number[] = [];
  const cpu: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  await coldStartOnce(boot); // warm the page cache (and the compile cache) once, as any deployment would be
  await nodeBaseline();
  while (starts.length < min || (Date.now() < deadline && starts.length < 2000)) {
    baseline.push(await nodeBaseline());
    starts.push(await coldStartOnce(boot, cpu));
    progress(Math.min(1, Math.min(starts.length / min, 1 - (deadline - Date.now()) / (seconds * 1000))));
  }
  return { a: summarize(starts), b: summarize(baseline), cpu: cpu.length > 0 ? summarize(cpu) : undefined };
}

/** Starts of one kind with a TPM-attested identity each time: identity request to ACTIVE, and the attestation alone. */
async function measureAttested(boot: BootCommand, issue: (spec: AgentSpec) => Promise<AgentIdentity>, attestMs: number[], count: number) {
  const starts: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    const identity = await issue(boot.spec);
    attestMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    starts.push(attestMs[attestMs.length - 1] as number + (await coldStartOnce({ ...boot, identity })));
  }
  return summarize(starts);
}

async function attestedStarts(stateDir: string, endpoints: Readonly<Record<string, string>>, plain: Record<string, { value: number }>, progress: (f: number) => void) {
  const { startSwtpm } = await import('../../test/helpers/swtpm');
  const tpm = await startSwtpm();
  try {
    const config = loadConfig();
    const ca = await ensureCa(stateDir, config.topology.trust_domain);
    const dir = path.join(stateDir, 'tpm');
    const attestor = new Attestor({ tpm: new Tpm({ tcti: tpm.tcti, dir }), ekCaPem: fs.readFileSync(tpm.ekCaFile, 'utf8'), root: REPO_ROOT, manifestFile: path.join(REPO_ROOT, MANIFEST_FILE), dir, audit: () => undefined });
    await attestor.provision();
    const issue = identitySource({ ca, attestation: { attestor, artifactsOf: (spec) => launchArtifacts(spec, config, REPO_ROOT) } });
    const attestMs: number[] = [];
    const perKind: Record<string, { p50_ms: number; p99_ms: number; plain_p99_ms: number; starts: number }> = {};
    let worst: { kind: AgentKind; p99: number } | undefined;
    for (const [i, kind] of KINDS.entries()) {
      const boot = await bootCommandFor(kind, stateDir, endpoints);
      await issue(boot.spec); // first seal of the agent's key, as at a first deployment
      const s = await measureAttested(boot, issue, attestMs, ATTESTED_STARTS);
      const plainP99 = plain[`agent_cold_start_p99_ms_${kind}`]?.value ?? 0;
      perKind[kind] = { p50_ms: round(s.p50, 1), p99_ms: round(s.p99, 1), plain_p99_ms: plainP99, starts: s.n };
      if (!worst || s.p99 > worst.p99) worst = { kind, p99: s.p99 };
      progress((i + 1) / KINDS.length);
    }
    const q = summarize(attestMs);
    const w = worst as { kind: AgentKind; p99: number };
    return {
      value: round(w.p99, 1),
      unit: 'ms',
      baseline: perKind[w.kind]?.plain_p99_ms ?? 0,
      baseline_what: `plain (unattested) ${w.kind} agent start p99, same run`,
      detail: { agent_kind: w.kind, per_kind: perKind, attestation_p50_ms: round(q.p50, 1), attestation_p99_ms: round(q.p99, 1), attestations: q.n, target_p99_ms: 500, tpm: 'swtpm (socket), tpm2-tools', load_average_1m: round(os.loadavg()[0] ?? 0, 2) },
    };
  } finally {
    await tpm.stop();
  }
}

const scenario: Scenario = {
  description: 'fork of a fresh agent process to ACTIVE (p99) per kind vs node -e 0',
  async run(ctx) {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-cold-'));
    const config = loadConfig();
    // The Industrial Agent's ACTIVE includes its OPC UA session: it needs the plant's server.
    const { startEmbeddedPlant } = await import('../../runtime/industrial/embedded');
    const { createMetrics } = await import('../../runtime/observability/metrics');
    const { silentLogger } = await import('../../runtime/observability/logger');
    const plant = await startEmbeddedPlant({ config, stateDir, logger: silentLogger(), metrics: createMetrics(), audit: () => undefined, modbusPort: 0, opcuaPort: await freePort() });
    const out: Record<string, { value: number; unit: string; baseline: number; baseline_what: string; detail: Record<string, unknown> }> = {};
    try {
      let done = 0;
      for (const kind of KINDS) {
        const boot = await bootCommandFor(kind, stateDir, plant.endpoints);
        const { a, b, cpu } = await measureKind(boot, ctx.durationS / KINDS.length, MIN_STARTS[kind], (f) => ctx.progress((done + f) / KINDS.length, kind));
        done += 1;
        out[`agent_cold_start_p99_ms_${kind}`] = {
          value: round(a.p99, 1),
          unit: 'ms',
          baseline: round(b.p99, 1),
          baseline_what: 'node -e 0 spawn-to-exit p99, same run, interleaved',
          detail: { p50_ms: round(a.p50, 1), starts: a.n, baseline_p50_ms: round(b.p50, 1), agent_cpu_p50_ms: cpu ? round(cpu.p50, 0) : null, agent_kind: kind, target_p99_ms: TARGET_P99_MS[kind], node: process.version, load_average_1m: round(os.loadavg()[0] ?? 0, 2) },
        };
      }
      out.agent_cold_start_p99_ms_attested = await attestedStarts(stateDir, plant.endpoints, out, (f) => ctx.progress(0.9 + f / 10, 'attested'));
    } finally {
      await plant.stop();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
    ctx.progress(1);
    const data = out.agent_cold_start_p99_ms_data as (typeof out)[string];
    return {
      // The id the seed's 850 ms claim is compared with: the Data Agent, as before per-kind figures existed.
      agent_cold_start_p99_ms: { ...data, detail: { ...data.detail, seed_claim_p99_ms: 850 } },
      ...out,
    };
  },
};
export default scenario;
