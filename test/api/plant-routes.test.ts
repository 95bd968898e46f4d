import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openAuditLog } from '../../runtime/audit/log';
import { plantRoutes } from '../../runtime/api/routes/plant';
import { createApiServer } from '../../runtime/api/server';
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import { silentLogger } from '../../runtime/observability/logger';

const TOKEN = 'plant-routes-token-0123456789abcdefghijklmnop';

test('GIVEN the plant routes on the real API WHEN a fault is injected THEN the plant reports it, the injection is audited, and bad bodies get 400 naming what is allowed', async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-plant-api-'));
  const audit = await openAuditLog({ stateDir });
  const plant = new PlantRuntime({ seed: 7, tickMs: 20 });
  plant.start();
  const api = createApiServer({ adminToken: TOKEN, logger: silentLogger(), routes: plantRoutes(plant, audit) });
  const port = await api.listen(0);
  t.after(async () => {
    plant.stop();
    await api.close();
  });
  const base = `http://127.0.0.1:${port}`;
  const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  assert.equal((await fetch(`${base}/v1/plant/faults`, { method: 'POST', body: '{}' })).status, 401);
  const ok = await fetch(`${base}/v1/plant/faults`, { method: 'POST', headers: auth, body: JSON.stringify({ asset: 'pump_1', fault: 'bearing_wear' }) });
  assert.equal(ok.status, 201);
  await new Promise((r) => setTimeout(r, 100));
  const snap = (await (await fetch(`${base}/v1/plant`, { headers: auth })).json()) as { assets: Record<string, { faults: string[] }> };
  assert.deepEqual(snap.assets.pump_1?.faults, ['bearing_wear']);
  const badFault = await fetch(`${base}/v1/plant/faults`, { method: 'POST', headers: auth, body: JSON.stringify({ asset: 'pump_1', fault: 'gremlins' }) });
  assert.equal(badFault.status, 400);
  assert.match(((await badFault.json()) as { error: { message: string } }).error.message, /at \/fault: received "gremlins", allowed: one of bearing_wear, leak, stuck_sensor/);
  const wrongKind = await fetch(`${base}/v1/plant/faults`, { method: 'POST', headers: auth, body: JSON.stringify({ asset: 'tank_1', fault: 'bearing_wear' }) });
  assert.equal(((await wrongKind.json()) as { error: { code: string } }).error.code, 'GLM_ERR_PLANT_FAULT_INVALID');
  const cleared = await fetch(`${base}/v1/plant/faults?asset=pump_1`, { method: 'DELETE', headers: auth });
  assert.equal(cleared.status, 200);
  await audit.close();
  const reopened = await openAuditLog({ stateDir });
  const types = reopened.entries(0, reopened.size() - 1).map((e) => JSON.parse(e.leaf.toString()));
  await reopened.close();
  const flat = types.map((r) => r.record ?? r);
  assert.ok(flat.some((r) => r.type === 'plant.fault.injected' && r.asset === 'pump_1' && r.by === 'admin'));
  assert.ok(flat.some((r) => r.type === 'plant.fault.cleared' && r.asset === 'pump_1'));
});
