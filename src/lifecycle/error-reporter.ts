import type { Logger } from 'pino';
import { FailureLog } from '../logging/failure-log.js';

/**
 * Where a part reports an error it survives (a failed tick, a bug caught at
 * a boundary): counted in telemetry_errors_total{component} and logged with
 * the component. Built once by the app (reportErrors) and handed to every
 * part that keeps going after an error; a part in a worker thread posts its
 * errors to the daemon thread, which reports them here.
 */
export interface ErrorReporter {
  error(component: string, err: unknown, message: string): void;
}

/**
 * The daemon's reporter: the error counter and the log. The log of a
 * failure that repeats (the same component and error code: a loop on a full
 * disk backing off) is one line a minute at most, with a count (FailureLog).
 */
export function reportErrors(metrics: { errors: { inc(labels: { component: string }): void } }, log: Logger): ErrorReporter {
  const failures = new FailureLog(log);
  return {
    error: (component, err, message) => {
      metrics.errors.inc({ component });
      const code = (err as { code?: unknown } | undefined)?.code;
      failures.failed(`${component}:${typeof code === 'string' ? code : (err as Error | undefined)?.message ?? String(err)}`, err, message, { component });
    },
  };
}
