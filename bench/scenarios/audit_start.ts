/**
 * audit_start: the cost of starting only on a verified store. Stores of 1M and 10M entries (about 120-byte leaves,
 * built straight into SQLite) are opened (every chunk hash recomputed from the leaves, the latest checkpoint checked
 * against the pinned keys), then one leaf inside a completed chunk near the end is flipped and the time to refuse
 * the store is measured.
 * - audit_tampered_10m_refuse_s: time to refuse the tampered 10M-entry store. Baseline: the same for 1M entries.
 * - audit_verified_open_10m_s: time to open the untouched 10M-entry store. Baseline: the same for 1M entries.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import type { Scenario } from '../lib/scenario';
import { round, type Metric } from '../lib/report';
import { auditDbPath, openAuditLog } from '../../runtime/audit/log';
import { bulkFill, bulkOptions } from '../lib/bulk-audit';

async function measure(entries: number): Promise<{ openS: number; refuseS: number; message: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-bench-start-'));
  try {
    await bulkFill(dir, entries);
    let t = performance.now();
    const log = await openAuditLog(bulkOptions(dir));
    const openS = (performance.now() - t) / 1000;
    await log.checkpoint();
    await log.close();
    const db = new Database(auditDbPath(dir));
    db.exec('DROP TRIGGER IF EXISTS entries_append_only_u');
    db.prepare("UPDATE entries SET leaf = CAST(REPLACE(CAST(leaf AS TEXT), '\"pad\":\"pp', '\"pad\":\"qp') AS BLOB) WHERE idx = ?").run(entries - 1000);
    db.close();
    t = performance.now();
    let message = '';
    try {
      await openAuditLog(bulkOptions(dir));
      throw new Error('the tampered store was accepted');
    } catch (err) {
      message = (err as Error).message;
      if (!/GLM_ERR_AUDIT_STATE_CORRUPT|does not match/.test(`${(err as { code?: string }).code} ${message}`)) throw err;
    }
    return { openS, refuseS: (performance.now() - t) / 1000, message };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const scenario: Scenario = {
  description: 'Audit log: verified start and refusal of a tampered store at 1M and 10M entries',
  async run(ctx) {
    const small = await measure(1_000_000);
    ctx.progress(0.15, '1M entries');
    const large = await measure(10_000_000);
    ctx.progress(1, '10M entries');
    const metrics: Record<string, Metric> = {
      audit_tampered_10m_refuse_s: {
        value: round(large.refuseS, 2), unit: 's', baseline: round(small.refuseS, 2), baseline_what: 'the same for a 1M-entry store (linear: every leaf is re-hashed)',
        detail: { error: large.message.slice(0, 200) },
      },
      audit_verified_open_10m_s: {
        value: round(large.openS, 2), unit: 's', baseline: round(small.openS, 2), baseline_what: 'the same for a 1M-entry store',
      },
    };
    return metrics;
  },
};
export default scenario;
