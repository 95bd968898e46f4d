import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { openAuditLog, auditDbPath, leafText, type AuditLog } from '../../runtime/audit/log';
import type { AuditRecordInput } from '../../runtime/model/messages';
import { canonicalJson } from '../../runtime/audit/canonical';
import { hasher, verifyConsistency, verifyInclusion } from '../../runtime/audit/merkle';
import { openCheckpoint, parseSignedNote, parseVerifierKey } from '../../runtime/audit/note';
import { ephemeralSigner, fileSigner, mlDsaFileSigner } from '../../runtime/audit/signers';
import { isGlimmerError, type ErrorCode } from '../../runtime/errors';
import { createMetrics } from '../../runtime/observability/metrics';
import { LogTree } from '../../runtime/audit/tree';
import { tempDir } from './helpers';

const KEY = 'glimmer.test/audit';
const rejectsWith = (p: Promise<unknown>, code: ErrorCode) => assert.rejects(p, (e) => isGlimmerError(e, code));
const throwsWith = (f: () => unknown, code: ErrorCode) => assert.throws(f, (e) => isGlimmerError(e, code));

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
}

/** Another connection takes the store's write lock (the log's commits wait for it, then time out); returns the release. */
function holdWriteLock(stateDir: string): () => void {
  const blocker = new Database(auditDbPath(stateDir));
  blocker.exec('BEGIN IMMEDIATE');
  return () => {
    blocker.exec('ROLLBACK');
    blocker.close();
  };
}

/** The tree of the first n stored leaves, hashed here on the test's thread (n <= 1000, one page). */
function inlineTree(log: AuditLog, n: number): LogTree {
  const h = hasher('RFC9162_SHA512');
  const tree = new LogTree(h, () => assert.fail('the inline tree keeps every chunk'));
  for (const e of log.entries(0, n - 1)) tree.append(h.leaf(e.leaf));
  assert.equal(tree.size, n);
  return tree;
}

function open(stateDir: string, extra: Partial<Parameters<typeof openAuditLog>[0]> = {}): Promise<AuditLog> {
  return openAuditLog({ stateDir, signer: fileSigner({ keyFile: path.join(stateDir, 'k.pem'), keyName: KEY }), origin: KEY, ...extra });
}

test('GIVEN a new log WHEN records are appended concurrently THEN each resolves with its consecutive index and the leaf is the canonical JSON of index, record and timestamp', async () => {
  const dir = tempDir();
  const log = await open(dir);
  const acks = await Promise.all(Array.from({ length: 600 }, (_, i) => log.append({ type: 'test.event', i, z: 'last', a: { y: 2, x: 1 } })));
  assert.deepEqual(acks.map((a) => a.index), Array.from({ length: 600 }, (_, i) => i));
  assert.equal(log.size(), 600);
  const [e] = log.entries(7, 7);
  const parsed = JSON.parse((e as { leaf: Buffer }).leaf.toString('utf8')) as { index: number; record: { i: number }; ts: string };
  assert.equal(parsed.index, 7);
  assert.equal(parsed.record.i, 7);
  assert.match(parsed.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal((e as { leaf: Buffer }).leaf.toString('utf8'), canonicalJson(parsed));
  assert.ok((e as { leaf: Buffer }).leaf.toString('utf8').includes('"a":{"x":1,"y":2}'));
  await log.close();
});

test('GIVEN many appends in one turn of the event loop WHEN they commit THEN they share group commits (fewer transactions than entries)', async () => {
  const dir = tempDir();
  const metrics = createMetrics();
  const log = await open(dir, { metrics });
  await Promise.all(Array.from({ length: 2000 }, (_, i) => log.append({ type: 'burst', i })));
  const commits = (await metrics.auditCommitDuration.get()).values.find((v) => v.metricName === 'glimmer_audit_commit_duration_seconds_count')?.value ?? 0;
  assert.ok(commits >= 1 && commits < 20, `2000 appends took ${commits} commits`);
  assert.equal((await metrics.auditAppends.get()).values[0]?.value, 2000);
  await log.close();
});

test('GIVEN a trickle of appends, one every few milliseconds, WHEN the commit delay is longer than the trickle THEN later appends share commits and each still resolves durable', async () => {
  const dir = tempDir();
  const metrics = createMetrics();
  const log = await open(dir, { metrics, commitDelayMs: 1000 });
  const acks: Promise<{ index: number }>[] = [];
  const started = performance.now();
  for (let i = 0; i < 12; i++) {
    acks.push(log.append({ type: 'trickle', i }));
    await new Promise((r) => setTimeout(r, 5));
  }
  const resolved = await Promise.all(acks);
  const elapsed = performance.now() - started;
  assert.deepEqual(resolved.map((a) => a.index), Array.from({ length: 12 }, (_, i) => i));
  const commits = (await metrics.auditCommitDuration.get()).values.find((v) => v.metricName === 'glimmer_audit_commit_duration_seconds_count')?.value ?? 0;
  // At most one commit per commit delay, plus the first one that goes at once: a bound that holds however slowly a
  // loaded machine trickles (no exact count, which depends on timer lateness).
  assert.ok(commits >= 1 && commits <= 2 + Math.floor(elapsed / 1000), `12 trickled appends over ${Math.round(elapsed)} ms took ${commits} commits`);
  assert.ok(commits < 12, `12 trickled appends shared commits (${commits})`);
  // Durable means in the store a second connection reads.
  const db = new Database(auditDbPath(dir), { readonly: true });
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM entries').get() as { n: number }).n, 12);
  db.close();
  await log.close();
});

test('GIVEN a closed log WHEN reopened THEN every entry is there, the sealed final checkpoint verifies and the new tree is consistent with it', async () => {
  const dir = tempDir();
  let log = await open(dir);
  for (let i = 0; i < 1000; i++) void log.append({ type: 'x', i });
  await log.append({ type: 'x', i: 1000 });
  const rootBefore = log.root();
  await log.close();
  await rejectsWith(log.append({ type: 'late' }), 'GLM_ERR_AUDIT_CLOSED');

  log = await open(dir);
  assert.equal(log.size(), 1001);
  assert.ok(log.root().equals(rootBefore));
  const sealed = log.segments()[0];
  assert.equal(sealed?.end, 1001);
  const keys = log.verifierKeys().map(parseVerifierKey);
  const first = await openCheckpoint(sealed?.checkpoint as string, keys, 64);
  assert.equal(first.size, 1001);
  await Promise.all(Array.from({ length: 300 }, (_, i) => log.append({ type: 'y', i })));
  const second = await openCheckpoint(await log.checkpoint(), keys, 64);
  assert.equal(second.size, 1301);
  const h = hasher('RFC9162_SHA512');
  assert.ok(verifyConsistency(h, first.size, second.size, first.root, second.root, log.consistencyProof(first.size, second.size)));
  const leaf = log.entries(1234, 1234)[0]?.leaf as Buffer;
  assert.ok(verifyInclusion(h, 1234, second.size, h.leaf(leaf), log.inclusionProof(1234, second.size), second.root));
  await log.close();
});

test('GIVEN the defaults WHEN a log is created THEN it hashes with SHA-512; GIVEN RFC9162_SHA256 THEN roots are 32 bytes; WHEN reopened with another algorithm THEN GLM_ERR_AUDIT_ALGORITHM_LOCKED', async () => {
  const a = await open(tempDir());
  assert.equal(a.algorithm, 'RFC9162_SHA512');
  await a.append({ type: 'x' });
  assert.equal(a.root().length, 64);
  assert.equal(a.getConfig().cryptographic_sealing.algorithm, 'RFC9162_SHA512');
  await a.close();
  const dir = tempDir();
  const b = await open(dir, { algorithm: 'RFC9162_SHA256' });
  await b.append({ type: 'x' });
  assert.equal(b.root().length, 32);
  assert.match(parseSignedNote(await b.checkpoint()).text.split('\n')[2] as string, /^[A-Za-z0-9+/]{43}=$/);
  await b.close();
  await rejectsWith(open(dir, { algorithm: 'RFC9162_SHA512' }), 'GLM_ERR_AUDIT_ALGORITHM_LOCKED');
});

test('GIVEN records JSON cannot hold faithfully WHEN appended THEN each is refused with GLM_ERR_AUDIT_RECORD_INVALID naming the field', async () => {
  const log = await open(tempDir());
  await rejectsWith(log.append({} as never), 'GLM_ERR_AUDIT_RECORD_INVALID');
  await rejectsWith(log.append({ type: '' }), 'GLM_ERR_AUDIT_RECORD_INVALID');
  await rejectsWith(log.append({ type: 'x', v: Number.NaN }), 'GLM_ERR_AUDIT_RECORD_INVALID');
  await rejectsWith(log.append({ type: 'x', v: undefined }), 'GLM_ERR_AUDIT_RECORD_INVALID');
  await rejectsWith(log.append({ type: 'x', when: new Date() }), 'GLM_ERR_AUDIT_RECORD_INVALID');
  await rejectsWith(log.append({ type: 'x', big: 'a'.repeat(70_000) }), 'GLM_ERR_AUDIT_RECORD_INVALID');
  await assert.rejects(log.append({ type: 'x', nested: { list: [1, () => 1] } }), /\$\.nested\.list\[1\]/);
  assert.equal(log.size(), 0);
  await log.close();
});

test('GIVEN a log of 10 entries WHEN entries or proofs outside it are requested THEN GLM_ERR_AUDIT_RANGE_INVALID', async () => {
  const log = await open(tempDir());
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append({ type: 'x', i })));
  throwsWith(() => log.entries(10, 12), 'GLM_ERR_AUDIT_RANGE_INVALID');
  throwsWith(() => log.entries(5, 4), 'GLM_ERR_AUDIT_RANGE_INVALID');
  throwsWith(() => log.entries(-1, 4), 'GLM_ERR_AUDIT_RANGE_INVALID');
  throwsWith(() => log.inclusionProof(10, 10), 'GLM_ERR_AUDIT_RANGE_INVALID');
  throwsWith(() => log.inclusionProof(0, 11), 'GLM_ERR_AUDIT_RANGE_INVALID');
  throwsWith(() => log.inclusionProof(1.5, 4), 'GLM_ERR_AUDIT_RANGE_INVALID');
  throwsWith(() => log.consistencyProof(5, 4), 'GLM_ERR_AUDIT_RANGE_INVALID');
  throwsWith(() => log.consistencyProof(1, 11), 'GLM_ERR_AUDIT_RANGE_INVALID');
  assert.equal(log.entries(8, 100).length, 2);
  await log.close();
});

test('GIVEN a page request larger than 1000 entries WHEN served THEN it is clamped to 1000', async () => {
  const log = await open(tempDir());
  await Promise.all(Array.from({ length: 1500 }, (_, i) => log.append({ type: 'x', i })));
  const page = log.entries(0, 1499);
  assert.equal(page.length, 1000);
  assert.equal(page[999]?.index, 999);
  await log.close();
});

test('GIVEN the seed configuration WHEN applied THEN it is persisted; WHEN immutable_logs is later set false, even after a restart, THEN GLM_ERR_AUDIT_IMMUTABLE', async () => {
  const dir = tempDir();
  let log = await open(dir);
  assert.deepEqual(log.getConfig(), { immutable_logs: false, cryptographic_sealing: { algorithm: 'RFC9162_SHA512', rotation_interval: '24h' } });
  const seed = { immutable_logs: true, cryptographic_sealing: { algorithm: 'RFC9162_SHA512', rotation_interval: '24h' } };
  assert.deepEqual(await log.setConfig(seed), seed);
  await rejectsWith(log.setConfig({ immutable_logs: false }), 'GLM_ERR_AUDIT_IMMUTABLE');
  await log.close();
  log = await open(dir);
  assert.equal(log.getConfig().immutable_logs, true);
  await rejectsWith(log.setConfig({ ...seed, immutable_logs: false }), 'GLM_ERR_AUDIT_IMMUTABLE');
  assert.deepEqual(await log.setConfig({ cryptographic_sealing: { rotation_interval: '12h' } }), { ...seed, cryptographic_sealing: { ...seed.cryptographic_sealing, rotation_interval: '12h' } });
  await log.close();
});

test('GIVEN invalid configuration bodies WHEN applied THEN GLM_ERR_API_BODY_INVALID names the field path; a different algorithm is GLM_ERR_AUDIT_ALGORITHM_LOCKED', async () => {
  const log = await open(tempDir());
  const cases: [unknown, RegExp][] = [
    [[], /^\$ must be a JSON object/],
    [{ immutable_logs: 'yes' }, /^\$\.immutable_logs /],
    [{ extra: 1 }, /^\$\.extra is not a known field/],
    [{ cryptographic_sealing: 'x' }, /^\$\.cryptographic_sealing must be an object/],
    [{ cryptographic_sealing: { algorithm: 'MD5' } }, /^\$\.cryptographic_sealing\.algorithm must be one of/],
    [{ cryptographic_sealing: { rotation_interval: '24 hours' } }, /^\$\.cryptographic_sealing\.rotation_interval /],
    [{ cryptographic_sealing: { rotation_interval: '10s' } }, /^\$\.cryptographic_sealing\.rotation_interval /],
    [{ cryptographic_sealing: { rotation_interval: 24 } }, /^\$\.cryptographic_sealing\.rotation_interval /],
    [{ cryptographic_sealing: { salt: 1 } }, /^\$\.cryptographic_sealing\.salt is not a known field/],
  ];
  for (const [body, message] of cases) {
    await assert.rejects(log.setConfig(body), (e) => isGlimmerError(e, 'GLM_ERR_API_BODY_INVALID') && message.test(e.message), JSON.stringify(body));
  }
  await rejectsWith(log.setConfig({ cryptographic_sealing: { algorithm: 'RFC9162_SHA256' } }), 'GLM_ERR_AUDIT_ALGORITHM_LOCKED');
  await log.close();
});

test('GIVEN rotation_interval 24h and immutable logs WHEN 24 hours pass THEN the segment is sealed with a final checkpoint and exported read-only, and a new segment opens', async () => {
  const dir = tempDir();
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const metrics = createMetrics();
  const log = await open(dir, { now: () => clock, checkpointIntervalMs: 10, metrics });
  await log.setConfig({ immutable_logs: true, cryptographic_sealing: { algorithm: 'RFC9162_SHA512', rotation_interval: '24h' } });
  await Promise.all(Array.from({ length: 50 }, (_, i) => log.append({ type: 'x', i })));
  clock += 23 * 3_600_000;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(log.segments().length, 1, 'not rotated before 24h');
  clock += 3_600_000;
  await until(() => log.segments().length === 2, 'rotated after 24h');
  const [sealed, open2] = log.segments();
  assert.equal(sealed?.end, 50);
  assert.equal(open2?.start, 50);
  assert.equal(open2?.end, undefined);
  const cp = await openCheckpoint(sealed?.checkpoint as string, log.verifierKeys().map(parseVerifierKey));
  assert.equal(cp.size, 50);
  assert.ok(cp.root.equals(log.root(50)));
  const base = path.join(dir, 'audit', 'segments', '000001');
  await until(() => fs.existsSync(`${base}.checkpoint`), 'segment exported');
  assert.equal(fs.readFileSync(`${base}.leaves`, 'utf8').split('\n').length, 51);
  assert.equal(fs.readFileSync(`${base}.checkpoint`, 'utf8'), sealed?.checkpoint);
  assert.equal(fs.statSync(`${base}.leaves`).mode & 0o777, 0o444);
  assert.equal((await metrics.auditSegmentsSealed.get()).values[0]?.value, 1);
  await log.close();
});

test('GIVEN an ML-DSA-44 cosigner WHEN a checkpoint is signed THEN it carries the classical and the post-quantum signature and both verify', async () => {
  const dir = tempDir();
  const cosigner = await mlDsaFileSigner({ keyFile: path.join(dir, 'pq.seed'), keyName: `${KEY}-pq` });
  const log = await open(dir, { cosigners: [cosigner] });
  await log.append({ type: 'x' });
  const note = await log.checkpoint();
  const keys = log.verifierKeys().map(parseVerifierKey);
  assert.deepEqual(keys.map((k) => k.algorithm).sort(), ['ed25519', 'ml-dsa-44']);
  const opened = await openCheckpoint(note, keys);
  assert.deepEqual([...opened.verifiedBy].sort(), [`${KEY}-pq/ml-dsa-44`, `${KEY}/ed25519`]);
  const onlyPq = await openCheckpoint(note, keys.filter((k) => k.algorithm === 'ml-dsa-44'));
  assert.equal(onlyPq.verifiedBy.length, 1);
  await log.close();
});

test('GIVEN a store whose entries were deleted behind the latest checkpoint WHEN the log is opened THEN GLM_ERR_AUDIT_STATE_CORRUPT', async () => {
  const dir = tempDir();
  const log = await open(dir);
  await Promise.all(Array.from({ length: 20 }, (_, i) => log.append({ type: 'x', i })));
  await log.close();
  const db = new Database(auditDbPath(dir));
  db.exec('DROP TRIGGER entries_append_only_d; DELETE FROM entries WHERE idx >= 15;');
  db.close();
  await rejectsWith(open(dir), 'GLM_ERR_AUDIT_STATE_CORRUPT');
});

test('GIVEN a store whose entry was modified behind the latest checkpoint WHEN the log is opened THEN GLM_ERR_AUDIT_STATE_CORRUPT', async () => {
  const dir = tempDir();
  const log = await open(dir);
  await Promise.all(Array.from({ length: 20 }, (_, i) => log.append({ type: 'x', i })));
  await log.close();
  const db = new Database(auditDbPath(dir));
  db.exec(`DROP TRIGGER entries_append_only_u; UPDATE entries SET leaf = CAST(REPLACE(CAST(leaf AS TEXT), '"i":3', '"i":4') AS BLOB) WHERE idx = 3;`);
  db.close();
  await rejectsWith(open(dir), 'GLM_ERR_AUDIT_STATE_CORRUPT');
});

test('GIVEN the audit store WHEN anyone updates or deletes an entry through SQLite THEN the append-only triggers refuse it', async () => {
  const dir = tempDir();
  const log = await open(dir, { signer: ephemeralSigner(KEY) });
  await log.append({ type: 'x' });
  const db = new Database(auditDbPath(dir));
  assert.throws(() => db.exec('DELETE FROM entries'), /append-only/);
  assert.throws(() => db.exec("UPDATE entries SET leaf = x'00'"), /append-only/);
  db.close();
  await log.close();
});

test('GIVEN the store cannot commit (another connection holds the write lock) WHEN entries are appended THEN they reject with GLM_ERR_AUDIT_STORAGE_FAILED, the log fails closed, and a reopened log holds only acknowledged entries', async () => {
  const dir = tempDir();
  let log = await open(dir, { busyTimeoutMs: 50 });
  await log.append({ type: 'ok' });
  const release = holdWriteLock(dir);
  try {
    await rejectsWith(log.append({ type: 'lost' }), 'GLM_ERR_AUDIT_STORAGE_FAILED');
    await rejectsWith(log.append({ type: 'after failure' }), 'GLM_ERR_AUDIT_STORAGE_FAILED');
    await rejectsWith(log.checkpoint(), 'GLM_ERR_AUDIT_STORAGE_FAILED');
  } finally {
    release();
  }
  await log.close();
  log = await open(dir);
  assert.equal(log.size(), 1);
  await log.append({ type: 'recovered' });
  assert.equal(log.size(), 2);
  await log.close();
});

test('GIVEN records committed by the writer thread WHEN the tree is rebuilt inline from the stored leaves THEN roots and proofs agree at every chunk boundary', async () => {
  const log = await open(tempDir());
  await Promise.all(Array.from({ length: 700 }, (_, i) => log.append({ type: 'same', i })));
  const inline = inlineTree(log, 700);
  for (const n of [1, 255, 256, 257, 512, 700]) assert.ok(log.root(n).equals(inline.root(n)), `root ${n}`);
  assert.deepEqual(log.inclusionProof(300, 700), inline.inclusionProof(300, 700));
  await log.close();
});

test('GIVEN another connection holds the write lock WHEN an entry is appended THEN the event loop keeps running while the writer thread waits, and the append resolves once the lock is released', async () => {
  const dir = tempDir();
  const log = await open(dir, { busyTimeoutMs: 10000 });
  await log.append({ type: 'before' });
  const release = holdWriteLock(dir);
  let settled = false;
  const pending = log.append({ type: 'waits for the lock' }).finally(() => {
    settled = true;
  });
  // Timers fire while the commit waits: the SQLite busy wait and the fsync happen off the event loop.
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(settled, false, 'the append is not acknowledged while its commit cannot happen');
  assert.equal(log.size(), 1);
  release();
  assert.deepEqual(await pending, { index: 1 });
  assert.equal(log.size(), 2);
  await log.close();
});

test('GIVEN several batches queued behind a commit that fails WHEN it fails THEN every queued append rejects with GLM_ERR_AUDIT_STORAGE_FAILED and a reopened log holds exactly the acknowledged entries, contiguous', async () => {
  const dir = tempDir();
  let log = await open(dir, { busyTimeoutMs: 50, maxBatch: 8 });
  await Promise.all(Array.from({ length: 20 }, (_, i) => log.append({ type: 'ok', i })));
  const release = holdWriteLock(dir);
  try {
    const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => log.append({ type: 'lost', i })));
    assert.ok(results.every((r) => r.status === 'rejected' && isGlimmerError(r.reason, 'GLM_ERR_AUDIT_STORAGE_FAILED')));
    await rejectsWith(log.append({ type: 'after failure' }), 'GLM_ERR_AUDIT_STORAGE_FAILED');
  } finally {
    release();
  }
  await log.close();
  log = await open(dir);
  assert.equal(log.size(), 20);
  assert.deepEqual(log.entries(0, 19).map((e) => e.index), Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(await log.append({ type: 'recovered' }), { index: 20 });
  await log.close();
});

test('GIVEN small batches (maxBatch 16) queued faster than the writer commits WHEN they are merged into shared transactions THEN indexes stay contiguous and the tree equals one built inline from the stored leaves', async () => {
  const metrics = createMetrics();
  const log = await open(tempDir(), { maxBatch: 16, metrics });
  const acks = await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append({ type: 'small', i })));
  assert.deepEqual(acks.map((a) => a.index), Array.from({ length: 1000 }, (_, i) => i));
  const commits = (await metrics.auditCommitDuration.get()).values.find((v) => v.metricName === 'glimmer_audit_commit_duration_seconds_count')?.value ?? 0;
  assert.ok(commits >= 1 && commits <= Math.ceil(1000 / 16), `${commits} transactions for ${Math.ceil(1000 / 16)} batches`);
  const inline = inlineTree(log, 1000);
  for (const n of [16, 256, 512, 768, 1000]) assert.ok(log.root(n).equals(inline.root(n)), `root ${n}`);
  await log.close();
});

test('GIVEN a refused record WHEN it is the first of a new batch, and valid records follow THEN only it is refused and the following ones get the next contiguous indexes', async () => {
  const log = await open(tempDir());
  await rejectsWith(log.append({ type: 'bad', value: Number.NaN }), 'GLM_ERR_AUDIT_RECORD_INVALID');
  const oversized = log.append({ type: 'big', blob: 'x'.repeat(70 * 1024) });
  const next = log.append({ type: 'good' });
  await assert.rejects(oversized, (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_RECORD_INVALID') && /is \d+ bytes, the limit is 65536/.test(e.message));
  assert.deepEqual(await next, { index: 0 });
  assert.deepEqual(await log.append({ type: 'good' }), { index: 1 });
  await log.close();
});

test('GIVEN arbitrary records (escapes, non-ASCII, lone surrogates, nesting, long strings, numbers) WHEN appended THEN each stored leaf is byte for byte leafText of the record, or the append is refused exactly when leafText refuses it (property)', async () => {
  const clock = () => Date.parse('2026-01-01T00:00:00Z');
  const log = await open(tempDir(), { now: clock });
  const ts = new Date(clock()).toISOString();
  const value = fc.oneof(fc.jsonValue(), fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: 'binary', minLength: 60, maxLength: 70 }), fc.double(), fc.constant(undefined));
  const records: AuditRecordInput[] = fc.sample(fc.dictionary(fc.string({ unit: 'binary', maxLength: 10 }), value, { maxKeys: 8 }), 300).map((r) => ({ ...r, type: 'prop' }));
  records.push({ type: 'edge', limit: 'é'.repeat(32 * 1024 - 100) }, { type: 'edge', over: 'é'.repeat(33 * 1024) });
  let expectedIndex = 0;
  for (const record of records) {
    let expected: string | undefined;
    try {
      expected = leafText(expectedIndex, record, ts);
      if (Buffer.byteLength(expected) > 64 * 1024) expected = undefined;
    } catch {
      expected = undefined;
    }
    const result = await log.append(record).then(
      (ack) => ack,
      (err: unknown) => err,
    );
    if (expected === undefined) {
      assert.ok(isGlimmerError(result, 'GLM_ERR_AUDIT_RECORD_INVALID'), JSON.stringify(record).slice(0, 200));
      continue;
    }
    assert.deepEqual(result, { index: expectedIndex });
    assert.equal(log.entries(expectedIndex, expectedIndex)[0]?.leaf.toString('utf8'), expected);
    expectedIndex += 1;
  }
  await log.close();
});

test('GIVEN a store path the writer thread cannot open (a directory) WHEN the log is opened THEN opening fails with GLM_ERR_AUDIT_STORAGE_FAILED', async () => {
  const dir = tempDir();
  fs.mkdirSync(auditDbPath(dir), { recursive: true });
  await rejectsWith(open(dir), 'GLM_ERR_AUDIT_STORAGE_FAILED');
});

test('GIVEN appends that never pause WHEN checkpoint() is called THEN it returns a checkpoint covering every entry appended before the call while appends go on', async () => {
  const log = await open(tempDir());
  let stop = false;
  let inFlight = 0;
  const pump = (): void => {
    if (stop) return;
    inFlight += 1;
    void log.append({ type: 'sustained' }).then(() => {
      inFlight -= 1;
      pump();
    });
  };
  for (let i = 0; i < 64; i++) pump();
  await new Promise((r) => setTimeout(r, 50));
  const before = log.size() + inFlight;
  const note = await log.checkpoint();
  const size = Number(parseSignedNote(note).text.split('\n')[1]);
  assert.ok(size >= before, `checkpoint size ${size} covers the ${before} entries appended before the call`);
  stop = true;
  await log.close();
});
