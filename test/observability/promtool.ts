/** Runs Debian's `promtool` (package `prometheus`, installed by `make test` via APT_TEST). */
import { spawnSync } from 'node:child_process';

export interface PromtoolResult {
  readonly status: number | null;
  readonly output: string;
}

export function promtool(args: readonly string[], stdin?: string): PromtoolResult {
  const r = spawnSync('promtool', args, { input: stdin, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
