/**
 * Per-host circuit breaker:
 *
 *   CLOSED    --(failureThreshold consecutive failures)--> OPEN
 *   OPEN      --(recoveryTimeout elapsed, checked lazily)--> HALF_OPEN
 *   HALF_OPEN --(successThreshold consecutive successes)--> CLOSED
 *   HALF_OPEN --(any failure)--> OPEN (recovery timer restarts)
 *
 * In CLOSED a success resets the failure count. In HALF_OPEN at most
 * `halfOpenMaxCalls` trial calls run at once (default 1); further calls are
 * rejected like in OPEN. Time is read from an injected clock and transitions
 * happen when someone looks, so a breaker owns no timer: thousands of idle
 * breakers cost only their fields.
 *
 * Results of calls that started before the last transition are ignored: a
 * slow failure from the CLOSED epoch must not re-open a breaker that has
 * meanwhile recovered, and a late success must not close an OPEN one.
 *
 * Why not opossum's own breaker: it opens on an error *percentage* over a
 * rolling window (kept with a timer per breaker) and closes on the first
 * half-open success; neither matches the seed. This is the small state
 * machine the seed describes, and nothing else.
 */

export type BreakerState = 'closed' | 'half_open' | 'open';

/** Gauge encoding of the state (telemetry_circuit_breaker_state). */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export interface BreakerOptions {
  failureThreshold: number;
  successThreshold: number;
  recoveryTimeoutMs: number;
  halfOpenMaxCalls: number;
}

/** Permission to make one call; hand it back with exactly one of the record methods. */
export interface BreakerPermit {
  readonly epoch: number;
  readonly trial: boolean;
}

export class CircuitOpenError extends Error {
  readonly code = 'CIRCUIT_OPEN';
  constructor(
    readonly host: string,
    readonly retryInMs: number,
  ) {
    super(`circuit for ${host} is open; next trial in ${Math.max(0, Math.round(retryInMs))} ms`);
    this.name = 'CircuitOpenError';
  }
}

export class CircuitBreaker {
  private st: BreakerState = 'closed';
  private epoch = 0;
  private failures = 0;
  private successes = 0;
  private openedAt = 0;
  private trialsInFlight = 0;
  private inFlight = 0;

  constructor(
    readonly host: string,
    private readonly opts: BreakerOptions,
    private readonly now: () => number,
    private readonly onTransition: (host: string, from: BreakerState, to: BreakerState) => void = () => {},
  ) {}

  /** Current state; an OPEN breaker past its recovery timeout reads as HALF_OPEN. */
  get state(): BreakerState {
    if (this.st === 'open' && this.now() - this.openedAt >= this.opts.recoveryTimeoutMs) this.transition('half_open');
    return this.st;
  }

  /** Calls currently running through this breaker. */
  get active(): number {
    return this.inFlight;
  }

  /** A permit, or a CircuitOpenError saying when the next trial may run. */
  acquire(): BreakerPermit | CircuitOpenError {
    const state = this.state;
    if (state === 'open') {
      return new CircuitOpenError(this.host, this.openedAt + this.opts.recoveryTimeoutMs - this.now());
    }
    if (state === 'half_open') {
      if (this.trialsInFlight >= this.opts.halfOpenMaxCalls) return new CircuitOpenError(this.host, 0);
      this.trialsInFlight++;
      this.inFlight++;
      return { epoch: this.epoch, trial: true };
    }
    this.inFlight++;
    return { epoch: this.epoch, trial: false };
  }

  recordSuccess(p: BreakerPermit): void {
    if (!this.settle(p)) return;
    if (this.st === 'closed') {
      this.failures = 0;
    } else if (this.st === 'half_open') {
      this.successes++;
      if (this.successes >= this.opts.successThreshold) this.transition('closed');
    }
  }

  recordFailure(p: BreakerPermit): void {
    if (!this.settle(p)) return;
    if (this.st === 'closed') {
      this.failures++;
      if (this.failures >= this.opts.failureThreshold) this.transition('open');
    } else if (this.st === 'half_open') {
      this.transition('open');
    }
  }

  /** The call ended without telling anything about the host (e.g. we aborted it at shutdown). */
  recordNeutral(p: BreakerPermit): void {
    this.settle(p);
  }

  /** Operator reset: back to CLOSED with clean counters. */
  reset(): void {
    if (this.st !== 'closed') this.transition('closed');
    this.failures = 0;
  }

  /** Release the permit; true when the result belongs to the current epoch. */
  private settle(p: BreakerPermit): boolean {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (p.epoch !== this.epoch) return false;
    if (p.trial) this.trialsInFlight = Math.max(0, this.trialsInFlight - 1);
    return true;
  }

  private transition(to: BreakerState): void {
    const from = this.st;
    if (from === to) return;
    this.st = to;
    this.epoch++;
    this.failures = 0;
    this.successes = 0;
    this.trialsInFlight = 0;
    if (to === 'open') this.openedAt = this.now();
    this.onTransition(this.host, from, to);
  }
}
