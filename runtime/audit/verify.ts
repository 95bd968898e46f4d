/**
 * Offline verification of an audit log (`glimmer audit verify`), from a state directory or over the HTTP API (the
 * Object Lock archive has its own verifier, verify-bucket.ts).
 * Every stored leaf is re-read and re-hashed, every checkpoint signature checked, every checkpoint root recomputed,
 * consistency proofs between successive checkpoints and inclusion proofs for sample leaves generated and verified,
 * and sealed segment files compared with the store. Any difference is a finding; the caller exits 1 on findings.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { GlimmerError, isGlimmerError, quote } from '../errors';
import { canonicalJson } from './canonical';
import { auditDbPath, auditDir } from './log';
import { CompactRange, type Hasher, type MerkleAlgorithm, MERKLE_ALGORITHMS, hasher, verifyConsistency, verifyInclusion } from './merkle';
import type { Checkpoint } from './checkpoint-body';
import { type VerifierKey, openCheckpoint, parseVerifierKey } from './note';
import { CHUNK, LogTree } from './tree';

export interface VerifyOptions {
  /** Pinned verifier keys (`name+id+key`). @default - the keys the log itself recorded (trust on first use) */
  readonly trustedKeys?: readonly string[];
  /** A checkpoint (signed note) the auditor kept from an earlier audit: the log must still extend it. */
  readonly since?: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly algorithm?: MerkleAlgorithm;
  readonly size: number;
  readonly checkpoints: number;
  readonly segments: number;
  readonly proofsChecked: number;
  readonly findings: readonly string[];
}

function describe(err: unknown): string {
  return isGlimmerError(err) ? `${err.code}: ${err.message}` : String(err);
}

/** Checks that a leaf is canonical JSON carrying its own index. */
export function checkLeaf(leaf: Buffer, index: number): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(leaf.toString('utf8'));
  } catch {
    return `entry ${index}: leaf is not valid JSON`;
  }
  const p = parsed as { index?: unknown };
  if (typeof parsed !== 'object' || parsed === null || p.index !== index) return `entry ${index}: leaf carries index ${quote(p?.index)}`;
  try {
    if (canonicalJson(parsed) !== leaf.toString('utf8')) return `entry ${index}: leaf is not in canonical form`;
  } catch (err) {
    return `entry ${index}: ${describe(err)}`;
  }
  return undefined;
}

/** Indices whose inclusion proofs get checked: the ends, powers of two, and a spread. */
function sampleIndices(size: number, count = 24): number[] {
  const out = new Set<number>();
  if (size === 0) return [];
  out.add(0);
  out.add(size - 1);
  for (let p = 1; p < size; p *= 2) out.add(p);
  for (let i = 1; i < count; i++) out.add(Math.floor((i * size) / count));
  return [...out].sort((a, b) => a - b);
}

interface Verified {
  readonly size: number;
  readonly cp: Checkpoint;
}

export class Findings {
  readonly list: string[] = [];
  proofs = 0;
  add(message: string): void {
    if (this.list.length < 1000) this.list.push(message);
  }
}

export async function openNote(note: string, keys: readonly VerifierKey[], h: Hasher, what: string, findings: Findings): Promise<Checkpoint | undefined> {
  try {
    return await openCheckpoint(note, keys, h.size);
  } catch (err) {
    findings.add(`${what}: ${describe(err)}`);
    return undefined;
  }
}

/** Verifies the log in `<stateDir>/audit/` without the runtime (it may run meanwhile: WAL readers do not block it). */
export async function verifyStateDir(stateDir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const file = auditDbPath(stateDir);
  if (!fs.existsSync(file)) throw new GlimmerError('GLM_ERR_USAGE', `no audit log at ${quote(file)}`);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  const findings = new Findings();
  try {
    const meta = (key: string) => db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(key) as string | undefined;
    const algorithm = meta('algorithm') as MerkleAlgorithm | undefined;
    if (!algorithm || !MERKLE_ALGORITHMS.includes(algorithm)) throw new GlimmerError('GLM_ERR_AUDIT_VERIFY_FAILED', `audit log has unknown algorithm ${quote(algorithm)}`);
    const origin = meta('origin') ?? '';
    const h = hasher(algorithm);
    const keys = (options.trustedKeys ?? (db.prepare('SELECT vkey FROM keys').pluck().all() as string[])).map(parseVerifierKey);
    if (keys.length === 0) findings.add('no verifier keys: nothing can vouch for the checkpoints');

    // 1. Checkpoints: parse and check signatures first.
    const rows = db.prepare('SELECT size, note FROM checkpoints ORDER BY size').all() as { size: number; note: string }[];
    const checkpoints: Verified[] = [];
    for (const row of rows) {
      const cp = await openNote(row.note, keys, h, `checkpoint ${row.size}`, findings);
      if (!cp) continue;
      if (cp.size !== row.size) findings.add(`checkpoint stored under size ${row.size} says size ${cp.size}`);
      if (cp.origin !== origin) findings.add(`checkpoint ${row.size} has origin ${quote(cp.origin)}, the log is ${quote(origin)}`);
      checkpoints.push({ size: cp.size, cp });
    }
    let since: Checkpoint | undefined;
    if (options.since !== undefined) {
      since = await openNote(options.since, keys, h, 'the --since checkpoint', findings);
      if (since) checkpoints.push({ size: since.size, cp: since });
    }
    checkpoints.sort((a, b) => a.size - b.size);

    // 2. Every leaf: contiguous, canonical, re-hashed; roots recomputed at every checkpoint size.
    const range = new CompactRange(h);
    const chunkLeaves = db.prepare('SELECT leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx').raw(true);
    const tree = new LogTree(h, (c) => (chunkLeaves.all(c * CHUNK, c * CHUNK + CHUNK) as [Buffer][]).map(([leaf]) => h.leaf(leaf)));
    const leafHash = (i: number) => tree.source(0, i);
    let next = 0;
    let cpi = 0;
    const rootAt = new Map<number, Buffer>([[0, h.empty()]]);
    const wanted = new Set(checkpoints.map((c) => c.size));
    for (const [idx, leaf] of db.prepare('SELECT idx, leaf FROM entries ORDER BY idx').raw(true).iterate() as IterableIterator<[number, Buffer]>) {
      if (idx !== next) {
        findings.add(`entries ${next}..${idx - 1} are missing`);
        break;
      }
      const problem = checkLeaf(leaf, idx);
      if (problem) findings.add(problem);
      const lh = h.leaf(leaf);
      range.push(lh);
      tree.append(lh);
      next += 1;
      if (wanted.has(next)) rootAt.set(next, range.root());
    }
    const size = next;
    for (; cpi < checkpoints.length; cpi++) {
      const { cp } = checkpoints[cpi] as Verified;
      const root = rootAt.get(cp.size);
      if (cp.size > size) findings.add(`checkpoint ${cp.size} covers ${cp.size} entries but only ${size} are stored (truncated)`);
      else if (!root || !root.equals(cp.root)) findings.add(`checkpoint ${cp.size}: the recomputed root differs from the signed root`);
    }

    // 3. Proofs between successive checkpoints and for sample leaves, from the same tree code the API serves.
    const good = checkpoints.filter((c) => c.size <= size && rootAt.get(c.size)?.equals(c.cp.root));
    for (let i = 1; i < good.length; i++) {
      const a = good[i - 1] as Verified;
      const b = good[i] as Verified;
      findings.proofs += 1;
      if (!verifyConsistency(h, a.size, b.size, a.cp.root, b.cp.root, tree.consistencyProof(a.size, b.size))) {
        findings.add(`consistency proof ${a.size} -> ${b.size} does not verify`);
      }
    }
    const last = good[good.length - 1];
    if (last) {
      for (const i of sampleIndices(last.size)) {
        findings.proofs += 1;
        if (!verifyInclusion(h, i, last.size, leafHash(i), tree.inclusionProof(i, last.size), last.cp.root)) {
          findings.add(`inclusion proof of entry ${i} in checkpoint ${last.size} does not verify`);
        }
      }
    }

    // 4. Segments: contiguous, sealed with a verified final checkpoint, exported files equal to the store.
    const segments = db.prepare('SELECT id, start_idx AS start, end_idx AS end, checkpoint FROM segments ORDER BY id').all() as {
      id: number;
      start: number;
      end: number | null;
      checkpoint: string | null;
    }[];
    let expectStart = 0;
    for (const seg of segments) {
      if (seg.start !== expectStart) findings.add(`segment ${seg.id} starts at ${seg.start}, expected ${expectStart}`);
      if (seg.end === null) continue;
      expectStart = seg.end;
      const base = path.join(auditDir(stateDir), 'segments', String(seg.id).padStart(6, '0'));
      const cp = seg.checkpoint ? await openNote(seg.checkpoint, keys, h, `segment ${seg.id} final checkpoint`, findings) : undefined;
      if (!seg.checkpoint) findings.add(`segment ${seg.id} is closed without a final checkpoint`);
      if (cp && (cp.size !== seg.end || !rootAt.get(cp.size)?.equals(cp.root))) {
        if (cp.size > size || !wanted.has(cp.size)) findings.add(`segment ${seg.id} final checkpoint (size ${cp.size}) is not among the log's checkpoints or exceeds the store`);
        else findings.add(`segment ${seg.id} final checkpoint does not match the recomputed root at ${seg.end}`);
      }
      verifySegmentFiles(base, seg, seg.end <= size ? leafHash : undefined, h, findings);
    }
    return {
      ok: findings.list.length === 0,
      algorithm,
      size,
      checkpoints: rows.length,
      segments: segments.length,
      proofsChecked: findings.proofs,
      findings: findings.list,
    };
  } finally {
    db.close();
  }
}

/** Bytes read at a time from an exported segment: segments of any size stream (never one Buffer or string). */
const SEGMENT_READ_BYTES = 8 * 1024 * 1024;

/**
 * Compares a sealed segment's exported files with the store: one leaf per line, each equal to the stored entry when
 * `leafHash` is given, the line count equal to the segment's, a final newline, and the checkpoint file equal to the
 * segment's checkpoint. The files are untrusted input read `readBytes` at a time.
 */
export function verifySegmentFiles(
  base: string,
  seg: { id: number; start: number; end: number | null; checkpoint: string | null },
  leafHash: ((i: number) => Buffer) | undefined,
  h: Hasher,
  findings: Findings,
  readBytes = SEGMENT_READ_BYTES,
): void {
  let fd: number;
  try {
    fd = fs.openSync(`${base}.leaves`, 'r');
  } catch {
    findings.add(`segment ${seg.id}: exported file ${path.basename(base)}.leaves is missing`);
    return;
  }
  const expected = (seg.end as number) - seg.start;
  let lines = 0;
  // An empty file ends with a newline as far as framing goes; its line count (0) is what can be wrong.
  let endsWithNewline = true;
  try {
    const buf = Buffer.allocUnsafe(readBytes);
    // A line cut by a read boundary: its parts so far.
    let carry: Buffer[] = [];
    const line = (bytes: Buffer) => {
      if (leafHash && lines < expected && !h.leaf(bytes).equals(leafHash(seg.start + lines))) findings.add(`segment ${seg.id}: exported entry ${seg.start + lines} differs from the store`);
      lines += 1;
    };
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      let from = 0;
      for (let nl = buf.indexOf(0x0a, 0); nl !== -1 && nl < n; nl = buf.indexOf(0x0a, from)) {
        const part = buf.subarray(from, nl);
        line(carry.length === 0 ? part : Buffer.concat([...carry, part]));
        carry = [];
        from = nl + 1;
      }
      if (from < n) carry.push(Buffer.from(buf.subarray(from, n)));
      endsWithNewline = buf[n - 1] === 0x0a;
    }
    if (carry.length > 0) line(Buffer.concat(carry));
  } finally {
    fs.closeSync(fd);
  }
  if (lines !== expected || !endsWithNewline) {
    findings.add(`segment ${seg.id}: exported file holds ${lines} entries, the segment has ${expected} (truncated or extended)`);
  }
  try {
    if (fs.readFileSync(`${base}.checkpoint`, 'utf8') !== seg.checkpoint) findings.add(`segment ${seg.id}: exported checkpoint differs from the store`);
  } catch {
    findings.add(`segment ${seg.id}: exported file ${path.basename(base)}.checkpoint is missing`);
  }
}

/** Verifies a running log through its HTTP API (the docs/audit.md routes plus /v1/audit/keys). */
export async function verifyRemote(baseUrl: string, token: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const findings = new Findings();
  const get = async (p: string): Promise<unknown> => {
    const res = await fetch(new URL(p, baseUrl), { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    if (!res.ok) throw new GlimmerError('GLM_ERR_AUDIT_VERIFY_FAILED', `GET ${p} answered ${res.status}: ${text.slice(0, 200)}`);
    return p === '/v1/audit/checkpoint' ? text : (JSON.parse(text) as unknown);
  };
  const config = (await get('/v1/audit/config')) as { cryptographic_sealing?: { algorithm?: MerkleAlgorithm } };
  const algorithm = config.cryptographic_sealing?.algorithm;
  if (!algorithm || !MERKLE_ALGORITHMS.includes(algorithm)) throw new GlimmerError('GLM_ERR_AUDIT_VERIFY_FAILED', `server reports unknown algorithm ${quote(algorithm)}`);
  const h = hasher(algorithm);
  const keys = (options.trustedKeys ?? ((await get('/v1/audit/keys')) as { keys: string[] }).keys).map(parseVerifierKey);
  const note = (await get('/v1/audit/checkpoint')) as string;
  const cp = await openNote(note, keys, h, 'latest checkpoint', findings);
  if (!cp) return { ok: false, algorithm, size: 0, checkpoints: 1, segments: 0, proofsChecked: 0, findings: findings.list };
  const since = options.since === undefined ? undefined : await openNote(options.since, keys, h, 'the --since checkpoint', findings);

  const range = new CompactRange(h);
  const leafHashes: Buffer[] = [];
  const firsts = new Set<number>();
  for (let p = 1; p < cp.size; p *= 2) firsts.add(p);
  if (since && since.size <= cp.size) firsts.add(since.size);
  const rootAt = new Map<number, Buffer>();
  while (leafHashes.length < cp.size) {
    const start = leafHashes.length;
    const page = (await get(`/v1/audit/entries?start=${start}&end=${cp.size - 1}`)) as { index: number; leaf: string }[];
    if (!Array.isArray(page) || page.length === 0) {
      findings.add(`entries from ${start} are missing`);
      break;
    }
    for (const e of page) {
      if (e.index !== leafHashes.length) {
        findings.add(`entry ${leafHashes.length}: server sent index ${quote(e.index)}`);
        break;
      }
      const leaf = Buffer.from(e.leaf, 'base64');
      const problem = checkLeaf(leaf, e.index);
      if (problem) findings.add(problem);
      const lh = h.leaf(leaf);
      leafHashes.push(lh);
      range.push(lh);
      if (firsts.has(leafHashes.length)) rootAt.set(leafHashes.length, range.root());
      if (leafHashes.length >= cp.size) break;
    }
    // No progress (the page's first entry was refused): asking again would get the same page.
    if (leafHashes.length === start) break;
  }
  if (leafHashes.length === cp.size && !range.root().equals(cp.root)) findings.add(`the recomputed root of ${cp.size} entries differs from the signed checkpoint`);
  if (since) {
    if (since.size > cp.size) findings.add(`the log shrank: the --since checkpoint covers ${since.size} entries, the latest ${cp.size}`);
    else if (rootAt.get(since.size)?.equals(since.root) === false) findings.add(`the --since checkpoint's root differs from the log's first ${since.size} entries`);
  }
  for (const first of firsts) {
    const proof = (await get(`/v1/audit/proof/consistency?first=${first}&second=${cp.size}`)) as { hashes: string[] };
    findings.proofs += 1;
    const firstRoot = first === since?.size ? since.root : rootAt.get(first);
    if (!firstRoot || !verifyConsistency(h, first, cp.size, firstRoot, cp.root, proof.hashes.map((x) => Buffer.from(x, 'hex')))) {
      findings.add(`consistency proof ${first} -> ${cp.size} does not verify`);
    }
  }
  for (const i of sampleIndices(Math.min(cp.size, leafHashes.length))) {
    const proof = (await get(`/v1/audit/proof/inclusion?index=${i}&size=${cp.size}`)) as { hashes: string[] };
    findings.proofs += 1;
    if (!verifyInclusion(h, i, cp.size, leafHashes[i] as Buffer, proof.hashes.map((x) => Buffer.from(x, 'hex')), cp.root)) {
      findings.add(`inclusion proof of entry ${i} does not verify`);
    }
  }
  return { ok: findings.list.length === 0, algorithm, size: cp.size, checkpoints: 1, segments: 0, proofsChecked: findings.proofs, findings: findings.list };
}
