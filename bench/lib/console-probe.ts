/**
 * A headless Chromium (the tests' driver, test/helpers/chromium.ts) on the operator console of a running runtime,
 * timing when decision-timeline rows are drawn: a MutationObserver in the page stamps each new row with the wall clock
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
  close(): Promise<void>;
}

declare const window: { __glimmerRows?: DrawnRow[] };
declare const performance: { timeOrigin: number; now(): number };
declare const document: { getElementById(id: string): unknown; querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null }> };
declare const MutationObserver: new (cb: () => void) => { observe(target: unknown, options: { childList: boolean }): void };

export async function openConsoleProbe(consoleUrl: string, options: { readyTimeoutMs?: number } = {}): Promise<ConsoleProbe> {
  const browser = await launch();
  const { page } = browser;
  try {
    await page.goto(consoleUrl);
    await page.waitForSelector('[data-testid="connection"][data-state="live"]', { timeout: options.readyTimeoutMs ?? 120_000 });
    await page.evaluate(() => {
      const rows: DrawnRow[] = [];
      window.__glimmerRows = rows;
      const seen = new Set<string>();
      const scan = () => {
        const at = performance.timeOrigin + performance.now();
        const drawn = document.querySelectorAll('#timeline li[data-decision-index]');
        for (let i = 0; i < drawn.length; i++) {
          const r = drawn[i] as { getAttribute(n: string): string | null };
          const index = r.getAttribute('data-decision-index') as string;
          if (seen.has(index)) continue;
          seen.add(index);
          rows.push({ index: Number(index), target: r.getAttribute('data-target') ?? '', at });
        }
        // Bounded: a long benchmark keeps only the recent stamps.
        if (rows.length > 2000) rows.splice(0, rows.length - 2000);
      };
      scan();
      new MutationObserver(scan).observe(document.getElementById('timeline'), { childList: true });
    });
  } catch (err) {
    await browser.close();
    throw err;
  }
  return {
    page,
    async row(target, after, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = (await page.evaluate(() => window.__glimmerRows as DrawnRow[])).find((r) => r.target === target && r.index > after);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`the console drew no timeline row for ${target} after #${after} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => browser.close(),
  };
}
