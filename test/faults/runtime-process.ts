/** `glimmer run` as a real process for the fault tests: ports from the OS, its output, its agent processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { auditDbPath } from '../../runtime/audit/log';

const ROOT = path.join(__dirname, '..', '..');

export interface RunningGlimmer {
  readonly child: ChildProcess;
  readonly stateDir: string;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the API base URL and token once the console address is printed. */
  console(timeoutMs?: number): Promise<{ url: string; token: string }>;
  /** Resolves with the API base URL once the API listens (read from the log), before agents are ACTIVE. */
  apiUrl(timeoutMs?: number): Promise<string>;
}

export function startGlimmer(stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-fault-run-'))): RunningGlimmer {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'glimmer'), 'run', '--state-dir', stateDir, '--api-port', '0', '--api-mtls-port', '0', '--modbus-port', '0', '--opcua-port', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GLIMMER_LOG_LEVEL: 'info' },
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const waitFor = <T>(what: string, find: () => T | undefined, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        clearInterval(poll);
        reject(new Error(`no ${what} in time\nstdout:${out.slice(-3000)}\nstderr:${err.slice(-3000)}`));
      }, timeoutMs);
      const poll = setInterval(() => {
        const v = find();
        if (v !== undefined) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve(v);
        }
      }, 20);
    });
  return {
    child, stateDir, exited,
    stdout: () => out,
    stderr: () => err,
    console: (timeoutMs = 90000) =>
      waitFor('console address', () => {
        const m = /Operator console: (http:\/\/127\.0\.0\.1:\d+)\/#token=([A-Za-z0-9_-]+)/.exec(out);
        return m ? { url: m[1] as string, token: m[2] as string } : undefined;
      }, timeoutMs),
    apiUrl: (timeoutMs = 90000) =>
      waitFor('API address', () => {
        const line = err.split('\n').find((l) => l.includes('"api listening"'));
        return line ? `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}` : undefined;
      }, timeoutMs),
  };
}

/** Direct children of a process (its agent processes), from /proc. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(...fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch { /* task gone */ }
  }
  return out;
}

export function alive(pid: number): boolean {
  try {
    // A zombie has exited: only its exit status waits for a parent.
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** The record types of the audit log, in order (read after the runtime exited). */
export function auditTypes(stateDir: string): string[] {
  const db = new Database(auditDbPath(stateDir), { readonly: true });
  try {
    return (db.prepare('SELECT leaf FROM entries ORDER BY idx').pluck().all() as Buffer[]).map((l) => (JSON.parse(l.toString('utf8')) as { record: { type: string } }).record.type);
  } finally {
    db.close();
  }
}
