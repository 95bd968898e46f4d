/**
 * hazard_to_console: a headless Chromium (the tests' driver, test/helpers/chromium.ts) on the operator console of a
 * running runtime, timing when things are drawn: a new decision-timeline row (a safety decision reached the screen)
 * and, as the same-run baseline, the fault badge of the plant panel (the console's own path from the plant to the
 * screen, without agents, rules or the audit log). A MutationObserver in the page stamps each with the wall clock
 * (performance.timeOrigin + now), comparable with Date.now() here on the same machine.
 */
import type { Page } from 'playwright-core';
import { launch } from '../../test/helpers/chromium';

export interface DrawnRow {
  readonly index: number;
  readonly target: string;
  /** epoch ms when the row appeared in the DOM. */
  readonly at: number;
}

export interface ConsoleProbe {
  readonly page: Page;
  /** The first timeline row for `target` with an audit index above `after`, once drawn. */
  row(target: string, after: number, timeoutMs?: number): Promise<DrawnRow>;
  /** When the plant panel first drew the badge of `asset:fault` after `since` (epoch ms). */
  faultBadge(asset: string, fault: string, since: number, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

interface Stamps { rows: DrawnRow[]; faults: { key: string; at: number }[] }
declare const window: { __glimmerProbe?: Stamps };
declare const performance: { timeOrigin: number; now(): number };
declare const document: { getElementById(id: string): unknown; querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null }> };
declare const MutationObserver: new (cb: () => void) => { observe(target: unknown, options: { childList: boolean; subtree: boolean; attributes?: boolean }): void };

export async function openConsoleProbe(consoleUrl: string, options: { readyTimeoutMs?: number } = {}): Promise<ConsoleProbe> {
  const browser = await launch();
  const { page } = browser;
  await page.goto(consoleUrl);
  await page.waitForSelector('[data-testid="connection"][data-state="live"]', { timeout: options.readyTimeoutMs ?? 120_000 });
  await page.evaluate(() => {
    const stamps: Stamps = { rows: [], faults: [] };
    window.__glimmerProbe = stamps;
    const seenRows = new Set<string>();
    const seenFaults = new Set<string>();
    const scan = () => {
      const at = performance.timeOrigin + performance.now();
      const rows = document.querySelectorAll('#timeline li[data-decision-index]');
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i] as { getAttribute(n: string): string | null };
        const index = r.getAttribute('data-decision-index') as string;
        if (seenRows.has(index)) continue;
        seenRows.add(index);
        stamps.rows.push({ index: Number(index), target: r.getAttribute('data-target') ?? '', at });
      }
      const faults = document.querySelectorAll('#faults [data-fault]');
      const present = new Set<string>();
      for (let i = 0; i < faults.length; i++) present.add((faults[i] as { getAttribute(n: string): string | null }).getAttribute('data-fault') as string);
      for (const key of present) if (!seenFaults.has(key)) stamps.faults.push({ key, at });
      // A cleared fault drawn again later is a new appearance.
      for (const key of [...seenFaults]) if (!present.has(key)) seenFaults.delete(key);
      for (const key of present) seenFaults.add(key);
    };
    scan();
    new MutationObserver(scan).observe(document.getElementById('timeline'), { childList: true, subtree: false });
    new MutationObserver(scan).observe(document.getElementById('faults'), { childList: true, subtree: true });
  });
  const stamps = () => page.evaluate(() => window.__glimmerProbe as Stamps);
  const poll = async <T>(find: (s: Stamps) => T | undefined, what: string, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find(await stamps());
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`the console did not draw ${what} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    page,
    row: (target, after, timeoutMs = 30_000) => poll((s) => s.rows.find((r) => r.target === target && r.index > after), `a timeline row for ${target} after #${after}`, timeoutMs),
    faultBadge: (asset, fault, since, timeoutMs = 30_000) => poll((s) => s.faults.find((f) => f.key === `${asset}:${fault}` && f.at >= since)?.at, `the fault badge ${asset}:${fault}`, timeoutMs),
    close: () => browser.close(),
  };
}
