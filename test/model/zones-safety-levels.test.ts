/**
 * One verdict for an agent whose required_safety_level exceeds its zone's level, from all three tools: `glimmer run`
 * accepts the configuration and starts the agent held (PAUSED, audited), `make synth` accepts it with the same warning
 * and marks the workload, and the threat model lists it as mitigated by the hold with the residual loss of function.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startRuntime } from '../../runtime/app';
import { loadConfig } from '../../runtime/config/load';
import { levelChanges } from '../../runtime/config/reload';
import { safetyLevelShortfalls, shortfallMessage, STARTS_HELD_ANNOTATION } from '../../runtime/model/zones';
import { silentLogger } from '../../runtime/observability/logger';
import { buildThreatModel } from '../../runtime/review/threat-model';
import { BASE_CONFIG, pinsOf, writeConfig } from '../helpers/external-plant';

const ROOT = path.join(__dirname, '..', '..');

function configWith(dataLevel: number): string {
  const doc = structuredClone(BASE_CONFIG) as Record<string, unknown> & { agents: { name: string }[] };
  doc.agents = doc.agents.map((a) => (a.name === 'data-1' ? { ...a, required_safety_level: dataLevel } : a));
  return writeConfig(doc);
}

function synth(configFile: string): { status: number | null; stderr: string; runtimeStack: string } {
  const outdir = path.join(path.dirname(configFile), 'cdktf.out');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'stacks', 'synth.cjs'), '--config', configFile, '--outdir', outdir, '--topology', 'edge'], { encoding: 'utf8', timeout: 120_000 });
  const file = path.join(outdir, 'stacks', 'edge-runtime', 'cdk.tf.json');
  return { status: r.status, stderr: r.stderr, runtimeStack: fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '' };
}

test('GIVEN data-1 requires level 4 in zone dmz at level 2 WHEN glimmer run, make synth and the threat model read it THEN all three accept it with the same verdict: data-1 starts held', { timeout: 180_000 }, async (t) => {
  const configFile = configWith(4);
  const dir = path.dirname(configFile);
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const [shortfall, ...more] = safetyLevelShortfalls(loadConfig(configFile));
  assert.deepEqual({ shortfall, more }, { shortfall: { agent: 'data-1', zone: 'dmz', required: 4, zoneLevel: 2 }, more: [] });
  const message = shortfallMessage(shortfall as NonNullable<typeof shortfall>);

  // make synth: exit 0, the warning on stderr, the workload annotated.
  const s = synth(configFile);
  assert.equal(s.status, 0, s.stderr);
  assert.ok(s.stderr.includes(`synth: warning: ${message}`), s.stderr);
  assert.ok(s.runtimeStack.includes(JSON.stringify(STARTS_HELD_ANNOTATION).slice(1, -1)) && s.runtimeStack.includes(message), 'the data-1 workload carries the starts-held annotation');

  // The threat model: elevation mitigated by the hold, the loss of function left as the residual.
  const model = await buildThreatModel({ topology: 'edge', configFile });
  const entry = model.threats.find((x) => x.id === 'TM-ZONE-DATA-1');
  assert.equal(entry?.status, 'partial');
  assert.ok(entry?.mitigation?.summary.includes(message));

  // glimmer run (one pod: data-1 alone): it boots, and its supervisor holds it at once, audited.
  const rt = await startRuntime({ configFile, configPins: pinsOf(configFile), agent: 'data-1', stateDir: path.join(dir, 'state'), apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
  t.after(() => rt.stop('test'));
  assert.ok(await rt.supervisor.waitFor(['PAUSED'], 90_000), JSON.stringify(rt.supervisor.agents()));
  const [view] = rt.supervisor.agents();
  assert.deepEqual(view?.holds?.map((h) => [h.by, h.codes]), [['configuration', ['SL-4-ABOVE-ZONE-SL-2']]]);
  // The supervisor appends without waiting for the commit: poll the durable log until both records are in it.
  let records: Record<string, unknown>[] = [];
  const audited = () => records.some((r) => r.type === 'safety.hold' && r.agent === 'data-1' && r.by === 'configuration') &&
    records.some((r) => r.type === 'agent.transition' && r.agent === 'data-1' && r.to === 'PAUSED' && String(r.reason).startsWith('safety hold: configuration'));
  for (const end = Date.now() + 10_000; !audited() && Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const res = await fetch(`http://127.0.0.1:${rt.apiPort}/v1/audit/entries?start=0&end=999`, { headers: { authorization: `Bearer ${rt.adminToken}` } });
    records = ((await res.json()) as { record: Record<string, unknown> }[]).map((e) => e.record);
  }
  assert.ok(audited(), JSON.stringify(records.filter((r) => String(r.type).startsWith('safety.') || r.type === 'agent.transition')));
});

test('GIVEN levels that agree WHEN make synth and the threat model read them THEN neither warns, marks nor lists the agent', async (t) => {
  const configFile = configWith(2);
  t.after(() => fs.rmSync(path.dirname(configFile), { recursive: true, force: true }));
  assert.deepEqual(safetyLevelShortfalls(loadConfig(configFile)), []);
  const s = synth(configFile);
  assert.equal(s.status, 0, s.stderr);
  assert.ok(!s.stderr.includes('starts held') && !s.runtimeStack.includes(STARTS_HELD_ANNOTATION), s.stderr);
  const model = await buildThreatModel({ topology: 'edge', configFile });
  assert.equal(model.threats.filter((x) => x.id.startsWith('TM-ZONE-')).length, 0);
});

test('GIVEN a reloaded configuration WHEN more than the safety levels changed THEN levelChanges refuses it with GLM_ERR_CONFIG_RELOAD_REFUSED naming the key, and lists level changes otherwise', () => {
  const current = loadConfig(configWith(4));
  const lowered = loadConfig(configWith(2));
  assert.deepEqual(levelChanges(current, { ...lowered, file: current.file, cognitive: current.cognitive }), ['agent data-1: required safety level 4 -> 2']);
  const zoneRaised = { ...current, zones: current.zones.map((z) => (z.name === 'dmz' ? { ...z, security_level: 4 } : z)) };
  assert.deepEqual(levelChanges(current, zoneRaised), ['zone dmz: security level 2 -> 4']);
  assert.throws(() => levelChanges(current, { ...current, conduits: [] }), (e: Error & { code?: string }) => e.code === 'GLM_ERR_CONFIG_RELOAD_REFUSED' && /at \/conduits/.test(e.message));
  assert.throws(() => levelChanges(current, { ...current, agents: current.agents.map((a) => ({ ...a, zone: 'enterprise' })) }), (e: Error & { code?: string }) => e.code === 'GLM_ERR_CONFIG_RELOAD_REFUSED' && /at \/agents/.test(e.message));
  for (const c of [current, lowered]) fs.rmSync(path.dirname(c.file), { recursive: true, force: true });
});
