import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line. */
const REDACT = [
  'token',
  '*.token',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'env.INFLUXDB_TOKEN',
  'env.INFLUXDB_PASSWORD',
  'env.COLLECT_TOKEN',
  'env.GEO_HTTP_KEY',
];

/**
 * JSON lines on stdout (what log shippers want); human-readable when stdout is
 * a terminal and pino-pretty is installed.
 */
export function createLogger(level: string, opts: { pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const pretty = opts.pretty ?? (process.stdout.isTTY === true && !opts.destination);
  const base = { level, redact: { paths: REDACT, censor: '<redacted>' }, base: { pid: process.pid } };
  if (pretty) {
    try {
      return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
    } catch {
      // pino-pretty not installed (production image): fall back to JSON.
    }
  }
  return opts.destination ? pino(base, opts.destination as never) : pino(base);
}

/** A logger that drops everything (tests, one-shot JSON output). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
