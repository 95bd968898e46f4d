/**
 * A multi-GB segment, built fast (leaves inserted straight into SQLite): `glimmer audit verify --dir` streams the
 * exported segment file (no 2 GiB Buffer, no 512 MiB string), and close() finishes within a 5 s grace period with a
 * multi-GB open segment, sealing it by size at the next rotation instead of exporting it during shutdown.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openAuditLog } from '../../runtime/audit/log';
import { glimmer } from '../helpers/cli';
import { bulkFill, bulkOptions } from '../../bench/lib/bulk-audit';
import { smallDisk } from './helpers';

const LEAF = 60 * 1024;
const ENTRIES = 37_000; // about 2.2 GB of leaves: past readFileSync's 2 GiB and the 512 MiB string limit

test('GIVEN a 2.2 GB open segment WHEN the log closes THEN within 5 s under a final signed checkpoint; WHEN sealed by size and verified THEN `glimmer audit verify --dir` streams the 2.2 GB export and passes', { timeout: 600000 }, async () => {
  // In memory (tmpfs), so the test costs CPU, not the shared disk's bandwidth: store and export are 4.4 GB.
  const disk = smallDisk(6 * 1024);
  const dir = path.join(disk.dir, 'state');
  try {
    await bulkFill(dir, ENTRIES, LEAF);
    // No size seal yet (default 256 MiB would seal at the first tick): the whole store is one open segment.
    let log = await openAuditLog(bulkOptions(dir, { maxSegmentBytes: Number.MAX_SAFE_INTEGER, checkpointIntervalMs: 3_600_000 }));
    await log.append({ type: 'one-more' });
    const started = Date.now();
    await log.close();
    const closeMs = Date.now() - started;
    assert.ok(closeMs < 5000, `close took ${closeMs} ms`);

    log = await openAuditLog(bulkOptions(dir, { checkpointIntervalMs: 3_600_000 }));
    assert.equal(log.latestCheckpoint()?.size, ENTRIES + 1, 'the final checkpoint covers every entry');
    assert.equal(log.segments().at(-1)?.end, undefined, 'the big segment was left open');
    const sealed = await log.rotate();
    await log.close();
    assert.equal(sealed?.end, ENTRIES + 1);
    const file = path.join(dir, 'audit', 'segments', `${String(sealed?.id).padStart(6, '0')}.leaves`);
    assert.ok(fs.statSync(file).size > 2 * 1024 ** 3, `the export is ${fs.statSync(file).size} bytes`);

    const r = await glimmer(['audit', 'verify', '--dir', dir], { timeoutMs: 300000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  } finally {
    disk.remove();
  }
});
