/**
 * A start-up failure the operator can fix (port in use, DATA_DIR not
 * writable, missing capability): printed as one line naming the setting and
 * what to change, no stack trace. `exitCode` 2 means configuration, 1 the
 * environment.
 */
export class StartupError extends Error {
  constructor(
    /** The setting to change (PORT, DATA_DIR, ...). */
    readonly variable: string,
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'StartupError';
  }
}
