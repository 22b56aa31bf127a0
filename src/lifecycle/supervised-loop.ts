import type { ComponentHealth } from './component.js';
import type { Deadline } from './component.js';
import type { ErrorReporter } from './error-reporter.js';

/** The loop's reporter is the daemon's one (error-reporter.ts); named here too for the parts that import it with the loop. */
export type { ErrorReporter } from './error-reporter.js';

export interface LoopOptions {
  /** The component label of its errors and its key in health (e.g. `sweeper`, `writer:http://db:8086`). */
  name: string;
  /** Wait between two ticks when tick() does not say otherwise. */
  periodMs: number;
  /**
   * /health says failing when no tick has completed for this long (a tick that
   * throws is not progress). Default: 3 periods + 5 s. Set it above the
   * longest legitimate tick (a write request's timeout, say).
   */
  stallAfterMs?: number;
  /** Backoff after consecutive errors: 1 s, 2 s, 4 s ... capped here. Default 30 s. */
  maxBackoffMs?: number;
  /**
   * One iteration. Returns the milliseconds to wait before the next one
   * (default periodMs; 0 = at once). Throwing counts as an error: the loop
   * backs off and goes on. The signal aborts at stop().
   */
  tick: (signal: AbortSignal) => Promise<number | void> | number | void;
}

/**
 * A background loop that cannot die silently: every error is counted and
 * logged, followed by a capped exponential backoff; if the loop itself
 * exits (a bug in the loop, not in a tick) it is restarted; and health()
 * turns failing when no tick has completed for stallAfterMs, so a stall is
 * visible in /health instead of a quietly growing backlog.
 */
export class SupervisedLoop {
  private readonly ctl = new AbortController();
  private running?: Promise<void>;
  private wakeUp?: () => void;
  private woken = false;
  private stopped = false;
  private startedAt?: number;
  private lastProgressAt?: number;
  private consecutiveErrors = 0;
  private errorCount = 0;
  private restarts = 0;
  private lastError?: { at: number; message: string };

  constructor(
    private readonly o: LoopOptions,
    private readonly reporter: ErrorReporter,
    private readonly now: () => number = Date.now,
  ) {}

  get name(): string {
    return this.o.name;
  }

  /** Aborted at stop(): pass it to I/O inside ticks. */
  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  start(): void {
    if (this.running || this.stopped) return;
    this.startedAt = this.now();
    this.running = this.supervise();
  }

  /** Run the next tick now instead of at the end of the current wait. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Abort the tick in progress and wait (up to the deadline) for the loop to end. */
  async stop(deadline: Deadline): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ctl.abort(new Error(`${this.o.name} stopped`));
    this.wakeUp?.();
    if (this.running) await deadline.race(this.running);
  }

  health(): ComponentHealth {
    const now = this.now();
    const since = this.lastProgressAt ?? this.startedAt;
    const stallAfter = this.o.stallAfterMs ?? 3 * this.o.periodMs + 5000;
    const stalled = !this.stopped && since !== undefined && now - since > stallAfter;
    return {
      status: stalled ? 'failing' : this.consecutiveErrors > 0 ? 'degraded' : 'ok',
      last_progress_age_s: this.lastProgressAt === undefined ? null : Math.round((now - this.lastProgressAt) / 100) / 10,
      errors: this.errorCount,
      ...(this.restarts ? { restarts: this.restarts } : {}),
      ...(this.lastError ? { last_error: this.lastError.message, last_error_age_s: Math.round((now - this.lastError.at) / 1000) } : {}),
      ...(stalled ? { problem: `no progress for ${Math.round((now - since) / 1000)} s (expected every ${Math.round(this.o.periodMs / 100) / 10} s)` } : {}),
    };
  }

  private async supervise(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.loop();
      } catch (err) {
        // Only a bug in the loop machinery gets here: count it and start over.
        this.restarts++;
        this.noteError(err, 'loop exited unexpectedly: restarting it');
        await this.idle(this.backoffMs());
      }
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let waitMs: number;
      try {
        this.woken = false;
        const next = await this.o.tick(this.ctl.signal);
        this.lastProgressAt = this.now();
        this.consecutiveErrors = 0;
        waitMs = typeof next === 'number' ? next : this.o.periodMs;
      } catch (err) {
        if (this.stopped) return;
        this.noteError(err, 'background loop failed: backing off');
        waitMs = this.backoffMs();
        await this.idle(waitMs, false);
        continue;
      }
      if (this.woken) continue;
      await this.idle(waitMs);
    }
  }

  private noteError(err: unknown, message: string): void {
    this.consecutiveErrors++;
    this.errorCount++;
    this.lastError = { at: this.now(), message: (err as Error)?.message ?? String(err) };
    try {
      this.reporter.error(this.o.name, err, message);
    } catch {
      // a reporter must never take the loop down
    }
  }

  private backoffMs(): number {
    const cap = this.o.maxBackoffMs ?? 30_000;
    return Math.min(cap, 1000 * 2 ** Math.min(Math.max(0, this.consecutiveErrors - 1), 16));
  }

  /** Wait ms; wake() cuts it short unless wakeable is false (backoff after an error). */
  private idle(ms: number, wakeable = true): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      const self = this;
      function done() {
        clearTimeout(t);
        self.wakeUp = undefined;
        resolve();
      }
      this.wakeUp = wakeable ? done : () => (this.stopped ? done() : undefined);
    });
  }
}
