/**
 * The audit log's failed state and its way out, on a real store: one outage however many retries it takes, the
 * rate-limited retry warning, the free-space floor a recovery waits for (on a real tmpfs), the same refusal for
 * every append of a failed log, and a close that meets a failed log or a reopening under way.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { type AuditLog, auditDbPath, leafText } from '../../runtime/audit/log';
import { isGlimmerError } from '../../runtime/errors';
import { createMetrics } from '../../runtime/observability/metrics';
import { smallDisk } from '../faults/helpers';
import { T0, capturingLogger, descriptorsOn, lockStore, logged, openTestLog as open, sleep, tempDir, until } from './helpers';

const FAILED = 'audit commit failed; refusing further appends until the store can commit again';
const RECOVERED = 'audit store commits again; appends accepted';
const RETRYING = 'audit store still cannot be reopened; retrying';
const REOPENED = 'audit store reopened; recording the outage';
const LOCKED = 'the audit store could not commit (database is locked); the log failed closed';
const failedClosed = (e: unknown) => isGlimmerError(e, 'GLM_ERR_AUDIT_STORAGE_FAILED');

function recoveredRecord(log: { entries(a: number, b: number): { leaf: Buffer }[] }, index: number): Record<string, unknown> {
  return (JSON.parse(log.entries(index, index)[0]?.leaf.toString() ?? '{}') as { record: Record<string, unknown> }).record;
}

test('GIVEN a lock held over many recovery attempts WHEN it is released THEN the whole time is one outage: one failure line, every refusal counted, and the record dates it from the first failure', async () => {
  const dir = tempDir();
  const metrics = createMetrics();
  const { logger, lines } = capturingLogger();
  let clock = T0;
  const log = await open(dir, { busyTimeoutMs: 20, recoveryIntervalMs: 10, metrics, now: () => clock, logger });
  await log.append({ type: 'ok' });
  const lock = lockStore(dir);
  await assert.rejects(log.append({ type: 'lost' }), (e) => failedClosed(e) && (e as Error).message === LOCKED);
  // The store reopens under the lock but its recovery record cannot commit: each retry fails again. Each append is
  // made while the log is failed, so it is refused at once (not accepted by a reopened writer and failed later).
  for (let i = 0; i < 5; i++) {
    clock += 1000;
    await sleep(60);
    await until(() => !log.health().committing, 'the failed state');
    await assert.rejects(log.append({ type: 'meanwhile' }), failedClosed);
  }
  assert.ok(logged(lines, REOPENED).length >= 2, 'the store was reopened more than once under the lock');
  assert.equal((await metrics.auditCommitFailing.get()).values[0]?.value, 1);
  lock.release();
  await until(() => logged(lines, RECOVERED).length === 1, 'the recovery');
  assert.equal(logged(lines, FAILED).length, 1);
  assert.equal((await metrics.auditCommitFailing.get()).values[0]?.value, 0);
  const record = recoveredRecord(log, log.size() - 1);
  assert.equal(record.failed_at, '2026-12-01T08:00:00.000Z');
  assert.equal(record.error, LOCKED);
  assert.equal(record.refused_appends, 5);
  assert.deepEqual(logged(lines, RECOVERED).map((l) => [l.refused, l.failed_ms]), [[5, 5000]]);
  await log.close();
});

test('GIVEN a store that cannot be reopened WHEN recovery retries THEN it warns at the first attempt and then at most once a minute by the log\'s clock, naming the error', async () => {
  const dir = tempDir();
  const { logger, lines } = capturingLogger();
  let clock = T0;
  const log = await open(dir, { busyTimeoutMs: 20, recoveryIntervalMs: 10, now: () => clock, logger });
  await log.append({ type: 'ok' });
  const store = auditDbPath(dir);
  const lock = lockStore(dir);
  await assert.rejects(log.append({ type: 'lost' }), failedClosed);
  // A directory where the store was: a new writer thread cannot open it (the log's own reader keeps its file).
  fs.renameSync(store, `${store}.away`);
  fs.mkdirSync(store);
  await until(() => logged(lines, RETRYING).length === 1, 'the first retry warning');
  assert.equal(logged(lines, RETRYING)[0]?.level, 40);
  assert.match(String(logged(lines, RETRYING)[0]?.err), /directory|unable to open/);
  clock += 60_000;
  await sleep(150);
  assert.equal(logged(lines, RETRYING).length, 1, 'a minute to the millisecond is not yet past the limit');
  clock += 1;
  await until(() => logged(lines, RETRYING).length === 2, 'the second retry warning');
  fs.rmdirSync(store);
  fs.renameSync(`${store}.away`, store);
  lock.release();
  await until(() => logged(lines, RECOVERED).length === 1, 'the recovery');
  assert.equal(log.health().committing, true);
  assert.equal(logged(lines, RETRYING).length, 2);
  await log.close();
});

test('GIVEN a failed log on a nearly full file system WHEN the cause is gone THEN recovery waits until 4 MiB are free: one page short it stays failed, at exactly 4 MiB it recovers', { timeout: 60_000 }, async () => {
  const disk = smallDisk(24);
  try {
    const dir = path.join(disk.dir, 'state');
    const log = await open(dir, { busyTimeoutMs: 20, recoveryIntervalMs: 10, checkpointIntervalMs: 60_000 });
    await log.append({ type: 'ok' });
    const lock = lockStore(dir);
    await assert.rejects(log.append({ type: 'lost' }), failedClosed);
    const floor = 4 * 1024 * 1024;
    disk.fill(floor - 4096);
    assert.equal(disk.freeBytes(), floor - 4096);
    lock.release();
    await sleep(300);
    assert.equal(log.health().committing, false, 'recovered with less than the floor free');
    assert.equal(log.health().diskFreeBytes, floor - 4096);
    const filler = path.join(disk.dir, 'filler');
    fs.truncateSync(filler, fs.statSync(filler).size - 4096);
    assert.equal(disk.freeBytes(), floor);
    await until(() => log.health().committing, 'the recovery at the floor');
    await log.close();
  } finally {
    disk.remove();
  }
});

test('GIVEN commits in flight when the store fails WHEN each fails THEN every append and every later refusal carries the first failure, with the writer\'s error as its cause', async () => {
  const dir = tempDir();
  const { logger, lines } = capturingLogger();
  const log = await open(dir, { busyTimeoutMs: 20, recoveryIntervalMs: 60_000, maxBatch: 1, logger });
  await log.append({ type: 'ok' });
  const lock = lockStore(dir);
  // One record per batch: two are handed to the writer at once, the third waits behind them.
  const errors = await Promise.all([0, 1, 2].map((i) => log.append({ type: 'lost', i }).then(() => assert.fail('committed under the lock'), (e: unknown) => e)));
  const later = await log.append({ type: 'later' }).catch((e: unknown) => e);
  lock.release();
  const first = errors[0] as Error;
  assert.ok(failedClosed(first));
  for (const e of [...errors, later]) assert.equal(e, first);
  assert.ok(isGlimmerError(first.cause, 'GLM_ERR_AUDIT_STORAGE_FAILED'));
  assert.equal(((first.cause as Error).cause as Error).message, 'database is locked');
  assert.equal(logged(lines, FAILED).length, 1);
  await assert.rejects(log.checkpoint(), (e) => e === first);
  await log.close();
});

test('GIVEN a recovery interval far shorter than a reopening WHEN the store recovers THEN one reopening runs at a time: the store is reopened once and one audit.recovered record is written', async () => {
  const dir = tempDir();
  const { logger, lines } = capturingLogger();
  const log = await open(dir, { busyTimeoutMs: 20, recoveryIntervalMs: 1, logger });
  await log.append({ type: 'ok' });
  const lock = lockStore(dir);
  await assert.rejects(log.append({ type: 'lost' }), failedClosed);
  lock.release();
  await until(() => logged(lines, RECOVERED).length > 0, 'the recovery');
  await sleep(100);
  assert.deepEqual(logged(lines, REOPENED).map((l) => [l.level, l.size]), [[30, 1]]);
  assert.equal(logged(lines, RECOVERED).length, 1);
  assert.deepEqual(log.entries(0, 10).map((e) => (JSON.parse(e.leaf.toString()) as { record: { type: string } }).record.type), ['ok', 'audit.recovered']);
  await log.close();
});

test('GIVEN entries a failed writer committed without answering WHEN the log recovers THEN they are read back into the tree and the recovery record takes the next index', async () => {
  const dir = tempDir();
  const log = await open(dir, { busyTimeoutMs: 20, recoveryIntervalMs: 10, now: () => T0 });
  await log.append({ type: 'ok' });
  const lock = lockStore(dir);
  await assert.rejects(log.append({ type: 'lost' }), failedClosed);
  // The commit that landed while its answer was lost, written as the writer would have (same leaf, same index).
  const landed = leafText(1, { type: 'landed' }, '2026-12-01T08:00:00.000Z');
  lock.release();
  const db = new Database(auditDbPath(dir));
  db.prepare('INSERT INTO entries(idx, leaf) VALUES (?, ?)').run(1, Buffer.from(landed));
  db.close();
  await until(() => log.size() === 3, 'the recovery record after the landed entry');
  assert.equal(log.entries(1, 1)[0]?.leaf.toString(), landed);
  assert.equal((JSON.parse(log.entries(2, 2)[0]?.leaf.toString() ?? '{}') as { record: { type: string } }).record.type, 'audit.recovered');
  await log.close();
  const again = await open(dir);
  assert.equal(again.size(), 3);
  await again.close();
});

test('GIVEN a failed log WHEN it is closed THEN close makes no final checkpoint and warns of none, and the store reopens as it was', async () => {
  const dir = tempDir();
  const { logger, lines } = capturingLogger();
  const log = await open(dir, { busyTimeoutMs: 20, recoveryIntervalMs: 60_000, logger });
  await Promise.all([0, 1, 2].map((i) => log.append({ type: 't', i })));
  const lock = lockStore(dir);
  await assert.rejects(log.append({ type: 'lost' }), failedClosed);
  lock.release();
  await log.close();
  assert.deepEqual(lines.filter((l) => (l.level as number) >= 40).map((l) => l.msg), [FAILED]);
  const again = await open(dir);
  assert.equal(again.size(), 3);
  assert.equal(again.latestCheckpoint(), undefined);
  assert.deepEqual(again.segments().map((s) => [s.start, s.end]), [[0, undefined]]);
  await again.close();
});

test('GIVEN a reopening that succeeds while the log closes WHEN close() runs THEN the log stays failed and closes without a final checkpoint, and no writer thread is left holding the store', async () => {
  const dir = tempDir();
  const opened: { log?: AuditLog } = {};
  let closed: Promise<void> | undefined;
  // close() is called the moment the store has reopened, before the log adopts the new writer.
  const { logger, lines } = capturingLogger((line) => {
    if (line.msg === REOPENED) closed ??= opened.log?.close();
  });
  const log = await open(dir, { busyTimeoutMs: 20, recoveryIntervalMs: 10, logger });
  opened.log = log;
  await Promise.all([0, 1].map((i) => log.append({ type: 't', i })));
  const lock = lockStore(dir);
  await assert.rejects(log.append({ type: 'lost' }), failedClosed);
  lock.release();
  await until(() => closed !== undefined, 'a reopened store');
  await closed;
  assert.equal(logged(lines, RECOVERED).length, 0);
  assert.equal(log.health().committing, false);
  await sleep(100);
  assert.deepEqual(descriptorsOn(auditDbPath(dir)), [], 'descriptors still open on the store');
  const again = await open(dir);
  assert.equal(again.size(), 2);
  assert.equal(again.latestCheckpoint(), undefined);
  await again.close();
});
