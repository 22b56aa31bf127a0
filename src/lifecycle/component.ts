/**
 * The lifecycle contract every long-lived part of the daemon implements
 * (after the OpenTelemetry collector's component.go):
 *
 *   - the constructor does no I/O: it only stores its arguments;
 *   - `start()` does the I/O (open files, connect, spawn, listen); calling it
 *     twice is a no-op;
 *   - `stop(deadline)` releases everything before the deadline (flushing
 *     what can be flushed), is idempotent, and is safe without `start()`;
 *   - a stopped component stays stopped: `start()` after `stop()` rejects
 *     ("start after stop") and starts nothing again;
 *   - `health()` is cheap, synchronous and truthful before start, while
 *     running and after stop.
 *
 * The app holds its components in one ordered list (see Lifecycle), starts
 * them in order and stops them in reverse. test/lifecycle/contract.test.ts
 * runs the same checks over every component.
 */

export type HealthStatus = 'ok' | 'degraded' | 'failing';

export interface ComponentHealth {
  status: HealthStatus;
  [detail: string]: unknown;
}

/**
 * An absolute point in time (epoch ms) by which a stop must be done. Passing
 * a point instead of a budget lets nested stops share one clock: whatever a
 * step leaves unused is there for the next.
 */
export class Deadline {
  private constructor(readonly at: number) {}

  static in(ms: number, now = Date.now()): Deadline {
    return new Deadline(now + Math.max(0, ms));
  }

  static at(epochMs: number): Deadline {
    return new Deadline(epochMs);
  }

  /** Milliseconds left (0 once passed). */
  remaining(now = Date.now()): number {
    return Math.max(0, this.at - now);
  }

  get passed(): boolean {
    return this.remaining() === 0;
  }

  /** A deadline at most `ms` from now and never later than this one. */
  within(ms: number, now = Date.now()): Deadline {
    return new Deadline(Math.min(this.at, now + Math.max(0, ms)));
  }

  /** Resolve when the deadline passes (or at once if it has). The timer never holds the process. */
  sleep(): Promise<void> {
    const ms = this.remaining();
    return ms === 0 ? Promise.resolve() : new Promise((r) => setTimeout(r, ms).unref());
  }

  /**
   * `p`, or undefined when the deadline comes first. The timer is cleared as
   * soon as `p` settles: a stop that finishes early leaves nothing waiting
   * for the rest of SHUTDOWN_TIMEOUT (the contract test counts leftovers).
   */
  race<T>(p: Promise<T>): Promise<T | undefined> {
    const ms = this.remaining();
    if (ms === 0) return Promise.race([p, Promise.resolve(undefined)]);
    let timer: NodeJS.Timeout | undefined;
    const passed = new Promise<undefined>((r) => {
      timer = setTimeout(r, ms, undefined);
      timer.unref();
    });
    return Promise.race([p, passed]).finally(() => clearTimeout(timer));
  }
}

export interface Component {
  /** Stable, short, kebab-case: the key in /health and the label of error counters. */
  readonly name: string;
  start(): Promise<void>;
  stop(deadline: Deadline): Promise<void>;
  health(): ComponentHealth;
}

/** The worst of several statuses. */
export function worstStatus(statuses: Iterable<HealthStatus>): HealthStatus {
  let worst: HealthStatus = 'ok';
  for (const s of statuses) {
    if (s === 'failing') return 'failing';
    if (s === 'degraded') worst = 'degraded';
  }
  return worst;
}

/**
 * The start/stop state of every long-lived part (the one implementation of
 * the contract above): start idempotent, stop idempotent and safe without
 * start (onStop runs only after a start), start after stop rejected, and
 * whether we are running. Subclasses implement onStart/onStop.
 */
export abstract class BaseComponent implements Component {
  abstract readonly name: string;
  private starting?: Promise<void>;
  private stopping?: Promise<void>;

  get started(): boolean {
    return this.starting !== undefined;
  }

  get stopped(): boolean {
    return this.stopping !== undefined;
  }

  get running(): boolean {
    return this.started && !this.stopped;
  }

  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error(`${this.name}: start after stop`));
    this.starting ??= this.onStart();
    return this.starting;
  }

  stop(deadline: Deadline): Promise<void> {
    // Let a start in progress finish first (its resources must be released too).
    this.stopping ??= (this.starting ?? Promise.resolve()).catch(() => {}).then(() => (this.starting ? this.onStop(deadline) : undefined));
    return this.stopping;
  }

  protected abstract onStart(): Promise<void>;
  protected abstract onStop(deadline: Deadline): Promise<void>;
  abstract health(): ComponentHealth;
}
