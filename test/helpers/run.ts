/**
 * Starts the real `glimmer run` process (built bundle, real agent processes, the simulated plant on loopback, every
 * port picked by the OS) and resolves once it prints the console address.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readAuditRecords } from '../../runtime/audit/records';

const ROOT = path.join(__dirname, '..', '..');

export interface RunningGlimmer {
  readonly url: URL;
  readonly token: string;
  readonly output: () => { stdout: string; stderr: string };
  /** The `glimmer run` process (its agents are its children). */
  readonly pid: number;
  readonly kill: (signal: NodeJS.Signals) => void;
  /** SIGTERM, then the exit code and the whole output. */
  readonly stop: () => Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** The process as spawned, for tests that signal or kill it at chosen moments (the fault-injection suite). */
export interface SpawnedGlimmer {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly output: () => { stdout: string; stderr: string };
  /** The console address (with the token in its fragment), once printed: every agent ACTIVE or TERMINATED. */
  consoleUrl(timeoutMs?: number): Promise<URL>;
  /** The API's base URL once it listens (from the `api listening` log line, needs log level info), before agents boot. */
  apiUrl(timeoutMs?: number): Promise<string>;
}

/** `extraArgs` come last, so e.g. `--api-port 9000` overrides the default 0; `env` adds to the environment. */
export function spawnGlimmerRun(stateDir: string, options: { extraArgs?: string[]; logLevel?: string; env?: NodeJS.ProcessEnv } = {}): SpawnedGlimmer {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'glimmer'), 'run', '--state-dir', stateDir, '--api-port', '0', '--api-mtls-port', '0', '--modbus-port', '0', '--opcua-port', '0', ...(options.extraArgs ?? [])], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GLIMMER_LOG_LEVEL: options.logLevel ?? 'warn', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const waitFor = <T>(what: string, find: () => T | undefined, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        clearInterval(poll);
        reject(new Error(`no ${what} in time\nstdout:${stdout}\nstderr:${stderr.slice(-4000)}`));
      }, timeoutMs);
      void exited.then(({ code }) => {
        clearInterval(poll);
        clearTimeout(timer);
        reject(new Error(`glimmer run exited with ${code} before it served\nstderr:${stderr.slice(-4000)}`));
      });
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
    child,
    exited,
    output: () => ({ stdout, stderr }),
    consoleUrl: (timeoutMs = 90000) =>
      waitFor('console address', () => {
        const m = /Operator console: (http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]+)/.exec(stdout);
        return m?.[1] ? new URL(m[1]) : undefined;
      }, timeoutMs),
    apiUrl: (timeoutMs = 90000) =>
      waitFor('API address', () => {
        const line = stderr.split('\n').find((l) => l.includes('"api listening"'));
        return line ? `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}` : undefined;
      }, timeoutMs),
  };
}

export async function startGlimmerRun(stateDir: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningGlimmer> {
  const g = spawnGlimmerRun(stateDir, { extraArgs, env });
  const stop = async () => {
    g.child.kill('SIGTERM');
    const { code } = await g.exited;
    return { code, ...g.output() };
  };
  try {
    const url = await g.consoleUrl();
    return { url, token: url.hash.replace('#token=', ''), output: g.output, pid: g.child.pid as number, kill: (signal) => g.child.kill(signal), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The agent processes a runtime process (`glimmer run`, or this test process) forked for one agent kind (their bundle is dist/agent-<kind>.js). */
export function agentProcesses(parent: number, kind: string): number[] {
  const pids = spawnSync('pgrep', ['-P', String(parent)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
  return pids.filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`agent-${kind}.js`);
    } catch {
      return false;
    }
  });
}

/** Every record of a running runtime's audit log, read page by page through its API. */
export async function auditRecordsOf(url: string | URL, token: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const record of readAuditRecords({ url: String(url), token })) out.push(record);
  return out;
}
