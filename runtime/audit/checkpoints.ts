/**
 * Checkpoint signing of the audit log: C2SP signed notes over the durable tree, one signing at a time, never blocking
 * appends (when the KMS or HSM is unreachable, entries keep becoming durable and checkpoints catch up), signed only
 * by keys pinned in `<stateDir>/trust/audit-keys.txt`. The log (log.ts) tells it which sizes became durable and when;
 * it keeps the latest checkpoint and the gauges of how long entries wait for one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { GlimmerError, isGlimmerError, quote } from '../errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { type CheckpointSigner, formatCheckpoint } from './checkpoint-body';
import { formatVerifierKey, openCheckpoint, parseVerifierKey, signNote } from './note';
import type { LogTree } from './tree';
import type { AuditWriter, Statement } from './writer';

export type AuditMetrics = Pick<
  Metrics,
  'auditAppends' | 'auditCheckpointAge' | 'auditTreeSize' | 'auditCheckpointSize' | 'auditCheckpointFailures' | 'auditCommitDuration' | 'auditSegmentsSealed'
  | 'auditDiskFree' | 'auditDiskWatermark' | 'auditCommitFailing'
>;

/** File name of the pinned checkpoint verifier keys, in the state dir's trust directory. */
export const AUDIT_PIN_FILE = 'audit-keys.txt';

export interface StoredCheckpoint {
  readonly size: number;
  readonly note: string;
  readonly createdAt: number;
}

export interface CheckpointSigningOptions {
  /** The log's read-only connection. */
  readonly db: Database.Database;
  /** The log's writer (replaced when the log recovers from a failed commit). */
  readonly writer: () => AuditWriter;
  readonly tree: LogTree;
  readonly signers: readonly CheckpointSigner[];
  readonly origin: string;
  /** The audit directory (`<stateDir>/audit`). */
  readonly dir: string;
  readonly log: Logger;
  readonly now: () => number;
  readonly metrics?: AuditMetrics;
  /** @default 10000 */
  readonly signTimeoutMs?: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GlimmerError('GLM_ERR_AUDIT_SIGNER_UNAVAILABLE', `${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class CheckpointSigning {
  private latest: StoredCheckpoint | undefined;
  private signChain: Promise<unknown> = Promise.resolve();
  /** Commit times of batches not yet covered by a checkpoint: [end size, ms]. */
  private uncovered: [number, number][] = [];
  private lastFailureLog = 0;
  private keysRecorded = false;

  constructor(private readonly o: CheckpointSigningOptions) {}

  /**
   * At start, on a verified store of `n` entries: pins or checks the signers' keys, checks that every key the store
   * lists is pinned, and that the latest stored checkpoint verifies with a pinned key and matches the tree.
   */
  async restore(n: number): Promise<void> {
    const { db, tree, log, now } = this.o;
    const h = tree.h;
    try {
      await this.recordKeys();
    } catch (err) {
      // An unpinned signer key is tampering (a replaced key file), not an outage: refuse to start.
      if (isGlimmerError(err) && err.code === 'GLM_ERR_AUDIT_KEY_UNPINNED') throw err;
      log.warn({ code: isGlimmerError(err) ? err.code : undefined }, 'audit signer public key unavailable; checkpoints will wait');
    }
    // Read after recordKeys, which pins the signers' keys on first use.
    const pinned = this.pinnedKeys();
    for (const vkey of this.verifierKeys()) {
      if (!pinned.has(vkey)) throw new GlimmerError('GLM_ERR_AUDIT_KEY_UNPINNED', `the audit store lists verifier key ${quote(vkey.split('+').slice(0, 2).join('+'))}, which is not pinned in ${quote(this.pinFile())}`);
    }

    const last = db.prepare('SELECT size, note, created_at AS createdAt FROM checkpoints ORDER BY size DESC LIMIT 1').get() as StoredCheckpoint | undefined;
    if (last) {
      if (last.size > n) {
        throw new GlimmerError('GLM_ERR_AUDIT_STATE_CORRUPT', `the latest signed checkpoint covers ${last.size} entries but the store holds ${n}`);
      }
      // Only pinned keys vouch for a checkpoint: never the keys the store itself lists.
      const cp = await openCheckpoint(last.note, [...pinned].map(parseVerifierKey), h.size);
      if (!cp.root.equals(tree.root(last.size))) {
        throw new GlimmerError('GLM_ERR_AUDIT_STATE_CORRUPT', `the stored entries do not match the root of the latest signed checkpoint (size ${last.size})`);
      }
      this.latest = last;
    }
    if (n > (this.latest?.size ?? 0)) this.uncovered.push([n, now()]);
  }

  /** The tree reached `size` durable entries now (their wait for a checkpoint starts). */
  committed(size: number): void {
    this.uncovered.push([size, this.o.now()]);
  }

  latestCheckpoint(): StoredCheckpoint | undefined {
    return this.latest ? { ...this.latest } : undefined;
  }

  /** The size the latest checkpoint covers (0 without one). */
  get coveredSize(): number {
    return this.latest?.size ?? 0;
  }

  /** Whether entries wait for a checkpoint. */
  get behind(): boolean {
    return this.o.tree.size > (this.latest?.size ?? -1);
  }

  verifierKeys(): string[] {
    return this.o.db.prepare('SELECT vkey FROM keys ORDER BY added_at, vkey').pluck().all() as string[];
  }

  /** Signs a checkpoint for the current durable size, one signing at a time. */
  sign(): Promise<string> {
    const { tree, signers, log, now, metrics } = this.o;
    const run = this.signChain.then(async () => {
      const n = tree.size;
      if (this.latest && this.latest.size === n) return this.latest.note;
      const body = formatCheckpoint({ origin: this.o.origin, size: n, root: tree.root(n), extensions: [] });
      let note: string;
      try {
        // A key that is not pinned never signs (checked once, before its first signature).
        await this.recordKeys();
        note = await withTimeout(signNote(body, signers), this.o.signTimeoutMs ?? 10000, 'signing a checkpoint');
      } catch (err) {
        for (const s of signers) metrics?.auditCheckpointFailures.inc({ signer: s.kind });
        const e = isGlimmerError(err) ? err : new GlimmerError('GLM_ERR_AUDIT_SIGNER_UNAVAILABLE', 'the checkpoint signer failed', { cause: err });
        if (now() - this.lastFailureLog > 60000) {
          this.lastFailureLog = now();
          log.warn({ code: e.code, size: n, signer: signers[0]?.kind }, 'audit checkpoint signing failed; appends continue, checkpoints will catch up');
        }
        throw e;
      }
      const createdAt = now();
      await this.o.writer().run([['INSERT OR REPLACE INTO checkpoints(size, note, created_at) VALUES (?, ?, ?)', [n, note, createdAt]]]);
      this.latest = { size: n, note, createdAt };
      this.uncovered = this.uncovered.filter(([end]) => end > n);
      this.updateGauges();
      return note;
    });
    this.signChain = run.catch(() => undefined);
    return run;
  }

  /** Settles when the signing in progress (if any) has finished. */
  idle(): Promise<unknown> {
    return this.signChain;
  }

  updateGauges(): void {
    const m = this.o.metrics;
    if (!m) return;
    const oldest = this.uncovered[0];
    m.auditCheckpointAge.set(oldest ? Math.max(0, (this.o.now() - oldest[1]) / 1000) : 0);
    m.auditTreeSize.set(this.o.tree.size);
    m.auditCheckpointSize.set(this.latest?.size ?? 0);
  }

  async closeSigners(): Promise<void> {
    for (const s of this.o.signers) await s.close?.();
  }

  /** `<stateDir>/trust/audit-keys.txt`: the verifier keys trusted to sign this log's checkpoints, one per line. */
  private pinFile(): string {
    return path.join(path.dirname(this.o.dir), 'trust', AUDIT_PIN_FILE);
  }

  /**
   * The pinned verifier keys. A store without a pin file pins its current signers' keys once (first start, or an
   * upgrade); from then on a key that is not listed there is never trusted, whatever the store says.
   */
  private pinnedKeys(): Set<string> {
    try {
      return new Set(fs.readFileSync(this.pinFile(), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new GlimmerError('GLM_ERR_AUDIT_STATE_CORRUPT', `cannot read the pinned audit keys ${quote(this.pinFile())}: ${(err as Error).message}`);
      return new Set();
    }
  }

  /** Remembers every signer's verifier key (table `keys` and `keys.txt`) so offline verification can find them. */
  private async recordKeys(): Promise<void> {
    if (this.keysRecorded) return;
    const rows: Statement[] = [];
    const vkeys: string[] = [];
    for (const s of this.o.signers) vkeys.push(formatVerifierKey(s.keyName, s.algorithm, await s.publicKey()));
    const pinned = this.pinnedKeys();
    if (pinned.size === 0) {
      fs.mkdirSync(path.dirname(this.pinFile()), { recursive: true, mode: 0o700 });
      fs.writeFileSync(this.pinFile(), `${vkeys.join('\n')}\n`, { mode: 0o644 });
      this.o.log.info({ file: this.pinFile(), keys: vkeys.length }, 'audit checkpoint keys pinned (first use)');
    } else {
      const unpinned = vkeys.find((k) => !pinned.has(k));
      if (unpinned !== undefined) {
        throw new GlimmerError('GLM_ERR_AUDIT_KEY_UNPINNED', `the checkpoint signer's key ${quote(unpinned.split('+').slice(0, 2).join('+'))} is not pinned in ${quote(this.pinFile())}; add its verifier key there if the key was rotated on purpose`);
      }
    }
    for (const vkey of vkeys) rows.push(['INSERT OR IGNORE INTO keys(vkey, added_at) VALUES (?, ?)', [vkey, this.o.now()]]);
    await this.o.writer().run(rows);
    fs.writeFileSync(path.join(this.o.dir, 'keys.txt'), `${this.verifierKeys().join('\n')}\n`, { mode: 0o644 });
    this.keysRecorded = true;
  }
}
