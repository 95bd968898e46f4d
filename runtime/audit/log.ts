/**
 * The append-only audit log: RFC 9162 Merkle tree over canonical JSON leaves, stored in SQLite (better-sqlite3 v12,
 * WAL, synchronous=FULL), with group commit (appends of one event-loop turn share one transaction and one fsync) and
 * C2SP signed checkpoints. Every write (leaf hashing, inserts, commit and fsync) runs in the writer thread
 * (writer.ts), never on the event loop; the event loop encodes leaves, keeps the tree current from the hashes the
 * writer returns, and reads (entries, proofs, segments) through a read-only connection.
 * Signing never blocks appends: when the KMS or HSM is unreachable, entries keep becoming durable, checkpoints wait
 * and catch up, and `glimmer_audit_checkpoint_age_seconds` shows how long entries wait.
 * Segments rotate every `rotation_interval` and end with a sealed final checkpoint.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { GlimmerError, isGlimmerError, quote } from '../errors';
import type { Logger } from '../observability/logger';
import { silentLogger } from '../observability/logger';
import { ByteWriter, canonicalJson, writeCanonicalJson } from './canonical';
import { type AuditConfig, DEFAULT_AUDIT_CONFIG, durationMs, mergeAuditConfig } from './config';
import { type MerkleAlgorithm, hasher } from './merkle';
import { type AuditMetrics, CheckpointSigning } from './checkpoints';
import type { CheckpointSigner } from './checkpoint-body';
import { type SegmentInfo, SegmentSealing } from './segments';
import { CHUNK, LogTree } from './tree';
import type { SegmentArchive } from './archive';
import { type AuditWriter, type CommittedBatch, openAuditWriter } from './writer';
import type { AuditRecordInput } from '../model/messages';


/** Whether the log can make entries durable right now (readiness, and the gateway's write decision). */
export interface AuditHealth {
  readonly committing: boolean;
  /** Why not (the storage error), while not committing. */
  readonly reason?: string;
  /** Free bytes on the log's file system at the last check, and whether that is below the low-disk watermark. */
  readonly diskFreeBytes?: number;
  readonly diskLow: boolean;
}

export interface AuditLogOptions {
  /** State directory; the log lives in `<stateDir>/audit/`. */
  readonly stateDir: string;
  /** Hash of a new log (an existing log keeps its own). @default 'RFC9162_SHA512' */
  readonly algorithm?: MerkleAlgorithm;
  /** Checkpoint signer. @default - the embedded default: a SoftHSM2 token under `<stateDir>/softhsm/`, else a key file */
  readonly signer?: CheckpointSigner;
  /** Extra signers whose signatures every checkpoint also carries (e.g. an ML-DSA-44 cosigner). @default [] */
  readonly cosigners?: readonly CheckpointSigner[];
  /** Checkpoint origin line of a new log. @default 'glimmer.local/audit' */
  readonly origin?: string;
  readonly logger?: Logger;
  readonly metrics?: AuditMetrics;
  /** How often pending entries get a new signed checkpoint, and rotation is checked. @default 1000 */
  readonly checkpointIntervalMs?: number;
  /** A signature that takes longer counts as a failure (retried next interval). @default 10000 */
  readonly signTimeoutMs?: number;
  /** Largest number of entries in one batch handed to the writer (batches queued behind a commit share the next one). @default 4096 */
  readonly maxBatch?: number;
  /**
   * Least time between two group commits (PostgreSQL's commit_delay): under a steady trickle of appends, e.g. one per
   * agent call, one fsync serves several entries instead of each entry taking the writer thread and the disk for its
   * own; the first append after a quiet spell commits at once. An append still resolves only after its fsync.
   * @default 10
   */
  readonly commitDelayMs?: number;
  /** How long a commit waits for a SQLite lock held by another connection before it fails. @default 5000 */
  readonly busyTimeoutMs?: number;
  /** Clock (ms since the epoch). @default Date.now */
  readonly now?: () => number;
  /**
   * Free space on the log's file system below which `glimmer_audit_disk_free_bytes` falls under the watermark gauge
   * (the AuditDiskLow alert), so operators act before a full disk stops the log. @default 256 MiB
   */
  readonly diskWatermarkBytes?: number;
  /**
   * After a failed commit the log refuses appends and retries this often (reopening its writer) once the file system
   * has room again: it recovers without a restart. @default 1000
   */
  readonly recoveryIntervalMs?: number;
  /** A segment whose leaves reach this many bytes is sealed at the next tick, whatever its age (bounded export files). @default 256 MiB */
  readonly maxSegmentBytes?: number;
  /**
   * close() seals the open segment only up to this many leaf bytes (its export is written during shutdown); a larger
   * one is left open under a final signed checkpoint, so shutdown stays within its grace period with any workload.
   * @default 32 MiB
   */
  readonly closeSealMaxBytes?: number;
  /**
   * Where sealed segments are also written (cluster mode: the Object Lock bucket). A segment is marked archived
   * (`<id>.archived`) once the archive holds it; failed uploads are retried every checkpoint interval and at start.
   * @default - none: sealed segments stay on the volume
   */
  readonly archive?: SegmentArchive;
}

export interface AuditEntry {
  readonly index: number;
  /** The exact leaf bytes. */
  readonly leaf: Buffer;
}

export interface AuditLog {
  readonly algorithm: MerkleAlgorithm;
  readonly origin: string;
  readonly dir: string;
  /**
   * Resolves once the entry is durable (committed and fsynced). `urgent`: something waits for this entry before it
   * acts (a write to the plant): its group commit skips the commit delay.
   */
  append(record: AuditRecordInput, options?: { urgent?: boolean }): Promise<{ index: number }>;
  /** Whether appends can become durable now (false from a failed commit until the log has recovered). */
  health(): AuditHealth;
  /** Durable entries. */
  size(): number;
  /** Signs (if needed) and returns a checkpoint covering every entry appended before the call. */
  checkpoint(): Promise<string>;
  /** The latest stored signed checkpoint (may lag behind size() while the signer is unavailable). */
  latestCheckpoint(): { size: number; note: string; createdAt: number } | undefined;
  /** Root hash of the tree of the given size (default: current size). */
  root(size?: number): Buffer;
  entries(start: number, endInclusive: number): AuditEntry[];
  inclusionProof(index: number, size: number): Buffer[];
  consistencyProof(first: number, second: number): Buffer[];
  leafHash(leaf: Uint8Array): Buffer;
  /** Verifier keys (`name+id+key`) of every signer that ever signed this log. */
  verifierKeys(): string[];
  segments(): SegmentInfo[];
  /** Seals the open segment now (normally done every rotation_interval). */
  rotate(): Promise<SegmentInfo | undefined>;
  getConfig(): AuditConfig;
  /** journal_mode and synchronous as the writer's own connection reports them (WAL and 2, FULL: every commit fsyncs). */
  durability(): Promise<{ readonly journalMode: string; readonly synchronous: number }>;
  /** Validated partial update; refuses switching immutable_logs off and changing the algorithm of a non-empty log. */
  setConfig(update: unknown): Promise<AuditConfig>;
  /** Flushes, writes and seals a final checkpoint, closes the store and the signers. */
  close(): Promise<void>;
}

/**
 * Appends of one group commit and their promises: leaf `first + i` is `bytes[starts[i] + 1, starts[i + 1])`, and the
 * byte before it is 0x00 (the RFC 9162 leaf hash prefix, so the writer hashes without a copy). The leaves are encoded
 * straight into `bytes`, which is handed (transferred, not copied) to the writer.
 */
interface Batch {
  readonly first: number;
  readonly bytes: ByteWriter;
  /** starts[0 .. count] (starts[count] = end of the last leaf). */
  readonly starts: Uint32Array;
  count: number;
  /** An entry of this batch is awaited before an action (commit without the commit delay). */
  urgent: boolean;
  /**
   * Only the resolve functions are kept (an in-flight append then holds a promise and one function): a failed batch
   * resolves them with a rejected promise, which rejects them.
   */
  readonly resolvers: ((v: { index: number } | PromiseLike<{ index: number }>) => void)[];
}

const MAX_LEAF_BYTES = 64 * 1024;
export const ROWS_PER_INSERT = 64;
export const PAGE_SIZE = 16384;
/**
 * Batches handed to the writer at once. Those that queue up while it commits share its next transaction, so the
 * group commit grows with the fsync latency (up to this many times maxBatch entries).
 */
const BATCHES_IN_FLIGHT = 4;
const MIN_BATCH_BYTES = 16 * 1024;
const MAX_PAGE = 1000;
/** Free space a recovery waits for before reopening the store (a few group commits and their WAL frames). */
const RECOVERY_MIN_FREE_BYTES = 4 * 1024 * 1024;
const SET_META = 'INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)';
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries(idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(idx INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS keys(vkey TEXT PRIMARY KEY, added_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS segments(id INTEGER PRIMARY KEY, start_idx INTEGER NOT NULL, opened_at INTEGER NOT NULL,
  end_idx INTEGER, sealed_at INTEGER, checkpoint TEXT);
CREATE TRIGGER IF NOT EXISTS entries_append_only_u BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_append_only_d BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
`;

/**
 * The leaf text: canonical JSON of `{"index": i, "record": {...}, "ts": "<ISO 8601>"}`. The envelope's keys are
 * already in canonical order, so only the record goes through the canonicaliser.
 */
export function leafText(index: number, record: AuditRecordInput, ts: string): string {
  return `{"index":${index},"record":${canonicalJson(record)},"ts":${JSON.stringify(ts)}}`;
}

/** Whether the leaf is no longer canonical JSON carrying its own index (a cheap check to name the exact tampered entry). */
function leafIsUnsound(leaf: Buffer, index: number): boolean {
  const text = leaf.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { index?: unknown };
    // JSON null passes the first test and throws at the second: unsound too.
    return canonicalJson(parsed) !== text || parsed.index !== index;
  } catch {
    return true;
  }
}

/** What the store reported: the writer wraps SQLite's and the thread's errors in GLM_ERR_AUDIT_STORAGE_FAILED. */
function storeError(err: unknown): string {
  return ((err as { cause?: Error }).cause ?? (err as Error)).message;
}

export function auditDir(stateDir: string): string {
  return path.join(stateDir, 'audit');
}

export function auditDbPath(stateDir: string): string {
  return path.join(auditDir(stateDir), 'log.db');
}

function integer(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new GlimmerError('GLM_ERR_AUDIT_RANGE_INVALID', `${name} must be a non-negative integer, received ${quote(value)}`);
  return value;
}

export async function openAuditLog(options: AuditLogOptions): Promise<AuditLog> {
  const log = options.logger ?? silentLogger();
  const now = options.now ?? Date.now;
  const dir = auditDir(options.stateDir);
  fs.mkdirSync(path.join(dir, 'segments'), { recursive: true, mode: 0o700 });
  let signer = options.signer;
  if (!signer) {
    const { embeddedSigner } = await import('./embedded');
    signer = await embeddedSigner({ stateDir: options.stateDir, logger: log });
  }
  const signers = [signer, ...(options.cosigners ?? [])];

  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const openWriter = () => openAuditWriter({ dbPath: auditDbPath(options.stateDir), schema: SCHEMA, busyTimeoutMs, rowsPerInsert: ROWS_PER_INSERT, pageSize: PAGE_SIZE, commitDelayMs: options.commitDelayMs ?? 10 });
  const writer = await openWriter();
  let db: Database.Database | undefined;
  try {
    // The writer created the store and set WAL mode; the event loop only ever reads.
    db = new Database(auditDbPath(options.stateDir), { readonly: true, timeout: busyTimeoutMs });
    return await AuditLogImpl.create(db, writer, openWriter, options, signers, log, now, dir);
  } catch (err) {
    db?.close();
    await writer.close().catch(() => undefined);
    throw err;
  }
}

class AuditLogImpl implements AuditLog {
  /** Group commits not yet handed to the writer, oldest first; appends join the last one until it is full. */
  private queued: Batch[] = [];
  /** The index the next append gets (past every queued and in-flight entry). */
  private nextIndex = 0;
  private batchesInFlight = 0;
  private batchBytesHint = MIN_BATCH_BYTES;
  /** Settles when the last group commit handed to the writer has been applied (or failed). */
  private lastCommit: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private failure: GlimmerError | undefined;
  /**
   * The outage under way: since when appends fail (ms), the first failure, and how many appends were refused. It
   * ends only when the audit.recovered record stating it commits: a store that reopens but still cannot commit
   * (a lock held for minutes) continues the same outage instead of starting a new one at every retry.
   */
  private outage: { readonly since: number; readonly error: string; refused: number } | undefined;
  private recoveryTimer: NodeJS.Timeout | undefined;
  /** The reopening under way (close() waits for it). */
  private recovery: Promise<void> | undefined;
  private diskFreeBytes: number | undefined;
  /** Leaf bytes in the open segment (size-based sealing; whether close() may seal). */
  private openSegmentBytes = 0;
  /** Set when close() begins, never cleared: from then on the log takes no appends or checkpoint requests. */
  private closingDone: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastFailureLog = 0;
  /** Checkpoint signing (checkpoints.ts) and segment sealing (segments.ts); this class keeps the group commits. */
  private readonly checkpoints: CheckpointSigning;
  private readonly sealer: SegmentSealing;
  private config: AuditConfig;
  private readonly tree: LogTree;
  private readonly leavesRange: Database.Statement;

  private constructor(
    private readonly db: Database.Database,
    private writer: AuditWriter,
    private readonly openWriter: () => Promise<AuditWriter>,
    private readonly options: AuditLogOptions,
    private readonly signers: readonly CheckpointSigner[],
    private readonly log: Logger,
    private readonly now: () => number,
    readonly dir: string,
    readonly algorithm: MerkleAlgorithm,
    readonly origin: string,
  ) {
    // Rows as [idx, leaf] arrays, for every user (segments.ts too).
    this.leavesRange = db.prepare('SELECT idx, leaf FROM entries WHERE idx >= ? AND idx <= ? ORDER BY idx').raw(true);
    const h = hasher(algorithm);
    const chunkLeaves = db.prepare('SELECT leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx').raw(true);
    this.tree = new LogTree(h, (chunk) => (chunkLeaves.all(chunk * CHUNK, chunk * CHUNK + CHUNK) as [Buffer][]).map(([leaf]) => h.leaf(leaf)));
    const stored = db.prepare("SELECT value FROM meta WHERE key = 'config'").pluck().get() as string | undefined;
    this.config = stored ? (JSON.parse(stored) as AuditConfig) : { ...DEFAULT_AUDIT_CONFIG, cryptographic_sealing: { ...DEFAULT_AUDIT_CONFIG.cryptographic_sealing, algorithm } };
    const writerNow = () => this.writer;
    this.checkpoints = new CheckpointSigning({ db, writer: writerNow, tree: this.tree, signers, origin, dir, log, now, metrics: options.metrics, signTimeoutMs: options.signTimeoutMs });
    this.sealer = new SegmentSealing({
      db, writer: writerNow, tree: this.tree, leavesRange: this.leavesRange, checkpoints: this.checkpoints, settle: () => this.settle(),
      config: () => this.config, dir, log, now, metrics: options.metrics, exportPage: MAX_PAGE * 10,
      // Entries committed after the sealed end already belong to the new segment.
      onSealed: (end) => {
        this.openSegmentBytes = db.prepare('SELECT COALESCE(SUM(LENGTH(leaf)), 0) FROM entries WHERE idx >= ?').pluck().get(end) as number;
      },
      ...(options.archive ? { archive: { to: options.archive, log: () => ({ algorithm, origin, keys: this.checkpoints.verifierKeys() }) } } : {}),
    });
  }

  static async create(
    db: Database.Database,
    writer: AuditWriter,
    openWriter: () => Promise<AuditWriter>,
    options: AuditLogOptions,
    signers: readonly CheckpointSigner[],
    log: Logger,
    now: () => number,
    dir: string,
  ): Promise<AuditLogImpl> {
    const meta = (key: string) => db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(key) as string | undefined;
    const counts = db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) AS n, COUNT(*) AS c FROM entries').get() as { n: number; c: number };
    if (counts.n !== counts.c) {
      throw new GlimmerError('GLM_ERR_AUDIT_STATE_CORRUPT', `audit store holds ${counts.c} entries but its highest index is ${counts.n - 1}`);
    }
    let algorithm = meta('algorithm') as MerkleAlgorithm | undefined;
    if (algorithm && options.algorithm && options.algorithm !== algorithm) {
      if (counts.n > 0) {
        throw new GlimmerError('GLM_ERR_AUDIT_ALGORITHM_LOCKED', `the audit log in ${quote(dir)} uses ${algorithm} and holds entries; it cannot switch to ${options.algorithm}`);
      }
      algorithm = options.algorithm;
    }
    algorithm ??= options.algorithm ?? 'RFC9162_SHA512';
    const origin = meta('origin') ?? options.origin ?? 'glimmer.local/audit';
    await writer.run([
      [SET_META, ['algorithm', algorithm]],
      [SET_META, ['origin', origin]],
    ]);

    const self = new AuditLogImpl(db, writer, openWriter, options, signers, log, now, dir, algorithm, origin);
    await self.recover(counts.n);
    return self;
  }

  private async recover(n: number): Promise<void> {
    this.verifyStore(n);
    await this.checkpoints.restore(n);
    await this.sealer.restore();
    this.nextIndex = this.tree.size;
    await this.writer.start(this.algorithm, this.tree.size, this.tree.tailHashes());
    this.checkDisk();
    this.checkpoints.updateGauges();
    const interval = this.options.checkpointIntervalMs ?? 1000;
    this.timer = setInterval(() => void this.tick(), interval);
    this.timer.unref();
  }

  /**
   * Recomputes the whole tree from the stored leaves, chunk by chunk, and compares every stored chunk hash: a leaf
   * changed inside a completed chunk is found here, not trusted. Throws GLM_ERR_AUDIT_STATE_CORRUPT naming the first
   * bad index (the exact entry when the leaf no longer carries its index in canonical form, else its chunk's first).
   */
  private verifyStore(n: number): void {
    const h = this.tree.h;
    const stored = new Map(this.db.prepare('SELECT idx, hash FROM chunks').raw(true).all() as [number, Buffer][]);
    let bad = -1;
    // The open segment starts where the last sealed one ends (segments.ts opens it there).
    const openStart = this.db.prepare('SELECT COALESCE(MAX(end_idx), 0) FROM segments').pluck().get() as number;
    for (const [idx, leaf] of this.db.prepare('SELECT idx, leaf FROM entries WHERE idx < ? ORDER BY idx').raw(true).iterate(n) as IterableIterator<[number, Buffer]>) {
      if (idx >= openStart) this.openSegmentBytes += leaf.length;
      const chunkHash = this.tree.append(h.leaf(leaf));
      if (chunkHash === undefined) continue;
      const c = Math.floor(idx / CHUNK);
      const expected = stored.get(c);
      // A missing chunk row is derived data lost (a crash between tables cannot happen: one transaction), a differing one is tampering.
      if (expected !== undefined && !expected.equals(chunkHash)) {
        bad = c;
        break;
      }
    }
    if (bad < 0) return;
    let first = bad * CHUNK;
    for (const [idx, leaf] of this.leavesRange.all(bad * CHUNK, bad * CHUNK + CHUNK - 1) as [number, Buffer][]) {
      if (leafIsUnsound(leaf, idx)) {
        first = idx;
        break;
      }
    }
    throw new GlimmerError('GLM_ERR_AUDIT_STATE_CORRUPT', `audit entry ${first} does not match the stored hash of entries ${bad * CHUNK}..${bad * CHUNK + CHUNK - 1}: the store was modified; refusing to start on it`);
  }

  /** The last leaf timestamp, formatted once per millisecond of the clock. */
  private stamp: { readonly ms: number; readonly iso: string; readonly suffix: string } | undefined;

  private timestamp(): { readonly iso: string; readonly suffix: string } {
    const ms = this.now();
    if (this.stamp?.ms !== ms) {
      const iso = new Date(ms).toISOString();
      // The end of a leaf as leafText writes it: the timestamp member and the closing brace.
      this.stamp = { ms, iso, suffix: `,"ts":${JSON.stringify(iso)}}` };
    }
    return this.stamp;
  }

  leafHash(leaf: Uint8Array): Buffer {
    return this.tree.h.leaf(leaf);
  }

  size(): number {
    return this.tree.size;
  }

  append(record: AuditRecordInput, options?: { urgent?: boolean }): Promise<{ index: number }> {
    if (this.failure) {
      (this.outage as { refused: number }).refused += 1;
      return Promise.reject(this.failure);
    }
    if (this.closing) return Promise.reject(new GlimmerError('GLM_ERR_AUDIT_CLOSED', 'the audit log is closed'));
    if (typeof record !== 'object' || record === null || Array.isArray(record) || typeof record.type !== 'string' || record.type.length === 0 || record.type.length > 128) {
      return Promise.reject(new GlimmerError('GLM_ERR_AUDIT_RECORD_INVALID', 'audit record field $.type must be a non-empty string of at most 128 characters'));
    }
    // Indexes are handed out here, not derived from the tree: queued and in-flight commits are not in the tree yet.
    const index = this.nextIndex;
    const maxBatch = this.options.maxBatch ?? 4096;
    let batch = this.queued[this.queued.length - 1];
    if (!batch || batch.count >= maxBatch) {
      batch = { first: index, bytes: new ByteWriter(this.batchBytesHint), starts: new Uint32Array(maxBatch + 1), count: 0, urgent: false, resolvers: [] };
      this.queued.push(batch);
    }
    const w = batch.bytes;
    const start = w.pos;
    // The leaf is encoded straight into the batch, after its 0x00 prefix; a record the encoder declines, or a leaf
    // over the limit, is taken back out and refused.
    w.byte(0x00);
    w.ascii('{"index":');
    w.decimal(index);
    w.ascii(',"record":');
    if (!writeCanonicalJson(record, w, MAX_LEAF_BYTES)) return this.refuse(w, start, index, record);
    w.ascii(this.timestamp().suffix);
    if (w.pos - start - 1 > MAX_LEAF_BYTES) return this.refuse(w, start, index, record);
    this.nextIndex = index + 1;
    batch.count += 1;
    if (options?.urgent) batch.urgent = true;
    batch.starts[batch.count] = w.pos;
    const b = batch;
    return new Promise((resolve) => {
      b.resolvers.push(resolve);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Why a record the fast encoder declined cannot be a leaf: the string form names what JSON cannot hold, or the leaf
   * is over the limit (the fast encoder declines a string only when it alone is over the limit).
   */
  private refuse(w: ByteWriter, start: number, index: number, record: AuditRecordInput): Promise<never> {
    // The partial leaf is taken back out of the batch.
    w.pos = start;
    try {
      const bytes = Buffer.byteLength(leafText(index, record, this.timestamp().iso));
      return Promise.reject(new GlimmerError('GLM_ERR_AUDIT_RECORD_INVALID', `audit record of type ${quote(record.type)} is ${bytes} bytes, the limit is ${MAX_LEAF_BYTES}`));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Hands queued group commits to the writer, at most BATCHES_IN_FLIGHT at a time (appends arriving meanwhile join
   * the next, larger commit). Commits are applied to the tree and acknowledged strictly in order.
   */
  private flush(): void {
    this.flushScheduled = false;
    while (this.queued.length > 0 && this.batchesInFlight < BATCHES_IN_FLIGHT) {
      const head = this.queued[0] as Batch;
      // A small batch still filling waits for the commit in flight (applyCommit flushes it): a trickle then takes one
      // hand-off per commit instead of one per record, each with its own transferred buffers (about 32 KiB). Nothing
      // is queued while the log has failed: failClosed empties the queue and append refuses.
      if (this.batchesInFlight > 0 && this.queued.length === 1 && head.bytes.pos < MIN_BATCH_BYTES) break;
      const batch = this.queued.shift() as Batch;
      // A batch whose only record was refused.
      if (batch.count === 0) continue;
      this.batchesInFlight += 1;
      // The next batch starts with room for about as many bytes as this one holds.
      this.batchBytesHint = Math.max(MIN_BATCH_BYTES, Math.ceil(batch.bytes.pos * 1.25));
      const committed = this.writer.append(batch.first, batch.count, batch.bytes.buf, batch.starts, batch.urgent);
      this.lastCommit = committed.then(
        (result) => this.applyCommit(batch, result),
        (err: unknown) => {
          this.batchesInFlight -= 1;
          this.failClosed(err, batch);
        },
      );
    }
  }

  /**
   * Waits until every append made before the call is committed (or the log failed); appends made meanwhile are not
   * waited for, so a checkpoint or a seal completes under sustained appends.
   */
  private async settle(): Promise<void> {
    const target = this.nextIndex;
    while (this.tree.size < target && !this.failure) {
      this.flush();
      await this.lastCommit;
    }
  }

  private rejectAll(batch: Batch, err: unknown): void {
    const rejected = Promise.reject(err);
    // Handled here so that no unhandled rejection is reported for it; every append adopting it rejects on its own.
    rejected.catch(() => undefined);
    for (const resolve of batch.resolvers) resolve(rejected);
  }

  private failClosed(err: unknown, batch: Batch): void {
    // Nothing of the failed commit reached the tree; the writer refuses every later commit, so no gap is ever stored.
    if (!this.failure) {
      this.failure = new GlimmerError('GLM_ERR_AUDIT_STORAGE_FAILED', `the audit store could not commit (${storeError(err)}); the log failed closed`, { cause: err });
      if (!this.outage) {
        this.outage = { since: this.now(), error: this.failure.message, refused: 0 };
        this.log.error({ err, code: this.failure.code }, 'audit commit failed; refusing further appends until the store can commit again');
        this.options.metrics?.auditCommitFailing.set(1);
      }
    }
    this.rejectAll(batch, this.failure);
    for (const queued of this.queued.splice(0)) this.rejectAll(queued, this.failure);
    this.scheduleRecovery();
  }

  health(): AuditHealth {
    const disk = { ...(this.diskFreeBytes === undefined ? {} : { diskFreeBytes: this.diskFreeBytes }), diskLow: this.diskFreeBytes !== undefined && this.diskFreeBytes < this.watermark() };
    if (this.failure) return { committing: false, reason: this.failure.message, ...disk };
    if (this.closing) return { committing: false, reason: 'the audit log is closed', ...disk };
    return { committing: true, ...disk };
  }

  private watermark(): number {
    return this.options.diskWatermarkBytes ?? 256 * 1024 * 1024;
  }

  /** Free bytes for this process on the log's file system (undefined where statfs is unavailable). */
  private checkDisk(): number | undefined {
    try {
      const st = fs.statfsSync(this.dir);
      this.diskFreeBytes = st.bavail * st.bsize;
    } catch {
      this.diskFreeBytes = undefined;
    }
    const m = this.options.metrics;
    if (m && this.diskFreeBytes !== undefined) {
      m.auditDiskFree.set(this.diskFreeBytes);
      m.auditDiskWatermark.set(this.watermark());
    }
    return this.diskFreeBytes;
  }

  private scheduleRecovery(): void {
    // A failure while closing schedules nothing: close() has cleared the timer and nothing reopens the store.
    if (this.closing) return;
    this.recoveryTimer ??= setInterval(() => this.tryRecover(), this.options.recoveryIntervalMs ?? 1000).unref();
  }

  /**
   * Leaves the failed state without a restart: once no commit is in flight and the file system has room, a fresh
   * writer thread is opened on the store at the tree's size (entries a failed writer committed without an answer
   * are read back into the tree first, so no index is ever reused) and an `audit.recovered` record states the outage.
   */
  private tryRecover(): void {
    if (this.recovery || !this.failure || this.batchesInFlight > 0) return;
    const free = this.checkDisk();
    // Free space that cannot be read does not hold the recovery back.
    if ((free ?? Number.POSITIVE_INFINITY) < RECOVERY_MIN_FREE_BYTES) return;
    this.recovery = this.reopen().finally(() => {
      this.recovery = undefined;
    });
  }

  private async reopen(): Promise<void> {
    let writer: AuditWriter | undefined;
    try {
      await this.writer.close().catch(() => undefined);
      writer = await this.openWriter();
      for (const [, leaf] of this.leavesRange.all(this.tree.size, Number.MAX_SAFE_INTEGER) as [number, Buffer][]) this.tree.append(this.tree.h.leaf(leaf));
      await writer.start(this.algorithm, this.tree.size, this.tree.tailHashes());
    } catch (err) {
      await writer?.close().catch(() => undefined);
      if (this.now() - this.lastFailureLog > 60000) {
        this.lastFailureLog = this.now();
        this.log.warn({ err: storeError(err) }, 'audit store still cannot be reopened; retrying');
      }
      return;
    }
    this.log.info({ size: this.tree.size }, 'audit store reopened; recording the outage');
    if (this.closing) {
      // The log stays failed and closes; the next start reads the store as it is.
      await writer.close();
      return;
    }
    this.writer = writer;
    this.nextIndex = this.tree.size;
    this.failure = undefined;
    clearInterval(this.recoveryTimer);
    this.recoveryTimer = undefined;
    // The outage ends when this record commits; if it fails too, the log fails closed again and the timer restarts.
    const outage = this.outage as { since: number; error: string; refused: number };
    const record = { type: 'audit.recovered', failed_at: new Date(outage.since).toISOString(), refused_appends: outage.refused, error: outage.error };
    this.append(record).then(() => {
      this.outage = undefined;
      this.options.metrics?.auditCommitFailing.set(0);
      this.log.warn({ refused: outage.refused, failed_ms: this.now() - outage.since }, 'audit store commits again; appends accepted');
    }, () => undefined);
  }

  /** A durable group commit: its leaf and chunk hashes join the tree, then its appends are acknowledged. */
  private applyCommit(batch: Batch, result: CommittedBatch): void {
    this.batchesInFlight -= 1;
    const n = batch.count;
    try {
      const size = this.tree.h.size;
      let nextChunk = 0;
      const takeChunk = () => result.chunkHashes[nextChunk++];
      for (let i = 0; i < n; i++) this.tree.appendPrecomputed(result.leafHashes.subarray(i * size, (i + 1) * size), takeChunk);
      if (nextChunk !== result.chunkHashes.length) throw new Error(`the writer returned ${result.chunkHashes.length} chunk hashes, the tree completed ${nextChunk}`);
    } catch (err) {
      // The store holds the batch but the tree cannot follow: refuse further appends; reopening recovers from the store.
      this.failClosed(err, batch);
      return;
    }
    const m = this.options.metrics;
    if (m) {
      if (result.commit) m.auditCommitDuration.observe(result.commit.seconds);
      m.auditAppends.inc(n);
      m.auditTreeSize.set(this.tree.size);
    }
    this.checkpoints.committed(this.tree.size);
    // Leaf bytes less each leaf's 0x00 prefix (the ByteWriter's position survives the transfer of its buffer).
    this.openSegmentBytes += batch.bytes.pos - n;
    for (let i = 0; i < n; i++) (batch.resolvers[i] as (v: { index: number }) => void)({ index: batch.first + i });
    this.flush();
  }

  latestCheckpoint() {
    return this.checkpoints.latestCheckpoint();
  }

  root(size = this.tree.size): Buffer {
    this.checkSize(size, 'size');
    return this.tree.root(size);
  }

  private checkSize(size: number, name: string): void {
    integer(size, name);
    if (size > this.tree.size) throw new GlimmerError('GLM_ERR_AUDIT_RANGE_INVALID', `${name} ${size} exceeds the tree size ${this.tree.size}`);
  }

  entries(start: number, endInclusive: number): AuditEntry[] {
    integer(start, 'start');
    integer(endInclusive, 'end');
    if (start >= this.tree.size) throw new GlimmerError('GLM_ERR_AUDIT_RANGE_INVALID', `start ${start} is not below the tree size ${this.tree.size}`);
    if (endInclusive < start) throw new GlimmerError('GLM_ERR_AUDIT_RANGE_INVALID', `end ${endInclusive} is before start ${start}`);
    const end = Math.min(endInclusive, this.tree.size - 1, start + MAX_PAGE - 1);
    return (this.leavesRange.all(start, end) as [number, Buffer][]).map(([index, leaf]) => ({ index, leaf }));
  }

  inclusionProof(index: number, size: number): Buffer[] {
    this.checkSize(size, 'size');
    integer(index, 'index');
    if (index >= size) throw new GlimmerError('GLM_ERR_AUDIT_RANGE_INVALID', `index ${index} is not below size ${size}`);
    return this.tree.inclusionProof(index, size);
  }

  consistencyProof(first: number, second: number): Buffer[] {
    this.checkSize(second, 'second');
    integer(first, 'first');
    if (first > second) throw new GlimmerError('GLM_ERR_AUDIT_RANGE_INVALID', `first ${first} exceeds second ${second}`);
    return this.tree.consistencyProof(first, second);
  }

  verifierKeys(): string[] {
    return this.checkpoints.verifierKeys();
  }

  async checkpoint(): Promise<string> {
    // While closing too: close() signs the final checkpoint itself, and a request would race the store's close.
    if (this.closing) throw new GlimmerError('GLM_ERR_AUDIT_CLOSED', 'the audit log is closed');
    await this.settle();
    if (this.failure) throw this.failure;
    return this.checkpoints.sign();
  }

  /** Runs until close() clears its timer (a tick already running finishes on its own). */
  private async tick(): Promise<void> {
    try {
      // Also while the log has failed: a checkpoint covers only committed entries, and a store that cannot take it refuses it.
      if (this.checkpoints.behind) await this.checkpoints.sign();
      const open = this.sealer.open();
      const rotateMs = durationMs(this.config.cryptographic_sealing.rotation_interval);
      const full = this.openSegmentBytes >= (this.options.maxSegmentBytes ?? 256 * 1024 * 1024);
      // Sealing an empty segment is a no-op (segments.ts).
      if (open && (full || this.now() - open.openedAt >= rotateMs) && !this.failure) await this.rotate();
      if (this.sealer.pendingArchive > 0) await this.sealer.archivePending();
    } catch {
      // Logged and counted by the checkpoint signing; the next tick retries.
    } finally {
      this.checkDisk();
      this.checkpoints.updateGauges();
    }
  }

  segments(): SegmentInfo[] {
    return this.sealer.list();
  }

  rotate(): Promise<SegmentInfo | undefined> {
    return this.sealer.rotate();
  }

  durability(): Promise<{ readonly journalMode: string; readonly synchronous: number }> {
    return this.writer.durability();
  }

  getConfig(): AuditConfig {
    return structuredClone(this.config);
  }

  async setConfig(update: unknown): Promise<AuditConfig> {
    const next = mergeAuditConfig(this.config, update);
    if (next.cryptographic_sealing.algorithm !== this.algorithm) {
      throw new GlimmerError(
        'GLM_ERR_AUDIT_ALGORITHM_LOCKED',
        `the audit log uses ${this.algorithm}; open a new log (new state directory) to use ${next.cryptographic_sealing.algorithm}`,
      );
    }
    await this.writer.run([[SET_META, ['config', JSON.stringify(next)]]]);
    this.config = next;
    this.log.info({ immutable_logs: next.immutable_logs, rotation_interval: next.cryptographic_sealing.rotation_interval }, 'audit configuration changed');
    return this.getConfig();
  }

  /** Closes once; a second call (during or after the first) settles with the first. */
  close(): Promise<void> {
    this.closingDone ??= this.closeOnce();
    return this.closingDone;
  }

  private get closing(): boolean {
    return this.closingDone !== undefined;
  }

  private async closeOnce(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.recoveryTimer);
    // A reopening already under way finishes first, so the writer it may open is the one closed below.
    await this.recovery;
    await this.settle();
    try {
      // Sealing exports the segment's leaves to a file: bounded at shutdown by sealing only a small open segment; a
      // larger one gets a final signed checkpoint now and is sealed at its next rotation (size or time).
      const small = this.openSegmentBytes <= (this.options.closeSealMaxBytes ?? 32 * 1024 * 1024);
      if (!this.failure) await (small ? this.rotate() : this.checkpoints.sign());
    } catch (err) {
      this.log.warn({ code: isGlimmerError(err) ? err.code : 'GLM_ERR_INTERNAL' }, 'audit log closed without a final checkpoint; the next start catches up');
    }
    await this.checkpoints.idle();
    await this.sealer.closeArchive();
    // The read-only connection closes first, so the writer's close is the last one and checkpoints the WAL.
    this.db.close();
    await this.writer.close();
    await this.checkpoints.closeSigners();
  }
}
