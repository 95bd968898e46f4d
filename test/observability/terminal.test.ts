/**
 * The terminal of `glimmer run`: the format chosen (flag, GLIMMER_LOG_FORMAT, terminals), pino lines made readable, log
 * lines held until the banner; and the real `glimmer run` in a pseudo-terminal (util-linux `script`): the banner is
 * the first thing on the screen and the log lines after it are human-readable, never JSON.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { logFormat, prettyLine, TerminalLog } from '../../runtime/observability/terminal';

const tty = { stdout: true, stderr: true };

test('GIVEN the flag, the environment and the terminals WHEN the log format is chosen THEN the flag wins, then GLIMMER_LOG_FORMAT, then pretty only when stdout and stderr are terminals; anything else is GLM_ERR_USAGE', () => {
  assert.equal(logFormat(undefined, {}, tty), 'pretty');
  assert.equal(logFormat(undefined, {}, { stdout: true, stderr: false }), 'json');
  assert.equal(logFormat(undefined, {}, { stdout: false, stderr: true }), 'json');
  assert.equal(logFormat(undefined, { GLIMMER_LOG_FORMAT: 'json' }, tty), 'json');
  assert.equal(logFormat('pretty', { GLIMMER_LOG_FORMAT: 'json' }, { stdout: false, stderr: false }), 'pretty');
  assert.equal(logFormat('auto', { GLIMMER_LOG_FORMAT: 'json' }, tty), 'pretty');
  assert.throws(() => logFormat('yaml', {}, tty), (e: Error & { code?: string }) => e.code === 'GLM_ERR_USAGE' && /"yaml"/.test(e.message));
});

test('GIVEN pino JSON lines and other text WHEN made pretty THEN time, level, source, message and fields read in one line; text that is not a JSON object passes unchanged', () => {
  const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 12, 0, 5), pid: 1, hostname: 'h', name: 'agent:industrial-1', msg: 'shutdown refused by the gateway', target: 'pump_1', exception: 2, why: 'a b' });
  const out = prettyLine(line);
  assert.match(out, /^\d\d:\d\d:\d\d WARN {2}agent:industrial-1 +shutdown refused by the gateway {2}target=pump_1 exception=2 why="a b"$/);
  assert.ok(!out.includes('hostname') && !out.includes('pid='));
  assert.ok(prettyLine(line, true).includes('\u001b[33mWARN \u001b[0m'), 'warnings in yellow on a colour terminal');
  for (const text of ['plain text', '[1,2]', 'null', '{"broken"']) assert.equal(prettyLine(text), text);
});

test('GIVEN a held terminal log WHEN lines arrive in pieces from several sources and then the banner is out THEN nothing is written before release, everything after, whole lines only, the overflow counted', () => {
  const written: string[] = [];
  const log = new TerminalLog({ write: (t: string) => written.push(t) }, { pretty: true, hold: true });
  log.write('{"level":30,"time":0,"name":"glimmer","msg":"api lis', 'self');
  log.write('{"level":30,"time":0,"name":"agent:data-1","msg":"up"}\n', 'data-1');
  log.write('tening"}\n', 'self');
  assert.equal(written.length, 0);
  log.release();
  assert.equal(written.length, 1);
  const lines = (written[0] as string).trimEnd().split('\n');
  assert.match(lines[0] as string, /agent:data-1 +up$/);
  assert.match(lines[1] as string, /glimmer +api listening$/);
  log.write('after\n');
  assert.equal(written[1], 'after\n');
  const flood = new TerminalLog({ write: (t: string) => written.push(t) }, { pretty: false, hold: true });
  for (let i = 0; i < 2005; i++) flood.write(`line ${i}\n`);
  written.length = 0;
  flood.release();
  assert.equal(written[0], '(5 earlier log lines dropped)\n');
  assert.match(written[1] as string, /^line 5\n/);
});

test('GIVEN `glimmer run` in a terminal WHEN it starts THEN the screen shows the banner first (nothing above it but the starting line), then readable log lines, never a JSON line', { timeout: 180_000 }, async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-terminal-'));
  const root = path.join(__dirname, '..', '..');
  const cmd = [process.execPath, path.join(root, 'bin', 'glimmer'), 'run', '--state-dir', stateDir, '--api-port', '0', '--api-mtls-port', '0', '--modbus-port', '0', '--opcua-port', '0'].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: root, env: { ...process.env, GLIMMER_LOG_LEVEL: 'info', GLIMMER_LOG_FORMAT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let screen = '';
  child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const deadline = Date.now() + 150_000;
    // Some log lines after the banner: the agents' and the runtime's own.
    while (!/Stop with Ctrl-C[\s\S]*INFO[\s\S]*INFO/.test(screen) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    child.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
  const text = screen.replace(/\r/g, '');
  const banner = text.indexOf('Glimmer is running');
  assert.ok(banner > 0, text.slice(0, 3000));
  assert.deepEqual(text.slice(0, banner).split('\n').filter((l) => l.trim() !== ''), ['Glimmer is starting (log lines follow the banner)...'], 'nothing above the banner but the banner');
  assert.ok(!/^\{"level"/m.test(text), `no JSON log line on the terminal:\n${text.slice(0, 3000)}`);
  assert.match(text.slice(banner), /\d\d:\d\d:\d\d INFO {2}glimmer +api listening/);
  assert.match(text.slice(banner), /INFO {2}agent:industrial-1 /, 'the agents\' lines are relayed and readable too');
});
