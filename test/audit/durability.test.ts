/**
 * Durability of acknowledged audit entries, beyond what a kill -9 can show (the page cache survives a process kill,
 * so the crash test passes even without any fsync). Two checks:
 * - the pragmas in force on the writer's own connection (the one every commit runs on): WAL and synchronous = FULL;
 * - strace (ptrace, on a child process) records every fsync/fdatasync and every write to stdout in order: before each
 *   `ack <index>` line the child prints once append() resolved, the writer thread completed a sync of the store's WAL.
 *   With synchronous = NORMAL (or OFF) a WAL commit syncs nothing, so the count drops to zero.
 * A power-loss simulation (dm-log-writes or dm-flakey replaying the block device) would also catch a lost sync, but
 * needs device-mapper and a block device of its own, which a container does not have; the syscall trace needs only
 * ptrace of our own child.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { auditDbPath, openAuditLog } from '../../runtime/audit/log';
import { fileSigner } from '../../runtime/audit/signers';
import { tempDir } from './helpers';

const CHILD = path.join(__dirname, 'sync-child.ts');
const ENTRIES = 25;

test('GIVEN a new audit log WHEN its writer connection is asked for its pragmas THEN journal_mode is wal and synchronous is 2 (FULL)', async () => {
  const stateDir = tempDir();
  const log = await openAuditLog({ stateDir, signer: fileSigner({ keyFile: path.join(stateDir, 'signing.pem'), keyName: 'glimmer.local/audit' }) });
  try {
    assert.deepEqual(await log.durability(), { journalMode: 'wal', synchronous: 2 });
  } finally {
    await log.close();
  }
});

/** Per thread, the sync calls in flight (strace splits a call another thread interrupts into unfinished/resumed). */
function storeSyncsBeforeEachAck(trace: string, files: ReadonlySet<string>): number[] {
  const pending = new Set<string>();
  const between: number[] = [];
  let syncs = 0;
  let ready = false;
  for (const line of trace.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, call] = m as unknown as [string, string, string];
    // A call another thread interrupts prints without its closing parenthesis: `fdatasync(12</x/log.db-wal> <unfinished ...>`.
    const sync = /^f(?:data)?sync\(\d+<([^>]*)>(.*)$/.exec(call);
    if (sync) {
      if (!files.has(sync[1] as string)) continue;
      if (sync[2]?.endsWith('<unfinished ...>')) pending.add(pid);
      else if (/^\) += 0$/.test(sync[2] ?? '')) syncs += 1;
      continue;
    }
    if (/^<\.\.\. f(?:data)?sync resumed>.*= 0$/.test(call) && pending.delete(pid)) {
      syncs += 1;
      continue;
    }
    const out = /^write\(1<[^>]*>, "(ready|ack \d+)\\n"/.exec(call);
    if (!out) continue;
    if (out[1] === 'ready') ready = true;
    else if (ready) between.push(syncs);
    syncs = 0;
  }
  return between;
}

test(`GIVEN a child process appending ${ENTRIES} entries one after another under strace WHEN each append is acknowledged THEN a completed fsync of the store (its WAL) precedes every acknowledgement`, { timeout: 120_000 }, () => {
  const stateDir = tempDir();
  const traceFile = path.join(stateDir, 'strace.txt');
  const r = spawnSync('strace', ['-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync,write', '-e', 'signal=none', '-s', '16', '-o', traceFile,
    process.execPath, '--import', 'tsx', CHILD, stateDir, String(ENTRIES)], { encoding: 'utf8', timeout: 100_000 });
  assert.ok(!r.error, `cannot run strace (${String(r.error)}): make test installs it (APT_TEST)`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('ack ')).length, ENTRIES);
  // A commit is durable once the WAL (or, while the store is not yet in WAL mode, the database file) is synced.
  const db = fs.realpathSync(auditDbPath(stateDir));
  const between = storeSyncsBeforeEachAck(fs.readFileSync(traceFile, 'utf8'), new Set([`${db}-wal`, db]));
  assert.equal(between.length, ENTRIES, 'every acknowledgement was traced');
  assert.ok(between.every((n) => n >= 1), `store syncs before each acknowledgement: ${between.join(' ')}`);
});

test('GIVEN strace lines where the writer thread\'s sync is interrupted by the main thread WHEN parsed THEN the unfinished and resumed halves count as one completed sync, and a failed or foreign sync counts as none', () => {
  const wal = '/s/audit/log.db-wal';
  const trace = [
    `10 write(1<pipe:[1]>, "ready\\n", 6) = 6`,
    `11 fdatasync(7<${wal}> <unfinished ...>`,
    `12 write(2<pipe:[2]>, "x", 1) = 1`,
    `11 <... fdatasync resumed>) = 0`,
    `10 write(1<pipe:[1]>, "ack 0\\n", 6) = 6`,
    `11 fdatasync(7<${wal}>) = 0`,
    `10 write(1<pipe:[1]>, "ack 1\\n", 6) = 6`,
    `11 fdatasync(7<${wal}>) = -1 EIO (Input/output error)`,
    `11 fsync(9</s/other.db>) = 0`,
    `10 write(1<pipe:[1]>, "ack 2\\n", 6) = 6`,
  ].join('\n');
  assert.deepEqual(storeSyncsBeforeEachAck(trace, new Set([wal])), [1, 1, 0]);
});
