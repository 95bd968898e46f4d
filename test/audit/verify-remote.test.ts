/**
 * `glimmer audit verify --url` against a server that lies: a real log behind its real API, with a proxy in front
 * that rewrites chosen answers (status, entries, proofs). Each lie must become the named finding or error, and the
 * verifier must stop on it rather than loop.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { auditRoutes } from '../../runtime/api/routes/audit';
import { createApiServer } from '../../runtime/api/server';
import { formatCheckpoint } from '../../runtime/audit/checkpoint-body';
import { type AuditLog, openAuditLog } from '../../runtime/audit/log';
import { signNote } from '../../runtime/audit/note';
import { ephemeralSigner, fileSigner } from '../../runtime/audit/signers';
import { verifyRemote } from '../../runtime/audit/verify';
import { isGlimmerError } from '../../runtime/errors';
import { silentLogger } from '../../runtime/observability/logger';
import { tempDir } from './helpers';

const KEY = 'glimmer.local/audit';
const TOKEN = 'verify-remote-token-1';

/** What the proxy answers instead of the real one, or undefined to pass the real answer through. */
type Lie = (url: URL, status: number, body: string) => { status: number; body: string } | undefined;

interface Served {
  readonly log: AuditLog;
  readonly signer: ReturnType<typeof fileSigner>;
  readonly upstream: string;
  close(): Promise<void>;
}

async function serveLog(entries: number): Promise<Served> {
  const dir = tempDir();
  const signer = fileSigner({ keyFile: path.join(dir, 'k.pem'), keyName: KEY });
  const log = await openAuditLog({ stateDir: dir, signer });
  await Promise.all(Array.from({ length: entries }, (_, i) => log.append({ type: 'remote', i })));
  await log.checkpoint();
  const api = createApiServer({ adminToken: TOKEN, routes: auditRoutes(log), logger: silentLogger() });
  const port = await api.listen(0);
  return { log, signer, upstream: `http://127.0.0.1:${port}`, close: async () => { await api.close(); await log.close(); } };
}

/** Runs `fn` with the URL of a proxy to `upstream` that applies `lie`. */
async function throughProxy<T>(upstream: string, lie: Lie, fn: (url: string) => Promise<T>): Promise<T> {
  const proxy = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', upstream);
      const real = await fetch(url, { headers: { authorization: req.headers.authorization ?? '' } });
      const body = await real.text();
      const answer = lie(url, real.status, body) ?? { status: real.status, body };
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    })();
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  try {
    return await fn(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
  } finally {
    await new Promise((r) => proxy.close(r));
  }
}

type Entry = { index: number; leaf: string };
const onEntries = (edit: (page: Entry[], url: URL) => Entry[]): Lie => (url, status, body) =>
  url.pathname === '/v1/audit/entries' && status === 200 ? { status, body: JSON.stringify(edit(JSON.parse(body) as Entry[], url)) } : undefined;
const leafOf = (obj: unknown) => Buffer.from(JSON.stringify(obj)).toString('base64');

let served: Served;
before(async () => {
  served = await serveLog(150);
});
after(async () => {
  await served.close();
});

// Of 150 entries: consistency proofs from 1, 2, 4, ..., 128 (8), inclusion proofs for 0, 149, the eight powers of two
// and floor(i * 150 / 24) for i = 1..23 (23, of which 6 repeat a power of two or 0): 33.
const INCLUSION_150 = [0, 1, 2, 4, 6, 8, 12, 16, 18, 25, 31, 32, 37, 43, 50, 56, 62, 64, 68, 75, 81, 87, 93, 100, 106, 112, 118, 125, 128, 131, 137, 143, 149];

test('GIVEN an honest server that answers entries in pages of seven WHEN verified THEN every page is fetched and the report is the same as in one page', async () => {
  const report = await throughProxy(served.upstream, onEntries((page) => page.slice(0, 7)), (url) => verifyRemote(url, TOKEN));
  assert.deepEqual(report, { ok: true, algorithm: 'RFC9162_SHA512', size: 150, checkpoints: 1, segments: 0, proofsChecked: 8 + INCLUSION_150.length, findings: [] });
});

test('GIVEN a server answering an error status WHEN verified THEN GLM_ERR_AUDIT_VERIFY_FAILED names the route, the status and the first 200 characters of the body', async () => {
  const body = `${'e'.repeat(200)}TAIL`;
  await throughProxy(served.upstream, (url) => (url.pathname === '/v1/audit/config' ? { status: 503, body } : undefined), (url) =>
    assert.rejects(verifyRemote(url, TOKEN), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_VERIFY_FAILED') && (e as Error).message === `GET /v1/audit/config answered 503: ${'e'.repeat(200)}`));
});

test('GIVEN a server reporting no sealing section or an unknown algorithm WHEN verified THEN GLM_ERR_AUDIT_VERIFY_FAILED names the algorithm', async () => {
  for (const [config, shown] of [[{}, 'undefined'], [{ cryptographic_sealing: { algorithm: 'RFC9162_MD5' } }, '"RFC9162_MD5"']] as const) {
    await throughProxy(served.upstream, (url, status) => (url.pathname === '/v1/audit/config' ? { status, body: JSON.stringify(config) } : undefined), (url) =>
      assert.rejects(verifyRemote(url, TOKEN), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_VERIFY_FAILED') && (e as Error).message === `server reports unknown algorithm ${shown}`));
  }
});

test('GIVEN a server that answers no entries WHEN verified THEN the missing entries and every consistency proof without a root are reported, and no inclusion proof is asked for', async () => {
  const asked: string[] = [];
  const report = await throughProxy(served.upstream, (url, status, body) => {
    asked.push(url.pathname);
    return onEntries(() => [])(url, status, body);
  }, (url) => verifyRemote(url, TOKEN));
  assert.deepEqual(report.findings, ['entries from 0 are missing', ...[1, 2, 4, 8, 16, 32, 64, 128].map((p) => `consistency proof ${p} -> 150 does not verify`)]);
  assert.equal(report.proofsChecked, 8);
  assert.ok(!asked.includes('/v1/audit/proof/inclusion'));
});

test('GIVEN a server that skips an index WHEN verified THEN the entry is named and the verifier stops there instead of asking again', async () => {
  let pages = 0;
  const report = await throughProxy(served.upstream, onEntries((page) => {
    pages += 1;
    return page.map((e) => (e.index >= 5 ? { ...e, index: e.index + 1 } : e));
  }), (url) => verifyRemote(url, TOKEN));
  assert.equal(report.findings[0], 'entry 5: server sent index 6');
  assert.equal(report.ok, false);
  // The first page gave 0..4; the second starts at 5 with index 6 again, makes no progress and ends the walk.
  assert.equal(pages, 2);
});

test('GIVEN a served leaf that is valid JSON but not canonical WHEN verified THEN that entry is named, the walk goes on, and the recomputed root differs', async () => {
  const report = await throughProxy(served.upstream, onEntries((page) => page.map((e) => (e.index === 3 ? { ...e, leaf: Buffer.from(`  ${Buffer.from(e.leaf, 'base64').toString()}`).toString('base64') } : e))), (url) => verifyRemote(url, TOKEN));
  assert.equal(report.findings[0], 'entry 3: leaf is not in canonical form');
  assert.ok(report.findings.includes('the recomputed root of 150 entries differs from the signed checkpoint'), report.findings.join('\n'));
});

test('GIVEN a server that serves one entry more than the checkpoint covers WHEN verified THEN the extra entry is ignored and a changed leaf still shows in the recomputed root', async () => {
  const extra = (page: Entry[]) => [...page, { index: 150, leaf: leafOf({ index: 150 }) }];
  const honest = await throughProxy(served.upstream, onEntries(extra), (url) => verifyRemote(url, TOKEN));
  assert.deepEqual(honest.findings, []);
  const changed = await throughProxy(served.upstream, onEntries((page) => extra(page).map((e) => (e.index === 77 ? { ...e, leaf: Buffer.from(Buffer.from(e.leaf, 'base64').toString().replace('"remote"', '"remotE"')).toString('base64') } : e))), (url) => verifyRemote(url, TOKEN));
  assert.ok(changed.findings.includes('the recomputed root of 150 entries differs from the signed checkpoint'), changed.findings.join('\n'));
});

test('GIVEN a server whose proofs are wrong WHEN verified THEN each consistency proof and each sampled inclusion proof is reported, in index order', async () => {
  const zero = (url: URL, status: number, body: string) => (url.pathname.startsWith('/v1/audit/proof/') && status === 200 ? { status, body: JSON.stringify({ ...(JSON.parse(body) as object), hashes: [crypto.createHash('sha512').update(url.search).digest('hex')] }) } : undefined);
  const report = await throughProxy(served.upstream, zero, (url) => verifyRemote(url, TOKEN));
  assert.deepEqual(report.findings, [
    ...[1, 2, 4, 8, 16, 32, 64, 128].map((p) => `consistency proof ${p} -> 150 does not verify`),
    ...INCLUSION_150.map((i) => `inclusion proof of entry ${i} does not verify`),
  ]);
});

test('GIVEN the latest checkpoint kept as --since WHEN verified THEN the log has not shrunk and the proof from it to itself is checked too', async () => {
  const latest = await served.log.checkpoint();
  const report = await verifyRemote(served.upstream, TOKEN, { since: latest });
  assert.deepEqual(report, { ok: true, algorithm: 'RFC9162_SHA512', size: 150, checkpoints: 1, segments: 0, proofsChecked: 9 + INCLUSION_150.length, findings: [] });
  // The empty log's checkpoint (its root the hash of nothing) is a prefix of every log.
  const empty = await signNote(formatCheckpoint({ origin: KEY, size: 0, root: crypto.createHash('sha512').digest(), extensions: [] }), [served.signer]);
  assert.deepEqual((await verifyRemote(served.upstream, TOKEN, { since: empty })).findings, []);
  const stranger = await signNote(formatCheckpoint({ origin: KEY, size: 100, root: crypto.randomBytes(64), extensions: [] }), [ephemeralSigner(KEY)]);
  const f = (await verifyRemote(served.upstream, TOKEN, { since: stranger })).findings;
  assert.match(f[0] ?? '', /^the --since checkpoint: GLM_ERR_AUDIT_SIGNATURE_INVALID/);
});

test('GIVEN logs of 16 entries and of none WHEN verified THEN the proofs are counted exactly: 16 has 4 consistency and 16 inclusion proofs (no proof from 16 to itself), none has none', async () => {
  const sixteen = await serveLog(16);
  const empty = await serveLog(0);
  try {
    // Inclusion samples of 16: 0, 15, 1, 2, 4, 8 and floor(i * 16 / 24) for i = 1..23: every index 0..15.
    assert.deepEqual(await verifyRemote(sixteen.upstream, TOKEN), { ok: true, algorithm: 'RFC9162_SHA512', size: 16, checkpoints: 1, segments: 0, proofsChecked: 4 + 16, findings: [] });
    assert.deepEqual(await verifyRemote(empty.upstream, TOKEN), { ok: true, algorithm: 'RFC9162_SHA512', size: 0, checkpoints: 1, segments: 0, proofsChecked: 0, findings: [] });
  } finally {
    await sixteen.close();
    await empty.close();
  }
});
