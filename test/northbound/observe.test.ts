/** Northbound metrics from the Data Agent's status: bounded labels, counters that only grow. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../../runtime/observability/metrics';
import { observeNorthboundStatus } from '../../runtime/northbound/observe';

const status = (dropped: number, replayed: number, extra: Record<string, unknown> = {}) => ({
  northbound: { born: true, metrics: 100, replayed, queue: { safety: { depth: 1, bytes: 50, oldest_age_s: 3, dropped: 0 }, trend: { depth: 5, bytes: 500, oldest_age_s: 7, dropped }, ...extra } },
});

test('GIVEN two statuses of the Data Agent WHEN observed THEN the gauges show the latest queue and the counters grow by the differences', async () => {
  const m = createMetrics();
  observeNorthboundStatus(m, status(2, 10));
  observeNorthboundStatus(m, status(5, 30), status(2, 10));
  const text = await m.registry.metrics();
  assert.match(text, /glimmer_northbound_queue_depth\{stream="trend"\} 5/);
  assert.match(text, /glimmer_northbound_queue_oldest_age_seconds\{stream="safety"\} 3/);
  assert.match(text, /glimmer_northbound_queue_dropped_total\{stream="trend"\} 5/);
  assert.match(text, /glimmer_northbound_replayed_total 30/);
  assert.match(text, /glimmer_northbound_born 1/);
});

test('GIVEN a status with an unknown stream, negative or non-numeric values WHEN observed THEN no label is made from it and nothing counts backwards', async () => {
  const m = createMetrics();
  observeNorthboundStatus(m, status(5, 30));
  observeNorthboundStatus(m, { northbound: { born: 'yes', metrics: -4, replayed: 'x', queue: { evil: { depth: 1 }, trend: { depth: -1, dropped: 1 } } } }, status(5, 30));
  const text = await m.registry.metrics();
  assert.ok(!text.includes('evil'));
  assert.match(text, /glimmer_northbound_queue_depth\{stream="trend"\} 0/);
  assert.match(text, /glimmer_northbound_queue_dropped_total\{stream="trend"\} 5/);
  assert.match(text, /glimmer_northbound_born 0/);
  observeNorthboundStatus(m, { other: true });
});
