/**
 * Headless Chromium for end-to-end tests: Debian's /usr/bin/chromium driven by playwright-core, a throwaway profile,
 * and screenshots kept under test-results/ (git-ignored) as CI artifacts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';

export const RESULTS = path.join(__dirname, '..', '..', 'test-results');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launch(viewport = { width: 1400, height: 1100 }): Promise<{ page: Page; close(): Promise<void> }> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    page,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** A full-page screenshot at test-results/<name>.png; returns its path. */
export async function shot(page: Page, name: string, options: { fullPage?: boolean; selector?: string } = {}): Promise<string> {
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${name}.png`);
  if (options.selector) await page.locator(options.selector).screenshot({ path: file });
  else await page.screenshot({ path: file, fullPage: options.fullPage ?? true });
  return file;
}
