/**
 * Reads the audit records back, oldest first: from a state dir (the SQLite store, read-only) or from a running
 * runtime's API (paged, authenticated). For tools that look at what was recorded (compliance, attestation); the
 * verifier checks that the bytes are the ones the checkpoints cover.
 */
import Database from 'better-sqlite3';
import { auditDbPath } from './log';

export type AuditSource = { readonly stateDir: string } | { readonly url: string; readonly token: string };

const PAGE = 1000;

export async function* readAuditRecords(source: AuditSource): AsyncGenerator<Record<string, unknown>> {
  if ('stateDir' in source) {
    const db = new Database(auditDbPath(source.stateDir), { readonly: true, fileMustExist: true });
    try {
      for (const [leaf] of db.prepare('SELECT leaf FROM entries ORDER BY idx').raw(true).iterate() as Iterable<[Buffer]>) {
        yield (JSON.parse(leaf.toString('utf8')) as { record: Record<string, unknown> }).record;
      }
    } finally {
      db.close();
    }
    return;
  }
  for (let start = 0; ; ) {
    const res = await fetch(new URL(`/v1/audit/entries?start=${start}&end=${start + PAGE - 1}`, source.url), { headers: { authorization: `Bearer ${source.token}` } });
    if (!res.ok) throw new Error(`GET /v1/audit/entries answered ${res.status}`);
    const page = (await res.json()) as { leaf: string }[];
    for (const e of page) yield (JSON.parse(Buffer.from(e.leaf, 'base64').toString('utf8')) as { record: Record<string, unknown> }).record;
    if (page.length < PAGE) return;
    start += page.length;
  }
}

/** The stored leaves of a state dir, read-only, for tools that look up entries by index (`glimmer explain`). */
export function openAuditStore(stateDir: string): { size(): number; entries(start: number, end: number): { index: number; leaf: Buffer }[]; close(): void } {
  const db = new Database(auditDbPath(stateDir), { readonly: true, fileMustExist: true });
  const size = db.prepare('SELECT COALESCE(MAX(idx) + 1, 0) FROM entries').pluck();
  const range = db.prepare('SELECT idx, leaf FROM entries WHERE idx BETWEEN ? AND ? ORDER BY idx').raw(true);
  return {
    size: () => size.get() as number,
    entries: (start, end) => (range.all(start, end) as [number, Buffer][]).map(([index, leaf]) => ({ index, leaf })),
    close: () => db.close(),
  };
}
