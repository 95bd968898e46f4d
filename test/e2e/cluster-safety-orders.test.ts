/**
 * The cluster path of a safety order: one `glimmer run --agent NAME` process per agent, as one pod per agent runs them
 * (each its own supervisor, its own plant connection, one CA shared like the pods' mounted trust bundle, peers found
 * through `a2a.peers` like the Services). The Cognitive pod's rules order data-1 held; the order crosses to the data
 * pod over A2A (data-1's own endpoint, skill `safety.shutdown`, authorized by data-1's PDP as action `shutdown`),
 * data-1 passes it up to its supervisor, which holds it. With the data pod down, the order fails loudly in the
 * Cognitive pod (audit, metric) and recovers once the pod is back; a level change releases the hold.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { ensureCa } from '../../runtime/trust/ca';
import { BASE_CONFIG, pinsEnv, writeConfig } from '../helpers/external-plant';
import { freePort } from '../helpers/ports';
import { waitFor } from '../helpers/wait';
import { auditRecordsOf, startGlimmerRun, type RunningGlimmer } from '../helpers/run';

type Rec = Record<string, unknown>;
const PODS = ['industrial-1', 'cognitive-1', 'data-1'] as const;
type Pod = (typeof PODS)[number];


/** Pods are killed and restarted during this test: a failing check is "not yet". */
function until<T>(what: string, check: () => Promise<T | undefined | false>, ms: number, diag: () => string): Promise<T> {
  return waitFor(what, check, ms, { intervalMs: 250, ignoreErrors: true, diag });
}

function audit(g: RunningGlimmer): Promise<Rec[]> {
  return auditRecordsOf(g.url, g.token);
}

async function stateOf(g: RunningGlimmer, agent: string): Promise<string | undefined> {
  const res = await fetch(new URL('/v1/agents', g.url), { headers: { authorization: `Bearer ${g.token}` } });
  return ((await res.json()) as { id: string; state: string }[]).find((a) => a.id === agent)?.state;
}

test('GIVEN one process per agent like pods WHEN the cognitive pod orders data-1 held THEN the order crosses over A2A to data-1\'s endpoint and its own supervisor holds it; a dead data pod is a loud failure that recovers; a level change releases it', { timeout: 240_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-pods-'));
  const pods = new Map<Pod, RunningGlimmer>();
  t.after(async () => {
    await Promise.all([...pods.values()].map((p) => p.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const a2aPort = Object.fromEntries(await Promise.all(PODS.map(async (p) => [p, await freePort()] as const))) as Record<Pod, number>;
  const peers = Object.fromEntries(PODS.map((p) => [p, `https://127.0.0.1:${a2aPort[p]}`]));
  // Each pod's ConfigMap: the same swarm, its own A2A listener port (on loopback, as the pods' Services are here).
  const podConfig = (pod: Pod, dataLevel: number): string => {
    const doc = structuredClone(BASE_CONFIG) as Rec & { agents: { name: string }[]; plant: Rec };
    doc.agents = doc.agents.map((a) => (a.name === 'data-1' ? { ...a, required_safety_level: dataLevel } : a));
    doc.plant = { ...doc.plant, fault_schedule: [] };
    doc.a2a = { host: '127.0.0.1', port: a2aPort[pod], peers };
    fs.mkdirSync(path.join(dir, pod), { recursive: true });
    return writeConfig(doc, path.join(dir, pod));
  };
  const configs = Object.fromEntries(PODS.map((p) => [p, podConfig(p, 4)])) as Record<Pod, string>;
  // One CA for the trust domain, mounted into every pod.
  await ensureCa(path.join(dir, 'ca-source'), 'glimmer.local');
  const stateDir = (pod: Pod) => path.join(dir, pod, 'state');
  for (const p of PODS) fs.cpSync(path.join(dir, 'ca-source', 'pki'), path.join(stateDir(p), 'pki'), { recursive: true });
  const pins = (pod: Pod) => pinsEnv(configs[pod]);
  const start = async (pod: Pod) => {
    const g = await startGlimmerRun(stateDir(pod), ['--config', configs[pod], '--agent', pod], { GLIMMER_CONFIG_SHA256: pins(pod) });
    pods.set(pod, g);
    return g;
  };
  const diag = () => [...pods].map(([p, g]) => `${p}: ${g.output().stderr.slice(-1500)}`).join('\n');
  const [, cognitive, data] = await Promise.all(PODS.map(start)) as [RunningGlimmer, RunningGlimmer, RunningGlimmer];

  // The rules in the cognitive pod order the hold; the data pod's supervisor enforces it.
  const hold = await until('the data pod to hold data-1 on cognitive-1\'s order', async () => (await audit(data)).find((r) => r.type === 'safety.hold' && r.agent === 'data-1' && r.by === 'cognitive-1'), 120_000, diag);
  const decisions = (await audit(cognitive)).filter((r) => r.type === 'cognitive.decision');
  assert.ok(decisions.some((r) => r.decision_id === hold.decision_id && (r.shutdowns as string[]).includes('data-1')), 'the hold names a decision of the cognitive pod');
  const dataRecords = await audit(data);
  assert.ok(dataRecords.some((r) => r.type === 'policy.decision' && r.enforcement === 'a2a' && r.action === 'shutdown' && r.decision === 'allow' && String(r.subject) === 'spiffe://glimmer.local/zone/operations/agent/cognitive-1'), 'data-1\'s own PDP authorized the order');
  assert.ok(dataRecords.some((r) => r.type === 'safety.hold' && r.by === 'configuration'), 'the data pod also holds it from its own configuration');
  await until('data-1 PAUSED', async () => (await stateOf(data, 'data-1')) === 'PAUSED', 10_000, diag);

  // The data pod goes away: the cognitive pod's next orders cannot be delivered and say so.
  const stopped = await data.stop();
  assert.equal(stopped.code, 0);
  pods.delete('data-1');
  const failed = await until('an undelivered order audited by the cognitive pod', async () => (await audit(cognitive)).find((r) => r.type === 'safety.order_failed' && r.target === 'data-1'), 30_000, diag);
  assert.equal(failed.target_kind, 'agent');
  assert.equal(failed.code, 'GLM_ERR_SAFETY_ORDER_UNDELIVERED');
  const metrics = await (await fetch(new URL('/metrics', cognitive.url))).text();
  assert.match(metrics, /glimmer_safety_order_failures_total\{target_kind="agent",code="GLM_ERR_SAFETY_ORDER_UNDELIVERED"\} [1-9]/);

  // Back on the same ports: the next order is delivered again (recorded as recovered) and holds it.
  const data2 = await start('data-1');
  await until('the order delivered again', async () => (await audit(cognitive)).some((r) => r.type === 'safety.order_delivered' && r.target === 'data-1' && r.recovered === true), 90_000, diag);
  await until('data-1 held again by cognitive-1', async () => (await audit(data2)).some((r) => r.type === 'safety.hold' && r.by === 'cognitive-1'), 30_000, diag);

  // The level change reaches both pods (their ConfigMaps, then SIGHUP): the rule stops firing, the hold is released.
  for (const pod of ['cognitive-1', 'data-1'] as const) {
    fs.writeFileSync(configs[pod], YAML.stringify({ ...YAML.parse(fs.readFileSync(configs[pod], 'utf8')), agents: (BASE_CONFIG.agents as Rec[]) }));
    pods.get(pod)?.kill('SIGHUP');
  }
  await until('data-1 ACTIVE again', async () => (await stateOf(data2, 'data-1')) === 'ACTIVE', 30_000, diag);
  // Released by the cognitive pod's clearance and by the data pod's own configuration (appends become durable shortly after).
  await until('both releases in the data pod\'s audit log', async () => {
    const released = await audit(data2);
    return ['cognitive-1', 'configuration'].every((by) => released.some((r) => r.type === 'safety.release' && r.agent === 'data-1' && r.by === by));
  }, 10_000, diag);
});
