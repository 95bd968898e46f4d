/**
 * The decision timeline, the alarms and the process picture end to end in headless Chromium against the real runtime
 * (agents in their own processes, the simulated plant behind the Modbus gateway, the audit log): a hazard injected
 * through the API becomes one timeline row whose every link is checked against the audit log, its alarm is
 * acknowledged (audited, by the operator's identity, through the PDP) and its leaf is verified in the browser.
 * Screenshots: test-results/timeline.png and test-results/mimic.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startRuntime } from '../../runtime/app';
import type { DecisionChain } from '../../runtime/audit/explain';
import { plantMap } from '../../runtime/model/plant-map';
import { silentLogger } from '../../runtime/observability/logger';
import { launch, shot } from '../helpers/chromium';

declare const document: { querySelectorAll(selector: string): { length: number } };
const THREE_ACTIVE = () => document.querySelectorAll('[data-agent][data-state="ACTIVE"]').length === 3;

test('GIVEN the running runtime and the console WHEN a leak is injected on pump_1 through POST /v1/plant/faults THEN one timeline row shows the whole chain as the audit log holds it, the alarm links to it and is acknowledged (audited by the operator), the leaf verifies in the browser and the mimic marks pump_1 abnormal and stopped', { timeout: 420_000 }, async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-timeline-e2e-'));
  const rt = await startRuntime({ stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
  t.after(async () => {
    await rt.stop('test');
    fs.rmSync(stateDir, { recursive: true, force: true });
  });
  const browser = await launch({ width: 1400, height: 1600 });
  t.after(() => browser.close());
  const { page } = browser;
  const base = `http://127.0.0.1:${rt.apiPort}`;
  const auth = { authorization: `Bearer ${rt.adminToken}` };
  const get = async <T>(p: string): Promise<T> => (await (await fetch(base + p, { headers: auth })).json()) as T;
  const post = (p: string, body: unknown) => fetch(base + p, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  await page.goto(rt.consoleUrl);
  await page.waitForFunction(THREE_ACTIVE, undefined, { timeout: 120_000 });
  await page.waitForSelector('[data-testid="mimic"] [data-asset="pump_1"][data-on="true"]', { timeout: 20_000 });
  assert.equal(await page.getAttribute('[data-testid="mimic"] [data-asset="pump_1"]', 'data-abnormal'), 'false', 'a healthy running pump is drawn grey');
  // Every asset of the map is drawn, the safety PLC and its e-stop included.
  const drawn = await page.$$eval('[data-testid="mimic"] [data-asset]', (els) => els.map((e) => `${e.getAttribute('data-asset')}:${e.getAttribute('data-kind')}`));
  for (const asset of new Set(plantMap().map((e) => e.asset))) assert.ok(drawn.some((d) => d.startsWith(`${asset}:`)), `${asset} is drawn`);
  assert.ok(drawn.includes('safety_1:estop') && drawn.includes('safety_1:safety'));

  // The hazard, through the API.
  const injected = await post('/v1/plant/faults', { asset: 'pump_1', fault: 'leak' });
  assert.equal(injected.status, 201);

  const row = '[data-testid="timeline"] li[data-kind="shutdown"][data-target="pump_1"]';
  await page.waitForSelector(`${row}[data-complete="true"]`, { timeout: 300_000 });
  const index = Number(await page.getAttribute(row, 'data-decision-index'));
  const chain = await get<DecisionChain>(`/v1/decisions/explain?index=${index}`);

  // Each link as the audit log holds it, at the index the chain names.
  const entry = async (i: number) => (await get<{ index: number; record: Record<string, unknown> }[]>(`/v1/audit/entries?start=${i}&end=${i}`))[0]?.record as Record<string, unknown>;
  const decision = await entry(index);
  assert.equal(decision.type, 'cognitive.decision');
  assert.equal(decision.decision_id, chain.decision_id);
  assert.equal(await page.getAttribute(row, 'data-decision-id'), chain.decision_id);
  assert.ok(chain.fault, 'the fault is found');
  assert.deepEqual(await entry(chain.fault.index), { type: 'plant.fault.injected', asset: 'pump_1', fault: 'leak', by: 'admin', ...pick(await entry(chain.fault.index), ['at_ms', 'plant_time_ms']) });
  const started = (await get<{ record: Record<string, unknown> }[]>('/v1/audit/entries?start=0&end=999')).map((e) => e.record).find((r) => r.type === 'cognitive.started') as { model: { sha256: string } };
  assert.equal(chain.model?.sha256, started.model.sha256, 'the model hash is the one the cognitive agent booted with');
  assert.equal(chain.scores?.mode, 'leak');
  assert.ok((chain.scores?.target_score ?? 0) >= 0.9, `pump_1 scored ${chain.scores?.target_score}`);
  assert.ok(chain.rules.some((f) => f.rule === 'leak_containment' && f.bindings.Asset === 'pump_1'), JSON.stringify(chain.rules));
  assert.deepEqual(chain.targets, ['pump_1']);
  assert.ok(chain.policy.some((p) => p.decision === 'allow' && p.action === 'shutdown' && p.reasons.includes('cognitive-may-shutdown')), JSON.stringify(chain.policy));
  for (const p of chain.policy) assert.equal((await entry(p.index)).type, 'policy.decision');
  const run = plantMap().find((e) => e.id === 'pump_1.run');
  assert.ok(chain.write && run);
  const write = await entry(chain.write.index);
  assert.equal(write.type, 'modbus.decision');
  assert.deepEqual([write.unit, write.address, write.decision, write.function_code], [run.unit_id, run.address, 'allow', 5]);
  assert.ok(chain.execution);
  const execution = await entry(chain.execution.index);
  assert.deepEqual([execution.type, execution.decision_id, execution.signal, execution.value, execution.outcome], ['industrial.shutdown', chain.decision_id, 'pump_1.run', false, 'executed']);
  assert.ok(chain.write.index < chain.execution.index && index < chain.write.index, 'the write is between the decision and its execution record');

  // The row shows those links.
  const text = async (link: string) => (await page.textContent(`${row} [data-link="${link}"]`)) ?? '';
  assert.match(await text('fault'), /pump_1: leak \(by admin\)/);
  assert.match(await text('score'), /class leak/);
  assert.ok((await text('model')).includes(started.model.sha256.slice(0, 16)));
  assert.match(await text('rules'), /leak_containment\(Asset=pump_1\)/);
  assert.match(await text('order'), /hold pump_1/);
  assert.match(await text('policy'), /ALLOW shutdown \[cognitive-may-shutdown\]/);
  assert.match(await text('write'), new RegExp(`ALLOW fc5 unit ${run.unit_id} @${run.address} .*#${chain.write.index}`));
  assert.match(await text('execution'), /pump_1\.run = false via modbus: executed/);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="mimic"] [data-asset="pump_1"][data-on="false"][data-abnormal="true"]').length === 1, undefined, { timeout: 20_000 });
  assert.match(await text('plc'), /(pump_1\.running = false|pump_1\.run = false)/);

  // The alarm it raised links to the row; the operator acknowledges it.
  const alarm = `[data-testid="alerts"] li[data-alarm="safety:pump_1"]`;
  await page.waitForSelector(`${alarm}[data-state="unack"]`, { timeout: 20_000 });
  assert.equal(Number(await page.getAttribute(`${alarm} [data-why]`, 'data-why')), (await get<{ alarms: { id: string; decision_index: number }[] }>('/v1/alarms')).alarms.find((a) => a.id === 'safety:pump_1')?.decision_index);
  await page.click(`${alarm} [data-why]`);
  await page.waitForSelector(`[data-testid="timeline"] li.focus[data-target="pump_1"]`);
  await page.click(`${alarm} [data-ack]`);
  await page.waitForSelector(`${alarm}[data-state="acked"]`, { timeout: 20_000 });
  const records = (await get<{ record: Record<string, unknown> }[]>(`/v1/audit/entries?start=${index}&end=${index + 999}`)).map((e) => e.record);
  const ack = records.find((r) => r.type === 'alarm.acknowledged');
  assert.deepEqual(pick(ack ?? {}, ['alarm', 'by', 'state', 'asset']), { alarm: 'safety:pump_1', by: 'admin', state: 'unack', asset: 'pump_1' });
  assert.ok(records.some((r) => r.type === 'policy.decision' && r.action === 'acknowledge' && r.decision === 'allow' && (r.reasons as string[]).includes('operator-may-acknowledge')), 'the PDP decided the acknowledgement');

  // The decision's leaf, verified by WebCrypto in the page against the signed checkpoint.
  await page.click(`${row} [data-verify-leaf="${index}"]`);
  await page.waitForSelector(`[data-leaf-result="${index}"][data-verified]`, { timeout: 30_000 });
  assert.equal(await page.getAttribute(`[data-leaf-result="${index}"]`, 'data-verified'), 'true', (await page.textContent(`[data-leaf-result="${index}"]`)) ?? '');

  // Clicking pump_1 in the picture focuses its decisions.
  await page.click('[data-testid="mimic"] [data-asset="pump_2"]');
  await page.click('[data-testid="mimic"] [data-asset="pump_1"]');
  await page.waitForSelector(`[data-testid="timeline"] li.focus[data-target="pump_1"]`);
  await shot(page, 'timeline', { selector: '[aria-labelledby="h-timeline"]' });
  await shot(page, 'mimic', { selector: '[aria-labelledby="h-mimic"]' });
  await shot(page, 'console-decision', { fullPage: true });
});

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
}
