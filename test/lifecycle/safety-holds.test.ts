/**
 * safety_integrity_check end to end in one process tree: the real runtime, real agent processes, the shipped rules.
 * Every agent kind is ordered held by the Cognitive agent's rules (itself over IPC, the others over A2A to their own
 * endpoint, then up to the supervisor), the holds are audited with the decision id, and a configuration reload that
 * makes the levels agree releases them. An order for an agent no supervisor here runs fails loudly.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { startRuntime } from '../../runtime/app';
import { silentLogger } from '../../runtime/observability/logger';
import { BASE_CONFIG, pinsOf, writeConfig } from '../helpers/external-plant';
import { agentProcesses, auditRecordsOf } from '../helpers/run';
import { waitFor } from '../helpers/wait';

type Rec = Record<string, unknown>;

function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms: number): Promise<T> {
  return waitFor(what, check, ms);
}

function withLevels(required: Record<string, number>): Rec {
  const doc = structuredClone(BASE_CONFIG) as Rec & { agents: Rec[]; plant: Rec };
  doc.agents = doc.agents.map((a) => ({ ...a, required_safety_level: required[String(a.name)] ?? a.required_safety_level }));
  doc.plant = { ...doc.plant, fault_schedule: [] };
  return doc;
}

test('GIVEN every agent requires a level above its zone WHEN the swarm runs THEN the rules hold each kind through its supervisor with the decision id audited, the agents\' PDP decisions reach /metrics, a reload releases them, and an undeliverable order fails loudly', { timeout: 180_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-holds-'));
  const configFile = writeConfig(withLevels({ 'industrial-1': 4, 'cognitive-1': 4, 'data-1': 4 }), dir);
  const rt = await startRuntime({ configFile, configPins: pinsOf(configFile), stateDir: path.join(dir, 'state'), apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
  t.after(async () => {
    await rt.stop('test');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${rt.apiPort}`;
  const agents = ['industrial-1', 'cognitive-1', 'data-1'];
  const stateOf = (name: string) => rt.supervisor.agents().find((a) => a.id === name)?.state;

  // The configuration holds each at start; the rules' orders add a hold per agent with their decision id.
  const records = await until('a hold by cognitive-1 on every agent', async () => {
    const all = await auditRecordsOf(base, rt.adminToken);
    return agents.every((a) => all.some((r) => r.type === 'safety.hold' && r.agent === a && r.by === 'cognitive-1')) && all;
  }, 90_000);
  for (const name of agents) {
    assert.ok(records.some((r) => r.type === 'safety.hold' && r.agent === name && r.by === 'configuration'), `${name}: configuration hold`);
    const hold = records.find((r) => r.type === 'safety.hold' && r.agent === name && r.by === 'cognitive-1') as Rec;
    const decision = records.find((r) => r.type === 'cognitive.decision' && r.decision_id === hold.decision_id) as Rec | undefined;
    assert.ok(decision, `${name}: the hold names a decision of the audit log`);
    assert.ok((decision.shutdowns as string[]).includes(name));
    assert.ok((decision.fired as { rule: string; bindings: Rec }[]).some((f) => f.rule === 'safety_integrity_check' && f.bindings.Agent === name));
  }
  // The two agents reached over A2A authorized the order with their own PDP (action shutdown).
  for (const name of ['industrial-1', 'data-1']) {
    assert.ok(records.some((r) => r.agent === name && r.type === 'policy.decision' && r.action === 'shutdown' && r.decision === 'allow' && String(r.subject).endsWith('/agent/cognitive-1')), `${name}: shutdown authorized at its endpoint`);
  }
  await until('every agent PAUSED', () => agents.every((a) => stateOf(a) === 'PAUSED'), 10_000);
  assert.equal(records.filter((r) => r.type === 'safety.order_failed').length, 0, JSON.stringify(records.filter((r) => r.type === 'safety.order_failed')));
  assert.throws(() => rt.supervisor.command('data-1', 'resume', 'operator'), (e: Error & { code?: string }) => e.code === 'GLM_ERR_SAFETY_HELD');

  // An order for an agent this process does not supervise: audited, counted, logged, and not ready.
  rt.supervisor.safetyOrder({ action: 'hold', target: 'ghost-1', decision_id: 'd-ghost', codes: [], from: 'cognitive-1' });
  assert.equal(rt.supervisor.safetyOrders.readiness().ready, false);
  const readyz = await fetch(`${base}/readyz`);
  assert.equal(readyz.status, 503);
  assert.deepEqual(((await readyz.json()) as { conditions: Record<string, unknown> }).conditions.safety_orders, { ok: false, reason: 'safety orders not delivered: ghost-1 (GLM_ERR_SAFETY_TARGET_UNKNOWN)' });
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /glimmer_safety_order_failures_total\{target_kind="unknown",code="GLM_ERR_SAFETY_TARGET_UNKNOWN"\} 1/);
  assert.match(metrics, /glimmer_safety_holds\{agent="data-1"\} 2/);
  await until('the failed order in the audit log', async () => (await auditRecordsOf(base, rt.adminToken)).some((r) => r.type === 'safety.order_failed' && r.target === 'ghost-1' && r.code === 'GLM_ERR_SAFETY_TARGET_UNKNOWN' && r.decision_id === 'd-ghost'), 5000);

  // The agents' own PDP decisions (their A2A endpoints) are reported to the supervisor and served on its /metrics.
  await until('agent PDP decisions on /metrics', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    return /glimmer_agent_policy_decisions_total\{agent="data-1",function="a2a_shutdown",decision="allow"\} [1-9]/.test(text) &&
      /glimmer_agent_policy_decisions_total\{agent="cognitive-1",function="a2a_call",decision="allow"\} [1-9]/.test(text);
  }, 10_000);

  // The levels agree again: the configuration releases its holds, the rules stop firing and release theirs.
  const fixed = YAML.parse(fs.readFileSync(configFile, 'utf8')) as Rec & { agents: Rec[] };
  fixed.agents = fixed.agents.map((a) => ({ ...a, required_safety_level: 2 }));
  fs.writeFileSync(configFile, YAML.stringify(fixed));
  const changes = await rt.reload();
  assert.equal(changes.length, 3, changes.join('; '));
  await until('every agent ACTIVE again', () => agents.every((a) => stateOf(a) === 'ACTIVE'), 30_000);
  // Appends are not awaited by the supervisor: wait until the last of them is durable.
  const after = await until('every release in the audit log', async () => {
    const all = await auditRecordsOf(base, rt.adminToken);
    return agents.every((a) => ['configuration', 'cognitive-1'].every((by) => all.some((r) => r.type === 'safety.release' && r.agent === a && r.by === by))) && all;
  }, 10_000);
  for (const name of agents) {
    assert.ok(after.some((r) => r.type === 'safety.release' && r.agent === name && r.by === 'configuration'), `${name}: configuration release`);
    const release = after.find((r) => r.type === 'safety.release' && r.agent === name && r.by === 'cognitive-1') as Rec | undefined;
    assert.ok(release, `${name}: released by the rules`);
    assert.ok(after.some((r) => r.type === 'cognitive.decision' && r.decision_id === release.decision_id && (r.clearances_sent as string[]).includes(name)));
  }
  assert.ok(after.some((r) => r.type === 'config.reload' && (r.changes as string[]).length === 3));

  // A reload that changes anything else is refused whole.
  fs.writeFileSync(configFile, YAML.stringify({ ...fixed, supervisor: { max_restarts: 9 }, agents: fixed.agents.map((a) => ({ ...a, required_safety_level: 4 })) }));
  await assert.rejects(rt.reload(), (e: Error & { code?: string }) => e.code === 'GLM_ERR_CONFIG_RELOAD_REFUSED' && /\/supervisor/.test(e.message));
  assert.ok(agents.every((a) => stateOf(a) === 'ACTIVE'));
});

test('GIVEN an agent frozen (SIGSTOP) WHEN a safety hold is ordered THEN the supervisor reports it not enforced (audit GLM_ERR_SAFETY_HOLD_NOT_ENFORCED, metric, not ready) and enforces it once the agent runs again; its release resumes it', { timeout: 150_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-frozen-'));
  const configFile = writeConfig(withLevels({}), dir);
  const rt = await startRuntime({ configFile, configPins: pinsOf(configFile), agent: 'data-1', stateDir: path.join(dir, 'state'), apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
  let frozen: number | undefined;
  t.after(async () => {
    if (frozen !== undefined) process.kill(frozen, 'SIGCONT');
    await rt.stop('test');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  assert.ok(await rt.supervisor.waitFor(['ACTIVE'], 90_000), JSON.stringify(rt.supervisor.agents()));
  const [pid] = agentProcesses(process.pid, 'data');
  assert.ok(pid, 'the data agent process');
  frozen = pid;
  process.kill(pid, 'SIGSTOP');

  rt.supervisor.safetyOrder({ action: 'hold', target: 'data-1', decision_id: 'd-frozen', codes: ['TEST'], from: 'cognitive-1' });
  // An order may not pose as the configuration's own hold.
  rt.supervisor.safetyOrder({ action: 'release', target: 'data-1', decision_id: null, codes: [], from: 'configuration' });
  const base = `http://127.0.0.1:${rt.apiPort}`;
  const failed = await until('the hold reported not enforced', async () => (await auditRecordsOf(base, rt.adminToken)).find((r) => r.type === 'safety.order_failed' && r.code === 'GLM_ERR_SAFETY_HOLD_NOT_ENFORCED'), 15_000);
  assert.deepEqual([failed.target, failed.decision_id, failed.from], ['data-1', 'd-frozen', 'cognitive-1']);
  assert.equal(rt.supervisor.safetyOrders.readiness().ready, false);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /glimmer_safety_order_failures_total\{target_kind="agent",code="GLM_ERR_SAFETY_HOLD_NOT_ENFORCED"\} [1-9]/);
  assert.match(metrics, /glimmer_safety_order_failures_total\{target_kind="agent",code="GLM_ERR_SAFETY_ORDER_INVALID"\} 1/);

  process.kill(pid, 'SIGCONT');
  frozen = undefined;
  await until('data-1 PAUSED', () => rt.supervisor.agents()[0]?.state === 'PAUSED', 15_000);
  assert.equal(rt.supervisor.safetyOrders.readiness().ready, true);
  rt.supervisor.safetyOrder({ action: 'release', target: 'data-1', decision_id: 'd-clear', codes: [], from: 'cognitive-1' });
  await until('data-1 ACTIVE', () => rt.supervisor.agents()[0]?.state === 'ACTIVE', 15_000);
  const records = await auditRecordsOf(base, rt.adminToken);
  assert.ok(records.some((r) => r.type === 'safety.release' && r.by === 'cognitive-1' && r.decision_id === 'd-clear'));
});
