/**
 * The audit log's contract at its edges, with every message written out: range and record refusals, a closed or
 * failed log, the low-disk watermark and its gauges, origin and algorithm of new and reopened logs, configuration,
 * size-based sealing, shutdown of a large open segment, urgent appends, recovery without a restart, and a store that
 * was tampered with.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { auditDbPath } from '../../runtime/audit/log';
import { isGlimmerError } from '../../runtime/errors';
import { createMetrics } from '../../runtime/observability/metrics';
import { T0, capturingLogger, logged, openTestLog as open, refused, refusedWith, tempDir, unlocked, until } from './helpers';

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
  const log = await open(tempDir(), { commitDelayMs: 60_000 });
  await log.append({ type: 'first' });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([log.append({ type: 'write' }, { urgent: true }).then((r) => r.index), new Promise<string>((r) => { timer = setTimeout(() => r('held by the delay'), 15_000); })]);
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
  const blocker = new Database(auditDbPath(dir));
  blocker.exec('BEGIN IMMEDIATE');
  await assert.rejects(log.append({ type: 'lost' }), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_STORAGE_FAILED') && (e as Error).message === 'the audit store could not commit (database is locked); the log failed closed');
  assert.equal((await metrics.auditCommitFailing.get()).values[0]?.value, 1);
  const failed = log.health();
  assert.equal(failed.committing, false);
  assert.equal(failed.reason, 'the audit store could not commit (database is locked); the log failed closed');
  for (let i = 0; i < 3; i++) await assert.rejects(log.append({ type: 'refused' }), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_STORAGE_FAILED'));
  blocker.exec('ROLLBACK');
  blocker.close();
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
