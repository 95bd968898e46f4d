/**
 * The whole runtime with a northbound section: the Data Agent's own process (its bundle, its X.509-SVID as the MQTT
 * client certificate) publishes the simulated plant to a real mosquitto (TLS 1.3, client certificates chained to the
 * runtime's CA), the Python host application checks what it receives, and /metrics carries the northbound gauges.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startRuntime } from '../../runtime/app';
import { REPO_ROOT } from '../../runtime/config/load';
import type { AuditRecordInput } from '../../runtime/model/messages';
import { silentLogger } from '../../runtime/observability/logger';
import { pinsOf } from '../helpers/external-plant';
import { makeTestPki, startMosquitto, startPeer } from '../helpers/mosquitto';
import { waitFor } from '../helpers/wait';

test('GIVEN glimmer run with a northbound section WHEN the swarm runs THEN the Data Agent process is born at the broker under its SVID, the host sees every device and live data with valid sequence numbers, and the metrics show it', { timeout: 150_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-e2e-nb-'));
  // The runtime's CA is made first (the runtime keeps an existing one), so the broker can require certificates from it.
  const pki = await makeTestPki(dir);
  const broker = await startMosquitto(pki);
  const peer = await startPeer(pki, broker, 'e2e');
  for (const f of fs.readdirSync(path.join(REPO_ROOT, 'config'))) if (f.endsWith('.yml')) fs.copyFileSync(path.join(REPO_ROOT, 'config', f), path.join(dir, f));
  const configFile = path.join(dir, 'glimmer.yml');
  fs.appendFileSync(configFile, `\nnorthbound:\n  broker: ${broker.url}\n  group_id: e2e\n  ca_file: ${pki.brokerCaFile}\n  publish_interval_ms: 200\n`);
  // The config lives outside the release: pinned, as a pod's ConfigMap is.
  const rt = await startRuntime({ configFile, configPins: pinsOf(configFile), stateDir: pki.stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
  const records: AuditRecordInput[] = [];
  rt.supervisor.on('audit', (agent: string, record: AuditRecordInput) => { if (agent === 'data-1') records.push(record); });
  t.after(async () => {
    await rt.stop('test');
    await peer.stop();
    await broker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  assert.ok(await rt.supervisor.waitFor(['ACTIVE'], 90_000), JSON.stringify(rt.supervisor.agents()));
  const of = () => peer.messages.filter((m) => m.topic?.split('/')[3] === 'data-1');
  await waitFor('births and live data from data-1', () => of().filter((m) => m.kind === 'DBIRTH').length === 8 && of().some((m) => m.kind === 'DDATA'), 60_000, { diag: () => `${broker.log()}\n${JSON.stringify(records.slice(-5))}` });
  assert.equal(of()[0]?.kind, 'NBIRTH');
  assert.deepEqual(peer.violations(), []);
  assert.ok(records.some((r) => r.type === 'northbound.topics'));
  await waitFor('the northbound metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${rt.apiPort}/metrics`)).text();
    return /glimmer_northbound_born 1/.test(text) && /glimmer_northbound_queue_depth\{stream="trend"\} \d/.test(text);
  }, 20_000);
});
