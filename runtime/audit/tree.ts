/**
 * The audit log's incremental Merkle tree. Appends cost O(1) amortised hashes (never a rehash of the tree). Memory
 * stays small: only subtrees of CHUNK leaves and above are kept (one hash per 256 leaves, about 0.5 byte per entry
 * with SHA-512); hashes inside an older chunk are recomputed from its stored leaves when a proof needs them.
 */
import { type Hasher, type SubtreeSource, consistencyPath, inclusionPath, rangeHash } from './merkle';

export const CHUNK_LEVEL = 8;
export const CHUNK = 1 << CHUNK_LEVEL;
const CACHED_CHUNKS = 8;

/** Hashes the perfect subtree over `leafHashes[offset .. offset + 2^level)`, memoised in `memo`. */
function subtree(h: Hasher, leafHashes: readonly Buffer[], level: number, offset: number, memo: Map<number, Buffer>): Buffer {
  if (level === 0) return leafHashes[offset] as Buffer;
  const key = level * CHUNK + offset;
  let hit = memo.get(key);
  if (!hit) {
    const half = 1 << (level - 1);
    hit = h.node(subtree(h, leafHashes, level - 1, offset, memo), subtree(h, leafHashes, level - 1, offset + half, memo));
    memo.set(key, hit);
  }
  return hit;
}

/**
 * A copy of a hash in memory of its own. Hashes come back as slices of Node's shared Buffer pool (64 KiB per slab on
 * Node 26) or of a batch's transfer buffer; a node kept for the life of the log would keep that whole slab alive, and
 * slabs fill with short-lived hashes between two kept nodes, so memory grew by up to a slab per chunk.
 */
function owned(hash: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(hash.length);
  hash.copy(copy);
  return copy;
}

export class LogTree {
  /** upper[j][i]: the hash of the perfect subtree at level CHUNK_LEVEL + j, index i. */
  private readonly upper: Buffer[][] = [];
  /** Leaf hashes of the incomplete last chunk. */
  private tail: Buffer[] = [];
  private tailMemo = new Map<number, Buffer>();
  private readonly cache = new Map<number, { leaves: Buffer[]; memo: Map<number, Buffer> }>();
  private count = 0;

  /** `loadChunk(c)` returns the leaf hashes of the complete chunk c (leaves c*CHUNK .. c*CHUNK+CHUNK-1). */
  constructor(
    readonly h: Hasher,
    private readonly loadChunk: (chunk: number) => Buffer[],
  ) {}

  get size(): number {
    return this.count;
  }

  /** Adds a complete chunk's hash when rebuilding from storage. */
  restoreChunk(chunkHash: Buffer): void {
    if (this.tail.length !== 0) throw new Error('restoreChunk after a partial chunk');
    this.pushUpper(chunkHash);
    this.count += CHUNK;
  }

  private pushUpper(hash: Buffer): void {
    let level = 0;
    let node = owned(hash);
    for (;;) {
      const row = this.upper[level] ?? (this.upper[level] = []);
      row.push(node);
      if (row.length % 2 === 1) return;
      node = owned(this.h.node(row[row.length - 2] as Buffer, node));
      level += 1;
    }
  }

  /** Appends one leaf hash; returns the chunk's hash when this leaf completes a chunk (to persist), else undefined. */
  append(leafHash: Buffer): Buffer | undefined {
    this.tail.push(leafHash);
    this.count += 1;
    if (this.tail.length < CHUNK) return undefined;
    const leaves = this.tail;
    const memo = this.tailMemo;
    const chunkHash = subtree(this.h, leaves, CHUNK_LEVEL, 0, memo);
    this.pushUpper(chunkHash);
    this.remember((this.count >> CHUNK_LEVEL) - 1, leaves, memo);
    this.tail = [];
    this.tailMemo = new Map();
    return chunkHash;
  }

  /**
   * Appends a leaf hash whose chunk hash, when this leaf completes a chunk, was computed elsewhere (the hashing
   * worker). Returns the chunk hash it used, or undefined.
   */
  appendPrecomputed(leafHash: Buffer, nextChunkHash: () => Buffer | undefined): Buffer | undefined {
    this.tail.push(leafHash);
    this.count += 1;
    if (this.tail.length < CHUNK) return undefined;
    const chunkHash = nextChunkHash();
    if (!chunkHash) throw new Error('the hashing worker did not return a completed chunk');
    this.pushUpper(chunkHash);
    this.remember((this.count >> CHUNK_LEVEL) - 1, this.tail, new Map());
    this.tail = [];
    this.tailMemo = new Map();
    return chunkHash;
  }

  /** Leaf hashes of the incomplete last chunk (to seed the hashing worker's mirror). */
  tailHashes(): readonly Buffer[] {
    return this.tail;
  }

  private remember(chunk: number, leaves: Buffer[], memo: Map<number, Buffer>): void {
    this.cache.set(chunk, { leaves, memo });
    if (this.cache.size > CACHED_CHUNKS) this.cache.delete(this.cache.keys().next().value as number);
  }

  readonly source: SubtreeSource = (level, index) => {
    if (level >= CHUNK_LEVEL) {
      const hit = this.upper[level - CHUNK_LEVEL]?.[index];
      if (!hit) throw new Error(`subtree ${level}/${index} is not complete`);
      return hit;
    }
    const first = index << level;
    const chunk = first >> CHUNK_LEVEL;
    const offset = first - chunk * CHUNK;
    if (chunk === this.count >> CHUNK_LEVEL) {
      if (offset + (1 << level) > this.tail.length) throw new Error(`subtree ${level}/${index} is not complete`);
      return subtree(this.h, this.tail, level, offset, this.tailMemo);
    }
    let entry = this.cache.get(chunk);
    if (!entry) {
      entry = { leaves: this.loadChunk(chunk), memo: new Map() };
      this.remember(chunk, entry.leaves, entry.memo);
    }
    return subtree(this.h, entry.leaves, level, offset, entry.memo);
  };

  /** MTH(D[0:n]) for any n up to the current size. */
  root(n = this.count): Buffer {
    return rangeHash(this.h, this.source, 0, n);
  }

  inclusionProof(index: number, size: number): Buffer[] {
    return inclusionPath(this.h, this.source, index, size);
  }

  consistencyProof(first: number, second: number): Buffer[] {
    return consistencyPath(this.h, this.source, first, second);
  }
}
