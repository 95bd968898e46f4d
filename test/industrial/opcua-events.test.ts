/** The aggregation of OPC UA security events before they reach the audit log: counted per key and window, bounded. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditRecordInput } from '../../runtime/model/messages';
import { SecurityEventAggregator } from '../../runtime/industrial/opcua/events';

function collect(maxKeys?: number) {
  const out: AuditRecordInput[] = [];
  let now = 1_000;
  const agg = new SecurityEventAggregator({ emit: (r) => out.push(...r), windowMs: 3_600_000, now: () => now, ...(maxKeys !== undefined ? { maxKeys } : {}) });
  return { out, agg, tick: (ms: number) => { now += ms; } };
}

test('GIVEN 1000 failed logins of one user from one address in a window WHEN flushed THEN one record with count 1000 and the first and last times', () => {
  const { out, agg, tick } = collect();
  for (let i = 0; i < 1000; i++) { agg.record({ kind: 'activation_failed', status: 'BadUserAccessDenied', source: '10.0.0.9', subject: 'scada' }); tick(10); }
  agg.stop();
  assert.equal(out.length, 1);
  assert.deepEqual([out[0]?.count, out[0]?.first_at, out[0]?.last_at], [1000, new Date(1_000).toISOString(), new Date(1_000 + 999 * 10).toISOString()]);
});

test('GIVEN more distinct keys than the bound WHEN flushed THEN the bound is kept and the rest is one overflow count', () => {
  const { out, agg } = collect(8);
  for (let i = 0; i < 50; i++) agg.record({ kind: 'certificate_refused', status: 'BadCertificateUntrusted', subject: `thumb-${i}` });
  agg.flush();
  assert.equal(out.filter((r) => r.kind === 'certificate_refused').length, 8);
  assert.deepEqual(out.find((r) => r.kind === 'overflow')?.count, 42);
  agg.flush();
  assert.equal(out.length, 9, 'an empty window writes nothing');
  agg.stop();
});
