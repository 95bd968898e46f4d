/**
 * What `glimmer run` shows in a terminal: log lines a person reads (time, level, source, message, fields) when both
 * stdout and stderr are a terminal, JSON lines (pino's, for collectors) otherwise; `--log-format` or
 * GLIMMER_LOG_FORMAT (pretty | json | auto) forces either. In a terminal, the log lines of the start (this process's
 * and the agents', relayed from their stderr) wait until the banner is printed, so nothing but the banner is above it.
 */
import pino from 'pino';
import { GlimmerError, quote } from '../errors';
import { LOG_REDACT, type Logger } from './logger';

export type LogFormat = 'pretty' | 'json';
export const LOG_FORMAT_ENV = 'GLIMMER_LOG_FORMAT';

/** The format in force: the flag, else the environment, else pretty exactly when stdout and stderr are terminals. */
export function logFormat(flag?: string, env: NodeJS.ProcessEnv = process.env, tty = { stdout: process.stdout.isTTY === true, stderr: process.stderr.isTTY === true }): LogFormat {
  const chosen = flag || env[LOG_FORMAT_ENV] || 'auto';
  if (chosen === 'pretty' || chosen === 'json') return chosen;
  if (chosen !== 'auto') throw new GlimmerError('GLM_ERR_USAGE', `the log format is pretty, json or auto, received ${quote(chosen)} (--log-format or ${LOG_FORMAT_ENV})`);
  return tty.stdout && tty.stderr ? 'pretty' : 'json';
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]{1,200}$/.test(v) ? v : JSON.stringify(v.length > 300 ? `${v.slice(0, 300)}…` : v);
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** One pino JSON line as a person reads it; anything that is not a JSON object passes unchanged. */
export function prettyLine(line: string, colour = false): string {
  let o: Record<string, unknown>;
  try {
    const parsed = JSON.parse(line) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return line;
    o = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = LEVELS[Number(o.level)] ?? String(o.level ?? '');
  const t = typeof o.time === 'number' ? new Date(o.time).toTimeString().slice(0, 8) : '';
  const fields = Object.entries(o).filter(([k]) => !OMIT.has(k)).map(([k, v]) => `${k}=${value(v)}`).join(' ');
  const paint = colour && level === 'ERROR' ? '\u001b[31m' : colour && level === 'WARN' ? '\u001b[33m' : '';
  return `${t} ${paint}${level.padEnd(5)}${paint ? '\u001b[0m' : ''} ${String(o.name ?? '').padEnd(20)} ${String(o.msg ?? '')}${fields ? `  ${fields}` : ''}`;
}

/** At most this many lines wait for the banner; beyond it the oldest go (counted). */
const HOLD_MAX = 2000;

/**
 * Line-buffered sink for log text (this process's pino output and the agents' relayed stderr): formats each line and
 * writes it, or keeps it until `release()`.
 */
export class TerminalLog {
  private held: string[] | undefined;
  private dropped = 0;
  private readonly partial = new Map<string, string>();

  constructor(
    private readonly out: { write(text: string): unknown },
    private readonly options: { pretty: boolean; colour?: boolean; hold?: boolean },
  ) {
    if (options.hold) this.held = [];
  }

  /** Text from `source` (partial lines are kept until their newline). */
  write(chunk: string | Buffer, source = 'self'): void {
    const text = (this.partial.get(source) ?? '') + chunk.toString();
    const lines = text.split('\n');
    this.partial.set(source, lines.pop() as string);
    for (const line of lines) if (line.length > 0) this.line(line);
  }

  /** Writes what was held (the banner is out) and everything from now on. */
  release(): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    if (this.dropped > 0) this.out.write(`(${this.dropped} earlier log lines dropped)\n`);
    if (held.length > 0) this.out.write(`${held.join('\n')}\n`);
  }

  private line(line: string): void {
    const text = this.options.pretty ? prettyLine(line, this.options.colour) : line;
    if (!this.held) {
      this.out.write(`${text}\n`);
      return;
    }
    this.held.push(text);
    if (this.held.length > HOLD_MAX) {
      this.held.shift();
      this.dropped += 1;
    }
  }
}

export interface TerminalLogger {
  readonly format: LogFormat;
  readonly logger: Logger;
  /** Where the agents' stderr goes (undefined: they write to this process's stderr themselves). */
  readonly agentStderr: ((chunk: Buffer, agent: string) => void) | undefined;
  /** Call once the banner is printed. */
  release(): void;
}

/** The logger of `glimmer run`: pretty and held until the banner in a terminal, pino JSON on stderr otherwise. */
export function terminalLogger(format: LogFormat, level = process.env.GLIMMER_LOG_LEVEL ?? 'info', err: NodeJS.WriteStream = process.stderr): TerminalLogger {
  if (format === 'json') {
    const logger = pino({ name: 'glimmer', level, redact: LOG_REDACT }, pino.destination({ fd: 2, sync: false }));
    return { format, logger, agentStderr: undefined, release: () => undefined };
  }
  const sink = new TerminalLog(err, { pretty: true, colour: err.isTTY === true, hold: true });
  const logger = pino({ name: 'glimmer', level, redact: LOG_REDACT }, { write: (line: string) => sink.write(line) });
  return { format, logger, agentStderr: (chunk, agent) => sink.write(chunk, agent), release: () => sink.release() };
}
