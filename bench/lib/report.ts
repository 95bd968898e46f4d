/** The benchmark JSON report (shape: `Report` below; the README lists its metric ids), plus the statistics every scenario uses (medians and p99s, never a best run). */
import os from 'node:os';

export interface Metric {
  readonly value: number;
  readonly unit: string;
  /** The same-run reference this figure is compared against. */
  readonly baseline?: number;
  readonly baseline_what?: string;
  /** Extra figures (p50, counts, targets) that help read the value. */
  readonly detail?: Record<string, number | string>;
}

export interface Report {
  readonly scenario: string;
  readonly duration_s: number;
  readonly machine: { cpus: number; node: string };
  readonly metrics: Record<string, Metric>;
}

export function machine(): Report['machine'] {
  return { cpus: os.cpus().length, node: process.version };
}

/** Nearest-rank percentile of an unsorted sample (q in 0..1). */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  // q * n in floating point can land just above an integer (0.07 * 100 = 7.000000000000001), which would take the
  // next rank: round off that error before the ceiling.
  const exact = q * sorted.length;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(exact - 1e-9 * Math.max(1, exact)) - 1));
  return sorted[rank] as number;
}

export function summarize(samples: readonly number[]): { p50: number; p99: number; n: number } {
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), n: samples.length };
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
