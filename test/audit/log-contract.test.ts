/**
 * The audit log's contract at its edges, with every message written out: range and record refusals, a closed or
 * failed log, the low-disk watermark and its gauges, origin and algorithm of new and reopened logs, configuration,
 * size-based sealing, shutdown of a large open segment, urgent appends, recovery without a restart, and a store that
 * was tampered with.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { auditDbPath, leafText, openAuditLog } from '../../runtime/audit/log';
import { hasher, rootOf, verifyInclusion } from '../../runtime/audit/merkle';
import { openCheckpoint, parseVerifierKey } from '../../runtime/audit/note';
import { fileSigner } from '../../runtime/audit/signers';
import { isGlimmerError } from '../../runtime/errors';
import { createMetrics } from '../../runtime/observability/metrics';
import { smallDisk } from '../faults/helpers';
import { T0, capturingLogger, descriptorsOn, lockStore, logged, openTestLog as open, refused, refusedWith, tempDir, unlocked, until } from './helpers';

test('GIVEN a log of 10 entries WHEN ranges outside it are asked for THEN each refusal names the value and the bound; pages end at the last entry', async () => {
  const log = await open(tempDir());
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append({ type: 't', i })));
  const R = 'GLM_ERR_AUDIT_RANGE_INVALID';
  refusedWith(() => log.root(11), R, 'size 11 exceeds the tree size 10');
  refusedWith(() => log.root(-1), R, 'size must be a non-negative integer, received -1');
  refusedWith(() => log.root(1.5), R, 'size must be a non-negative integer, received 1.5');
  refusedWith(() => log.entries(10, 12), R, 'start 10 is not below the tree size 10');
  refusedWith(() => log.entries(5, 4), R, 'end 4 is before start 5');
  refusedWith(() => log.entries(-1, 4), R, 'start must be a non-negative integer, received -1');
  refusedWith(() => log.entries(0, Number.MAX_SAFE_INTEGER + 1), R, `end must be a non-negative integer, received ${Number.MAX_SAFE_INTEGER + 1}`);
  refusedWith(() => log.inclusionProof(10, 10), R, 'index 10 is not below size 10');
  refusedWith(() => log.inclusionProof(0, 11), R, 'size 11 exceeds the tree size 10');
  refusedWith(() => log.inclusionProof(-1, 5), R, 'index must be a non-negative integer, received -1');
  refusedWith(() => log.consistencyProof(6, 5), R, 'first 6 exceeds second 5');
  refusedWith(() => log.consistencyProof(0, 11), R, 'second 11 exceeds the tree size 10');
  refusedWith(() => log.consistencyProof(-1, 5), R, 'first must be a non-negative integer, received -1');
  assert.deepEqual(log.consistencyProof(5, 5), []);
  assert.deepEqual(log.entries(8, 100).map((e) => e.index), [8, 9]);
  assert.deepEqual(log.entries(9, 9).map((e) => e.index), [9]);
  assert.equal(log.root(10).length, 64);
  await log.close();
});

test('GIVEN records whose type is missing, empty, too long or not in an object, or a record over 64 KiB WHEN appended THEN each is refused with the rule it breaks, and 128 characters are accepted', async () => {
  const log = await open(tempDir(), { now: () => T0 });
  const typeRule = 'audit record field $.type must be a non-empty string of at most 128 characters';
  for (const record of [{ type: '' }, { type: 'x'.repeat(129) }, { type: 5 }, {}, null, [{ type: 'a' }]]) {
    await assert.rejects(log.append(record as never), refused('GLM_ERR_AUDIT_RECORD_INVALID', typeRule), JSON.stringify(record));
  }
  assert.deepEqual(await log.append({ type: 'x'.repeat(128) }), { index: 0 });
  // The leaf is {"index":1,"record":{"blob":"<70,000 x>","type":"big"},"ts":"2026-12-01T08:00:00.000Z"}.
  const leafBytes = '{"index":1,"record":{"blob":"'.length + 70_000 + '","type":"big"},"ts":"2026-12-01T08:00:00.000Z"}'.length;
  await assert.rejects(log.append({ type: 'big', blob: 'x'.repeat(70_000) }), refused('GLM_ERR_AUDIT_RECORD_INVALID', `audit record of type "big" is ${leafBytes} bytes, the limit is 65536`));
  // The refused record took no index.
  assert.deepEqual(await log.append({ type: 'after' }), { index: 1 });
  await log.close();
});

test('GIVEN a closed log WHEN used THEN appends and checkpoints are refused as closed, health says so, and closing again is a no-op', async () => {
  const log = await open(tempDir());
  await log.append({ type: 't' });
  await log.close();
  await assert.rejects(log.append({ type: 'late' }), refused('GLM_ERR_AUDIT_CLOSED', 'the audit log is closed'));
  await assert.rejects(log.checkpoint(), refused('GLM_ERR_AUDIT_CLOSED', 'the audit log is closed'));
  const health = log.health();
  assert.equal(health.committing, false);
  assert.equal(health.reason, 'the audit log is closed');
  await log.close();
});

test('GIVEN a low-disk watermark above or below the free space WHEN health is read THEN diskLow follows it and the free-space and watermark gauges carry both figures', async () => {
  const metrics = createMetrics();
  const high = await open(tempDir(), { metrics, diskWatermarkBytes: Number.MAX_SAFE_INTEGER });
  const h = high.health();
  assert.equal(h.committing, true);
  assert.equal(h.reason, undefined);
  assert.equal(h.diskLow, true);
  assert.ok(typeof h.diskFreeBytes === 'number' && h.diskFreeBytes > 0);
  assert.equal((await metrics.auditDiskWatermark.get()).values[0]?.value, Number.MAX_SAFE_INTEGER);
  assert.equal((await metrics.auditDiskFree.get()).values[0]?.value, h.diskFreeBytes);
  await high.close();
  const low = await open(tempDir(), { diskWatermarkBytes: 1 });
  assert.equal(low.health().diskLow, false);
  await low.close();
  // The default watermark is 256 MiB.
  const metrics2 = createMetrics();
  const def = await open(tempDir(), { metrics: metrics2 });
  assert.equal((await metrics2.auditDiskWatermark.get()).values[0]?.value, 256 * 1024 * 1024);
  await def.close();
});

test('GIVEN a new log with an origin WHEN reopened with another origin THEN the stored one stays; without one a new log is glimmer.local/audit', async () => {
  const dir = tempDir();
  let log = await open(dir, { origin: 'plant.example/audit' });
  assert.equal(log.origin, 'plant.example/audit');
  await log.append({ type: 't' });
  assert.equal((await log.checkpoint()).split('\n')[0], 'plant.example/audit');
  await log.close();
  log = await open(dir, { origin: 'other.example/audit' });
  assert.equal(log.origin, 'plant.example/audit');
  await log.close();
  const plain = await open(tempDir());
  assert.equal(plain.origin, 'glimmer.local/audit');
  await plain.close();
});

test('GIVEN a log that holds entries WHEN reopened with another algorithm THEN the refusal names the directory and both algorithms', async () => {
  const dir = tempDir();
  const log = await open(dir);
  await log.append({ type: 't' });
  await log.close();
  await assert.rejects(open(dir, { algorithm: 'RFC9162_SHA256' }), refused('GLM_ERR_AUDIT_ALGORITHM_LOCKED', `the audit log in "${path.join(dir, 'audit')}" uses RFC9162_SHA512 and holds entries; it cannot switch to RFC9162_SHA256`));
  // The same algorithm named explicitly is no switch.
  const same = await open(dir, { algorithm: 'RFC9162_SHA512' });
  assert.equal(same.size(), 1);
  await same.close();
});

test('GIVEN a configuration change WHEN applied THEN the algorithm cannot change, the rest persists across a restart and is logged, and getConfig hands out a copy', async () => {
  const dir = tempDir();
  const { logger, lines } = capturingLogger();
  let log = await open(dir, { logger });
  await assert.rejects(log.setConfig({ cryptographic_sealing: { algorithm: 'RFC9162_SHA256' } }), refused('GLM_ERR_AUDIT_ALGORITHM_LOCKED', 'the audit log uses RFC9162_SHA512; open a new log (new state directory) to use RFC9162_SHA256'));
  const applied = await log.setConfig({ cryptographic_sealing: { rotation_interval: '6h' } });
  assert.equal(applied.cryptographic_sealing.rotation_interval, '6h');
  assert.deepEqual(logged(lines, 'audit configuration changed').map((l) => [l.level, l.immutable_logs, l.rotation_interval]), [[30, applied.immutable_logs, '6h']]);
  const copy = log.getConfig();
  (copy.cryptographic_sealing as { rotation_interval: string }).rotation_interval = '1h';
  assert.equal(log.getConfig().cryptographic_sealing.rotation_interval, '6h');
  await log.close();
  log = await open(dir);
  assert.equal(log.getConfig().cryptographic_sealing.rotation_interval, '6h');
  assert.equal(log.getConfig().cryptographic_sealing.algorithm, 'RFC9162_SHA512');
  await log.close();
});

test('GIVEN a segment size limit WHEN the open segment\'s leaves reach it THEN the next tick seals it, whatever its age, and the new segment starts at the next entry', async () => {
  const dir = tempDir();
  const log = await open(dir, { maxSegmentBytes: 2000, checkpointIntervalMs: 20 });
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append({ type: 't', i })));
  // Ten leaves of about 70 bytes: under the limit, nothing sealed.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(log.segments().filter((s) => s.end !== undefined).length, 0);
  await Promise.all(Array.from({ length: 30 }, (_, i) => log.append({ type: 't', i: 10 + i })));
  await until(() => log.segments().some((s) => s.end !== undefined), 'a sealed segment');
  const [first, second] = log.segments();
  assert.deepEqual([first?.start, first?.end], [0, 40]);
  assert.equal(second?.start, 40);
  await log.close();
});

test('GIVEN an open segment larger than closeSealMaxBytes WHEN the log closes THEN the segment stays open under a final signed checkpoint of every entry', async () => {
  const dir = tempDir();
  let log = await open(dir, { closeSealMaxBytes: 100 });
  await Promise.all(Array.from({ length: 5 }, (_, i) => log.append({ type: 't', i })));
  await log.close();
  log = await open(dir);
  assert.deepEqual(log.segments().map((s) => [s.start, s.end]), [[0, undefined]]);
  assert.equal(log.latestCheckpoint()?.size, 5);
  await log.close();
  // At the limit or under it the segment is sealed.
  const dir2 = tempDir();
  log = await open(dir2, { closeSealMaxBytes: 10_000 });
  await Promise.all(Array.from({ length: 5 }, (_, i) => log.append({ type: 't', i })));
  await log.close();
  log = await open(dir2);
  assert.deepEqual(log.segments()[0]?.end, 5);
  await log.close();
});

test('GIVEN a commit delay of a minute after a commit WHEN an urgent append arrives THEN it commits without waiting for the delay', async () => {
  // No checkpoint tick during the test: its request would hand the writer every queued append at once.
  const log = await open(tempDir(), { commitDelayMs: 60_000, checkpointIntervalMs: 60_000 });
  await log.append({ type: 'first' });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([log.append({ type: 'write' }, { urgent: true }).then((r) => r.index), new Promise<string>((r) => { timer = setTimeout(() => r('held by the delay'), 10_000); })]);
  clearTimeout(timer);
  assert.equal(outcome, 1);
  await log.close();
});

test('GIVEN a store that cannot commit for a while WHEN it can again THEN the log recovers without a restart: refusals are counted, health and the gauge follow, and an audit.recovered record states the outage', async () => {
  const dir = tempDir();
  const metrics = createMetrics();
  const { logger, lines } = capturingLogger();
  const log = await open(dir, { busyTimeoutMs: 50, recoveryIntervalMs: 20, metrics, now: () => T0, logger });
  await log.append({ type: 'ok' });
  const lock = lockStore(dir);
  await assert.rejects(log.append({ type: 'lost' }), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_STORAGE_FAILED') && (e as Error).message === 'the audit store could not commit (database is locked); the log failed closed');
  assert.equal((await metrics.auditCommitFailing.get()).values[0]?.value, 1);
  const failed = log.health();
  assert.equal(failed.committing, false);
  assert.equal(failed.reason, 'the audit store could not commit (database is locked); the log failed closed');
  for (let i = 0; i < 3; i++) await assert.rejects(log.append({ type: 'refused' }), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_STORAGE_FAILED'));
  lock.release();
  await until(() => log.size() === 2, 'the recovery record');
  assert.equal(log.health().committing, true);
  assert.equal((await metrics.auditCommitFailing.get()).values[0]?.value, 0);
  const recovered = JSON.parse(log.entries(1, 1)[0]?.leaf.toString() ?? '{}') as { index: number; record: Record<string, unknown> };
  assert.deepEqual(recovered, {
    index: 1,
    record: { type: 'audit.recovered', failed_at: '2026-12-01T08:00:00.000Z', refused_appends: 3, error: 'the audit store could not commit (database is locked); the log failed closed' },
    ts: '2026-12-01T08:00:00.000Z',
  });
  assert.deepEqual(await log.append({ type: 'after' }), { index: 2 });
  await log.close();
  const failedLines = logged(lines, 'audit commit failed; refusing further appends until the store can commit again');
  assert.equal(failedLines.length, 1);
  assert.equal(failedLines[0]?.level, 50);
  assert.equal(failedLines[0]?.code, 'GLM_ERR_AUDIT_STORAGE_FAILED');
  const recoveredLines = logged(lines, 'audit store commits again; appends accepted');
  assert.deepEqual(recoveredLines.map((l) => [l.level, l.refused, l.failed_ms]), [[40, 3, 0]]);
});

test('GIVEN a store with an entry deleted WHEN opened THEN GLM_ERR_AUDIT_STATE_CORRUPT gives the count and the highest index', async () => {
  const dir = tempDir();
  const log = await open(dir);
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append({ type: 't', i })));
  await log.close();
  const db = unlocked(dir);
  db.exec('DELETE FROM entries WHERE idx = 5');
  db.close();
  await assert.rejects(open(dir), refused('GLM_ERR_AUDIT_STATE_CORRUPT', 'audit store holds 9 entries but its highest index is 9'));
});

test('GIVEN a completed chunk with one leaf changed WHEN opened THEN the refusal names the changed entry when it no longer carries its index, else the chunk\'s first', async () => {
  const dir = tempDir();
  const log = await open(dir);
  await Promise.all(Array.from({ length: 300 }, (_, i) => log.append({ type: 't', i })));
  await log.close();
  const set = (idx: number, text: string) => {
    const db = unlocked(dir);
    db.prepare('UPDATE entries SET leaf = ? WHERE idx = ?').run(Buffer.from(text), idx);
    db.close();
  };
  const leafOf = (idx: number) => {
    const db = new Database(auditDbPath(dir), { readonly: true });
    const text = (db.prepare('SELECT leaf FROM entries WHERE idx = ?').pluck().get(idx) as Buffer).toString();
    db.close();
    return text;
  };
  const original = leafOf(3);
  set(3, original.replace('"i":3', '"i":4'));
  const tail = ': the store was modified; refusing to start on it';
  await assert.rejects(open(dir), refused('GLM_ERR_AUDIT_STATE_CORRUPT', `audit entry 0 does not match the stored hash of entries 0..255${tail}`));
  set(3, original.replace('"index":3', '"index":7'));
  await assert.rejects(open(dir), refused('GLM_ERR_AUDIT_STATE_CORRUPT', `audit entry 3 does not match the stored hash of entries 0..255${tail}`));
});

test('GIVEN a completed chunk whose changed leaf is not JSON, is null or a number, or is not canonical WHEN opened THEN the refusal names that entry; in the second chunk the range is 256..511', async () => {
  const dir = tempDir();
  const log = await open(dir);
  await Promise.all(Array.from({ length: 600 }, (_, i) => log.append({ type: 't', i })));
  await log.close();
  const db = new Database(auditDbPath(dir), { readonly: true });
  const original = (db.prepare('SELECT leaf FROM entries WHERE idx = 300').pluck().get() as Buffer).toString();
  db.close();
  const tail = ': the store was modified; refusing to start on it';
  for (const leaf of ['not json', 'null', '300', original.replace('{"index":300,', '{ "index":300,')]) {
    const w = unlocked(dir);
    w.prepare('UPDATE entries SET leaf = ? WHERE idx = 300').run(Buffer.from(leaf));
    w.close();
    await assert.rejects(open(dir), refused('GLM_ERR_AUDIT_STATE_CORRUPT', `audit entry 300 does not match the stored hash of entries 256..511${tail}`), leaf);
  }
  // A changed leaf that is still sound names the chunk's first entry.
  const w = unlocked(dir);
  w.prepare('UPDATE entries SET leaf = ? WHERE idx = 300').run(Buffer.from(original.replace('"i":300', '"i":301')));
  w.close();
  await assert.rejects(open(dir), refused('GLM_ERR_AUDIT_STATE_CORRUPT', `audit entry 256 does not match the stored hash of entries 256..511${tail}`));
});

test('GIVEN an open segment left larger than the size limit by the last run WHEN the log reopens THEN its leaves count toward the limit and the first tick seals it', async () => {
  const dir = tempDir();
  let log = await open(dir, { closeSealMaxBytes: 0 });
  await Promise.all(Array.from({ length: 20 }, (_, i) => log.append({ type: 't', i })));
  await log.close();
  log = await open(dir, { maxSegmentBytes: 500, checkpointIntervalMs: 20 });
  assert.equal(log.segments()[0]?.end, undefined);
  await until(() => log.segments()[0]?.end === 20, 'the reopened segment sealed by size');
  await log.close();
});

test('GIVEN a sealed segment and an open one WHEN the log reopens THEN only the open segment\'s leaves, all of them, count toward the size limit', async () => {
  const iso = '2026-12-01T08:00:00.000Z';
  const openBytes = Array.from({ length: 10 }, (_, i) => Buffer.byteLength(leafText(10 + i, { type: 't', i: 10 + i }, iso))).reduce((a, b) => a + b, 0);
  const dir = tempDir();
  let log = await open(dir, { now: () => T0, closeSealMaxBytes: 0 });
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append({ type: 't', i })));
  await log.rotate();
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append({ type: 't', i: 10 + i })));
  await log.close();
  // One byte over the open segment's leaves: not sealed (the sealed segment's leaves do not count).
  // The clock stays at the segment's opening, so no tick seals it for its age.
  log = await open(dir, { now: () => T0, maxSegmentBytes: openBytes + 1, checkpointIntervalMs: 20, closeSealMaxBytes: 0 });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(log.segments().map((s) => [s.start, s.end]), [[0, 10], [10, undefined]]);
  await log.close();
  // Exactly its leaves, the first one included: sealed at the first tick.
  log = await open(dir, { now: () => T0, maxSegmentBytes: openBytes, checkpointIntervalMs: 20 });
  await until(() => log.segments()[1]?.end === 20, 'the reopened segment sealed at exactly its limit');
  await log.close();
});

test('GIVEN a segment just sealed by size WHEN a small entry follows THEN the new segment counts only its own bytes and is not sealed again', async () => {
  const log = await open(tempDir(), { maxSegmentBytes: 2000, checkpointIntervalMs: 20 });
  await Promise.all(Array.from({ length: 40 }, (_, i) => log.append({ type: 't', i })));
  await until(() => log.segments().some((s) => s.end !== undefined), 'a sealed segment');
  await log.append({ type: 'small' });
  // Ten ticks: a count that kept the sealed segment's bytes would seal the one-entry segment at the first.
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(log.segments().map((s) => [s.start, s.end]), [[0, 40], [40, undefined]]);
  await log.close();
});

test('GIVEN no signer WHEN a log is opened THEN the embedded SoftHSM2 token under its state dir signs its checkpoints', async () => {
  const dir = tempDir();
  const { logger, lines } = capturingLogger();
  const log = await openAuditLog({ stateDir: dir, logger });
  await log.append({ type: 't' });
  const note = await log.checkpoint();
  assert.equal(logged(lines, 'audit checkpoints are signed by a SoftHSM2 token').length, 1);
  assert.ok(fs.statSync(path.join(dir, 'softhsm')).isDirectory());
  assert.equal(log.verifierKeys().length, 1);
  assert.equal((await openCheckpoint(note, log.verifierKeys().map(parseVerifierKey), 64)).size, 1);
  await log.close();
});

test('GIVEN an open log WHEN its descriptors on the store are read THEN the event loop\'s connection is read-only and only the writer thread\'s can write', async () => {
  const dir = tempDir();
  const log = await open(dir);
  await log.append({ type: 't' });
  const modes = descriptorsOn(auditDbPath(dir)).map((fd) => {
    const flags = Number.parseInt(/flags:\s+(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '', 8);
    return (flags & 3) === 0 ? 'read-only' : 'read-write';
  });
  assert.deepEqual(modes.sort(), ['read-only', 'read-write']);
  await log.close();
});

test('GIVEN more chunks than the tree caches WHEN the first entry is proven THEN its chunk is read back from the store and the proof verifies against the root of every stored leaf', async () => {
  const log = await open(tempDir());
  const n = 9 * 256 + 10;
  for (let i = 0; i < n; i += 500) await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, j) => log.append({ type: 't', i: i + j })));
  const h = hasher('RFC9162_SHA512');
  const leaves: Buffer[] = [];
  for (let i = 0; i < n; i += 1000) leaves.push(...log.entries(i, n - 1).map((e) => e.leaf));
  const root = rootOf(h, leaves);
  assert.deepEqual(log.root(n), root);
  for (const index of [0, 300, 256 * 5 + 7]) {
    assert.equal(verifyInclusion(h, index, n, h.leaf(leaves[index] as Buffer), log.inclusionProof(index, n), root), true, `entry ${index}`);
  }
  assert.deepEqual(log.leafHash(leaves[0] as Buffer), createHash('sha512').update(Buffer.concat([Buffer.from([0]), leaves[0] as Buffer])).digest());
  await log.close();
});

test('GIVEN an append not yet committed WHEN the segment is rotated at once THEN the sealed segment includes it', async () => {
  const log = await open(tempDir());
  const pending = log.append({ type: 'in-flight' });
  const sealed = await log.rotate();
  assert.deepEqual([sealed?.start, sealed?.end], [0, 1]);
  assert.deepEqual(await pending, { index: 0 });
  await log.close();
});

test('GIVEN a log without entries WHEN reopened with another algorithm THEN it switches; a missing chunk row (derived data) is no tampering', async () => {
  const dir = tempDir();
  let log = await open(dir);
  assert.equal(log.algorithm, 'RFC9162_SHA512');
  await log.close();
  log = await open(dir, { algorithm: 'RFC9162_SHA256' });
  assert.equal(log.algorithm, 'RFC9162_SHA256');
  await Promise.all(Array.from({ length: 300 }, (_, i) => log.append({ type: 't', i })));
  const root = log.root();
  await log.close();
  const db = unlocked(dir);
  assert.equal(db.prepare('DELETE FROM chunks WHERE idx = 0').run().changes, 1);
  db.close();
  log = await open(dir);
  assert.deepEqual(log.root(), root);
  await log.close();
});

test('GIVEN a record that is not an object at all WHEN appended THEN it is refused like one without a type; a leaf of exactly 64 KiB is accepted, one byte more is refused', async () => {
  const log = await open(tempDir(), { now: () => T0 });
  await assert.rejects(log.append(undefined as never), refused('GLM_ERR_AUDIT_RECORD_INVALID', 'audit record field $.type must be a non-empty string of at most 128 characters'));
  const base = Buffer.byteLength(leafText(0, { type: 'big', blob: '' }, '2026-12-01T08:00:00.000Z'));
  const exact = { type: 'big', blob: 'x'.repeat(65536 - base) };
  assert.deepEqual(await log.append(exact), { index: 0 });
  assert.equal(log.entries(0, 0)[0]?.leaf.length, 65536);
  const over = { type: 'big', blob: 'x'.repeat(65536 - base + 1) };
  await assert.rejects(log.append(over), refused('GLM_ERR_AUDIT_RECORD_INVALID', 'audit record of type "big" is 65537 bytes, the limit is 65536'));
  // Hundreds of records in one batch, far past 64 KiB of it: each leaf is measured on its own.
  const many = await Promise.all(Array.from({ length: 700 }, (_, i) => log.append({ type: 'row', i, pad: 'y'.repeat(120) })));
  assert.deepEqual(many.map((r) => r.index), Array.from({ length: 700 }, (_, i) => 1 + i));
  await log.close();
});

test('GIVEN a commit in flight WHEN a refused record alone opens the next batch THEN the empty batch is never handed to the writer and the log keeps committing', async () => {
  const log = await open(tempDir());
  const first = log.append({ type: 'a' });
  await new Promise((r) => setImmediate(r));
  await assert.rejects(log.append({ type: 'big', blob: 'x'.repeat(70_000) }), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_RECORD_INVALID'));
  assert.deepEqual(await first, { index: 0 });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(log.health().committing, true);
  assert.deepEqual(await log.append({ type: 'b' }), { index: 1 });
  await log.close();
});

test('GIVEN rows added to the store behind the log\'s back WHEN entries are listed THEN only the entries of the verified tree are served', async () => {
  const dir = tempDir();
  const log = await open(dir);
  await Promise.all(Array.from({ length: 3 }, (_, i) => log.append({ type: 't', i })));
  const db = new Database(auditDbPath(dir));
  db.prepare('INSERT INTO entries(idx, leaf) VALUES (?, ?)').run(3, Buffer.from('{"forged":true}'));
  db.close();
  assert.deepEqual(log.entries(0, 10).map((e) => e.index), [0, 1, 2]);
  assert.equal(log.size(), 3);
  await log.close();
});

test('GIVEN a watermark equal to the free space WHEN health is read THEN the disk is not low; one byte more and it is', async () => {
  const dir = tempDir();
  // The log reads the watermark from its options at each health check.
  const options = { stateDir: dir, signer: fileSigner({ keyFile: path.join(dir, 'k.pem'), keyName: 'glimmer.test/audit' }), diskWatermarkBytes: 1 };
  const log = await openAuditLog(options);
  const free = log.health().diskFreeBytes as number;
  options.diskWatermarkBytes = free;
  assert.equal(log.health().diskLow, false);
  options.diskWatermarkBytes = free + 1;
  assert.equal(log.health().diskLow, true);
  await log.close();
});

test('GIVEN a checkpoint interval WHEN the log is idle or behind THEN ticks come at that interval (every second by default) and sign the entries not yet covered', async () => {
  let calls = 0;
  const counted = () => {
    calls += 1;
    return T0;
  };
  const idle = await open(tempDir(), { now: counted });
  calls = 0;
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(calls <= 2, `${calls} ticks in 400 ms with the default interval of a second`);
  await idle.close();
  const fast = await open(tempDir(), { now: counted, checkpointIntervalMs: 20 });
  calls = 0;
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(calls >= 5, `${calls} ticks in 400 ms at 20 ms`);
  await fast.append({ type: 't' });
  await until(() => fast.latestCheckpoint()?.size === 1, 'a checkpoint signed by a tick');
  await fast.close();
});

test('GIVEN an open segment whose leaves are exactly the size limit, or exactly closeSealMaxBytes WHEN a tick runs, or the log closes THEN it is sealed', async () => {
  const iso = '2026-12-01T08:00:00.000Z';
  const bytes = Array.from({ length: 10 }, (_, i) => Buffer.byteLength(leafText(i, { type: 't', i }, iso))).reduce((a, b) => a + b, 0);
  const log = await open(tempDir(), { now: () => T0, maxSegmentBytes: bytes, checkpointIntervalMs: 20 });
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append({ type: 't', i })));
  await until(() => log.segments()[0]?.end === 10, 'the segment sealed at exactly its limit');
  await log.close();
  const dir = tempDir();
  const closing = await open(dir, { now: () => T0, closeSealMaxBytes: bytes });
  await Promise.all(Array.from({ length: 10 }, (_, i) => closing.append({ type: 't', i })));
  await closing.close();
  const reopened = await open(dir);
  assert.equal(reopened.segments()[0]?.end, 10);
  await reopened.close();
});

test('GIVEN a log that is closing WHEN it is used or closed again THEN appends and checkpoints are refused as closed, health says closed, and a second close settles only once the first has closed the log', async () => {
  const log = await open(tempDir());
  await log.append({ type: 't' });
  let firstDone = false;
  const first = log.close().then(() => {
    firstDone = true;
  });
  // All while the first close is under way (nothing awaited yet).
  const late = log.append({ type: 'late' }).then(() => 'accepted', (e: unknown) => e);
  const lateCheckpoint = log.checkpoint().then(() => 'signed', (e: unknown) => e);
  const reason = log.health().reason;
  await log.close();
  assert.equal(firstDone, true, 'the second close settled before the first had closed the log');
  await first;
  assert.ok(refused('GLM_ERR_AUDIT_CLOSED', 'the audit log is closed')(await late));
  assert.ok(refused('GLM_ERR_AUDIT_CLOSED', 'the audit log is closed')(await lateCheckpoint), 'a checkpoint asked for while closing');
  assert.equal(reason, 'the audit log is closed');
});

test('GIVEN a commit that fails while the log closes WHEN close() finishes THEN no recovery is scheduled: the store is not reopened afterwards', async () => {
  const dir = tempDir();
  const { logger, lines } = capturingLogger();
  const log = await open(dir, { busyTimeoutMs: 50, recoveryIntervalMs: 10, logger });
  await log.append({ type: 'ok' });
  const lock = lockStore(dir);
  const lost = log.append({ type: 'lost' });
  await new Promise((r) => setImmediate(r));
  // The commit is in flight and waits for the lock; close() waits for it, and it fails meanwhile.
  const closed = log.close();
  await assert.rejects(lost, (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_STORAGE_FAILED'));
  await closed;
  lock.release();
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('audit store')).map((l) => l.msg), []);
});

test('GIVEN a log on a small file system WHEN space is taken, then its directory disappears THEN each tick updates the free-space figure and gauge, and without statfs health reports no figure and no low disk', { timeout: 60_000 }, async () => {
  const disk = smallDisk(24);
  try {
    const metrics = createMetrics();
    const { logger, lines } = capturingLogger();
    const stateDir = path.join(disk.dir, 'state');
    const log = await open(stateDir, { metrics, logger, checkpointIntervalMs: 20, diskWatermarkBytes: 1 });
    const before = log.health().diskFreeBytes as number;
    assert.equal(before, disk.freeBytes());
    disk.fill(before - 2 * 1024 * 1024);
    await until(() => log.health().diskFreeBytes === disk.freeBytes(), 'the tick to see the filled disk');
    assert.equal((await metrics.auditDiskFree.get()).values[0]?.value, disk.freeBytes());
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    fs.renameSync(path.join(stateDir, 'audit'), path.join(stateDir, 'audit.moved'));
    await until(() => !('diskFreeBytes' in log.health()), 'a tick without statfs');
    await new Promise((r) => setTimeout(r, 100));
    process.off('unhandledRejection', onUnhandled);
    // The gauge keeps its last figure; the tick neither sets an unknown one nor fails.
    assert.deepEqual(unhandled, []);
    assert.equal(log.health().diskLow, false);
    assert.equal(log.health().committing, true);
    await log.append({ type: 't' });
    await log.close();
    // Sealing at close cannot write the segment export where the directory was.
    assert.deepEqual(logged(lines, 'audit log closed without a final checkpoint; the next start catches up').map((l) => [l.level, l.code]), [[40, 'GLM_ERR_INTERNAL']]);
  } finally {
    disk.remove();
  }
});
