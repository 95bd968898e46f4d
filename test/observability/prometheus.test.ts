/**
 * The shipped alert rules against real scrapes: Debian's Prometheus server (package `prometheus`) scrapes two real
 * `glimmer run` processes every second and evaluates monitoring/prometheus/custom_rules.yml through a test-only copy
 * whose `for:` durations and time thresholds are shortened (generated here; the shipped file is never edited). Each
 * alert is shown firing and then resolving through Prometheus's own /api/v1/alerts:
 *   - swarm A (embedded plant, the whole swarm): data-1 requires safety level 4 in zone dmz at level 2, so
 *     SafetyIntegrityBreach fires; the Cognitive agent's safety_integrity_check holds data-1 through its supervisor;
 *     lowering the requirement and SIGHUP releases it and the alert resolves; the plant server's OPC UA certificate
 *     (90 s) cannot be renewed while its path is blocked (OpcuaCertificateExpiringSoon), then is once it is freed;
 *   - swarm B (an external PLC, pymodbus, and the Data agent only): the PLC dies (PlcUnreachable,
 *     PlantProcessImageStale), the SoftHSM2 token that signs audit checkpoints disappears (AuditCheckpointOverdue), the
 *     Data agent is killed past its restart budget (AgentCrashLoop); the PLC and token come back and B restarts on the
 *     same port, and all four resolve.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { BASE_CONFIG, externalConfig, pinsEnv, startPeer, writeConfig } from '../helpers/external-plant';
import { freePort, restartablePort } from '../helpers/ports';
import { waitFor } from '../helpers/wait';
import { agentProcesses, startGlimmerRun, type RunningGlimmer } from '../helpers/run';

const ROOT = path.join(__dirname, '..', '..');
const RULES = path.join(ROOT, 'monitoring', 'prometheus', 'custom_rules.yml');

/**
 * The shipped rules with test-time durations: every `for:` becomes 2s (two 1 s evaluations), and the two thresholds
 * measured in wall-clock seconds drop to 3 s. Each edit must match exactly once, so a change to the shipped rules
 * fails here instead of silently testing something else.
 */
export function testRuleCopy(shipped: string): string {
  const edits: [RegExp, string, number][] = [
    [/^(\s+for: )\d+[smh]$/gm, '$12s', shipped.match(/^\s+for: \d+[smh]$/gm)?.length ?? 0],
    [/glimmer_plant_process_image_age_seconds > 60\b/g, 'glimmer_plant_process_image_age_seconds > 3', 1],
    [/glimmer_audit_checkpoint_age_seconds > 900\b/g, 'glimmer_audit_checkpoint_age_seconds > 3', 1],
  ];
  let out = shipped;
  for (const [re, to, n] of edits) {
    const found = out.match(re)?.length ?? 0;
    assert.ok(n > 0 && found === n, `${re}: expected ${n} match(es) in custom_rules.yml, found ${found}`);
    out = out.replace(re, to);
  }
  return out;
}


/** Peers restart during this test: a failing check is "not yet". */
function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms: number, diag?: () => string): Promise<T> {
  return waitFor(what, check, ms, { intervalMs: 200, ignoreErrors: true, ...(diag ? { diag } : {}) });
}

/** `glimmer run` (the built CLI) on its own config, with the deployment's config pins as a pod gets them. */
function glimmerRun(configFile: string, stateDir: string, apiPort: number): Promise<RunningGlimmer> {
  return startGlimmerRun(stateDir, ['--config', configFile, '--api-port', String(apiPort)], { GLIMMER_CONFIG_SHA256: pinsEnv(configFile) });
}

type Api = { port: number; token: string };
const apiOf = (g: RunningGlimmer): Api => ({ port: Number(g.url.port), token: g.token });
const tail = (g: RunningGlimmer | undefined): string => (g ? `${g.output().stdout.slice(-1500)}${g.output().stderr.slice(-1500)}` : '(not started)');

interface PromAlert { labels: Record<string, string>; state: 'pending' | 'firing' }

async function alerts(promPort: number): Promise<PromAlert[]> {
  const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/alerts`);
  return ((await res.json()) as { data: { alerts: PromAlert[] } }).data.alerts;
}

/** Whether an instant PromQL query returns any series (Prometheus's own view of the scraped values). */
async function matches(promPort: number, query: string): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(query)}`);
  return ((await res.json()) as { data: { result: unknown[] } }).data.result.length > 0;
}

async function agentState(api: Api, agent: string): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${api.port}/v1/agents`, { headers: { authorization: `Bearer ${api.token}` } });
  return ((await res.json()) as { id: string; state: string }[]).find((a) => a.id === agent)?.state;
}

async function auditRecords(api: Api): Promise<{ ts: string; record: Record<string, unknown> }[]> {
  const out: { ts: string; record: Record<string, unknown> }[] = [];
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${api.port}/v1/audit/entries?start=${out.length}&end=${out.length + 999}`, { headers: { authorization: `Bearer ${api.token}` } });
    if (res.status !== 200) return out;
    const page = (await res.json()) as { ts: string; record: Record<string, unknown> }[];
    if (page.length === 0) return out;
    out.push(...page);
  }
}

test('GIVEN Prometheus scraping two real swarms with the shipped rules WHEN each alert condition is caused and then cured THEN Prometheus shows every alert firing and then resolved', { timeout: 170_000 }, async (t) => {
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-prom-'));
  const children: ChildProcess[] = [];
  const runs: RunningGlimmer[] = [];
  t.after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(runs.map((r) => r.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Swarm A: the case, data-1 requires level 4 in zone dmz (level 2).
  const docA = structuredClone(BASE_CONFIG) as Record<string, unknown> & { agents: { name: string; required_safety_level: number }[]; plant: Record<string, unknown> };
  docA.agents = docA.agents.map((a) => (a.name === 'data-1' ? { ...a, required_safety_level: 4 } : a));
  docA.plant = { ...docA.plant, fault_schedule: [] };
  // A's OPC UA certificates live 90 s and renew 80 s ahead; a directory where the plant server's renewal writes its
  // certificate makes each renewal fail, so OpcuaCertificateExpiringSoon fires once under 40 s are left.
  docA.opcua = { certificate_lifetime_s: 90, certificate_renew_before_s: 80 };
  fs.mkdirSync(path.join(dir, 'a'));
  const configA = writeConfig(docA, path.join(dir, 'a'));
  const spawnedA = Date.now();
  const startingA = glimmerRun(configA, path.join(dir, 'a', 'state'), 0);
  const serverCertA = path.join(dir, 'a', 'state', 'opcua', 'pki', 'plant-server', 'own', 'certs', 'certificate.pem');
  const blockedA = until('A\'s OPC UA server certificate', () => fs.existsSync(serverCertA), 60_000).then(() => fs.mkdirSync(`${serverCertA}.new`));

  // Swarm B: a PLC that is not ours and the Data agent alone, given up on after its second crash.
  const plcPort = await restartablePort();
  let plc = await startPeer(plcPort);
  children.push(plc);
  const docB = externalConfig({ host: '127.0.0.1', port: plcPort }, { poll_interval_ms: 100, stale_after_ms: 600 }, [{ name: 'data-1', kind: 'data', zone: 'dmz', required_safety_level: 2 }]) as Record<string, unknown>;
  docB.supervisor = { max_restarts: 1, restart_window_s: 60, restart_backoff_ms: { initial: 100, max: 1000 } };
  fs.mkdirSync(path.join(dir, 'b'));
  const configB = writeConfig(docB, path.join(dir, 'b'));
  const stateB = path.join(dir, 'b', 'state');
  const portB = await freePort();
  let b = await glimmerRun(configB, stateB, portB);
  runs.push(b);
  const a = await startingA;
  runs.push(a);
  const apiA = apiOf(a);
  const promPort = await freePort();
  fs.writeFileSync(path.join(dir, 'rules.yml'), testRuleCopy(fs.readFileSync(RULES, 'utf8')));
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), YAML.stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' },
    rule_files: [path.join(dir, 'rules.yml')],
    scrape_configs: [{ job_name: 'glimmer', static_configs: [{ targets: [`127.0.0.1:${apiA.port}`], labels: { swarm: 'a' } }, { targets: [`127.0.0.1:${portB}`], labels: { swarm: 'b' } }] }],
  }));
  let promLog = '';
  const prom = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  prom.stderr?.on('data', (d: Buffer) => { promLog = (promLog + d.toString()).slice(-5000); });
  children.push(prom);
  const diag = () => `prometheus: ${promLog}\nA: ${tail(a)}\nB: ${tail(b)}`;
  const has = async (name: string, swarm: string, state: 'firing' | 'gone', extra: Record<string, string> = {}) => {
    const hit = (await alerts(promPort)).find((x) => x.labels.alertname === name && x.labels.swarm === swarm && Object.entries(extra).every(([k, v]) => x.labels[k] === v));
    return state === 'firing' ? hit?.state === 'firing' : hit === undefined;
  };
  // A resolved alert must come from fresh samples that meet the rule, not from series gone stale with a dead target.
  const scraped = (query: string) => until(`Prometheus to scrape ${query}`, () => matches(promPort, query), 30_000, diag);

  // B's faults, caused while A boots and holds: the PLC dies, the signing token goes, the Data agent crash-loops.
  plc.kill('SIGKILL');
  const tokens = path.join(stateB, 'softhsm', 'tokens');
  fs.renameSync(tokens, `${tokens}.gone`);
  for (let crash = 0; crash < 2; crash++) {
    const pid = await until('a data agent process in B', () => agentProcesses(b.pid, 'data').at(0), 30_000, diag);
    process.kill(pid, 'SIGKILL');
    await until('the crashed agent to be gone', () => !agentProcesses(b.pid, 'data').includes(pid), 5000, diag);
  }

  // A: the rules hold data-1 through its supervisor, within the evaluation that first names it.
  const hold = await until('data-1 held by cognitive-1', async () => (await auditRecords(apiA)).find((e) => e.record.type === 'safety.hold' && e.record.agent === 'data-1' && e.record.by === 'cognitive-1'), 60_000, diag);
  const recordsA = await auditRecords(apiA);
  const firstDecision = recordsA.find((e) => e.record.type === 'cognitive.decision' && (e.record.shutdowns as string[]).includes('data-1'));
  assert.equal(hold.record.decision_id, firstDecision?.record.decision_id, 'the first decision naming data-1 is the one that held it');
  assert.ok(recordsA.some((e) => e.record.type === 'safety.hold' && e.record.agent === 'data-1' && e.record.by === 'configuration'));
  await until('data-1 PAUSED', async () => (await agentState(apiA, 'data-1')) === 'PAUSED', 10_000, diag);
  const at = (pred: (r: Record<string, unknown>) => boolean) => Date.parse(recordsA.find((e) => pred(e.record))?.ts ?? '');
  const active = at((r) => r.type === 'agent.transition' && r.agent === 'data-1' && r.to === 'ACTIVE');
  const paused = at((r) => r.type === 'agent.transition' && r.agent === 'data-1' && r.to === 'PAUSED');
  t.diagnostic(`data-1: spawn -> ACTIVE ${active - spawnedA} ms, ACTIVE -> PAUSED (configuration hold) ${paused - active} ms; spawn -> the rule's hold ${Date.parse(hold.ts) - spawnedA} ms, its decision -> the hold ${Date.parse(hold.ts) - Date.parse(firstDecision?.ts ?? '')} ms`);

  await until('SafetyIntegrityBreach firing for data-1 in A', () => has('SafetyIntegrityBreach', 'a', 'firing', { agent: 'data-1' }), 30_000, diag);
  await until('AgentStuckPaused firing for data-1 in A', () => has('AgentStuckPaused', 'a', 'firing', { agent: 'data-1' }), 30_000, diag);
  for (const name of ['PlcUnreachable', 'PlantProcessImageStale', 'AuditCheckpointOverdue']) await until(`${name} firing in B`, () => has(name, 'b', 'firing'), 30_000, diag);
  await until('AgentCrashLoop firing for data-1 in B', () => has('AgentCrashLoop', 'b', 'firing', { agent: 'data-1' }), 30_000, diag);
  await blockedA;
  await until('OpcuaCertificateExpiringSoon firing for plant-server in A', () => has('OpcuaCertificateExpiringSoon', 'a', 'firing', { application: 'plant-server' }), 90_000, diag);
  assert.ok((await auditRecords(apiA)).some((e) => e.record.type === 'opcua.certificate.renewal_failed' && e.record.code === 'GLM_ERR_OPCUA_CERT_RENEWAL_FAILED'));
  // Cure: the path is free again; the next retry renews the certificate.
  fs.rmdirSync(`${serverCertA}.new`);

  // Cure A: data-1's requirement now matches its zone; SIGHUP reloads it, the hold is released, the alerts resolve.
  fs.writeFileSync(configA, YAML.stringify({ ...docA, agents: docA.agents.map((x) => (x.name === 'data-1' ? { ...x, required_safety_level: 2 } : x)) }));
  a.kill('SIGHUP');
  await until('data-1 ACTIVE in A', async () => (await agentState(apiA, 'data-1')) === 'ACTIVE', 20_000, diag);
  // Both holders released it (the supervisor's appends become durable shortly after the transition).
  await until('both releases of data-1 in the audit log', async () => {
    const released = await auditRecords(apiA);
    return ['cognitive-1', 'configuration'].every((by) => released.some((e) => e.record.type === 'safety.release' && e.record.agent === 'data-1' && e.record.by === by));
  }, 10_000, diag);

  // Cure B: the PLC and the token come back; the operator restarts B (same port, same state) and the agent runs again.
  plc = await startPeer(plcPort);
  children.push(plc);
  fs.renameSync(`${tokens}.gone`, tokens);
  const stoppedB = await b.stop();
  assert.equal(stoppedB.code, 0, stoppedB.stderr.slice(-2000));
  b = await glimmerRun(configB, stateB, portB);
  runs.push(b);

  await scraped('safety_integrity_level{swarm="a",agent="data-1"} >= on (agent, zone, instance) required_safety_level');
  await scraped('glimmer_agent_state{swarm="a",agent="data-1",state="ACTIVE"} == 1');
  await scraped('glimmer_plc_up{swarm="b"} == 1');
  await scraped('glimmer_plant_process_image_age_seconds{swarm="b"} < 3');
  await scraped('glimmer_audit_checkpoint_age_seconds{swarm="b"} < 3');
  await scraped('glimmer_agent_crash_loop{swarm="b",agent="data-1"} == 0');
  for (const name of ['SafetyIntegrityBreach', 'AgentStuckPaused']) await until(`${name} resolved in A`, () => has(name, 'a', 'gone', { agent: 'data-1' }), 30_000, diag);
  await scraped('glimmer_opcua_certificate_expiry_timestamp_seconds{swarm="a",application="plant-server"} - time() > 40');
  await until('OpcuaCertificateExpiringSoon resolved in A', () => has('OpcuaCertificateExpiringSoon', 'a', 'gone', { application: 'plant-server' }), 30_000, diag);
  for (const name of ['PlcUnreachable', 'PlantProcessImageStale', 'AuditCheckpointOverdue', 'AgentCrashLoop']) await until(`${name} resolved in B`, () => has(name, 'b', 'gone'), 30_000, diag);
  t.diagnostic(`whole test: ${Date.now() - started} ms`);

  assert.deepEqual((await Promise.all([a.stop(), b.stop()])).map((r) => r.code), [0, 0]);
  prom.kill('SIGTERM');
});
