/**
 * RFC 9162 Merkle tree hashing (docs/audit.md "Hashing"): leaf = H(0x00 || leaf), node = H(0x01 || left || right),
 * empty tree = H(""). Proofs follow RFC 9162 §2.1.3 (inclusion) and §2.1.4 (consistency); the verifiers are the
 * iterative algorithms of §2.1.3.2 and §2.1.4.2. Everything here is pure: storage lives in log.ts.
 */
import crypto from 'node:crypto';
import { GlimmerError } from '../errors';

export type MerkleAlgorithm = 'RFC9162_SHA512' | 'RFC9162_SHA256';
export const MERKLE_ALGORITHMS: readonly MerkleAlgorithm[] = ['RFC9162_SHA512', 'RFC9162_SHA256'];

export interface Hasher {
  readonly algorithm: MerkleAlgorithm;
  /** Digest length in bytes (64 for SHA-512, 32 for SHA-256). */
  readonly size: number;
  empty(): Buffer;
  leaf(data: Uint8Array): Buffer;
  /** The leaf hash of `prefixed.subarray(1)` when `prefixed[0]` is already 0x00 (saves a copy on the append path). */
  leafPrefixed(prefixed: Uint8Array): Buffer;
  node(left: Uint8Array, right: Uint8Array): Buffer;
}

export function hasher(algorithm: MerkleAlgorithm = 'RFC9162_SHA512'): Hasher {
  const name = algorithm === 'RFC9162_SHA256' ? 'sha256' : 'sha512';
  const size = name === 'sha256' ? 32 : 64;
  // Asked for a latin1 ('binary') string, Node 20's crypto.hash costs about half of asking it for a Buffer (proofs hash whole chunks).
  const digest = (data: Uint8Array): Buffer => Buffer.from(crypto.hash(name, data, 'binary'), 'latin1');
  // One scratch buffer per hasher: node hashing is the hot path of appends, so it does not allocate.
  const scratch = Buffer.alloc(1 + 2 * size);
  scratch[0] = 0x01;
  return {
    algorithm,
    size,
    empty: () => digest(Buffer.alloc(0)),
    leaf: (data) => {
      const buf = Buffer.allocUnsafe(data.length + 1);
      buf[0] = 0x00;
      buf.set(data, 1);
      return digest(buf);
    },
    leafPrefixed: (prefixed) => {
      if (prefixed[0] !== 0x00) throw new GlimmerError('GLM_ERR_INTERNAL', 'leaf buffer lacks its 0x00 prefix');
      return digest(prefixed);
    },
    node: (left, right) => {
      if (left.length !== size || right.length !== size) throw new GlimmerError('GLM_ERR_AUDIT_PROOF_INVALID', `a tree node hash must have ${size} bytes`);
      scratch.set(left, 1);
      scratch.set(right, 1 + size);
      return digest(scratch);
    },
  };
}

/** Largest power of two strictly smaller than n (n >= 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Source of perfect-subtree hashes: the hash of leaves [index << level, (index + 1) << level). */
export type SubtreeSource = (level: number, index: number) => Buffer;

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

function log2(n: number): number {
  return 31 - Math.clz32(n);
}

/**
 * MTH(D[start:end]) for a range whose start is aligned to the largest power of two below its length (every range the
 * RFC's recursive definitions visit is), built from perfect subtrees.
 */
export function rangeHash(h: Hasher, source: SubtreeSource, start: number, end: number): Buffer {
  const n = end - start;
  if (n === 0) return h.empty();
  if (isPowerOfTwo(n) && start % n === 0) {
    const level = log2(n);
    return source(level, start / n);
  }
  const k = splitPoint(n);
  return h.node(rangeHash(h, source, start, start + k), rangeHash(h, source, start + k, end));
}

/** RFC 9162 §2.1.3.1 PATH(m, D[0:n]) as a list of hashes, leaf side first. */
export function inclusionPath(h: Hasher, source: SubtreeSource, index: number, size: number): Buffer[] {
  const out: Buffer[] = [];
  const walk = (m: number, start: number, n: number): void => {
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      walk(m, start, k);
      out.push(rangeHash(h, source, start + k, start + n));
    } else {
      walk(m - k, start + k, n - k);
      out.push(rangeHash(h, source, start, start + k));
    }
  };
  walk(index, 0, size);
  return out;
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[0:n]). */
export function consistencyPath(h: Hasher, source: SubtreeSource, first: number, second: number): Buffer[] {
  const out: Buffer[] = [];
  if (first === 0 || first === second) return out;
  const sub = (m: number, start: number, n: number, b: boolean): void => {
    if (m === n) {
      if (!b) out.push(rangeHash(h, source, start, start + n));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, start, k, b);
      out.push(rangeHash(h, source, start + k, start + n));
    } else {
      sub(m - k, start + k, n - k, false);
      out.push(rangeHash(h, source, start, start + k));
    }
  };
  sub(first, 0, second, true);
  return out;
}

function fail(message: string): never {
  throw new GlimmerError('GLM_ERR_AUDIT_PROOF_INVALID', message);
}

/** The verifiers' "right-shift both fn and sn equally until either LSB(fn) is set or fn is 0". */
function shiftWhileEven(fn: number, sn: number): [number, number] {
  while (fn % 2 === 0 && fn !== 0) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return [fn, sn];
}

/** RFC 9162 §2.1.3.2: computes the root an inclusion proof implies; throws GLM_ERR_AUDIT_PROOF_INVALID when malformed. */
export function rootFromInclusionProof(h: Hasher, index: number, size: number, leafHash: Uint8Array, path: readonly Uint8Array[]): Buffer {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    fail(`inclusion proof index ${index} is not below tree size ${size}`);
  }
  if (leafHash.length !== h.size) fail(`leaf hash has ${leafHash.length} bytes, expected ${h.size}`);
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of path) {
    if (p.length !== h.size) fail(`inclusion proof hash has ${p.length} bytes, expected ${h.size}`);
    if (sn === 0) fail('inclusion proof is longer than the tree is deep');
    if (fn % 2 === 1 || fn === sn) {
      r = h.node(p, r);
      [fn, sn] = shiftWhileEven(fn, sn);
    } else {
      r = h.node(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) fail('inclusion proof is shorter than the tree is deep');
  return r;
}

export function verifyInclusion(h: Hasher, index: number, size: number, leafHash: Uint8Array, path: readonly Uint8Array[], root: Uint8Array): boolean {
  try {
    return crypto.timingSafeEqual(rootFromInclusionProof(h, index, size, leafHash, path), Buffer.from(root));
  } catch {
    return false;
  }
}

/** RFC 9162 §2.1.4.2. Returns true when `path` proves the tree of size `second` extends the tree of size `first`. */
export function verifyConsistency(
  h: Hasher,
  first: number,
  second: number,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
  path: readonly Uint8Array[],
): boolean {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || second < first) return false;
  if (path.some((p) => p.length !== h.size) || firstRoot.length !== h.size || secondRoot.length !== h.size) return false;
  const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && crypto.timingSafeEqual(a, b);
  if (first === second) return path.length === 0 && eq(firstRoot, secondRoot);
  if (first === 0) return path.length === 0;
  if (path.length === 0) return false;
  const proof = isPowerOfTwo(first) ? [firstRoot, ...path] : [...path];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(proof[0] as Uint8Array);
  let sr: Buffer = Buffer.from(proof[0] as Uint8Array);
  for (const c of proof.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = h.node(c, fr);
      sr = h.node(c, sr);
      [fn, sn] = shiftWhileEven(fn, sn);
    } else {
      sr = h.node(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && eq(fr, firstRoot) && eq(sr, secondRoot);
}

/**
 * A streaming root calculator: O(log n) memory, one leaf hash at a time. Used by the offline verifier, which
 * recomputes every root from the stored leaves.
 */
export class CompactRange {
  private readonly stack: { level: number; hash: Buffer }[] = [];
  private count = 0;

  constructor(private readonly h: Hasher) {}

  get size(): number {
    return this.count;
  }

  push(leafHash: Buffer): void {
    let node = { level: 0, hash: leafHash };
    let top = this.stack[this.stack.length - 1];
    while (top && top.level === node.level) {
      this.stack.pop();
      node = { level: node.level + 1, hash: this.h.node(top.hash, node.hash) };
      top = this.stack[this.stack.length - 1];
    }
    this.stack.push(node);
    this.count += 1;
  }

  root(): Buffer {
    if (this.stack.length === 0) return this.h.empty();
    let acc = (this.stack[this.stack.length - 1] as { hash: Buffer }).hash;
    for (let i = this.stack.length - 2; i >= 0; i--) acc = this.h.node((this.stack[i] as { hash: Buffer }).hash, acc);
    return acc;
  }
}

/** Root of a list of leaves (for tests and small trees). */
export function rootOf(h: Hasher, leaves: readonly Uint8Array[]): Buffer {
  const range = new CompactRange(h);
  for (const leaf of leaves) range.push(h.leaf(leaf));
  return range.root();
}

/** Perfect-subtree source over an in-memory list of leaf hashes (for tests, the verifier and small trees). */
export function memorySource(h: Hasher, leafHashes: readonly Buffer[]): SubtreeSource {
  const cache = new Map<string, Buffer>();
  const get = (level: number, index: number): Buffer => {
    if (level === 0) {
      const leaf = leafHashes[index];
      if (!leaf) throw new GlimmerError('GLM_ERR_AUDIT_RANGE_INVALID', `leaf ${index} does not exist`);
      return leaf;
    }
    const key = `${level}:${index}`;
    let hit = cache.get(key);
    if (!hit) {
      hit = h.node(get(level - 1, index * 2), get(level - 1, index * 2 + 1));
      cache.set(key, hit);
    }
    return hit;
  };
  return get;
}
