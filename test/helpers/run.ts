/**
 * Starts the real `glimmer run` process (built bundle, real agent processes, the simulated plant on loopback, every
 * port picked by the OS) and resolves once it prints the console address.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

export interface RunningGlimmer {
  readonly url: URL;
  readonly token: string;
  readonly output: () => { stdout: string; stderr: string };
  /** SIGTERM, then the exit code and the whole output. */
  readonly stop: () => Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export async function startGlimmerRun(stateDir: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningGlimmer> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'glimmer'), 'run', '--state-dir', stateDir, '--api-port', '0', '--api-mtls-port', '0', '--modbus-port', '0', '--opcua-port', '0', ...extraArgs], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GLIMMER_LOG_LEVEL: 'warn', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    child.kill('SIGTERM');
    return { code: await exited, stdout, stderr };
  };
  try {
    const url = await new Promise<URL>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no console address in time\nstdout:${stdout}\nstderr:${stderr.slice(-4000)}`)), 90000);
      void exited.then((code) => reject(new Error(`glimmer run exited with ${code} before it served\nstderr:${stderr.slice(-4000)}`)));
      const poll = setInterval(() => {
        const m = /Operator console: (http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]+)/.exec(stdout);
        if (m?.[1]) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve(new URL(m[1]));
        }
      }, 50);
    });
    return { url, token: url.hash.replace('#token=', ''), output: () => ({ stdout, stderr }), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
