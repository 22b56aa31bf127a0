import { ConfigError, loadConfig, type AppConfig, type LoadOptions } from '../config/load-config.js';
import { StartupError } from '../lifecycle/startup-error.js';

/**
 * Errors an operator can fix print as one line each — `config error:
 * VARIABLE: ...` or `start error: VARIABLE: ...` — with no stack trace;
 * returns the exit code (2 configuration, 1 environment), or undefined for
 * anything else (a bug: the caller prints it whole).
 */
export function reportOperatorError(err: unknown, out: (line: string) => void = (l) => console.error(l)): number | undefined {
  if (err instanceof ConfigError) {
    for (const p of err.problems) out(`config error: ${p}`);
    return 2;
  }
  if (err instanceof StartupError) {
    out(`${err.exitCode === 2 ? 'config error' : 'start error'}: ${err.message}`);
    return err.exitCode;
  }
  return undefined;
}

/**
 * The configuration, or the exit code after its problems were printed (one
 * line each). `check` runs extra checks that belong to loading (a file the
 * configuration names).
 */
export function configOrExitCode(o: LoadOptions = {}, check?: (cfg: AppConfig) => void): AppConfig | number {
  try {
    const cfg = loadConfig(process.env, o);
    check?.(cfg);
    return cfg;
  } catch (err) {
    const code = reportOperatorError(err);
    if (code !== undefined) return code;
    throw err;
  }
}
