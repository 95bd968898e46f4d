/**
 * The operator console end to end in headless Chromium (Debian /usr/bin/chromium driven by playwright-core) against the
 * real runtime (startRuntime: agents in their own processes, the simulated plant behind the Modbus gateway, the audit
 * log), on ports picked by the OS. Screenshots go to test-results/ as CI artifacts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { startRuntime, type Runtime } from '../../runtime/app';
import { ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import { silentLogger } from '../../runtime/observability/logger';
import { launch, shot as shotAs } from '../helpers/chromium';
import { restartablePort } from '../helpers/ports';

/** The little of the DOM the page-side predicates use (the tests are type-checked without the DOM library). */
declare const document: {
  querySelectorAll(selector: string): { length: number };
  querySelector(selector: string): { textContent: string | null } | null;
  getElementById(id: string): { textContent: string | null } | null;
};
declare const sessionStorage: { getItem(key: string): string | null };
// Predicates are functions, not strings: the console's CSP (no 'unsafe-eval') refuses string predicates.
const THREE_ACTIVE = () => document.querySelectorAll('[data-agent][data-state="ACTIVE"]').length === 3;
async function shot(page: Page, name: string): Promise<void> {
  await shotAs(page, `console-${name}`);
}

function start(stateDir: string, apiPort = 0): Promise<Runtime> {
  return startRuntime({ stateDir, apiPort, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
}

/** Waits until the console shows three ACTIVE agents; on timeout, says what the supervisor reports. */
async function threeActive(page: Page, rt: Runtime): Promise<void> {
  try {
    await page.waitForFunction(THREE_ACTIVE, undefined, { timeout: 90_000 });
  } catch (err) {
    await shot(page, 'failed-agents');
    const agents = rt.supervisor.agents().map((a) => `${a.id}=${a.state}${a.last_error ? ` (${a.last_error.code}: ${a.last_error.message})` : ''}`);
    throw new Error(`the console did not show three ACTIVE agents; the supervisor reports ${agents.join(', ')}`, { cause: err });
  }
}

/** A runtime on a fresh state dir and a browser; both end with the test. `restart()` replaces the runtime on its port. */
async function rig(t: TestContext) {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-console-e2e-'));
  // restart() brings the runtime back on this port (the browser keeps its address).
  let rt = await start(stateDir, await restartablePort());
  t.after(async () => {
    await rt.stop('test');
    fs.rmSync(stateDir, { recursive: true, force: true });
  });
  const browser = await launch();
  t.after(() => browser.close());
  return {
    page: browser.page,
    get rt() {
      return rt;
    },
    async stopRuntime() {
      await rt.stop('restart');
    },
    async restartRuntime() {
      rt = await start(stateDir, rt.apiPort);
    },
  };
}

test('GIVEN the running runtime WHEN an operator opens the console address THEN it signs in from the fragment, shows three ACTIVE agents, reflects an injected fault and a denied safety write within seconds, verifies an inclusion proof in the browser, and survives a runtime restart', { timeout: 240_000 }, async (t) => {
  const r = await rig(t);
  const { page } = r;
  const { adminToken: token, apiPort } = r.rt;

  // Every request the page makes: the token must never appear in a URL, data calls carry the bearer header.
  const requests: { url: string; authorization?: string }[] = [];
  page.on('request', (q) => requests.push({ url: q.url(), authorization: q.headers().authorization }));
  const outside: string[] = [];
  page.on('request', (q) => {
    if (!q.url().startsWith(`http://127.0.0.1:${apiPort}/`)) outside.push(q.url());
  });

  await page.goto(r.rt.consoleUrl);
  assert.equal(new URL(page.url()).hash, '', 'the token is stripped from the address bar');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('glimmer.token')), token);

  // Three ACTIVE agents, in their zones.
  await threeActive(page, r.rt);
  const agents = await page.$$eval('[data-agent]', (els) => els.map((e) => `${e.closest('[data-zone]')?.getAttribute('data-zone')}/${e.getAttribute('data-agent')}/${e.getAttribute('data-state')}`));
  assert.deepEqual(agents.sort(), ['control/industrial-1/ACTIVE', 'dmz/data-1/ACTIVE', 'operations/cognitive-1/ACTIVE']);
  await page.waitForSelector('[data-testid="connection"][data-state="live"]');
  await page.waitForSelector('[data-key="tank_1.level_m"] svg.spark polyline', { timeout: 20_000 });
  await shot(page, '1-live');

  // An injected plant fault (not one of config/glimmer.yml's scheduled demo faults) and a write to the safety zone
  // from the operations zone (refused by the gateway).
  assert.equal(await page.locator('[data-fault="valve_2:stuck_sensor"]').count(), 0);
  assert.ok(r.rt.plant, 'the embedded default runs the simulated plant');
  r.rt.plant.sim.injectFault('valve_2', 'stuck_sensor');
  const [host, port] = (r.rt.endpoints.modbus_operations as string).split(':');
  const client = new ModbusTcpClient(host as string, Number(port));
  await client.connect();
  const refused = await client.writeCoil(2, 1, true);
  client.close();
  assert.notEqual(refused.exception, 0, 'the gateway refuses the interlock bypass from the operations zone');
  await page.waitForSelector('[data-fault="valve_2:stuck_sensor"]', { timeout: 10_000 });
  await page.waitForSelector('[data-testid="decisions"] li[data-decision="deny"]', { timeout: 10_000 });
  await page.waitForSelector('[data-alert="SafetyWriteDenied"]', { timeout: 10_000 });
  await shot(page, '2-fault');

  // The checkpoint's signature (SoftHSM P-384 ECDSA), checked by WebCrypto in the page.
  await page.waitForSelector('[data-field="tree-size"]');
  assert.match((await page.textContent('[data-field="signatures"]')) ?? '', /ecdsa-p384-sha384: ✓ verified in this browser/);
  // The inclusion proof of the latest checkpoint's last entry, verified by WebCrypto in the page.
  await page.click('[data-testid="verify"]');
  await page.waitForSelector('[data-verified]', { timeout: 20_000 });
  assert.equal(await page.getAttribute('[data-verified]', 'data-verified'), 'true', await page.textContent('[data-testid="verify-result"]') ?? '');
  await page.fill('#verify-index', '0');
  await page.click('[data-testid="verify"]');
  await page.waitForFunction(() => /Entry 0 is included/.test(document.querySelector('[data-testid="verify-result"]')?.textContent ?? ''), undefined, { timeout: 20_000 });
  await shot(page, '3-proof');

  // The runtime stops: the console says its data is stale. It restarts on the same port: the console reconnects.
  await r.stopRuntime();
  await page.waitForSelector('[data-testid="connection"][data-state="stale"]', { timeout: 20_000 });
  assert.equal(await page.isVisible('[data-testid="stale-banner"]'), true);
  assert.match((await page.getAttribute('body', 'class')) ?? '', /stale/);
  await shot(page, '4-stale');
  await r.restartRuntime();
  await page.waitForSelector('[data-testid="connection"][data-state="live"]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid="restart-banner"]:not([hidden])');
  await threeActive(page, r.rt);
  await shot(page, '5-reconnected');

  for (const q of requests) assert.ok(!q.url.includes(token), `the token is not in ${q.url.replace(token, '<token>')}`);
  const dataCalls = requests.filter((q) => new URL(q.url).pathname.startsWith('/v1/'));
  assert.ok(dataCalls.length > 0);
  for (const q of dataCalls) assert.equal(q.authorization, `Bearer ${token}`, `${new URL(q.url).pathname} carries the bearer token`);
  assert.deepEqual(outside, [], 'nothing is loaded from outside the runtime (no CDN)');
});

test('GIVEN the console without a token WHEN opened THEN it asks to sign in and a wrong token is refused', { timeout: 120_000 }, async (t) => {
  const { page, rt } = await rig(t);
  await page.goto(`http://127.0.0.1:${rt.apiPort}/`);
  await page.waitForSelector('[data-testid="signin"]:not([hidden])');
  await page.fill('#signin-token', 'not-the-token');
  await page.click('#signin-form button');
  await page.waitForFunction(() => /did not accept the token/.test(document.getElementById('signin-error')?.textContent ?? ''), undefined, { timeout: 10_000 });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('glimmer.token')), null);
  await page.fill('#signin-token', rt.adminToken);
  await page.click('#signin-form button');
  await page.waitForSelector('[data-testid="connection"][data-state="live"]', { timeout: 20_000 });
  await shot(page, '0-signin');
});
