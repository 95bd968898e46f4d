/**
 * bench/lib/report.ts percentiles (nearest-rank) against a reference: the worked examples of the nearest-rank method
 * (the textbook lists used to define it), and, for random samples and whole percents, the definition itself in integer
 * arithmetic: the value at 1-based rank ceil(p * n / 100) of the sorted sample, which no floating-point rounding touches.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { percentile, summarize } from '../../bench/lib/report';

test('GIVEN the textbook lists of the nearest-rank method WHEN their percentiles are taken THEN the published values come out', () => {
  const a = [15, 20, 35, 40, 50];
  assert.deepEqual([0.05, 0.3, 0.4, 0.5, 1].map((q) => percentile(a, q)), [15, 20, 20, 35, 50]);
  const b = [3, 6, 7, 8, 8, 10, 13, 15, 16, 20];
  assert.deepEqual([0.25, 0.5, 0.75, 1].map((q) => percentile(b, q)), [7, 8, 15, 20]);
  // Order of the input does not matter, and the input is left as it was.
  const shuffled = [20, 3, 16, 8, 15, 7, 13, 10, 8, 6];
  assert.equal(percentile(shuffled, 0.75), 15);
  assert.deepEqual(shuffled, [20, 3, 16, 8, 15, 7, 13, 10, 8, 6]);
});

test('GIVEN 1..100 WHEN every whole percentile is taken THEN the p-th percentile is p (no floating-point rank error, e.g. at 7, 14, 28, 55, 56)', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  for (let p = 1; p <= 100; p++) assert.equal(percentile(xs, p / 100), p, `p${p}`);
});

test('GIVEN random samples and whole percents WHEN percentile runs THEN it equals the nearest-rank definition computed in integers', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 100 }), (samples, p) => {
      const sorted = [...samples].sort((x, y) => x - y);
      const rank = Math.floor((p * sorted.length + 99) / 100);
      assert.equal(percentile(samples, p / 100), sorted[rank - 1]);
    }),
    { numRuns: 500 },
  );
});

test('GIVEN edge inputs WHEN percentile and summarize run THEN an empty sample is NaN, q = 0 is the minimum, and summarize reports p50, p99 and n', () => {
  assert.ok(Number.isNaN(percentile([], 0.5)));
  assert.equal(percentile([5, 1, 9], 0), 1);
  assert.equal(percentile([42], 0.99), 42);
  assert.deepEqual(summarize(Array.from({ length: 200 }, (_, i) => 200 - i)), { p50: 100, p99: 198, n: 200 });
});
