/**
 * Where the Data Agent delivers records for another zone: an append-only JSON Lines file per target zone under
 * `<stateDir>/exports/`, fsynced per batch so a delivered batch survives a crash (the consumer in that zone tails it).
 */
import fs from 'node:fs';
import path from 'node:path';

export class ZoneOutbox {
  private readonly fds = new Map<string, number>();

  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  file(zone: string): string {
    return path.join(this.dir, `${zone}.jsonl`);
  }

  /** Appends the records durably; returns after fdatasync. */
  deliver(zone: string, records: readonly unknown[]): void {
    if (records.length === 0) return;
    let fd = this.fds.get(zone);
    if (fd === undefined) {
      fd = fs.openSync(this.file(zone), 'a', 0o600);
      this.fds.set(zone, fd);
    }
    fs.writeSync(fd, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    fs.fdatasyncSync(fd);
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}
