/** Polling for end-to-end tests: waits for a condition across processes, failing with what it waited for. */
import assert from 'node:assert/strict';

export interface WaitOptions {
  /** @default 100 */
  readonly intervalMs?: number;
  /** Appended to the failure message (logs, the state seen last). @default none */
  readonly diag?: () => string;
  /** A check that throws counts as "not yet" (a peer being restarted); otherwise the error fails the wait. @default false */
  readonly ignoreErrors?: boolean;
}

/** Resolves with the first truthy value of `check`, or fails the test after `ms` naming `what`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms: number, options: WaitOptions = {}): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const attempt = Promise.resolve().then(check);
    const v = await (options.ignoreErrors ? attempt.catch(() => undefined) : attempt);
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}${options.diag ? `\n${options.diag()}` : ''}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}
