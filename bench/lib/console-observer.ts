/**
 * hazard_to_console_p99_ms: the hazards of scenario live_safety, timed from the same injection to the console's
 * decision-timeline row drawn in headless Chromium (bench/lib/console-probe.ts): the decision durable in the audit
 * log, the `decision` event on the console's SSE stream, the chain read back from the log (GET /v1/decisions/explain),
 * the row in the DOM. Target <= 1,000 ms. Same-run baseline: the same hazards to the stop at the PLC as live_safety
 * sees it (the console cannot show a decision before the swarm has made it; the difference is what the console adds).
 */
import { openConsoleProbe } from './console-probe';
import { round, summarize, type Metric } from './report';

/** The hazard as live_safety announces it to its observers. */
interface Hazard {
  readonly n: number;
  /** Wall clock of the injection (ms since the epoch). */
  readonly injectedAtMs: number;
  readonly warmup: boolean;
}

const ROW_TIMEOUT_MS = 10_000;

export async function consoleObserver(rt: { readonly consoleUrl: string }, target = 'pump_1') {
  const probe = await openConsoleProbe(rt.consoleUrl);
  const rows: number[] = [];
  const stops: number[] = [];
  let lastIndex = -1;
  let missed = 0;
  return {
    injected(): void {
      // Timed from the injection's wall clock (the event carries it), read once the row is drawn.
    },
    /** live_safety calls this as soon as the stop reached the PLC, and waits for it before the next hazard. */
    async stopped(h: Hazard): Promise<void> {
      const stoppedAt = Date.now();
      try {
        const row = await probe.row(target, lastIndex, ROW_TIMEOUT_MS);
        lastIndex = row.index;
        if (h.warmup) return;
        rows.push(row.at - h.injectedAtMs);
        stops.push(stoppedAt - h.injectedAtMs);
      } catch {
        if (!h.warmup) missed++;
      }
    },
    async metrics(): Promise<Record<string, Metric>> {
      const r = summarize(rows);
      const b = summarize(stops);
      return {
        hazard_to_console_p99_ms: {
          value: round(r.p99), unit: 'ms', baseline: round(b.p99),
          baseline_what: 'p99 of the same hazards to the pump stopped at the PLC (live_safety\'s stop, seen by the benchmark), same run: the row cannot come before the decision; the difference is what the console adds',
          detail: { target: 'p99 <= 1000 ms', hazards: r.n, missed, p50_ms: round(r.p50), max_ms: rows.length ? round(Math.max(...rows)) : 'n/a', baseline_p50_ms: round(b.p50) },
        },
      };
    },
    close: () => probe.close(),
  };
}
