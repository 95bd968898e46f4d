import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createApiServer } from '../../runtime/api/server';
import { auditRoutes } from '../../runtime/api/routes/audit';
import { openAuditLog, type AuditLog } from '../../runtime/audit/log';
import { hasher, verifyConsistency, verifyInclusion } from '../../runtime/audit/merkle';
import { openCheckpoint, parseVerifierKey } from '../../runtime/audit/note';
import { fileSigner } from '../../runtime/audit/signers';
import { GlimmerError } from '../../runtime/errors';
import { silentLogger } from '../../runtime/observability/logger';
import { tempDir } from './helpers';

const TOKEN = 'test-admin-token-0123456789';
const SEED_BODY = `{
    "immutable_logs": true,
    "cryptographic_sealing": {
      "algorithm": "RFC9162_SHA512",
      "rotation_interval": "24h"
    }
  }`;

async function serve(options: Parameters<typeof auditRoutes>[1] = {}): Promise<{ log: AuditLog; base: string; stop: () => Promise<void> }> {
  const dir = tempDir();
  const log = await openAuditLog({ stateDir: dir, signer: fileSigner({ keyFile: path.join(dir, 'k.pem'), keyName: 'glimmer.local/audit' }) });
  const api = createApiServer({ adminToken: TOKEN, routes: auditRoutes(log, options), logger: silentLogger() });
  const port = await api.listen(0);
  return {
    log,
    base: `http://127.0.0.1:${port}`,
    stop: async () => {
      await api.close();
      await log.close();
    },
  };
}

async function call(base: string, p: string, init: RequestInit = {}, token: string | null = TOKEN) {
  const res = await fetch(base + p, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) } });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get('content-type'), text, json: json as Record<string, unknown> & { error?: { code: string; message: string } } };
}

test("GIVEN the running API WHEN the seed's curl call (plus a bearer token) posts the audit config THEN sealing is configured, readable back, and the change itself is audited", async () => {
  const s = await serve();
  try {
    const { stdout } = await promisify(execFile)('curl', [
      '-sS', '-X', 'POST', `${s.base}/v1/audit/config`,
      '-H', 'Content-Type: application/json',
      '-H', `Authorization: Bearer ${TOKEN}`,
      '-d', SEED_BODY,
    ]);
    const expected = { immutable_logs: true, cryptographic_sealing: { algorithm: 'RFC9162_SHA512', rotation_interval: '24h' } };
    assert.deepEqual(JSON.parse(stdout), expected);
    assert.deepEqual((await call(s.base, '/v1/audit/config')).json, expected);
    const entries = (await call(s.base, '/v1/audit/entries?start=0&end=0')).json as unknown as { record: { type: string; principal: string } }[];
    assert.equal(entries[0]?.record.type, 'audit.config_changed');
    assert.equal(entries[0]?.record.principal, 'admin');
  } finally {
    await s.stop();
  }
});

test('GIVEN no or a wrong bearer token WHEN any audit route is called THEN 401 GLM_ERR_API_UNAUTHENTICATED', async () => {
  const s = await serve();
  try {
    for (const p of ['/v1/audit/config', '/v1/audit/checkpoint', '/v1/audit/entries?start=0&end=0', '/v1/audit/keys']) {
      const r = await call(s.base, p, {}, null);
      assert.equal(r.status, 401, p);
      assert.equal(r.json.error?.code, 'GLM_ERR_API_UNAUTHENTICATED');
    }
    const r = await call(s.base, '/v1/audit/config', { method: 'POST', body: SEED_BODY }, 'wrong-token');
    assert.equal(r.status, 401);
  } finally {
    await s.stop();
  }
});

test('GIVEN invalid config bodies WHEN posted THEN 400 GLM_ERR_API_BODY_INVALID naming the field path; switching immutable_logs off THEN 409 GLM_ERR_AUDIT_IMMUTABLE', async () => {
  const s = await serve();
  try {
    const post = (body: string) => call(s.base, '/v1/audit/config', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    let r = await post('{"immutable_logs": "yes"}');
    assert.equal(r.status, 400);
    assert.equal(r.json.error?.code, 'GLM_ERR_API_BODY_INVALID');
    assert.match(r.json.error?.message ?? '', /^\$\.immutable_logs /);
    r = await post('{"cryptographic_sealing": {"algorithm": "SHA1"}}');
    assert.match(r.json.error?.message ?? '', /^\$\.cryptographic_sealing\.algorithm /);
    r = await post('{not json');
    assert.equal(r.status, 400);
    assert.equal(r.json.error?.code, 'GLM_ERR_API_BODY_INVALID');
    assert.equal((await post(SEED_BODY)).status, 200);
    r = await post('{"immutable_logs": false}');
    assert.equal(r.status, 409);
    assert.equal(r.json.error?.code, 'GLM_ERR_AUDIT_IMMUTABLE');
    r = await post('{"cryptographic_sealing": {"algorithm": "RFC9162_SHA256"}}');
    assert.equal(r.status, 409);
    assert.equal(r.json.error?.code, 'GLM_ERR_AUDIT_ALGORITHM_LOCKED');
  } finally {
    await s.stop();
  }
});

test('GIVEN a log with entries WHEN a client fetches checkpoint, entries and proofs THEN the shapes are as docs/audit.md says and everything verifies against the signed root', async () => {
  const s = await serve();
  try {
    await Promise.all(Array.from({ length: 37 }, (_, i) => s.log.append({ type: 'api.test', i })));
    const cpRes = await call(s.base, '/v1/audit/checkpoint');
    assert.equal(cpRes.status, 200);
    assert.match(cpRes.type ?? '', /^text\/plain/);
    const keys = ((await call(s.base, '/v1/audit/keys')).json.keys as string[]).map(parseVerifierKey);
    const cp = await openCheckpoint(cpRes.text, keys, 64);
    assert.equal(cp.size, 37);
    const h = hasher('RFC9162_SHA512');

    const entries = (await call(s.base, '/v1/audit/entries?start=0&end=36')).json as unknown as { index: number; leaf: string }[];
    assert.equal(entries.length, 37);
    entries.forEach((e, i) => {
      assert.equal(e.index, i);
      assert.ok(Buffer.from(e.leaf, 'base64').equals(s.log.entries(i, i)[0]?.leaf as Buffer));
    });

    const incl = (await call(s.base, '/v1/audit/proof/inclusion?index=21&size=37')).json as { index: number; size: number; hashes: string[] };
    assert.deepEqual(Object.keys(incl), ['index', 'size', 'hashes']);
    assert.equal(incl.index, 21);
    assert.ok(incl.hashes.every((x) => /^[0-9a-f]{128}$/.test(x)));
    assert.ok(verifyInclusion(h, 21, 37, h.leaf(Buffer.from(entries[21]?.leaf as string, 'base64')), incl.hashes.map((x) => Buffer.from(x, 'hex')), cp.root));

    const cons = (await call(s.base, '/v1/audit/proof/consistency?first=13&second=37')).json as { first: number; second: number; hashes: string[] };
    assert.deepEqual(Object.keys(cons), ['first', 'second', 'hashes']);
    assert.ok(verifyConsistency(h, 13, 37, s.log.root(13), cp.root, cons.hashes.map((x) => Buffer.from(x, 'hex'))));
    const segments = (await call(s.base, '/v1/audit/segments')).json as unknown as { id: number; start: number; end: number | null }[];
    assert.deepEqual(segments.map((x) => [x.id, x.start, x.end]), [[1, 0, null]]);
  } finally {
    await s.stop();
  }
});

test('GIVEN malformed or out-of-range query parameters WHEN entries or proofs are requested THEN 400 GLM_ERR_AUDIT_RANGE_INVALID', async () => {
  const s = await serve();
  try {
    await Promise.all(Array.from({ length: 5 }, (_, i) => s.log.append({ type: 'x', i })));
    for (const p of [
      '/v1/audit/entries?start=0',
      '/v1/audit/entries?start=5&end=9',
      '/v1/audit/entries?start=-1&end=2',
      '/v1/audit/entries?start=1e2&end=2',
      '/v1/audit/entries?start=01&end=2',
      '/v1/audit/proof/inclusion?index=5&size=5',
      '/v1/audit/proof/inclusion?index=0&size=6',
      '/v1/audit/proof/inclusion?index=0x1&size=5',
      '/v1/audit/proof/consistency?first=4&second=3',
      '/v1/audit/proof/consistency?first=1&second=99999999999999999999',
    ]) {
      const r = await call(s.base, p);
      assert.equal(r.status, 400, p);
      assert.equal(r.json.error?.code, 'GLM_ERR_AUDIT_RANGE_INVALID', p);
    }
  } finally {
    await s.stop();
  }
});

test('GIVEN an authorize hook that refuses configuration WHEN the config is posted THEN 403 GLM_ERR_API_FORBIDDEN and nothing changes', async () => {
  const s = await serve({
    authorize: (_p, action) => {
      if (action === 'configure') throw new GlimmerError('GLM_ERR_API_FORBIDDEN', 'not allowed');
    },
  });
  try {
    const r = await call(s.base, '/v1/audit/config', { method: 'POST', body: SEED_BODY });
    assert.equal(r.status, 403);
    assert.equal(r.json.error?.code, 'GLM_ERR_API_FORBIDDEN');
    assert.equal(((await call(s.base, '/v1/audit/config')).json as { immutable_logs: boolean }).immutable_logs, false);
  } finally {
    await s.stop();
  }
});
