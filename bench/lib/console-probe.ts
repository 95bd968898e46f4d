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

/** Installed in the page: stamps every new timeline row with the wall clock (bounded to the latest 2,000). */
const STAMP_ROWS = `(() => {
  const rows = [];
  window.__glimmerRows = rows;
  const seen = new Set();
  const scan = () => {
    const at = performance.timeOrigin + performance.now();
    for (const r of document.querySelectorAll('#timeline li[data-decision-index]')) {
      const index = r.getAttribute('data-decision-index');
      if (seen.has(index)) continue;
      seen.add(index);
      rows.push({ index: Number(index), target: r.getAttribute('data-target') || '', at });
    }
    if (rows.length > 2000) rows.splice(0, rows.length - 2000);
  };
  scan();
  new MutationObserver(scan).observe(document.getElementById('timeline'), { childList: true });
})()`;

export async function openConsoleProbe(consoleUrl: string, options: { readyTimeoutMs?: number } = {}): Promise<ConsoleProbe> {
  const browser = await launch();
  const { page } = browser;
  try {
    await page.goto(consoleUrl);
    await page.waitForSelector('[data-testid="connection"][data-state="live"]', { timeout: options.readyTimeoutMs ?? 120_000 });
    // A string, not a function: a function's inner helpers would be renamed by the TypeScript loader (tsx keepNames
    // wraps them in a helper the page does not have). CDP evaluates it outside the page's CSP.
    await page.evaluate(STAMP_ROWS);
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
