import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { createApiServer } from '../../runtime/api/server';
import { quote } from '../../runtime/errors';
import { systemRoutes } from '../../runtime/api/routes/system';
import { silentLogger } from '../../runtime/observability/logger';
import { createMetrics } from '../../runtime/observability/metrics';
import type { AgentView } from '../../runtime/lifecycle/supervisor';

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstuvwxyz';

async function start() {
  const metrics = createMetrics();
  const agents: AgentView[] = [{ id: 'industrial-1', kind: 'industrial', zone: 'control', state: 'ACTIVE', since: '2026-01-01T00:00:00.000Z', restarts: 0 }];
  const api = createApiServer({
    adminToken: TOKEN,
    logger: silentLogger(),
    maxBodyBytes: 64,
    routes: [
      ...systemRoutes({ agents: () => agents, registry: metrics.registry }),
      { method: 'POST', path: '/echo', handle: async (ctx) => ({ body: await ctx.json() }) },
      { method: 'GET', path: '/boom', handle: () => { throw new Error('secret internal detail'); } },
    ],
  });
  const port = await api.listen(0);
  return { api, base: `http://127.0.0.1:${port}` };
}

test('GIVEN the API WHEN /healthz and /metrics are fetched without credentials THEN they answer (the only public routes)', async (t) => {
  const { api, base } = await start();
  t.after(() => api.close());
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok', agents: 1, active: 1, failing: [] });
  const metrics = await fetch(`${base}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
  assert.match(await metrics.text(), /# TYPE glimmer_agent_state gauge/);
});

test('GIVEN no token WHEN /v1/agents is fetched THEN 401 GLM_ERR_API_UNAUTHENTICATED with a Bearer challenge', async (t) => {
  const { api, base } = await start();
  t.after(() => api.close());
  const res = await fetch(`${base}/v1/agents`);
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="glimmer"');
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'GLM_ERR_API_UNAUTHENTICATED');
});

test('GIVEN a wrong token (same length, or a prefix) WHEN /v1/agents is fetched THEN 401', async (t) => {
  const { api, base } = await start();
  t.after(() => api.close());
  for (const bad of [TOKEN.replace(/.$/, 'X'), TOKEN.slice(0, 10), '', `${TOKEN}x`]) {
    const res = await fetch(`${base}/v1/agents`, { headers: { authorization: `Bearer ${bad}` } });
    assert.equal(res.status, 401, bad);
  }
  const query = await fetch(`${base}/v1/agents?token=${TOKEN}`);
  assert.equal(query.status, 401, 'a token in the query string is never accepted');
});

test('GIVEN the admin token WHEN /v1/agents is fetched THEN it lists id, kind, zone, state and since only', async (t) => {
  const { api, base } = await start();
  t.after(() => api.close());
  const res = await fetch(`${base}/v1/agents`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.deepEqual(await res.json(), [{ id: 'industrial-1', kind: 'industrial', zone: 'control', state: 'ACTIVE', since: '2026-01-01T00:00:00.000Z' }]);
});

test('GIVEN bad requests WHEN sent THEN each gets its own typed error: 404, 405, 400 invalid JSON, 413 too large, 500 without internals', async (t) => {
  const { api, base } = await start();
  t.after(() => api.close());
  const auth = { authorization: `Bearer ${TOKEN}` };
  const code = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
  assert.equal((await code(await fetch(`${base}/nope`, { headers: auth }))).code, 'GLM_ERR_API_NOT_FOUND');
  assert.equal((await code(await fetch(`${base}/v1/agents`, { method: 'POST', headers: auth }))).code, 'GLM_ERR_API_METHOD_NOT_ALLOWED');
  assert.equal((await code(await fetch(`${base}/echo`, { method: 'POST', headers: auth, body: '{bad' }))).code, 'GLM_ERR_API_BODY_INVALID');
  const big = await fetch(`${base}/echo`, { method: 'POST', headers: auth, body: JSON.stringify({ x: 'y'.repeat(200) }) });
  assert.equal(big.status, 413);
  assert.equal((await code(big)).code, 'GLM_ERR_API_BODY_TOO_LARGE');
  const boom = await fetch(`${base}/boom`, { headers: auth });
  assert.equal(boom.status, 500);
  const body = await code(boom);
  assert.deepEqual(body, { code: 'GLM_ERR_INTERNAL', message: 'internal error' });
  const ok = await fetch(`${base}/echo`, { method: 'POST', headers: auth, body: '{"a":1}' });
  assert.deepEqual(await ok.json(), { a: 1 });
});

test('GIVEN no credentials WHEN an unknown route or a wrong method is requested THEN 401 before routing, so route existence does not leak; with the token THEN 404/405', async (t) => {
  const { api, base } = await start();
  t.after(() => api.close());
  for (const [method, path] of [['GET', '/v1/does-not-exist'], ['GET', '/v1/audit/entries'], ['DELETE', '/healthz']]) {
    const res = await fetch(`${base}${path}`, { method });
    assert.equal(res.status, 401, `${method} ${path}`);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'GLM_ERR_API_UNAUTHENTICATED');
  }
  const auth = { authorization: `Bearer ${TOKEN}` };
  assert.equal((await fetch(`${base}/v1/does-not-exist`, { headers: auth })).status, 404);
  assert.equal((await fetch(`${base}/healthz`, { method: 'DELETE', headers: auth })).status, 405);
});

test('GIVEN a request under a foreign Host name (DNS rebinding) WHEN /metrics is fetched THEN 421 GLM_ERR_API_HOST_REFUSED; IP literals, localhost and configured names pass', async (t) => {
  const { api, base } = await start();
  t.after(() => api.close());
  const port = new URL(base).port;
  const get = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/metrics', headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
  assert.equal(await get(`rebind.attacker.example:${port}`), 421);
  assert.equal(await get(`127.0.0.1:${port}`), 200);
  assert.equal(await get(`[::1]:${port}`), 200);
  assert.equal(await get(`10.1.2.3:${port}`), 200);
  assert.equal(await get(`localhost:${port}`), 200);
  const named = createApiServer({ adminToken: TOKEN, logger: silentLogger(), routes: systemRoutes({ agents: () => [], registry: createMetrics().registry }), allowedHosts: ['glimmer.plant.example'] });
  const p2 = await named.listen(0);
  t.after(() => named.close());
  const status = await new Promise<number>((resolve) => http.get({ host: '127.0.0.1', port: p2, path: '/healthz', headers: { host: 'glimmer.plant.example' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }));
  assert.equal(status, 200);
});

test('GIVEN a JSON body nested 5,000 levels deep WHEN posted THEN 400 GLM_ERR_API_BODY_INVALID naming the depth limit, not a 500', async (t) => {
  const api = createApiServer({ adminToken: TOKEN, logger: silentLogger(), routes: [{ method: 'POST', path: '/echo', handle: async (ctx) => ({ body: await ctx.json() }) }] });
  const port = await api.listen(0);
  t.after(() => api.close());
  const res = await fetch(`http://127.0.0.1:${port}/echo`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: `${'['.repeat(5000)}${']'.repeat(5000)}` });
  assert.equal(res.status, 400);
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(error.code, 'GLM_ERR_API_BODY_INVALID');
  assert.match(error.message, /deeper than 64 levels/);
  // The same value reaching an error message stays a short text (how deep JSON.stringify can go depends on the
  // Node version's stack; either way the text is bounded), and a value with no printable form gets a placeholder.
  assert.ok(quote(JSON.parse(`${'['.repeat(5000)}${']'.repeat(5000)}`)).length <= 81);
  const unprintable = { toJSON() { throw new RangeError('Maximum call stack size exceeded'); }, toString() { throw new RangeError('Maximum call stack size exceeded'); } };
  assert.equal(quote(unprintable), '[unprintable object]');
});
