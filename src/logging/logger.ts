import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line (URL secrets are redacted where URLs are logged). */
const REDACT = [
  'token',
  '*.token',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.headers',
  'env.INFLUXDB_TOKEN',
  'env.INFLUXDB_PASSWORD',
  'env.COLLECT_TOKEN',
  'env.GEO_HTTP_KEY',
  'env.REDIS_PASSWORD',
  'env.REDIS_SENTINEL_PASSWORD',
];

export type LogFormat = 'auto' | 'json' | 'text';

/**
 * On a terminal: one line per event, human-readable (pino-pretty, single
 * line). Elsewhere: JSON lines on stdout with level names
 * (`"level":"info"`), what log shippers want. LOG_FORMAT forces either.
 */
export function createLogger(level: string, opts: { format?: LogFormat; destination?: NodeJS.WritableStream } = {}): Logger {
  const format = opts.format ?? 'auto';
  const tty = (opts.destination ?? process.stdout) === process.stdout ? process.stdout.isTTY === true : (opts.destination as { isTTY?: boolean }).isTTY === true;
  const text = format === 'text' || (format === 'auto' && tty);
  const base = {
    level,
    redact: { paths: REDACT, censor: '<redacted>' },
    base: { pid: process.pid },
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (text) {
    try {
      return pino({
        level,
        redact: base.redact,
        transport: {
          target: 'pino-pretty',
          options: {
            colorize: tty,
            singleLine: true,
            translateTime: 'SYS:HH:MM:ss.l',
            ignore: 'pid,hostname',
            destination: opts.destination === process.stderr ? 2 : 1,
          },
        },
      });
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
