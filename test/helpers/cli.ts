/** Runs the real `glimmer` CLI (TypeScript entry through tsx) as a child process. */
import { execFile } from 'node:child_process';
import path from 'node:path';

const ENTRY = path.join(__dirname, '..', '..', 'runtime', 'cli', 'entry.ts');

export function glimmer(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', ENTRY, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 60000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err && typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : err ? 1 : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
