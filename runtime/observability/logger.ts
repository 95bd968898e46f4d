/** Structured logs (pino) to stderr; stdout stays for what the user asked for (banners, CLI output). */
import pino from 'pino';

export type Logger = pino.Logger;

/** Secrets never reach a log line even if a caller passes them by mistake. */
export const LOG_REDACT = { paths: ['token', 'adminToken', '*.token', 'authorization', '*.authorization', 'password', '*.password'], censor: '[redacted]' };

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'glimmer',
      level: options.level ?? process.env.GLIMMER_LOG_LEVEL ?? 'info',
      redact: LOG_REDACT,
    },
    pino.destination({ fd: 2, sync: false }),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
