/**
 * The audit writer thread through its own interface (runtime/audit/writer.ts), on real SQLite files: what each request
 * answers, how failures reach the caller (GLM_ERR_AUDIT_STORAGE_FAILED with the store's own error as cause), and that
 * a closed writer refuses further work.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { isGlimmerError } from '../../runtime/errors';
import { openAuditWriter, type AuditWriterOptions } from '../../runtime/audit/writer';
import { tempDir } from './helpers';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries(idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(idx INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS notes(v TEXT NOT NULL);
`;

function options(dbPath: string): AuditWriterOptions {
  return { dbPath, schema: SCHEMA, busyTimeoutMs: 1000, rowsPerInsert: 4, pageSize: 4096, commitDelayMs: 0 };
}

/** The writer's wire form of leaves: a 0x00 byte before each, their start offsets beside (plus the end). */
function batch(leaves: readonly string[]): { bytes: Buffer; starts: Uint32Array } {
  const parts = leaves.map((l) => Buffer.concat([Buffer.from([0]), Buffer.from(l)]));
  const bytes = Buffer.from(new ArrayBuffer(parts.reduce((n, p) => n + p.length, 0)));
  const starts = new Uint32Array(leaves.length + 1);
  let at = 0;
  parts.forEach((p, i) => {
    starts[i] = at;
    p.copy(bytes, at);
    at += p.length;
  });
  starts[leaves.length] = at;
  return { bytes, starts };
}

/**
 * Runs `work` (with `w`, an open writer started at index 0, and `leaf(c)`, a one-byte batch) in a child process that
 * never closes the writer, and reports how the process ended: whether the thread let it exit by itself.
 */
async function inChildProcess(commitDelayMs: number, work: string): Promise<{ code: number | null; stdout: string; killed: boolean }> {
  const dir = tempDir();
  const script = `
    const { openAuditWriter } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'runtime', 'audit', 'writer.ts'))});
    const schema = ${JSON.stringify(SCHEMA)};
    openAuditWriter({ dbPath: ${JSON.stringify(path.join(dir, 'audit.db'))}, schema, busyTimeoutMs: 1000, rowsPerInsert: 4, pageSize: 4096, commitDelayMs: ${commitDelayMs} })
      .then(async (w) => {
        await w.start('RFC9162_SHA512', 0, []);
        const leaf = (c) => { const b = Buffer.from(new ArrayBuffer(2)); b[1] = c; return b; };
        ${work}
      });
  `;
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', '-e', script], { timeout: 30_000 }, (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, killed: child.killed }));
  });
}

const sha512Leaf = (leaf: string) => crypto.createHash('sha512').update(Buffer.concat([Buffer.from([0]), Buffer.from(leaf)])).digest('hex');

test('GIVEN a fresh store WHEN leaves are appended THEN the answer carries their RFC 9162 SHA-512 leaf hashes and the commit, the rows are durable, and durability reports WAL with synchronous FULL', async () => {
  const file = path.join(tempDir(), 'audit.db');
  const writer = await openAuditWriter(options(file));
  try {
    assert.deepEqual(await writer.durability(), { journalMode: 'wal', synchronous: 2 });
    await writer.start('RFC9162_SHA512', 0, []);
    const { bytes, starts } = batch(['a', 'bc', '']);
    const r = await writer.append(0, 3, bytes, starts);
    assert.equal(r.leafHashes.length, 3 * 64);
    assert.deepEqual([0, 1, 2].map((i) => r.leafHashes.subarray(i * 64, (i + 1) * 64).toString('hex')), ['a', 'bc', ''].map(sha512Leaf));
    assert.deepEqual(r.chunkHashes, []);
    assert.equal(r.commit?.batches, 1);
    assert.ok((r.commit?.seconds ?? -1) >= 0);
    await writer.run([['INSERT INTO notes(v) VALUES (?)', ['x']]]);
  } finally {
    await writer.close();
  }
  const db = new Database(file, { readonly: true });
  assert.deepEqual(db.prepare('SELECT idx, CAST(leaf AS TEXT) AS leaf FROM entries ORDER BY idx').all(), [{ idx: 0, leaf: 'a' }, { idx: 1, leaf: 'bc' }, { idx: 2, leaf: '' }]);
  assert.deepEqual(db.prepare('SELECT v FROM notes').pluck().all(), ['x']);
  db.close();
});

test('GIVEN a batch that completes a 256-leaf chunk WHEN appended THEN its chunk hash comes back (SHA-256 tree over the 256 leaves)', async () => {
  const writer = await openAuditWriter(options(path.join(tempDir(), 'audit.db')));
  try {
    await writer.start('RFC9162_SHA256', 0, []);
    const leaves = Array.from({ length: 256 }, (_, i) => `e${i}`);
    const { bytes, starts } = batch(leaves);
    const r = await writer.append(0, 256, bytes, starts);
    let level = leaves.map((l) => crypto.createHash('sha256').update(Buffer.concat([Buffer.from([0]), Buffer.from(l)])).digest());
    while (level.length > 1) level = Array.from({ length: level.length / 2 }, (_, i) => crypto.createHash('sha256').update(Buffer.concat([Buffer.from([1]), level[2 * i] as Buffer, level[2 * i + 1] as Buffer])).digest());
    assert.equal(r.chunkHashes.length, 1);
    assert.equal(r.chunkHashes[0]?.toString('hex'), level[0]?.toString('hex'));
  } finally {
    await writer.close();
  }
});

test('GIVEN a statement the store refuses WHEN run THEN GLM_ERR_AUDIT_STORAGE_FAILED carries SQLite\'s error and code as cause', async () => {
  const writer = await openAuditWriter(options(path.join(tempDir(), 'audit.db')));
  try {
    await assert.rejects(writer.run([['INSERT INTO missing_table(v) VALUES (?)', [1]]]), (e) =>
      isGlimmerError(e, 'GLM_ERR_AUDIT_STORAGE_FAILED') && e.message === 'the audit store could not commit' &&
      /no such table: missing_table/.test(String((e.cause as Error).message)) && (e.cause as NodeJS.ErrnoException).code === 'SQLITE_ERROR');
  } finally {
    await writer.close();
  }
});

test('GIVEN a store path that cannot be opened WHEN the writer starts THEN GLM_ERR_AUDIT_STORAGE_FAILED with the cause', async () => {
  await assert.rejects(openAuditWriter(options(path.join(tempDir(), 'missing-dir', 'audit.db'))), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_STORAGE_FAILED') && e.cause instanceof Error);
});

test('GIVEN a closed writer WHEN more work arrives THEN appends and runs are refused with the closed writer as cause, and closing again is a no-op', async () => {
  const writer = await openAuditWriter(options(path.join(tempDir(), 'audit.db')));
  await writer.start('RFC9162_SHA512', 0, []);
  await writer.close();
  const { bytes, starts } = batch(['late']);
  await assert.rejects(writer.append(0, 1, bytes, starts), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_STORAGE_FAILED') && (e.cause as Error).message === 'the audit writer is closed');
  await assert.rejects(writer.run([['INSERT INTO notes(v) VALUES (?)', ['x']]]), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_STORAGE_FAILED') && (e.cause as Error).message === 'the audit writer is closed');
  await writer.close();
});

test('GIVEN a process whose only work is one append WHEN it runs without closing the writer THEN the thread keeps it alive until the acknowledgement and then lets it exit', async () => {
  const out = await inChildProcess(0, "w.append(0, 1, leaf(0x61), new Uint32Array([0, 2])).then(() => console.log('acked'));");
  assert.equal(out.killed, false, 'the process exited by itself');
  assert.equal(out.code, 0);
  assert.equal(out.stdout.trim(), 'acked');
});

test('GIVEN a long commit delay WHEN the first append arrives, then an append the delay holds back and a request that is not an append THEN the first commits at once and the other two are handled at once, in order', async () => {
  const writer = await openAuditWriter({ ...options(path.join(tempDir(), 'audit.db')), commitDelayMs: 45_000 });
  try {
    const order: string[] = [];
    const work = (async () => {
      await writer.start('RFC9162_SHA512', 0, []);
      const first = batch(['a']);
      // No commit yet: the delay has nothing to wait for.
      await writer.append(0, 1, first.bytes, first.starts);
      order.push('first');
      const second = batch(['b']);
      const held = writer.append(1, 1, second.bytes, second.starts).then((r) => { order.push('second'); return r; });
      const run = writer.run([['INSERT INTO notes(v) VALUES (?)', ['after']]]).then(() => order.push('run'));
      return (await Promise.all([held, run]))[0];
    })();
    // Far shorter than the delay, far longer than three commits on a loaded machine.
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([work, new Promise<string>((r) => { timer = setTimeout(() => r('held by the delay'), 15_000); })]);
    clearTimeout(timer);
    assert.notEqual(outcome, 'held by the delay');
    assert.deepEqual(order, ['first', 'second', 'run']);
    assert.equal((await work).commit?.batches, 1);
  } finally {
    await writer.close();
  }
});

test('GIVEN a commit delay running WHEN a second append arrives and a third follows it THEN both wait for the delay and share one commit, and the batch buffers are handed to the thread, not copied', async () => {
  const writer = await openAuditWriter({ ...options(path.join(tempDir(), 'audit.db')), commitDelayMs: 2000 });
  try {
    await writer.start('RFC9162_SHA512', 0, []);
    const a = batch(['a']);
    assert.equal((await writer.append(0, 1, a.bytes, a.starts)).commit?.batches, 1);
    // Transferred: the caller's buffers are detached, so nothing is copied per append.
    assert.equal(a.bytes.buffer.byteLength, 0);
    assert.equal(a.starts.buffer.byteLength, 0);
    const b = batch(['b']);
    const second = writer.append(1, 1, b.bytes, b.starts);
    await new Promise((r) => setTimeout(r, 50));
    const c = batch(['c']);
    const third = writer.append(2, 1, c.bytes, c.starts);
    const [r2, r3] = await Promise.all([second, third]);
    // The commit is reported on the last answer of a group only.
    assert.equal(r2.commit, undefined);
    assert.equal(r3.commit?.batches, 2);
  } finally {
    await writer.close();
  }
});

test('GIVEN a writer with committed appends WHEN closed THEN the store is closed cleanly: its WAL folded in and removed', async () => {
  const file = path.join(tempDir(), 'audit.db');
  const writer = await openAuditWriter(options(file));
  await writer.start('RFC9162_SHA512', 0, []);
  const { bytes, starts } = batch(['a', 'b']);
  await writer.append(0, 2, bytes, starts);
  assert.ok(fs.statSync(`${file}-wal`).size > 0, 'the commit is in the WAL while the writer is open');
  await writer.close();
  assert.equal(fs.existsSync(`${file}-wal`), false);
});

test('GIVEN a writer thread that dies while starting (its setup throws) WHEN the writer is opened THEN the open is refused with GLM_ERR_AUDIT_STORAGE_FAILED and the thread\'s error as cause, and the process carries on', async () => {
  // 2^31 rows per insert: the thread's parameter array cannot be allocated, so its first statement throws.
  await assert.rejects(openAuditWriter({ ...options(path.join(tempDir(), 'audit.db')), rowsPerInsert: 2 ** 31 }), (e) =>
    isGlimmerError(e, 'GLM_ERR_AUDIT_STORAGE_FAILED') && e.cause instanceof RangeError && /Invalid array length/.test(e.cause.message));
});

test('GIVEN a process with two appends outstanding, the second held by the commit delay WHEN the first is acknowledged THEN the thread still keeps the process alive for the second', async () => {
  const out = await inChildProcess(300, `
    w.append(0, 1, leaf(0x61), new Uint32Array([0, 2])).then(() => console.log('acked 0'));
    w.append(1, 1, leaf(0x62), new Uint32Array([0, 2])).then(() => console.log('acked 1'));`);
  assert.equal(out.killed, false, 'the process exited by itself');
  assert.equal(out.code, 0);
  assert.deepEqual(out.stdout.trim().split('\n'), ['acked 0', 'acked 1']);
});

test('GIVEN a writer being closed WHEN an append is sent before the close has finished THEN the append is refused with the closed writer as cause, never left waiting', async () => {
  const writer = await openAuditWriter(options(path.join(tempDir(), 'audit.db')));
  await writer.start('RFC9162_SHA512', 0, []);
  const { bytes, starts } = batch(['behind the close']);
  const closed = writer.close();
  const appended = writer.append(0, 1, bytes, starts).then(() => 'acknowledged', (e: unknown) => (isGlimmerError(e, 'GLM_ERR_AUDIT_STORAGE_FAILED') ? (e.cause as Error).message : String(e)));
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([appended, new Promise<string>((r) => { timer = setTimeout(() => r('still waiting'), 10_000); })]);
  clearTimeout(timer);
  await closed;
  assert.equal(outcome, 'the audit writer is closed');
});

test('GIVEN two appends outstanding, the second held by the commit delay WHEN the first is acknowledged THEN the thread still holds the event loop (its port stays referenced) until the second is', async () => {
  const ports = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
  const before = ports();
  const writer = await openAuditWriter({ ...options(path.join(tempDir(), 'audit.db')), commitDelayMs: 300 });
  try {
    await writer.start('RFC9162_SHA512', 0, []);
    assert.equal(ports(), before, 'idle: the thread does not hold the process');
    const a = batch(['a']);
    const b = batch(['b']);
    const first = writer.append(0, 1, a.bytes, a.starts);
    const second = writer.append(1, 1, b.bytes, b.starts);
    await first;
    assert.equal(ports(), before + 1, 'one append still outstanding');
    await second;
    assert.equal(ports(), before, 'nothing outstanding');
  } finally {
    await writer.close();
  }
});
