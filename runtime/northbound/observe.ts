/**
 * The northbound metrics, derived in the supervisor from the status the Data Agent publishes (`status.northbound`,
 * runtime/agents/data/northbound.ts). The agent is another process: only known streams and finite non-negative
 * numbers are taken, so a label or a counter cannot be driven by what it sends. Counters advance by the difference to
 * the previous status (the queue's drop count is durable, so it never goes back across restarts of the agent).
 */
import type { Metrics } from '../observability/metrics';

const STREAMS = ['safety', 'trend'] as const;

type Northbound = { born?: unknown; metrics?: unknown; replayed?: unknown; queue?: Record<string, { depth?: unknown; bytes?: unknown; oldest_age_s?: unknown; dropped?: unknown } | undefined> };

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

function northboundOf(status: unknown): Northbound | undefined {
  const nb = (status as { northbound?: unknown } | null | undefined)?.northbound;
  return nb !== null && typeof nb === 'object' ? (nb as Northbound) : undefined;
}

export function observeNorthboundStatus(metrics: Metrics, status: unknown, previous?: unknown): void {
  const nb = northboundOf(status);
  if (nb === undefined) return;
  const before = northboundOf(previous);
  const grow = (now: unknown, then: unknown): number => Math.max(0, (num(now) ?? 0) - (num(then) ?? 0));
  metrics.northboundBorn.set(nb.born === true ? 1 : 0);
  const m = grow(nb.metrics, before?.metrics);
  if (m > 0) metrics.northboundMetrics.inc(m);
  const r = grow(nb.replayed, before?.replayed);
  if (r > 0) metrics.northboundReplayed.inc(r);
  for (const stream of STREAMS) {
    const q = nb.queue?.[stream];
    if (q === undefined || q === null || typeof q !== 'object') continue;
    metrics.northboundQueueDepth.set({ stream }, num(q.depth) ?? 0);
    metrics.northboundQueueBytes.set({ stream }, num(q.bytes) ?? 0);
    metrics.northboundQueueAge.set({ stream }, num(q.oldest_age_s) ?? 0);
    // The first status of a run counts the durable total once, so a scrape sees every drop.
    const d = grow(q.dropped, before?.queue?.[stream]?.dropped);
    if (d > 0) metrics.northboundQueueDropped.inc({ stream }, d);
  }
}
