/**
 * Builds a large audit store fast (the fault tests, the audit_start benchmark): the log's own schema and key pin (opened once with our
 * signer), then leaves and chunk hashes inserted straight into SQLite in big transactions (no group commit, no
 * fsync per batch), then opened again so the log itself verifies it and signs a checkpoint over it.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { auditDbPath, openAuditLog, type AuditLog, type AuditLogOptions } from '../../runtime/audit/log';
import { hasher } from '../../runtime/audit/merkle';
import { fileSigner } from '../../runtime/audit/signers';
import { CHUNK, LogTree } from '../../runtime/audit/tree';

export const BULK_KEY = 'glimmer.fault/audit';

export function bulkOptions(stateDir: string, extra: Partial<AuditLogOptions> = {}): AuditLogOptions {
  return { stateDir, signer: fileSigner({ keyFile: path.join(stateDir, 'bulk-signer.pem'), keyName: BULK_KEY }), origin: BULK_KEY, ...extra };
}

/**
 * Appends `count` entries of about `leafBytes` each after what the store holds, straight into SQLite. Returns the
 * store size. `openAuditLog(bulkOptions(dir))` afterwards verifies and signs.
 */
export async function bulkFill(stateDir: string, count: number, leafBytes = 120): Promise<number> {
  const first = await openAuditLog(bulkOptions(stateDir));
  await first.close();
  const db = new Database(auditDbPath(stateDir));
  db.pragma('synchronous = OFF');
  try {
    const n0 = db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) FROM entries').pluck().get() as number;
    if (n0 !== 0) throw new Error("bulkFill fills a fresh store only");
    const h = hasher('RFC9162_SHA512');
    const tree = new LogTree(h, () => []);
    const insert = db.prepare('INSERT INTO entries(idx, leaf) VALUES (?, ?)');
    const chunk = db.prepare('INSERT INTO chunks(idx, hash) VALUES (?, ?)');
    const pad = 'p'.repeat(Math.max(0, leafBytes - 90));
    // About 64 MiB per transaction: the WAL never holds more than that.
    const per = Math.max(64, Math.min(50_000, Math.floor((64 * 1024 * 1024) / leafBytes)));
    for (let start = n0; start < n0 + count; start += per) {
      db.transaction(() => {
        for (let i = start; i < Math.min(n0 + count, start + per); i++) {
          const leaf = Buffer.from(`{"index":${i},"record":{"pad":"${pad}","type":"bulk"},"ts":"2026-01-01T00:00:00.000Z"}`);
          const c = tree.append(h.leaf(leaf));
          insert.run(i, leaf);
          if (c) chunk.run(Math.floor(i / CHUNK), c);
        }
      })();
    }
    return n0 + count;
  } finally {
    db.close();
  }
}

/** Fills and then opens the log (which verifies it) and signs a checkpoint over it. */
export async function bulkLog(stateDir: string, count: number, leafBytes = 120): Promise<AuditLog> {
  await bulkFill(stateDir, count, leafBytes);
  const log = await openAuditLog(bulkOptions(stateDir));
  await log.checkpoint();
  return log;
}
