/**
 * The console's HTTP surface on the real API server (port 0): the public shell and its static files, the authenticated
 * snapshot and the SSE stream, fed by a ConsoleFeed over the real simulated plant.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { createApiServer } from '../../runtime/api/server';
import { CONSOLE_ASSETS, consoleAssetsDir, consoleRoutes } from '../../runtime/api/routes/console';
import { eventRoutes, sseFrame } from '../../runtime/api/routes/events';
import { loadConfig } from '../../runtime/config/load';
import { PlantSimulation } from '../../runtime/industrial/plant/simulation';
import { ConsoleFeed, createConsoleView, plantViewFromSnapshot, scoresFromStatus } from '../../runtime/api/console/view-model';
import { silentLogger } from '../../runtime/observability/logger';

const TOKEN = 'console-test-token-0123456789abcdefghijklmnop';
const AGENTS = [
  { id: 'industrial-1', kind: 'industrial', zone: 'control', state: 'ACTIVE', since: '2026-01-01T00:00:00.000Z' },
  { id: 'cognitive-1', kind: 'cognitive', zone: 'operations', state: 'ACTIVE', since: '2026-01-01T00:00:00.000Z' },
];

async function start(t: TestContext, feedOptions = {}) {
  const config = loadConfig();
  const feed = new ConsoleFeed({ plantIntervalMs: 0, ...feedOptions });
  const plant = new PlantSimulation({ seed: 7 });
  const view = createConsoleView({ zones: config.zones, agents: () => AGENTS, feed });
  const api = createApiServer({ adminToken: TOKEN, logger: silentLogger(), routes: [...consoleRoutes(view), ...eventRoutes(view, { heartbeatMs: 200 })] });
  const port = await api.listen(0);
  t.after(() => api.close());
  return { feed, plant, view, base: `http://127.0.0.1:${port}` };
}

const auth = { authorization: `Bearer ${TOKEN}` };

/** Reads SSE frames from a fetch() stream until `until` says stop. */
async function readFrames(res: Response, until: (frames: { event: string; data: unknown }[]) => boolean, timeoutMs = 5000) {
  const frames: { event: string; data: unknown }[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const deadline = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    while (!until(frames)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const raw = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(raw)?.[1];
        const data = /^data: (.*)$/m.exec(raw)?.[1];
        if (event && data) frames.push({ event, data: JSON.parse(data) });
      }
    }
  } finally {
    clearTimeout(deadline);
    await reader.cancel().catch(() => undefined);
  }
  return frames;
}

test('GIVEN the runtime WHEN GET / is fetched without credentials THEN the console shell is served with a same-origin-only CSP', async (t) => {
  const { base } = await start(t);
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /connect-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(await res.text(), /Glimmer operator console/);
  for (const asset of Object.keys(CONSOLE_ASSETS)) assert.equal((await fetch(`${base}${asset}`)).status, 200, asset);
});

test('GIVEN the console files WHEN read THEN nothing is loaded from outside this origin (no CDN) and no token goes into a URL', () => {
  const dir = consoleAssetsDir();
  for (const { file } of Object.values(CONSOLE_ASSETS)) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    assert.doesNotMatch(text, /(src|href)\s*=\s*["'](https?:)?\/\//i, `${file} loads nothing from another origin`);
    assert.doesNotMatch(text, /@import|url\(\s*["']?(https?:)?\/\//i, `${file} imports no remote CSS`);
    assert.doesNotMatch(text, /fetch\(\s*["'`]https?:/, `${file} fetches same-origin paths only`);
    assert.doesNotMatch(text, /[?&]token=/, `${file} never puts the token in a query string`);
    assert.doesNotMatch(text, /new EventSource/, `${file} does not use EventSource (it cannot send the Authorization header)`);
  }
});

test('GIVEN no token WHEN the snapshot or the event stream is requested THEN 401 GLM_ERR_API_UNAUTHENTICATED, also with the token in the query string', async (t) => {
  const { base } = await start(t);
  for (const p of ['/v1/console/snapshot', '/v1/events', `/v1/events?token=${TOKEN}`, `/v1/console/snapshot?token=${TOKEN}`]) {
    const res = await fetch(`${base}${p}`);
    assert.equal(res.status, 401, p);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'GLM_ERR_API_UNAUTHENTICATED');
  }
});

test('GIVEN a running plant WHEN the snapshot is fetched with the token THEN it has zones, agents, the plant, its history and the decisions', async (t) => {
  const { base, feed, plant } = await start(t);
  for (let i = 0; i < 5; i++) {
    plant.step(1000);
    feed.pushPlant(plantViewFromSnapshot(plant.snapshot(), 1_000_000 + i * 1000));
  }
  feed.pushDecision({ t: 1, zone: 'safety', function: 'write_single_coil', address: 0, decision: 'deny', reason: 'policy', principal: 'data-1' });
  const res = await fetch(`${base}/v1/console/snapshot`, { headers: auth });
  assert.equal(res.status, 200);
  const snap = (await res.json()) as Record<string, unknown> & { zones: { name: string }[]; plant: { points: { key: string; unit: string }[] }; plant_history: unknown[]; decisions: unknown[]; agents: unknown[] };
  assert.deepEqual(snap.zones.map((z) => z.name), ['enterprise', 'dmz', 'operations', 'control', 'safety']);
  assert.equal(snap.agents.length, 2);
  assert.equal(snap.plant_history.length, 5);
  assert.ok(snap.plant.points.some((p) => p.key === 'tank_1.level_m' && p.unit === 'm'));
  assert.ok(snap.plant.points.some((p) => p.key === 'pump_1.flow_m3h' && p.unit === 'm³/h'));
  assert.equal(snap.decisions.length, 1);
  assert.equal(typeof snap.boot_id, 'string');
});

test('GIVEN a subscriber with the token WHEN the plant moves, a write is denied and a fault is injected THEN the SSE stream carries hello, plant (with the fault) and decision events', async (t) => {
  const { base, feed, plant, view } = await start(t);
  const res = await fetch(`${base}/v1/events`, { headers: auth });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reading = readFrames(res, (f) => f.some((x) => x.event === 'decisions') && f.some((x) => x.event === 'heartbeat'));
  await new Promise((r) => setTimeout(r, 50));
  plant.injectFault('pump_1', 'bearing_wear');
  plant.step(1000);
  feed.pushPlant(plantViewFromSnapshot(plant.snapshot()));
  feed.pushDecision({ t: Date.now(), zone: 'safety', function: 'write_single_coil', decision: 'deny', reason: 'interlock' });
  const frames = await reading;
  assert.equal(frames[0]?.event, 'hello');
  assert.equal((frames[0]?.data as { boot_id: string }).boot_id, view.bootId);
  const plantFrame = frames.find((f) => f.event === 'plant')?.data as { plant: { faults: { asset: string; fault: string }[] } };
  assert.deepEqual(plantFrame.plant.faults, [{ asset: 'pump_1', fault: 'bearing_wear' }]);
  const batch = frames.find((f) => f.event === 'decisions')?.data as { decisions: { decision: string }[]; totals: { allow: number; deny: number } };
  assert.deepEqual(batch.decisions.map((d) => d.decision), ['deny']);
  assert.deepEqual(batch.totals, { allow: 0, deny: 1 });
  // The stream ended (reader cancelled): the server drops the subscriber.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(feed.subscriberCount, 0);
});

test('GIVEN the live-stream limit is reached WHEN one more console connects THEN 503 GLM_ERR_API_TOO_MANY_STREAMS', async (t) => {
  const { base } = await start(t, { maxSubscribers: 1 });
  const first = await fetch(`${base}/v1/events`, { headers: auth });
  assert.equal(first.status, 200);
  const second = await fetch(`${base}/v1/events`, { headers: auth });
  assert.equal(second.status, 503);
  assert.equal(((await second.json()) as { error: { code: string } }).error.code, 'GLM_ERR_API_TOO_MANY_STREAMS');
  await first.body?.cancel();
});

test('GIVEN a busy feed WHEN thousands of decisions and plant samples arrive THEN the buffers stay bounded', () => {
  const feed = new ConsoleFeed({ historySize: 10, decisionsSize: 20, plantIntervalMs: 0 });
  const plant = new PlantSimulation({ seed: 1 });
  for (let i = 0; i < 5000; i++) feed.pushDecision({ t: i, zone: 'control', function: 'read_coils', decision: 'allow', reason: 'policy' });
  for (let i = 0; i < 50; i++) feed.pushPlant(plantViewFromSnapshot(plant.snapshot(), i));
  assert.equal(feed.decisions(1000).length, 20);
  assert.equal(feed.decisions(1000).at(-1)?.t, 4999, 'newest last');
  assert.equal(feed.decisions(5).length, 5);
  assert.deepEqual(feed.plantHistory().map((p) => p.t), [40, 41, 42, 43, 44, 45, 46, 47, 48, 49]);
});

test('GIVEN a gateway batch of 10,000 decisions WHEN pushed THEN all are counted, 200 kept, and subscribers get one batch of the newest 50', () => {
  const feed = new ConsoleFeed({ decisionBatchMs: 60_000 });
  const batches: { decisions: readonly unknown[]; totals: unknown }[] = [];
  feed.subscribe((e) => (e.type === 'decisions' ? batches.push(e) : undefined));
  const records = Array.from({ length: 10_000 }, (_, i) => ({ i, decision: (i % 4 === 0 ? 'deny' : 'allow') as 'allow' | 'deny' }));
  let converted = 0;
  feed.pushDecisions(records, (r) => {
    converted += 1;
    return { t: r.i, zone: 'control', function: 'read_coils', decision: r.decision, reason: 'zone' };
  });
  feed.flushDecisions();
  assert.equal(converted, 200);
  assert.deepEqual(feed.decisionTotals(), { allow: 7500, deny: 2500 });
  assert.equal(feed.decisions(1000).length, 200);
  assert.equal(batches.length, 1);
  assert.equal(batches[0]?.decisions.length, 50);
  assert.equal((batches[0]?.decisions.at(-1) as { t: number }).t, 9999);
});

test('GIVEN a plant publishing every 100 ms WHEN the feed throttles to 1 s THEN subscribers get one sample a second and the latest is always current', () => {
  const feed = new ConsoleFeed({ plantIntervalMs: 1000 });
  const plant = new PlantSimulation({ seed: 1 });
  let published = 0;
  feed.subscribe((e) => (published += e.type === 'plant' ? 1 : 0));
  for (let t = 1000; t < 4000; t += 100) feed.pushPlant(plantViewFromSnapshot(plant.snapshot(), t));
  assert.equal(published, 3);
  assert.equal(feed.plant()?.t, 3900);
});

test('GIVEN a subscriber that throws WHEN an event is published THEN the other subscribers still receive it', () => {
  const feed = new ConsoleFeed();
  let got = 0;
  feed.subscribe(() => {
    throw new Error('broken');
  });
  feed.subscribe(() => (got += 1));
  feed.checkpoint(3);
  assert.equal(got, 1);
});

test('GIVEN an event WHEN framed for SSE THEN it is one event line and one data line of JSON', () => {
  assert.equal(sseFrame('checkpoint', { type: 'checkpoint', size: 3, note: 'a\nb' }), 'event: checkpoint\ndata: {"type":"checkpoint","size":3,"note":"a\\nb"}\n\n');
});

test('GIVEN statuses agents publish WHEN read for scores THEN the Cognitive Agent form, the object and the list forms give scores, and junk gives none', () => {
  assert.deepEqual(scoresFromStatus({ asset_scores: { pump_1: 0.91, tank_1: 0.1 }, mode: 'bearing_wear' }, 0.6, 5), [
    { asset: 'pump_1', score: 0.91, threshold: 0.6, t: 5 },
    { asset: 'tank_1', score: 0.1, threshold: 0.6, t: 5 },
  ]);
  assert.deepEqual(scoresFromStatus({ scores: [{ asset: 'pump_2', score: 0.2, threshold: 0.8 }, { asset: 3, score: 1 }, { asset: 'x', score: 'high' }] }, 0.5, 1), [
    { asset: 'pump_2', score: 0.2, threshold: 0.8, t: 1 },
  ]);
  assert.equal(scoresFromStatus({ exported: 3, refused: 0 }, 0.5), undefined);
  assert.deepEqual(scoresFromStatus({ asset_scores: { a: Number.NaN, b: null } }, 0.5), []);
});
