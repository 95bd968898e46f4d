/**
 * Disk full under the audit log, on a real (tmpfs) file system: the log fails closed with a typed error, readiness
 * says so, the watermark gauge alarms first, and once space returns the log commits again without a restart, with
 * an `audit.recovered` record and a store that still verifies.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { isGlimmerError } from '../../runtime/errors';
import { openAuditLog } from '../../runtime/audit/log';
import { fileSigner } from '../../runtime/audit/signers';
import { verifyStateDir } from '../../runtime/audit/verify';
import { createMetrics } from '../../runtime/observability/metrics';
import { smallDisk, waitUntil } from './helpers';

test('GIVEN an audit log on a 24 MiB file system WHEN the disk fills under appends THEN appends fail with GLM_ERR_AUDIT_STORAGE_FAILED, health says not committing, and after space returns the log recovers by itself and verifies', { timeout: 60000 }, async () => {
  const disk = smallDisk(24);
  const metrics = createMetrics();
  try {
    const stateDir = path.join(disk.dir, 'state');
    const log = await openAuditLog({
      stateDir, signer: fileSigner({ keyFile: path.join(disk.dir, 'k.pem'), keyName: 'fault.test' }), origin: 'fault.test',
      metrics, recoveryIntervalMs: 100, checkpointIntervalMs: 100, diskWatermarkBytes: 8 * 1024 * 1024,
    });
    for (let i = 0; i < 200; i++) await log.append({ type: 'before', i });
    assert.equal(log.health().committing, true);
    disk.fill(64 * 1024);
    await waitUntil('the watermark gauge', async () => (await metrics.auditDiskFree.get()).values[0]!.value < 8 * 1024 * 1024);
    assert.equal(log.health().diskLow, true);
    // Appends until one fails: the disk has 64 KiB left.
    let failure: unknown;
    const payload = 'x'.repeat(4000);
    for (let i = 0; i < 5000 && failure === undefined; i++) {
      await log.append({ type: 'flood', i, payload }).catch((err: unknown) => { failure = err; });
    }
    assert.ok(isGlimmerError(failure) && failure.code === 'GLM_ERR_AUDIT_STORAGE_FAILED', String(failure));
    const h = log.health();
    assert.equal(h.committing, false);
    assert.match(h.reason ?? '', /could not commit/);
    assert.equal((await metrics.auditCommitFailing.get()).values[0]!.value, 1);
    await assert.rejects(log.append({ type: 'while-full' }), (e: unknown) => isGlimmerError(e) && e.code === 'GLM_ERR_AUDIT_STORAGE_FAILED');
    const sizeWhileFull = log.size();

    disk.free();
    await waitUntil('the audit log to commit again', () => log.health().committing);
    const { index } = await log.append({ type: 'after' });
    assert.ok(index >= sizeWhileFull);
    assert.equal((await metrics.auditCommitFailing.get()).values[0]!.value, 0);
    const leaves = log.entries(sizeWhileFull, log.size() - 1).map((e) => JSON.parse(e.leaf.toString('utf8')) as { record: { type: string; refused_appends?: number } });
    const recovered = leaves.find((l) => l.record.type === 'audit.recovered');
    assert.ok(recovered, 'an audit.recovered record states the outage');
    assert.ok((recovered.record.refused_appends ?? 0) >= 1);
    await log.close();
    const report = await verifyStateDir(stateDir);
    assert.equal(report.ok, true, JSON.stringify(report).slice(0, 2000));
  } finally {
    disk.remove();
  }
});
