/**
 * Leaf hashing off the event loop: a worker thread computes the RFC 9162 leaf hashes of each group-commit batch and
 * the hash of every 256-leaf chunk the batch completes (it mirrors the tree's incomplete last chunk), so the main
 * thread only inserts rows and updates the upper tree levels. Batches are answered in the order they were sent.
 * The worker is plain JavaScript evaluated from a string, so it runs the same from tsx and from the esbuild bundle.
 */
import { Worker } from 'node:worker_threads';
import { GlimmerError } from '../errors';
import type { MerkleAlgorithm } from './merkle';
import { CHUNK } from './tree';

export interface HashedBatch {
  /** n leaf hashes, back to back. */
  readonly leafHashes: Buffer;
  /** Hashes of the chunks this batch completed, in order. */
  readonly chunkHashes: Buffer[];
}

export interface LeafHashWorker {
  hash(prefixedLeaves: readonly Buffer[]): Promise<HashedBatch>;
  close(): Promise<void>;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const { name, size, chunk } = workerData;
let tail = workerData.tail.map((b) => Buffer.from(b));
const scratch = Buffer.alloc(1 + 2 * size);
scratch[0] = 1;
const node = (l, r) => { scratch.set(l, 1); scratch.set(r, 1 + size); return crypto.hash(name, scratch, 'buffer'); };
const chunkHash = (leaves) => {
  let level = leaves;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) next.push(node(level[i], level[i + 1]));
    level = next;
  }
  return level[0];
};
parentPort.on('message', ({ id, data, offsets }) => {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const n = offsets.length - 1;
  const out = Buffer.from(new ArrayBuffer(n * size));
  const chunks = [];
  for (let i = 0; i < n; i++) {
    const h = crypto.hash(name, bytes.subarray(offsets[i], offsets[i + 1]), 'buffer');
    h.copy(out, i * size);
    tail.push(h);
    if (tail.length === chunk) {
      chunks.push(chunkHash(tail));
      tail = [];
    }
  }
  const chunkBuf = Buffer.from(new ArrayBuffer(chunks.length * size));
  chunks.forEach((c, i) => c.copy(chunkBuf, i * size));
  parentPort.postMessage({ id, leaves: out.buffer, chunks: chunkBuf.buffer }, [out.buffer, chunkBuf.buffer]);
});
`;

/** Starts a hashing worker whose chunk mirror begins with `tail` (the leaf hashes of the tree's incomplete chunk). */
export function startLeafHashWorker(algorithm: MerkleAlgorithm, tail: readonly Buffer[]): LeafHashWorker {
  const size = algorithm === 'RFC9162_SHA256' ? 32 : 64;
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { name: algorithm === 'RFC9162_SHA256' ? 'sha256' : 'sha512', size, chunk: CHUNK, tail: tail.map((b) => new Uint8Array(b)) },
  });
  worker.unref();
  let nextId = 0;
  const waiting = new Map<number, { resolve: (b: HashedBatch) => void; reject: (e: unknown) => void }>();
  let broken: unknown;
  const failAll = (err: unknown) => {
    broken ??= err;
    for (const w of waiting.values()) w.reject(new GlimmerError('GLM_ERR_AUDIT_STORAGE_FAILED', 'the audit hashing worker failed', { cause: err }));
    waiting.clear();
  };
  worker.on('message', (msg: { id: number; leaves: ArrayBuffer; chunks: ArrayBuffer }) => {
    const w = waiting.get(msg.id);
    waiting.delete(msg.id);
    const chunks = Buffer.from(msg.chunks);
    const chunkHashes: Buffer[] = [];
    for (let off = 0; off < chunks.length; off += size) chunkHashes.push(chunks.subarray(off, off + size));
    w?.resolve({ leafHashes: Buffer.from(msg.leaves), chunkHashes });
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`hashing worker exited with code ${code}`)));
  return {
    hash(prefixedLeaves) {
      if (broken) return Promise.reject(new GlimmerError('GLM_ERR_AUDIT_STORAGE_FAILED', 'the audit hashing worker failed', { cause: broken }));
      const offsets = new Uint32Array(prefixedLeaves.length + 1);
      let total = 0;
      prefixedLeaves.forEach((b, i) => {
        offsets[i] = total;
        total += b.length;
      });
      offsets[prefixedLeaves.length] = total;
      const data = Buffer.concat(prefixedLeaves as Buffer[], total);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, data, offsets });
      });
    },
    async close() {
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
}
