/**
 * Durable store-and-forward for northbound records: one SQLite file in the state dir (WAL, synchronous=FULL, like the
 * audit store), one ordered queue of records, each in a stream with a priority and a byte budget.
 *
 * - Acknowledged means committed: `append` returns after the transaction is durable, so a record it returned an id for
 *   survives kill -9 and power loss. A record leaves the queue only through `ack`, which the forwarder calls after the
 *   broker confirmed it (PUBACK); a crash between the two replays it once more (at least once, never lost).
 * - Order: records replay by stream priority (lower first: safety events before trends), then in append order (the
 *   rowid, which SQLite only ever increases with AUTOINCREMENT, also across restarts). No record of a stream overtakes
 *   an older one of the same stream.
 * - Overflow: the queue holds at most the sum of the stream budgets. A record that would take a droppable stream
 *   (trends) over its own budget, or the queue over the total, drops that stream's oldest records first. A record of
 *   a stream that is never dropped (safety events) may exceed its own budget while the queue has unused room; past
 *   that it takes room from the droppable streams (lowest priority first, oldest first), and only when none holds
 *   anything is it refused (GLM_ERR_NORTHBOUND_QUEUE_FULL): a safety record is never dropped to make room.
 *   Drops are counted per stream, durably.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { GlimmerError, quote } from '../errors';

export interface StreamSpec {
  readonly name: string;
  /** Lower replays first. */
  readonly priority: number;
  /** Bytes of record bodies the stream may hold. */
  readonly budgetBytes: number;
  /** Whether the oldest records may be dropped to make room (trends), or never (safety events). */
  readonly droppable: boolean;
}

/** The default streams: safety events first and never dropped, trends after them and dropped oldest first. */
export const DEFAULT_STREAMS: readonly StreamSpec[] = [
  { name: 'safety', priority: 0, budgetBytes: 64 * 1024 * 1024, droppable: false },
  { name: 'trend', priority: 1, budgetBytes: 2 * 1024 * 1024 * 1024, droppable: true },
];

export interface QueuedRecord {
  readonly id: number;
  readonly stream: string;
  /** The record's own time (ms since the epoch), not when it was queued. */
  readonly ts: number;
  /** Routing key of the record (the Sparkplug device). */
  readonly key: string;
  readonly body: Buffer;
}

export interface StreamStats {
  readonly depth: number;
  readonly bytes: number;
  readonly budgetBytes: number;
  /** ts of the oldest queued record, or undefined when empty. */
  readonly oldestTs: number | undefined;
  readonly dropped: number;
}

export interface NewRecord {
  readonly stream: string;
  readonly ts: number;
  readonly key: string;
  readonly body: Uint8Array;
}

/** Fixed cost per row besides the body (rowid, stream, ts, key, page overhead), for the byte budget. */
const ROW_OVERHEAD_BYTES = 32;

export class DurableQueue {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #streams: ReadonlyMap<string, StreamSpec & { index: number }>;
  readonly #bytes = new Map<string, number>();
  readonly #depth = new Map<string, number>();
  readonly #insert: Database.Statement;
  readonly #oldestOf: Database.Statement;
  readonly #deleteId: Database.Statement;
  readonly #countDrop: Database.Statement;
  readonly #appendTx: (records: readonly NewRecord[]) => number[];
  readonly #totalBudget: number;

  constructor(file: string, streams: readonly StreamSpec[] = DEFAULT_STREAMS) {
    if (streams.length === 0) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', 'store-and-forward needs at least one stream');
    for (const s of streams) {
      if (!(s.budgetBytes > 0)) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `stream ${quote(s.name)} needs a positive byte budget, received ${quote(s.budgetBytes)}`);
    }
    this.file = file;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.#streams = new Map(streams.map((s, index) => [s.name, { ...s, index }]));
    this.#totalBudget = streams.reduce((n, s) => n + s.budgetBytes, 0);
    try {
      this.#db = new Database(file);
      // Records are a few hundred bytes to a few kB: 16 KiB pages hold several each (with 4 KiB pages a 2 kB record
      // leaves half a page empty). Takes effect only while the file is new, before WAL mode.
      this.#db.pragma('page_size = 16384');
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.exec(`
        CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, priority INTEGER NOT NULL, ts INTEGER NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS records_order ON records (priority, id);
        CREATE INDEX IF NOT EXISTS records_stream ON records (stream, id);
        CREATE TABLE IF NOT EXISTS drops (stream TEXT PRIMARY KEY, count INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
      `);
      fs.chmodSync(file, 0o600);
    } catch (err) {
      throw new GlimmerError('GLM_ERR_NORTHBOUND_STORE_UNUSABLE', `the store-and-forward file ${file} cannot be opened: ${(err as Error).message}`, { cause: err });
    }
    for (const row of this.#db.prepare('SELECT stream, COUNT(*) AS n, COALESCE(SUM(LENGTH(body)), 0) AS b FROM records GROUP BY stream').all() as { stream: string; n: number; b: number }[]) {
      this.#depth.set(row.stream, row.n);
      this.#bytes.set(row.stream, row.b + row.n * ROW_OVERHEAD_BYTES);
    }
    this.#insert = this.#db.prepare('INSERT INTO records (stream, priority, ts, key, body) VALUES (?, ?, ?, ?, ?)');
    this.#oldestOf = this.#db.prepare('SELECT id, LENGTH(body) AS size FROM records WHERE stream = ? ORDER BY id LIMIT 64');
    this.#deleteId = this.#db.prepare('DELETE FROM records WHERE id = ?');
    this.#countDrop = this.#db.prepare('INSERT INTO drops (stream, count) VALUES (?, ?) ON CONFLICT(stream) DO UPDATE SET count = count + excluded.count');
    this.#appendTx = this.#db.transaction((records: readonly NewRecord[]) => records.map((r) => this.#appendOne(r)));
  }

  /** Appends the records in one durable transaction and returns their ids (the acknowledgement), in order. */
  append(records: readonly NewRecord[]): number[] {
    if (records.length === 0) return [];
    for (const r of records) if (!this.#streams.has(r.stream)) throw new GlimmerError('GLM_ERR_NORTHBOUND_QUEUE_FULL', `no stream ${quote(r.stream)} in the store-and-forward configuration`);
    const bytes = new Map(this.#bytes);
    const depth = new Map(this.#depth);
    try {
      return this.#appendTx(records);
    } catch (err) {
      // The transaction rolled back: so do the counters (no half-applied state).
      this.#bytes.clear();
      this.#depth.clear();
      for (const [k, v] of bytes) this.#bytes.set(k, v);
      for (const [k, v] of depth) this.#depth.set(k, v);
      if (err instanceof GlimmerError) throw err;
      throw new GlimmerError('GLM_ERR_NORTHBOUND_STORE_UNUSABLE', `the store-and-forward file ${this.file} refused a write: ${(err as Error).message}`, { cause: err });
    }
  }

  #appendOne(r: NewRecord): number {
    const spec = this.#streams.get(r.stream) as StreamSpec & { index: number };
    const size = r.body.length + ROW_OVERHEAD_BYTES;
    const own = this.#bytes.get(r.stream) ?? 0;
    let total = 0;
    for (const v of this.#bytes.values()) total += v;
    const totalOver = total + size - this.#totalBudget;
    if (spec.droppable) {
      // A trend record bigger than its whole budget still goes in alone: the stream holds the newest record it can.
      const need = Math.max(own + size - spec.budgetBytes, totalOver);
      if (need > 0) this.#dropOldest(r.stream, need);
    } else if (own + size > spec.budgetBytes && totalOver > 0) {
      // Over its own budget and no unused room left anywhere: take room from the droppable streams, never from itself.
      let need = totalOver;
      const donors = [...this.#streams.values()].filter((s) => s.droppable).sort((a, b) => b.priority - a.priority || b.index - a.index);
      for (const donor of donors) {
        if (need <= 0) break;
        need -= this.#dropOldest(donor.name, need);
      }
      if (need > 0) throw new GlimmerError('GLM_ERR_NORTHBOUND_QUEUE_FULL', `stream ${r.stream} is over its budget of ${spec.budgetBytes} bytes, the queue is ${need} bytes over its total budget and no droppable stream holds anything to make room`);
    }
    const id = Number(this.#insert.run(r.stream, spec.priority, Math.trunc(r.ts), r.key, r.body).lastInsertRowid);
    this.#bytes.set(r.stream, (this.#bytes.get(r.stream) ?? 0) + size);
    this.#depth.set(r.stream, (this.#depth.get(r.stream) ?? 0) + 1);
    return id;
  }

  /** Drops the oldest records of a stream until `need` bytes are freed (or it is empty); returns the bytes freed. */
  #dropOldest(stream: string, need: number): number {
    let freed = 0;
    let dropped = 0;
    while (freed < need) {
      const rows = this.#oldestOf.all(stream) as { id: number; size: number }[];
      if (rows.length === 0) break;
      for (const row of rows) {
        this.#deleteId.run(row.id);
        freed += row.size + ROW_OVERHEAD_BYTES;
        dropped += 1;
        if (freed >= need) break;
      }
    }
    if (dropped > 0) {
      this.#countDrop.run(stream, dropped);
      this.#bytes.set(stream, (this.#bytes.get(stream) ?? 0) - freed);
      this.#depth.set(stream, (this.#depth.get(stream) ?? 0) - dropped);
    }
    return freed;
  }

  /** The next records to forward: by priority, then append order; `skip` holds ids already in flight. */
  peek(limit: number, skip: ReadonlySet<number> = new Set()): QueuedRecord[] {
    const rows = this.#db.prepare('SELECT id, stream, ts, key, body FROM records ORDER BY priority, id LIMIT ?').all(limit + skip.size) as QueuedRecord[];
    return rows.filter((r) => !skip.has(r.id)).slice(0, limit);
  }

  /**
   * Removes forwarded records (the broker confirmed them). Unknown ids are ignored: a replay after a crash re-acks.
   * The removal is committed without its own fsync (synchronous=NORMAL for this transaction only): losing it in a
   * power cut only sends those records once more, which at-least-once allows, while an fsync per batch of
   * acknowledgements would bound the replay by the disk's flush latency. The next append's fsync makes it durable too.
   */
  ack(ids: readonly number[]): void {
    if (ids.length === 0) return;
    const select = this.#db.prepare('SELECT stream, LENGTH(body) AS size FROM records WHERE id = ?');
    this.#db.pragma('synchronous = NORMAL');
    try {
      this.#ackTx(ids, select);
    } catch (err) {
      throw new GlimmerError('GLM_ERR_NORTHBOUND_STORE_UNUSABLE', `the store-and-forward file ${this.file} refused to remove ${ids.length} confirmed records: ${(err as Error).message}`, { cause: err });
    } finally {
      this.#db.pragma('synchronous = FULL');
    }
  }

  #ackTx(ids: readonly number[], select: Database.Statement): void {
    const removed: { stream: string; size: number }[] = [];
    this.#db.transaction(() => {
      for (const id of ids) {
        const row = select.get(id) as { stream: string; size: number } | undefined;
        if (row === undefined) continue;
        this.#deleteId.run(id);
        removed.push(row);
      }
    })();
    // Counters move only once the removal committed.
    for (const row of removed) {
      this.#bytes.set(row.stream, (this.#bytes.get(row.stream) ?? 0) - row.size - ROW_OVERHEAD_BYTES);
      this.#depth.set(row.stream, (this.#depth.get(row.stream) ?? 0) - 1);
    }
  }


  get depth(): number {
    let n = 0;
    for (const v of this.#depth.values()) n += v;
    return n;
  }

  stats(): Record<string, StreamStats> {
    const drops = new Map((this.#db.prepare('SELECT stream, count FROM drops').all() as { stream: string; count: number }[]).map((r) => [r.stream, r.count]));
    const oldest = this.#db.prepare('SELECT MIN(ts) AS ts FROM records WHERE stream = ?');
    const out: Record<string, StreamStats> = {};
    for (const s of this.#streams.values()) {
      const depth = this.#depth.get(s.name) ?? 0;
      out[s.name] = {
        depth,
        bytes: this.#bytes.get(s.name) ?? 0,
        budgetBytes: s.budgetBytes,
        oldestTs: depth === 0 ? undefined : ((oldest.get(s.name) as { ts: number | null }).ts ?? undefined),
        dropped: drops.get(s.name) ?? 0,
      };
    }
    return out;
  }

  /** A small durable counter beside the queue (the Sparkplug bdSeq). */
  counter(name: string): number {
    return (this.#db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as { value: number } | undefined)?.value ?? 0;
  }

  setCounter(name: string, value: number): void {
    this.#db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value').run(name, value);
  }

  /** Bytes of the database files on disk (the file, its WAL), for the disk budget. */
  diskBytes(): number {
    let n = 0;
    for (const f of [this.file, `${this.file}-wal`]) {
      try {
        n += fs.statSync(f).size;
      } catch {
        // no WAL yet
      }
    }
    return n;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
