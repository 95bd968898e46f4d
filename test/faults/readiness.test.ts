/**
 * Truthful health on the real runtime: agents refused at boot and an audit log on a full disk make /readyz answer 503
 * naming the conditions (and /healthz say degraded); while the audit log cannot commit, POST /v1/plant/faults answers
 * 503 and applies nothing; once space returns, readiness and fault injection recover without a restart. A port
 * already in use is refused with a typed error naming it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { startRuntime, type Runtime } from '../../runtime/app';
import { REPO_ROOT } from '../../runtime/config/load';
import { isGlimmerError } from '../../runtime/errors';
import { silentLogger } from '../../runtime/observability/logger';
import { tempDir } from '../audit/helpers';
import { smallDisk, waitUntil } from './helpers';

interface Ready { status: string; conditions: Record<string, { ok: boolean; reason?: string }> }

test('GIVEN agents refused at boot and then a full disk under the audit log WHEN /readyz, /healthz and POST /v1/plant/faults are called THEN 503 with the failing conditions, the fault is not applied, and everything recovers when space returns', { timeout: 240000 }, async () => {
  const disk = smallDisk(96);
  let rt: Runtime | undefined;
  try {
    // A configuration outside the release that no GLIMMER_CONFIG_SHA256 pin covers: measured boot refuses every agent.
    const config = path.join(disk.dir, 'glimmer.yml');
    for (const f of fs.readdirSync(path.join(REPO_ROOT, 'config'))) if (f.endsWith('.yml')) fs.copyFileSync(path.join(REPO_ROOT, 'config', f), path.join(disk.dir, f));
    rt = await startRuntime({ configFile: config, stateDir: path.join(disk.dir, 'state'), apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
    const base = `http://127.0.0.1:${rt.apiPort}`;
    const auth = { authorization: `Bearer ${rt.adminToken}` };
    const readyz = async () => { const r = await fetch(`${base}/readyz`); return { status: r.status, body: (await r.json()) as Ready }; };
    await waitUntil('every agent TERMINATED', () => rt!.supervisor.agents().every((a) => a.state === 'TERMINATED'), 120000, 200);
    let r = await readyz();
    assert.equal(r.status, 503);
    assert.equal(r.body.conditions.agents?.ok, false);
    assert.match(r.body.conditions.agents?.reason ?? '', /GLM_ERR_BOOT_/);
    assert.equal(r.body.conditions.audit?.ok, true);
    const health = (await (await fetch(`${base}/healthz`)).json()) as { status: string; failing: string[] };
    assert.equal(health.status, 'degraded');
    assert.deepEqual(health.failing, ['agents']);

    const post = (asset: string, fault: string) => fetch(`${base}/v1/plant/faults`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ asset, fault }) });
    disk.fill(32 * 1024);
    // Faults injected until the audit log cannot commit any more: the first 503 is the log failing closed.
    let refused: Response | undefined;
    for (let i = 0; i < 2000 && !refused; i++) {
      const res = await post('pump_1', 'leak');
      if (res.status === 503) refused = res;
      else assert.equal(res.status, 201);
    }
    assert.ok(refused, 'the audit log failed closed');
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'GLM_ERR_AUDIT_STORAGE_FAILED');
    const before = rt.plant!.sim.activeFaults().length;
    const res = await post('tank_2', 'stuck_sensor');
    assert.equal(res.status, 503);
    assert.equal(rt.plant!.sim.activeFaults().length, before, 'a fault whose record cannot be durable is not applied');
    assert.ok(!rt.plant!.sim.activeFaults().some((f) => f.asset === 'tank_2'));
    r = await readyz();
    assert.equal(r.status, 503);
    assert.equal(r.body.conditions.audit?.ok, false);
    assert.match(r.body.conditions.audit?.reason ?? '', /could not commit/);

    disk.free();
    await waitUntil('the audit condition to recover', async () => (await readyz()).body.conditions.audit?.ok === true, 30000, 200);
    assert.equal((await post('tank_2', 'stuck_sensor')).status, 201);
    assert.ok(rt.plant!.sim.activeFaults().some((f) => f.asset === 'tank_2'));
  } finally {
    await rt?.stop('test');
    disk.remove();
  }
});

test('GIVEN the API port already in use WHEN the runtime starts THEN GLM_ERR_API_LISTEN_FAILED naming the host, the port and EADDRINUSE', { timeout: 120000 }, async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    await assert.rejects(
      startRuntime({ stateDir: tempDir('glimmer-fault-port-'), apiPort: port, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() }),
      (e: unknown) => isGlimmerError(e) && e.code === 'GLM_ERR_API_LISTEN_FAILED' && e.message.includes(`127.0.0.1:${port}`) && /EADDRINUSE/.test(e.message),
    );
  } finally {
    blocker.close();
  }
});
