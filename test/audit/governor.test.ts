import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditGovernor, governedSink } from '../../runtime/audit/governor';
import type { AuditRecordInput } from '../../runtime/model/messages';
import { createMetrics } from '../../runtime/observability/metrics';

function rig(now: { t: number }) {
  const written: AuditRecordInput[] = [];
  const metrics = createMetrics();
  const governor = new AuditGovernor({ sink: (r) => written.push(r), now: () => now.t, windowMs: 3_600_000, metrics });
  return { written, metrics, governor, sink: governedSink(governor, (r) => written.push(r)) };
}

test('GIVEN 10,000 refused mTLS handshakes WHEN they reach the governor THEN 10 are written one by one and the rest are one audit.aggregate with the count and the first and last sample', async () => {
  const now = { t: 1_000_000 };
  const { written, metrics, governor, sink } = rig(now);
  for (let i = 0; i < 10_000; i++) {
    now.t += 1;
    sink({ type: 'trust.tls_refused', at: `t${i}`, side: 'server', code: 'GLM_ERR_CERT_UNKNOWN_CA', reason: 'x', peer: `spiffe://evil/${i}`, serial: null, subject: 's' });
  }
  governor.closeWindow();
  const refusals = written.filter((r) => r.type === 'trust.tls_refused');
  const aggregates = written.filter((r) => r.type === 'audit.aggregate');
  assert.equal(refusals.length, 10);
  assert.equal(aggregates.length, 1);
  const a = aggregates[0] as unknown as { source: string; kind: string; count: number; first: { at: string }; last: { at: string } };
  assert.equal(a.source, 'tls');
  assert.equal(a.kind, 'tls_refused:GLM_ERR_CERT_UNKNOWN_CA');
  assert.equal(a.count, 9_990);
  assert.equal(a.first.at, 't10');
  assert.equal(a.last.at, 't9999');
  assert.equal((await metrics.auditAggregated.get()).values.find((v) => v.labels.kind === 'trust.tls_refused')?.value, 9_990);
});

test('GIVEN a source that spent its byte budget WHEN more refusals of a new kind arrive THEN they are aggregated, not written; WHEN the budget refills THEN records are written again; allowed writes are always written', () => {
  const now = { t: 0 };
  const { written, governor, sink } = rig(now);
  const deny = (reason: string, i: number) => sink({ type: 'modbus.decision', peer: '10.0.0.9', zone: 'operations', decision: 'deny', reason, function_code: 3, pad: 'x'.repeat(2000), i });
  // 10 kinds x 10 records of about 2 KB: far past the 24 KiB burst.
  for (let k = 0; k < 10; k++) for (let i = 0; i < 10; i++) deny(`r${k}`, i);
  const individually = written.length;
  assert.ok(individually < 20, `${individually} written one by one before the budget ran out`);
  sink({ type: 'modbus.decision', peer: '10.0.0.9', zone: 'operations', decision: 'allow', reason: 'policy', function_code: 6 });
  assert.equal(written.at(-1)?.decision, 'allow', 'an allowed write is evidence: always written');
  governor.closeWindow();
  const counted = written.filter((r) => r.type === 'audit.aggregate').reduce((n, r) => n + (r.count as number), 0);
  assert.equal(individually + counted, 100, 'every refusal is written or counted');
  now.t += 60_000;
  const before = written.length;
  deny('r0', 0);
  assert.equal(written.length, before + 1, 'after the budget refilled the record is written');
});
