import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../runtime/config/load';
import { openAuditLog } from '../../runtime/audit/log';
import { Supervisor } from '../../runtime/lifecycle/supervisor';
import { silentLogger } from '../../runtime/observability/logger';
import { createMetrics } from '../../runtime/observability/metrics';
import { ensureCa } from '../../runtime/trust/ca';
import { issueSvid } from '../../runtime/trust/svid';
import { sha256File } from '../../runtime/lifecycle/manifest';
import type { ConfigPins } from '../../runtime/lifecycle/config-pins';
import { testRelease, type TestRelease } from './fixtures';
import { capturingLogger } from '../audit/helpers';

async function supervise(release: TestRelease, deployment: { configFile?: string; configPins?: ConfigPins; only?: string; logger?: ReturnType<typeof silentLogger> } = {}) {
  const config = loadConfig(deployment.configFile ?? release.configFile);
  const audit = await openAuditLog({ stateDir: release.stateDir });
  const ca = await ensureCa(release.stateDir, config.topology.trust_domain);
  const metrics = createMetrics();
  const supervisor = new Supervisor({
    config,
    stateDir: release.stateDir,
    root: release.root,
    logger: deployment.logger ?? silentLogger(),
    metrics,
    audit,
    releaseKeyPem: release.publicKeyPem,
    configPins: deployment.configPins,
    agents: deployment.only === undefined ? undefined : config.agents.filter((a) => a.name === deployment.only),
    endpoints: {},
    agentEntry: path.join(release.root, 'dist', 'agent.js'),
    identityFor: async (spec) => {
      const svid = await issueSvid(ca, { zone: spec.zone, agent: spec.name });
      return { certPem: svid.certPem, keyPem: svid.keyPem, bundlePem: ca.bundlePem };
    },
  });
  return { supervisor, audit, metrics, ca };
}

/** The pid of an agent's process, which the supervisor keeps to itself. */
function agentPid(supervisor: Supervisor, agent: string): number {
  const pid = (supervisor as unknown as { slots: Map<string, { child?: { pid?: number } }> }).slots.get(agent)?.child?.pid;
  assert.ok(pid, `${agent} has a process`);
  return pid;
}

type Record_ = { type: string; agent?: string; to?: string; code?: string; artifact?: string };

/** Closes the log (flushing pending appends), reopens it from disk, and returns every record in order. */
async function durableRecords(audit: Awaited<ReturnType<typeof openAuditLog>>, stateDir: string): Promise<Record_[]> {
  await audit.close();
  const reopened = await openAuditLog({ stateDir });
  const n = reopened.size();
  const records = n === 0 ? [] : reopened.entries(0, n - 1).map((e) => JSON.parse(e.leaf.toString('utf8')));
  await reopened.close();
  return records.map((r) => r.record ?? r);
}

test('GIVEN a swarm of isolated agent processes WHEN started and stopped THEN all reach ACTIVE, then TERMINATED via PAUSED, each transition audited and counted', async () => {
  const release = testRelease([
    { name: 'data-1', kind: 'data', zone: 'dmz' },
    { name: 'data-2', kind: 'data', zone: 'operations' },
  ]);
  const { supervisor, audit, metrics } = await supervise(release);
  await supervisor.start();
  assert.ok(await supervisor.waitFor(['ACTIVE'], 15000), JSON.stringify(supervisor.agents()));
  const pids = new Set(supervisor.agents().map((a) => a.id));
  assert.equal(pids.size, 2);
  await supervisor.stop('test');
  assert.deepEqual(supervisor.agents().map((a) => a.state), ['TERMINATED', 'TERMINATED']);
  const records = await durableRecords(audit, release.stateDir);
  const transitions = records.filter((r) => r.type === 'agent.transition' && r.agent === 'data-1').map((r) => r.to);
  assert.deepEqual(transitions, ['BOOTSTRAPPING', 'ACTIVE', 'PAUSED', 'TERMINATED']);
  assert.ok(records.some((r) => r.type === 'agent.final' && r.agent === 'data-2'), 'the final audit record is sealed before TERMINATED');
  assert.ok(records.some((r) => r.type === 'agent.boot.measured' && r.agent === 'data-1'));
  const metricText = await metrics.registry.metrics();
  assert.match(metricText, /glimmer_agent_transitions_total\{agent="data-1",from="PAUSED",to="TERMINATED"\} 1/);
  assert.match(metricText, /glimmer_agent_state\{agent="data-1",kind="data",zone="dmz",state="TERMINATED"\} 1/);
});

test('GIVEN a tampered rule file WHEN the cognitive agent boots THEN the boot is refused naming the file, audited, and the agent is not restarted', async () => {
  const release = testRelease([{ name: 'cognitive-1', kind: 'cognitive', zone: 'operations' }]);
  fs.appendFileSync(path.join(release.root, 'rules', 'industrial_safety.pl'), '\n% tampered\n');
  const { supervisor, audit, metrics } = await supervise(release);
  await supervisor.start();
  assert.ok(await supervisor.waitFor(['TERMINATED'], 15000));
  const [agent] = supervisor.agents();
  assert.equal(agent?.last_error?.code, 'GLM_ERR_BOOT_ARTIFACT_MISMATCH');
  assert.match(agent?.last_error?.message ?? '', /rules\/industrial_safety\.pl/);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(supervisor.agents()[0]?.restarts, 0, 'a refused boot is not retried');
  await supervisor.stop('test');
  const records = await durableRecords(audit, release.stateDir);
  assert.ok(records.some((r) => r.type === 'agent.boot.refused' && r.code === 'GLM_ERR_BOOT_ARTIFACT_MISMATCH' && r.artifact === 'rules/industrial_safety.pl'));
  assert.match(await metrics.registry.metrics(), /glimmer_boot_refusals_total\{agent="cognitive-1",code="GLM_ERR_BOOT_ARTIFACT_MISMATCH"\} 1/);
});

test('GIVEN a Cedar policy file edited after signing (a forbid removed) WHEN the industrial agent (whose A2A endpoint loads the policies) boots THEN the boot is refused naming the policy file, audited, and the agent is not restarted', async () => {
  const release = testRelease([{ name: 'industrial-1', kind: 'industrial', zone: 'control' }]);
  const policy = path.join(release.root, 'rules', 'policies', 'registers.cedar');
  const text = fs.readFileSync(policy, 'utf8');
  const forbid = text.indexOf('@id("forbid-ai-writes-safety")');
  assert.ok(forbid > 0, 'the signed policy set holds the forbid');
  fs.writeFileSync(policy, text.slice(0, forbid) + text.slice(text.indexOf('@id(', forbid + 1)));
  const { supervisor, audit } = await supervise(release);
  await supervisor.start();
  assert.ok(await supervisor.waitFor(['TERMINATED'], 15000));
  const [agent] = supervisor.agents();
  assert.equal(agent?.last_error?.code, 'GLM_ERR_BOOT_ARTIFACT_MISMATCH');
  assert.match(agent?.last_error?.message ?? '', /rules\/policies\/registers\.cedar/);
  assert.equal(agent?.restarts, 0, 'a refused boot is not retried');
  await supervisor.stop('test');
  const records = await durableRecords(audit, release.stateDir);
  assert.ok(records.some((r) => r.type === 'agent.boot.refused' && r.code === 'GLM_ERR_BOOT_ARTIFACT_MISMATCH' && r.artifact === 'rules/policies/registers.cedar'));
  assert.ok(!records.some((r) => r.type === 'agent.boot.measured'), 'no measurement was accepted');
});

test('GIVEN an identity for another zone WHEN the agent boots THEN GLM_ERR_CERT_IDENTITY_MISMATCH refuses it before measured boot', async () => {
  const release = testRelease([{ name: 'data-1', kind: 'data', zone: 'dmz' }]);
  const { supervisor, audit } = await supervise(release);
  const ca = await ensureCa(release.stateDir, 'glimmer.local');
  (supervisor as unknown as { options: { identityFor: unknown } }).options.identityFor = async () => {
    const svid = await issueSvid(ca, { zone: 'enterprise', agent: 'data-1' });
    return { certPem: svid.certPem, keyPem: svid.keyPem, bundlePem: ca.bundlePem };
  };
  await supervisor.start();
  assert.ok(await supervisor.waitFor(['TERMINATED'], 15000));
  assert.equal(supervisor.agents()[0]?.last_error?.code, 'GLM_ERR_CERT_IDENTITY_MISMATCH');
  await supervisor.stop('test');
  const records = await durableRecords(audit, release.stateDir);
  assert.ok(records.some((r) => r.type === 'agent.identity.refused' && r.code === 'GLM_ERR_CERT_IDENTITY_MISMATCH'));
  assert.ok(!records.some((r) => r.type === 'agent.boot.measured'));
});

test('GIVEN an ACTIVE agent WHEN its process is killed THEN the supervisor restarts it after the initial backoff (audited as restart_in_ms) and it is ACTIVE again', async () => {
  const release = testRelease([{ name: 'data-1', kind: 'data', zone: 'dmz' }], { restart_backoff_ms: { initial: 50, max: 200 } });
  const { supervisor, audit } = await supervise(release);
  await supervisor.start();
  assert.ok(await supervisor.waitFor(['ACTIVE'], 15000));
  process.kill(agentPid(supervisor, 'data-1'), 'SIGKILL');
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(await supervisor.waitFor(['ACTIVE'], 15000));
  assert.equal(supervisor.agents()[0]?.restarts, 1);
  await supervisor.stop('test');
  const records = await durableRecords(audit, release.stateDir);
  assert.deepEqual(records.filter((r) => r.type === 'agent.crash' && r.agent === 'data-1').map((r) => (r as { restart_in_ms?: unknown }).restart_in_ms), [50]);
});

test('GIVEN an agent process that died before the supervisor noticed WHEN a command is posted to it THEN the closed channel is no "agent process error": the exit is reported once, as agent.crash, and the agent restarts', async () => {
  const release = testRelease([{ name: 'data-1', kind: 'data', zone: 'dmz' }], { restart_backoff_ms: { initial: 50, max: 200 } });
  const { logger, lines } = capturingLogger();
  const { supervisor, audit } = await supervise(release, { logger });
  await supervisor.start();
  assert.ok(await supervisor.waitFor(['ACTIVE'], 15000));
  process.kill(agentPid(supervisor, 'data-1'), 'SIGKILL');
  // Blocking the loop keeps the exit unprocessed while the process is surely gone, so the send meets a dead peer (EPIPE).
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
  supervisor.command('data-1', 'pause', 'test');
  for (let i = 0; i < 150 && supervisor.agents()[0]?.restarts !== 1; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(supervisor.agents()[0]?.restarts, 1, 'restarted once');
  assert.ok(await supervisor.waitFor(['ACTIVE'], 15000));
  await supervisor.stop('test');
  assert.deepEqual(lines.filter((l) => l.msg === 'agent process error').map((l) => l.err), [], 'no error for a message the dead agent could not take');
  const records = await durableRecords(audit, release.stateDir);
  assert.equal(records.filter((r) => r.type === 'agent.crash' && r.agent === 'data-1').length, 1, 'the exit is reported as one crash');
});

test('GIVEN an agent that keeps crashing WHEN the restart budget is spent THEN the supervisor gives up with GLM_ERR_AGENT_CRASH_LOOP', async () => {
  const release = testRelease([{ name: 'data-1', kind: 'data', zone: 'dmz' }], { restart_backoff_ms: { initial: 10, max: 20 }, max_restarts: 2, restart_window_s: 60 });
  // A bundle that crashes right after it starts: the real entry point, then an abnormal exit.
  fs.writeFileSync(path.join(release.root, 'crash.js'), "require('./dist/agent.js'); setTimeout(() => process.exit(70), 20);\n");
  const { supervisor, audit } = await supervise(release);
  (supervisor as unknown as { options: { agentEntry: string } }).options.agentEntry = path.join(release.root, 'crash.js');
  const gaveUp = new Promise<string>((resolve) => supervisor.once('crash-loop', resolve));
  await supervisor.start();
  assert.equal(await gaveUp, 'data-1');
  const [agent] = supervisor.agents();
  assert.equal(agent?.last_error?.code, 'GLM_ERR_AGENT_CRASH_LOOP');
  assert.equal(agent?.restarts, 2);
  assert.equal(agent?.state, 'TERMINATED');
  await supervisor.stop('test');
  const records = await durableRecords(audit, release.stateDir);
  assert.ok(records.some((r) => r.type === 'agent.crash_loop'));
  // Exponential backoff, capped at max (10, then 20); the crash that spends the budget schedules no restart.
  assert.deepEqual(records.filter((r) => r.type === 'agent.crash').map((r) => (r as { restart_in_ms?: unknown }).restart_in_ms), [10, 20, null]);
});

test('GIVEN the configuration mounted outside the release (a pod ConfigMap) WHEN it is pinned THEN the agent boots, and WHEN it is not THEN measured boot refuses it', async () => {
  const podDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-pod-'));
  const pinned = testRelease([{ name: 'data-1', kind: 'data', zone: 'dmz' }]);
  for (const f of ['glimmer.yml', 'cognitive.yml']) fs.copyFileSync(path.join(pinned.root, 'config', f), path.join(podDir, f));
  const configFile = path.join(podDir, 'glimmer.yml');
  const pins = Object.fromEntries(['glimmer.yml', 'cognitive.yml'].map((f) => [f, sha256File(path.join(podDir, f))]));

  const ok = await supervise(pinned, { configFile, configPins: pins });
  await ok.supervisor.start();
  assert.ok(await ok.supervisor.waitFor(['ACTIVE'], 30000), JSON.stringify(ok.supervisor.agents()));
  await ok.supervisor.stop('test');
  const measured = (await durableRecords(ok.audit, pinned.stateDir)).find((r) => r.type === 'agent.boot.measured');
  assert.ok(measured, 'the boot was measured');

  const unpinned = testRelease([{ name: 'data-1', kind: 'data', zone: 'dmz' }]);
  const refused = await supervise(unpinned, { configFile, configPins: { 'glimmer.yml': pins['glimmer.yml'] as string } });
  await refused.supervisor.start();
  assert.ok(await refused.supervisor.waitFor(['TERMINATED'], 30000));
  assert.equal(refused.supervisor.agents()[0]?.last_error?.code, 'GLM_ERR_BOOT_ARTIFACT_MISSING');
  assert.match(refused.supervisor.agents()[0]?.last_error?.message ?? '', /cognitive\.yml is outside the release and not pinned by GLIMMER_CONFIG_SHA256/);
  await refused.supervisor.stop('test');
  await refused.audit.close();
  fs.rmSync(podDir, { recursive: true, force: true });
});

test('GIVEN a swarm configuration WHEN the supervisor of one pod supervises one agent THEN only that agent runs, booted with the whole swarm in its config', async () => {
  const release = testRelease([{ name: 'data-1', kind: 'data', zone: 'dmz' }, { name: 'data-2', kind: 'data', zone: 'dmz' }]);
  const { supervisor, audit } = await supervise(release, { only: 'data-2' });
  const booted: unknown[] = [];
  const post = (supervisor as unknown as { post: (slot: unknown, m: { type: string; config?: { agents: unknown[] } }) => void }).post.bind(supervisor);
  (supervisor as unknown as { post: typeof post }).post = (slot, m) => {
    if (m.type === 'boot') booted.push(m.config?.agents.map((a) => (a as { name: string }).name));
    post(slot, m);
  };
  await supervisor.start();
  assert.ok(await supervisor.waitFor(['ACTIVE'], 30000), JSON.stringify(supervisor.agents()));
  assert.deepEqual(supervisor.agents().map((a) => a.id), ['data-2']);
  assert.deepEqual(booted, [['data-1', 'data-2']]);
  await supervisor.stop('test');
  await audit.close();
});
