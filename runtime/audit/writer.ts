/**
 * The audit store's only writer, off the event loop: a worker thread owns the read-write SQLite connection (WAL,
 * synchronous=FULL). For each group commit it receives the leaves in one transferred buffer (a 0x00 byte before every
 * leaf, their offsets beside), computes the RFC 9162 leaf hashes and the hash of every 256-leaf chunk the batch
 * completes (it mirrors the tree's incomplete last chunk), inserts leaves and chunk hashes in one transaction, commits
 * (one fsync of the WAL) and answers with the hashes, so the main thread's tree stays current for proofs. The SQLite
 * work and the fsync never block the event loop; the main thread reads through its own read-only connection.
 * Requests run strictly in the order they were sent; append requests that queue up while the writer is busy (behind
 * an fsync) are committed together in one transaction. After a failed group commit the writer refuses every later
 * one (no gap can ever be committed behind a failure). The worker is plain JavaScript evaluated from a string, so it runs
 * the same from tsx and from the esbuild bundle; better-sqlite3 is resolved by the main thread.
 */
import { Worker } from 'node:worker_threads';
import { GlimmerError } from '../errors';
import type { MerkleAlgorithm } from './merkle';
import { CHUNK } from './tree';

export interface CommittedBatch {
  /** The batch's leaf hashes, back to back. */
  readonly leafHashes: Buffer;
  /** Hashes of the chunks this batch completed, in order. */
  readonly chunkHashes: Buffer[];
  /**
   * Set on the last batch of each transaction: batches waiting for the writer share one transaction. `seconds` is the
   * time the writer spent on it (hashing, inserts, commit and fsync).
   */
  readonly commit?: { readonly seconds: number; readonly batches: number };
}

/** One SQL statement of a `run` request: the SQL text (from this module's callers, never from input) and its parameters. */
export type Statement = readonly [sql: string, params: readonly unknown[]];

export interface AuditWriter {
  /** Starts group commits: the algorithm, the next index, and the leaf hashes of the tree's incomplete chunk. */
  start(algorithm: MerkleAlgorithm, next: number, tail: readonly Buffer[]): Promise<void>;
  /**
   * Hashes and durably commits `count` leaves with indexes `first ..`: leaf `first + i` is
   * `bytes[starts[i] + 1, starts[i + 1])` and `bytes[starts[i]]` is 0x00. Both buffers are transferred (unusable
   * afterwards) and must own their ArrayBuffers. Resolves after the fsync; rejects with GLM_ERR_AUDIT_STORAGE_FAILED
   * (and so does every later append).
   */
  append(first: number, count: number, bytes: Buffer, starts: Uint32Array, urgent?: boolean): Promise<CommittedBatch>;
  /** Runs the statements in one durable transaction. */
  run(statements: readonly Statement[]): Promise<void>;
  /** The durability settings in force on the writer's own connection (what every commit runs under). */
  durability(): Promise<{ readonly journalMode: string; readonly synchronous: number }>;
  /** Closes the connection (the last one checkpoints the WAL) and ends the thread. */
  close(): Promise<void>;
}

export interface AuditWriterOptions {
  readonly dbPath: string;
  /** Run once at open, after the pragmas. */
  readonly schema: string;
  readonly busyTimeoutMs: number;
  /** Rows per multi-row INSERT. */
  readonly rowsPerInsert: number;
  /** Page size of a new store (an existing store keeps its own). */
  readonly pageSize: number;
  /** Least time between two commits; requests arriving meanwhile wait and share the next one. 0: commit at once. */
  readonly commitDelayMs: number;
}

const WORKER_SOURCE = `
const { parentPort, receiveMessageOnPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const Database = require(workerData.sqlite);
const { dbPath, schema, busyTimeoutMs, rowsPerInsert, pageSize, chunk, commitDelayMs } = workerData;
let db;
// name, size: the digest; next: the next index. tail: [0x01, left, right] (the node hash input) followed by the
// leaf hashes of the incomplete chunk (tailCount of them, from byte base on).
let name, size, next, tail, base, tailCount, nodeInput;
let failed;
const statements = new Map();
const prepared = (sql) => {
  let s = statements.get(sql);
  if (!s) statements.set(sql, (s = db.prepare(sql)));
  return s;
};
// Digests are taken as latin1 strings and written into buffers: on Node 20 that costs about a third of asking
// crypto.hash for a Buffer.
const digest = (data) => crypto.hash(name, data, 'latin1');
// The root of the complete chunk in tail, computed in place (level by level, node i overwrites leaf slot i).
const chunkRoot = (out, offset) => {
  for (let width = chunk; width > 1; width >>= 1) {
    for (let i = 0; i < width; i += 2) {
      tail.copyWithin(1, base + i * size, base + (i + 2) * size);
      tail.latin1Write(digest(nodeInput), base + (i >> 1) * size, size);
    }
  }
  out.set(tail.subarray(base, base + size), offset);
};
const params = new Array(rowsPerInsert * 2);
let insertMany, insertOne, insertChunk, commitGroup;

function open() {
  db = new Database(dbPath, { timeout: busyTimeoutMs });
  // Takes effect only when the store is created: 16 KiB pages cost a quarter less CPU per inserted leaf than 4 KiB.
  db.pragma('page_size = ' + pageSize);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(schema);
  insertMany = db.prepare('INSERT INTO entries(idx, leaf) VALUES ' + Array(rowsPerInsert).fill('(?, ?)').join(', '));
  insertOne = db.prepare('INSERT INTO entries(idx, leaf) VALUES (?, ?)');
  insertChunk = db.prepare('INSERT OR REPLACE INTO chunks(idx, hash) VALUES (?, ?)');
  // One transaction for every batch of a group (they are contiguous: validated in prepare()).
  commitGroup = db.transaction((group) => {
    for (const { first, buf, starts, count, chunks } of group) {
      let i = 0;
      for (; i + rowsPerInsert <= count; i += rowsPerInsert) {
        for (let j = 0; j < rowsPerInsert; j++) {
          params[2 * j] = first + i + j;
          params[2 * j + 1] = buf.subarray(starts[i + j] + 1, starts[i + j + 1]);
        }
        insertMany.run(...params);
      }
      for (; i < count; i++) insertOne.run(first + i, buf.subarray(starts[i] + 1, starts[i + 1]));
      // The first chunk a batch can complete is the one holding its first leaf.
      for (let c = 0; c < chunks.length; c++) insertChunk.run(Math.floor(first / chunk) + c, chunks[c]);
    }
  });
}

/** Checks one batch and hashes its leaves and completed chunks (advancing the chunk mirror and the next index). */
function prepare({ first, count, bytes, starts: startsBuffer }) {
  if (name === undefined) throw new Error('the writer was not started');
  if (first !== next) throw new Error('batch starts at index ' + first + ' but the next index is ' + next);
  if (tailCount !== first % chunk) throw new Error('the chunk mirror holds ' + tailCount + ' leaves at index ' + first);
  const buf = Buffer.from(bytes);
  const starts = new Uint32Array(startsBuffer);
  // Leaf i is buf[starts[i] + 1, starts[i + 1]); the byte before it is the 0x00 prefix of its leaf hash input.
  if (count < 1 || starts.length < count + 1 || starts[count] > buf.length) throw new Error('the batch of ' + count + ' leaves is truncated');
  for (let i = 0; i < count; i++) {
    if (buf[starts[i]] !== 0 || starts[i + 1] <= starts[i]) throw new Error('leaf ' + (first + i) + ' is malformed in its batch');
  }
  const out = Buffer.from(new ArrayBuffer(count * size));
  const chunkBuf = Buffer.from(new ArrayBuffer(Math.ceil(count / chunk + 1) * size));
  let chunkCount = 0;
  // Leaf hashes go to the chunk mirror; this batch's run of them is copied to out in bulk (before chunkRoot
  // overwrites a completed chunk, and at the end).
  let copied = 0;
  let runStart = tailCount;
  for (let i = 0; i < count; i++) {
    tail.latin1Write(digest(buf.subarray(starts[i], starts[i + 1])), base + tailCount * size, size);
    tailCount += 1;
    if (tailCount === chunk) {
      tail.copy(out, copied * size, base + runStart * size, base + chunk * size);
      copied += chunk - runStart;
      runStart = 0;
      chunkRoot(chunkBuf, chunkCount * size);
      chunkCount += 1;
      tailCount = 0;
    }
  }
  tail.copy(out, copied * size, base + runStart * size, base + tailCount * size);
  next = first + count;
  const chunks = [];
  for (let c = 0; c < chunkCount; c++) chunks.push(chunkBuf.subarray(c * size, (c + 1) * size));
  return { first, buf, starts, count, chunks, out, chunkBuf, chunkCount };
}

/**
 * Group commit of append requests that queued up while the writer was busy (typically behind an fsync): all in one
 * transaction and one fsync; each request is answered in order. Any failure fails the whole group and every later one.
 */
function appendGroup(msgs) {
  const started = process.hrtime.bigint();
  let group;
  try {
    if (failed) throw new Error('an earlier group commit failed: ' + failed);
    group = msgs.map(prepare);
    commitGroup(group);
  } catch (err) {
    failed = failed || String(err && err.message);
    for (const msg of msgs) replyError(msg, err);
    return;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  group.forEach((b, k) => {
    const last = k === group.length - 1;
    parentPort.postMessage(
      { id: msgs[k].id, result: { leaves: b.out.buffer, chunks: b.chunkBuf.buffer, chunkCount: b.chunkCount, commit: last ? { seconds, batches: group.length } : undefined } },
      [b.out.buffer, b.chunkBuf.buffer],
    );
  });
}

function replyError(msg, err) {
  parentPort.postMessage({ id: msg.id, error: { message: String(err && err.message), code: err && err.code } });
}

const ops = {
  open() {
    open();
  },
  start(msg) {
    name = msg.algorithm === 'RFC9162_SHA256' ? 'sha256' : 'sha512';
    size = name === 'sha256' ? 32 : 64;
    next = msg.next;
    base = 1 + 2 * size;
    tail = Buffer.alloc(base + chunk * size);
    tail[0] = 1;
    nodeInput = tail.subarray(0, base);
    msg.tail.forEach((b, i) => tail.set(b, base + i * size));
    tailCount = msg.tail.length;
  },
  run({ statements: list }) {
    db.transaction(() => {
      for (const [sql, args] of list) prepared(sql).run(...args);
    })();
  },
  durability() {
    return { journalMode: db.pragma('journal_mode', { simple: true }), synchronous: db.pragma('synchronous', { simple: true }) };
  },
  close() {
    db.close();
  },
};

function handle(msg) {
  let result;
  try {
    result = ops[msg.op](msg);
  } catch (err) {
    replyError(msg, err);
    return;
  }
  parentPort.postMessage({ id: msg.id, result });
  if (msg.op === 'close') parentPort.close();
}

const queued = [];
let timer;
// No commit yet, so the first append goes at once (a worker's clock starts near 0: 0 would hold it by the delay).
let lastCommit = -Infinity;
function drain() {
  timer = undefined;
  // Everything already queued is handled now, strictly in order; consecutive appends share one transaction.
  for (let m = receiveMessageOnPort(parentPort); m; m = receiveMessageOnPort(parentPort)) queued.push(m.message);
  const msgs = queued.splice(0);
  // Measured from the start of a commit of appends (other requests do not hold the next append back); a commit that
  // takes longer than the delay is followed at once.
  if (msgs.some((m) => m.op === 'append')) lastCommit = performance.now();
  for (let i = 0; i < msgs.length; ) {
    if (msgs[i].op !== 'append') {
      handle(msgs[i]);
      i += 1;
      continue;
    }
    let j = i + 1;
    while (j < msgs.length && msgs[j].op === 'append') j += 1;
    appendGroup(msgs.slice(i, j));
    i = j;
  }
}

parentPort.on('message', (msg) => {
  queued.push(msg);
  // An urgent append (a write waiting for its record before it may reach the plant) does not wait for the delay, nor
  // does any other request (open, start, run, durability, close): it has nothing to share a commit with, and waiting
  // would only stall opening, sealing and closing by the delay.
  const now = msg.urgent || msg.op !== 'append';
  if (timer !== undefined) {
    if (now) { clearTimeout(timer); drain(); }
    return;
  }
  // Group commit delay: at most one commit per commitDelayMs, so a steady trickle of appends shares fsyncs too
  // (the first request after a quiet spell goes at once).
  const wait = lastCommit + commitDelayMs - performance.now();
  if (wait > 0 && !now) timer = setTimeout(drain, wait);
  else drain();
});
`;

interface Reply {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: { message: string; code?: string };
}

/** Starts the writer thread and opens the store (pragmas, schema); rejects if the store cannot be opened. */
export async function openAuditWriter(options: AuditWriterOptions): Promise<AuditWriter> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { ...options, chunk: CHUNK, sqlite: require.resolve('better-sqlite3') },
  });
  let nextId = 0;
  const waiting = new Map<number, { resolve: (r: unknown) => void; reject: (e: unknown) => void }>();
  let broken: unknown;
  let closing = false;
  // The thread keeps the process alive only while a request is outstanding (an acknowledgement is on its way).
  worker.unref();
  const fail = (err: unknown) => {
    broken ??= err;
    for (const w of waiting.values()) w.reject(broken);
    waiting.clear();
  };
  worker.on('message', (msg: Reply) => {
    const w = waiting.get(msg.id);
    waiting.delete(msg.id);
    if (waiting.size === 0) worker.unref();
    if (!w) return;
    if (msg.error) {
      const cause = Object.assign(new Error(msg.error.message), msg.error.code ? { code: msg.error.code } : {});
      w.reject(cause);
    } else w.resolve(msg.result);
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the audit writer thread exited with code ${code}`)));
  const send = <T>(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> => {
    if (broken) return Promise.reject(broken);
    const id = nextId++;
    if (waiting.size === 0) worker.ref();
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (r: unknown) => void, reject });
      worker.postMessage({ ...msg, id }, transfer);
    });
  };
  const request = <T>(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> =>
    closing ? Promise.reject(new Error('the audit writer is closed')) : send<T>(msg, transfer);
  const storageFailed = (err: unknown) => new GlimmerError('GLM_ERR_AUDIT_STORAGE_FAILED', 'the audit store could not commit', { cause: err });
  const writer: AuditWriter = {
    start: (algorithm, next, tail) => request({ op: 'start', algorithm, next, tail: tail.map((b) => new Uint8Array(b)) }),
    async append(first, count, bytes, starts, urgent = false) {
      let r: { leaves: ArrayBuffer; chunks: ArrayBuffer; chunkCount: number; commit?: { seconds: number; batches: number } };
      try {
        r = await request({ op: 'append', first, count, bytes: bytes.buffer, starts: starts.buffer, urgent }, [bytes.buffer as ArrayBuffer, starts.buffer as ArrayBuffer]);
      } catch (err) {
        throw storageFailed(err);
      }
      const size = r.leaves.byteLength / count;
      const chunks = Buffer.from(r.chunks);
      const chunkHashes: Buffer[] = [];
      for (let c = 0; c < r.chunkCount; c++) chunkHashes.push(chunks.subarray(c * size, (c + 1) * size));
      return { leafHashes: Buffer.from(r.leaves), chunkHashes, ...(r.commit ? { commit: r.commit } : {}) };
    },
    async run(statements) {
      try {
        await request({ op: 'run', statements });
      } catch (err) {
        throw storageFailed(err);
      }
    },
    durability: () => request({ op: 'durability' }),
    async close() {
      if (closing) return;
      // Refused from here on: a request sent behind the close would reach a thread that no longer reads its port.
      closing = true;
      try {
        if (!broken) await send({ op: 'close' });
      } finally {
        worker.removeAllListeners('exit');
        await worker.terminate();
      }
    },
  };
  try {
    await request({ op: 'open' });
  } catch (err) {
    await writer.close().catch(() => undefined);
    throw storageFailed(err);
  }
  return writer;
}
