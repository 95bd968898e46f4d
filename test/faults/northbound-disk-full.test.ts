/**
 * Disk full under the northbound store-and-forward queue, on a real (tmpfs) file system: the append that does not
 * fit fails with GLM_ERR_NORTHBOUND_STORE_UNUSABLE and leaves nothing behind (it was never acknowledged), every record
 * acknowledged before stays, in order, and the queue takes records again once space returns, without a restart.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { isGlimmerError } from '../../runtime/errors';
import { DurableQueue } from '../../runtime/northbound/store-forward';
import { smallDisk } from './helpers';

test('GIVEN a store-and-forward queue on a 16 MiB file system WHEN the disk fills under appends THEN the failing append is refused with GLM_ERR_NORTHBOUND_STORE_UNUSABLE without a trace, acknowledged records stay in order, and appends work again once space returns', { timeout: 60000 }, async () => {
  const disk = smallDisk(16);
  try {
    const file = path.join(disk.dir, 'store-forward.sqlite');
    const queue = new DurableQueue(file);
    const acked: number[] = [];
    const record = (i: number, size = 2000) => ({ stream: 'trend', ts: i, key: 'pump_1', body: Buffer.alloc(size, i % 251) });
    for (let i = 0; i < 100; i++) acked.push(...queue.append([record(i)]));
    disk.fill(256 * 1024);
    let failure: unknown;
    let i = 100;
    for (; i < 10_000 && failure === undefined; i++) {
      const before = queue.stats();
      try {
        acked.push(...queue.append([record(i), record(i + 0.5, 8000)]));
      } catch (err) {
        failure = err;
        assert.deepEqual(queue.stats(), before, 'the refused append changed no counter');
      }
    }
    assert.ok(isGlimmerError(failure, 'GLM_ERR_NORTHBOUND_STORE_UNUSABLE'), String(failure));
    assert.deepEqual(queue.peek(100_000).map((r) => r.id), acked, 'every acknowledged record is there, in order, and nothing else');
    disk.free();
    acked.push(...queue.append([record(i)]));
    queue.close();
    const reopened = new DurableQueue(file);
    assert.deepEqual(reopened.peek(100_000).map((r) => r.id), acked);
    reopened.close();
  } finally {
    disk.remove();
  }
});
