import type { Logger } from 'pino';

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

/** The daemon's reporter: the error counter and the log. */
export function reportErrors(metrics: { errors: { inc(labels: { component: string }): void } }, log: Logger): ErrorReporter {
  return {
    error: (component, err, message) => {
      metrics.errors.inc({ component });
      log.error({ err, component }, message);
    },
  };
}
