/**
 * Segment sealing of the audit log: the log is cut into segments every `rotation_interval` (or `maxSegmentEntries`);
 * each ends with a sealed final checkpoint and is exported as files for archiving (e.g. to S3 Object Lock).
 */
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { isGlimmerError } from '../errors';
import type { Logger } from '../observability/logger';
import type { ArchivedLog, SegmentArchive } from './archive';
import type { AuditConfig } from './config';
import type { AuditMetrics, CheckpointSigning } from './checkpoints';
import type { LogTree } from './tree';
import type { AuditWriter } from './writer';

export interface SegmentInfo {
  readonly id: number;
  readonly start: number;
  /** Exclusive end; undefined while the segment is open. */
  readonly end?: number;
  readonly openedAt: number;
  readonly sealedAt?: number;
  /** The sealed final checkpoint (signed note). */
  readonly checkpoint?: string;
}

export interface SegmentSealingOptions {
  readonly db: Database.Database;
  /** The log's writer (replaced when the log recovers from a failed commit). */
  readonly writer: () => AuditWriter;
  readonly tree: LogTree;
  /** `SELECT idx, leaf FROM entries WHERE idx >= ? AND idx <= ? ORDER BY idx` on the read-only connection, rows as [idx, leaf]. */
  readonly leavesRange: Database.Statement;
  readonly checkpoints: CheckpointSigning;
  /** Settles when every append handed to the writer is durable (or failed). */
  readonly settle: () => Promise<void>;
  readonly config: () => AuditConfig;
  /** The audit directory (`<stateDir>/audit`). */
  readonly dir: string;
  readonly log: Logger;
  readonly now: () => number;
  readonly metrics?: AuditMetrics;
  /** Leaves read per export step. */
  readonly exportPage: number;
  /** Called once a segment is sealed (its end index), before its export. */
  readonly onSealed?: (end: number) => void;
  /** Where sealed segments are also written (cluster mode: the Object Lock bucket), with what a verifier needs. */
  readonly archive?: { readonly to: SegmentArchive; readonly log: () => ArchivedLog };
}

export class SegmentSealing {
  private sealing: Promise<SegmentInfo | undefined> | undefined;

  constructor(private readonly o: SegmentSealingOptions) {}

  /** At start: opens a segment when none is open, and exports again a sealed one a crash left without its files. */
  async restore(): Promise<void> {
    if (!this.o.db.prepare('SELECT 1 FROM segments WHERE end_idx IS NULL').get()) {
      await this.o.writer().run([['INSERT INTO segments(start_idx, opened_at) VALUES (?, ?)', [this.latestSealedEnd(), this.o.now()]]]);
    }
    // A crash between sealing a segment and exporting it leaves no `.checkpoint` file (written last): export again.
    for (const seg of this.list()) {
      if (seg.end !== undefined && seg.checkpoint && !fs.existsSync(path.join(this.o.dir, 'segments', `${String(seg.id).padStart(6, '0')}.checkpoint`))) {
        await this.export(seg);
      }
    }
    void this.archivePending();
  }

  private archiving: Promise<void> | undefined;
  /** Sealed segments the archive does not hold yet (as of the last attempt). */
  pendingArchive = 0;

  /**
   * Uploads the sealed segments the archive does not hold yet (no `<id>.archived` marker), oldest first. A failure is
   * logged and leaves the segment pending (retried next tick and at start); it never fails appends or sealing: the
   * segment is safe on the volume.
   */
  archivePending(): Promise<void> {
    const archive = this.o.archive;
    if (!archive) return Promise.resolve();
    this.archiving ??= (async () => {
      const base = (id: number) => path.join(this.o.dir, 'segments', String(id).padStart(6, '0'));
      const pending = this.list().filter((seg) => seg.end !== undefined && seg.checkpoint && !fs.existsSync(`${base(seg.id)}.archived`));
      this.pendingArchive = pending.length;
      for (const seg of pending) {
        try {
          await archive.to.put(archive.log(), { id: seg.id, leavesFile: `${base(seg.id)}.leaves`, checkpoint: seg.checkpoint as string, sealedAt: seg.sealedAt ?? this.o.now() });
        } catch (err) {
          this.o.log.error({ code: isGlimmerError(err) ? err.code : 'GLM_ERR_AUDIT_ARCHIVE_FAILED', segment: seg.id, archive: archive.to.location }, 'sealed segment not archived; retrying later');
          return;
        }
        fs.writeFileSync(`${base(seg.id)}.archived`, `${archive.to.location}\n`);
        this.pendingArchive -= 1;
        this.o.log.info({ segment: seg.id, archive: archive.to.location }, 'sealed segment archived');
      }
    })().finally(() => {
      this.archiving = undefined;
    });
    return this.archiving;
  }

  /** Waits for an upload in flight and closes the archive. */
  async closeArchive(): Promise<void> {
    await this.archiving;
    await this.o.archive?.to.close();
  }

  open(): SegmentInfo | undefined {
    return this.list().find((s) => s.end === undefined);
  }

  list(): SegmentInfo[] {
    const rows = this.o.db
      .prepare('SELECT id, start_idx AS start, end_idx AS end, opened_at AS openedAt, sealed_at AS sealedAt, checkpoint FROM segments ORDER BY id')
      .all() as { id: number; start: number; end: number | null; openedAt: number; sealedAt: number | null; checkpoint: string | null }[];
    return rows.map((r) => ({
      id: r.id,
      start: r.start,
      openedAt: r.openedAt,
      ...(r.end === null ? {} : { end: r.end }),
      ...(r.sealedAt === null ? {} : { sealedAt: r.sealedAt }),
      ...(r.checkpoint === null ? {} : { checkpoint: r.checkpoint }),
    }));
  }

  /** Seals the open segment (one sealing at a time; a second call joins the first). */
  rotate(): Promise<SegmentInfo | undefined> {
    this.sealing ??= this.seal().finally(() => {
      this.sealing = undefined;
    });
    return this.sealing;
  }

  private latestSealedEnd(): number {
    return (this.o.db.prepare('SELECT COALESCE(MAX(end_idx), 0) FROM segments').pluck().get() as number) ?? 0;
  }

  private async seal(): Promise<SegmentInfo | undefined> {
    const open = this.open();
    await this.o.settle();
    if (!open || this.o.tree.size === open.start) return undefined;
    const note = await this.o.checkpoints.sign();
    const end = this.o.checkpoints.coveredSize;
    if (end <= open.start) return undefined;
    const sealedAt = this.o.now();
    await this.o.writer().run([
      ['UPDATE segments SET end_idx = ?, sealed_at = ?, checkpoint = ? WHERE id = ?', [end, sealedAt, note, open.id]],
      ['INSERT INTO segments(start_idx, opened_at) VALUES (?, ?)', [end, sealedAt]],
    ]);
    this.o.onSealed?.(end);
    const sealed: SegmentInfo = { ...open, end, sealedAt, checkpoint: note };
    await this.export(sealed);
    this.o.metrics?.auditSegmentsSealed.inc();
    this.o.log.info({ segment: sealed.id, start: sealed.start, end }, 'audit segment sealed');
    await this.archivePending();
    return sealed;
  }

  /**
   * Writes a sealed segment as files for archiving (e.g. to S3 Object Lock): `<id>.leaves` holds the leaves one per
   * line (canonical JSON has no raw newline), `<id>.checkpoint` the sealed final checkpoint. Read-only when
   * immutable_logs is on.
   */
  private async export(seg: SegmentInfo): Promise<void> {
    const base = path.join(this.o.dir, 'segments', String(seg.id).padStart(6, '0'));
    const page = this.o.exportPage;
    const fd = fs.openSync(`${base}.leaves.tmp`, 'w', 0o644);
    try {
      for (let i = seg.start; i < (seg.end as number); i += page) {
        const rows = this.o.leavesRange.all(i, Math.min(i + page, seg.end as number) - 1) as [number, Buffer][];
        fs.writeSync(fd, Buffer.concat(rows.flatMap(([, leaf]) => [leaf, Buffer.from('\n')])));
        await new Promise((r) => setImmediate(r));
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(`${base}.leaves.tmp`, `${base}.leaves`);
    fs.writeFileSync(`${base}.checkpoint`, seg.checkpoint as string);
    if (this.o.config().immutable_logs) {
      fs.chmodSync(`${base}.leaves`, 0o444);
      fs.chmodSync(`${base}.checkpoint`, 0o444);
    }
  }
}
