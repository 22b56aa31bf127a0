import { performance } from 'node:perf_hooks';

/**
 * Client-side request budget for a rate-limited API (ip-api's free tier: 45
 * requests a minute per client address; going over earns 429s and, if it
 * goes on, a ban of the address).
 *
 * Sliding-window log, counted where it cannot be fooled by network delay:
 * a request occupies a slot from the moment it is granted until one window
 * (+ margin) after it *completed*. The server saw it somewhere between the
 * grant and the completion, so a new request granted only when fewer than
 * `limit` slots are occupied reaches the server at least a full window after
 * every request `limit` places before it — whatever the delays were (a
 * request stuck waiting for a pooled connection, a slow handshake). So for
 * *every* interval of one window, of any alignment, at most `limit`
 * requests arrive, and the whole budget stays usable (a token bucket that
 * guarantees the same bound must be sized to about half the rate).
 * test/geo/rate-limiter.test.ts checks the bound on a simulated clock and
 * test/geo/http-backend.test.ts at a real server.
 *
 * On top, the server's own view: `pauseUntil` (429 with Retry-After, or
 * X-Rl: 0 with X-Ttl) stops all grants until then, and `serverBudget`
 * (ip-api's X-Rl / X-Ttl) caps the grants until the server's window resets —
 * that is what keeps several replicas behind one NAT address from
 * overrunning the budget they share.
 *
 * Waiters queue in FIFO order; the queue is bounded (`maxQueue`): when full,
 * acquire() refuses at once instead of growing. One timer at a time, unref'd:
 * a pending lookup never keeps the process alive.
 *
 * Shared budget (cluster mode, `shared`): one API key spent by N replicas.
 * The head of the queue, once this process's own window allows it, asks the
 * shared budget (src/cluster/redis-rate-budget.ts: the same sliding-window
 * log, kept in Redis, so the bound holds for the whole cluster) and is
 * granted only when the cluster has room; one question at a time per
 * process. While the shared budget cannot answer (Redis away) the process
 * falls back to its local share (`shared.localShare(limit)`, the limit over
 * the last known member count) and asks again after `retrySharedMs`.
 */

export interface RateLimiterOptions {
  /** Requests per window (GEO_HTTP_RATE_PER_MINUTE). */
  limit: number;
  /** Window length; 60 000 ms for a per-minute budget (shorter in tests). */
  windowMs?: number;
  /** Extra time added to the window, against a server clock that counts coarsely (default 0). */
  marginMs?: number;
  /** Waiting requests at most; more are refused with `queue_full`. */
  maxQueue: number;
  now?: () => number;
  /** The cluster's budget for the same API key (cluster mode). */
  shared?: SharedBudget;
  /** Longest a request can take (its slot in the shared budget is held that long at most if its replica dies). Default 60 s. */
  holdMs?: number;
  /** While the shared budget is unavailable, ask it again after this long (default 1 s). */
  retrySharedMs?: number;
}

export type SharedTake = { kind: 'granted' } | { kind: 'wait'; ms: number } | { kind: 'unavailable'; detail: string };

/** A request budget shared by several processes (see the header comment). */
export interface SharedBudget {
  /** Take one slot of `limit` per `windowMs` for request `id` (in flight for at most `holdMs`). */
  take(id: string, limit: number, windowMs: number, holdMs: number): Promise<SharedTake>;
  /** Request `id` completed now: its slot frees one window from now. */
  done(id: string, windowMs: number): void;
  /** Request `id` never left: its slot frees now. */
  refund(id: string): void;
  /** What this process may use alone while the shared budget is away (at least 1). */
  localShare(limit: number): number;
}

/** Where the limit in force comes from. */
export type RateScope = 'process' | 'cluster' | 'local_share';

/** A granted request: call `done()` when it completed (or failed), `refund()` if it never left. */
export interface RateTicket {
  readonly grantedAt: number;
  done(): void;
  refund(): void;
}

export type AcquireResult = { ok: true; ticket: RateTicket } | { ok: false; reason: 'queue_full' | 'aborted'; detail: string };

interface Waiter {
  resolve: (r: AcquireResult) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class RateLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly marginMs: number;
  readonly maxQueue: number;
  /** Granted requests not completed yet: they occupy a slot until then, and a window after. */
  private inFlight = 0;
  /** Completion times still inside the window, ascending (completions come in time order). */
  private ended: number[] = [];
  private readonly queue: Waiter[] = [];
  private pausedUntil = 0;
  private serverRemaining = Infinity;
  private serverResetAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly now: () => number;
  private readonly shared?: SharedBudget;
  private readonly holdMs: number;
  private readonly retrySharedMs: number;
  /** A question to the shared budget is in progress (one at a time). */
  private taking = false;
  private sharedDownUntil = 0;
  /** The last question to the shared budget went unanswered (Redis away). */
  private sharedDown = false;
  private sharedWaitUntil = 0;
  private grants = 0;
  private readonly idPrefix = `${process.pid}-${Math.random().toString(36).slice(2, 8)}-`;

  constructor(o: RateLimiterOptions) {
    if (!(o.limit >= 1)) throw new RangeError('limit must be >= 1');
    this.limit = Math.floor(o.limit);
    this.windowMs = o.windowMs ?? 60_000;
    this.marginMs = o.marginMs ?? 0;
    this.maxQueue = Math.max(0, Math.floor(o.maxQueue));
    this.now = o.now ?? (() => performance.now());
    this.shared = o.shared;
    this.holdMs = o.holdMs ?? 60_000;
    this.retrySharedMs = o.retrySharedMs ?? 1000;
  }

  /** Where the limit in force comes from, and its value. */
  get scope(): { scope: RateScope; limit: number } {
    if (!this.shared) return { scope: 'process', limit: this.limit };
    if (this.sharedDown) return { scope: 'local_share', limit: this.shared.localShare(this.limit) };
    return { scope: 'cluster', limit: this.limit };
  }

  /** Requests waiting for a grant. */
  get queued(): number {
    return this.queue.length;
  }

  /** True while the server has told us to wait (429 or its budget spent). */
  get throttled(): boolean {
    const t = this.now();
    return this.pausedUntil > t || (t < this.serverResetAt && this.serverRemaining <= 0);
  }

  /** Wait for a grant; refuses when the queue is full, gives up when `signal` aborts. */
  acquire(signal?: AbortSignal): Promise<AcquireResult> {
    if (this.stopped) return Promise.resolve({ ok: false, reason: 'aborted', detail: 'geo lookups stopped' });
    if (signal?.aborted) return Promise.resolve({ ok: false, reason: 'aborted', detail: 'aborted while queued' });
    // Fast path keeps FIFO order: only when nobody is waiting (and no shared budget must be asked).
    if (this.queue.length === 0 && !this.shared) {
      const t = this.now();
      if (this.blockedUntil(t, this.limit) <= t) return Promise.resolve({ ok: true, ticket: this.grant(t) });
    }
    if (this.queue.length >= (this.shared ? Math.max(1, this.maxQueue) : this.maxQueue)) {
      return Promise.resolve({ ok: false, reason: 'queue_full', detail: `${this.queue.length} lookups already waiting for the rate limit (${this.limit} per ${this.windowMs / 1000} s)` });
    }
    return new Promise<AcquireResult>((resolve) => {
      const w: Waiter = { resolve, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.queue.indexOf(w);
          if (i >= 0) this.queue.splice(i, 1);
          resolve({ ok: false, reason: 'aborted', detail: 'aborted while queued for the rate limit' });
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
      this.schedule();
    });
  }

  /** The server asked us to wait (Retry-After, or X-Ttl with X-Rl: 0). */
  pauseUntil(t: number): void {
    if (t > this.pausedUntil) this.pausedUntil = t;
    this.schedule();
  }

  /**
   * The server's count (X-Rl: `remaining` requests until `resetAt`). Grants
   * already made but not yet seen by the server are the caller's to subtract.
   */
  serverBudget(remaining: number, resetAt: number): void {
    this.serverRemaining = Math.max(0, remaining);
    this.serverResetAt = resetAt;
    this.schedule();
  }

  /** Fail every waiter with `aborted` and refuse new ones. Idempotent. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.queue.splice(0)) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.resolve({ ok: false, reason: 'aborted', detail: 'geo lookups stopped' });
    }
  }

  /** Earliest time a grant may be made under `limit` (≤ t: now; Infinity: when a request in flight completes). */
  private blockedUntil(t: number, limit: number): number {
    const span = this.windowMs + this.marginMs;
    let drop = 0;
    while (drop < this.ended.length && this.ended[drop]! <= t - span) drop++;
    if (drop) this.ended.splice(0, drop);
    let at = t;
    const occupied = this.inFlight + this.ended.length;
    if (occupied >= limit) {
      // The oldest completions leave first; requests in flight leave only after completing.
      const mustLeave = occupied - limit + 1;
      at = mustLeave <= this.ended.length ? this.ended[mustLeave - 1]! + span : Infinity;
    }
    if (this.pausedUntil > at) at = this.pausedUntil;
    if (t < this.serverResetAt) {
      if (this.serverRemaining <= 0 && this.serverResetAt > at) at = this.serverResetAt;
    } else {
      this.serverRemaining = Infinity; // the server's window has reset: its old count means nothing
    }
    return at;
  }

  /** `sharedId`: the request's slot in the shared budget, settled with it. */
  private grant(t: number, sharedId?: string): RateTicket {
    this.inFlight++;
    if (this.serverRemaining !== Infinity) this.serverRemaining--;
    let settled = false;
    return {
      grantedAt: t,
      done: () => {
        if (settled) return;
        settled = true;
        this.inFlight--;
        this.ended.push(this.now());
        if (sharedId) this.shared?.done(sharedId, this.windowMs + this.marginMs);
        this.schedule();
      },
      refund: () => {
        if (settled) return;
        settled = true;
        this.inFlight--;
        if (this.serverRemaining !== Infinity) this.serverRemaining++;
        if (sharedId) this.shared?.refund(sharedId);
        this.schedule();
      },
    };
  }

  /** Ask the shared budget for the head of the queue; the answer re-enters schedule(). */
  private askShared(): void {
    this.taking = true;
    const id = `${this.idPrefix}${++this.grants}`;
    const answer = (r: SharedTake) => {
      this.taking = false;
      const t = this.now();
      this.sharedDown = r.kind === 'unavailable';
      if (r.kind === 'granted') {
        const w = this.queue[0];
        // The slot goes to whoever heads the queue now (the asker may have given up meanwhile).
        if (this.stopped || !w) this.shared!.refund(id);
        else {
          this.queue.shift();
          if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
          w.resolve({ ok: true, ticket: this.grant(t, id) });
        }
      } else if (r.kind === 'wait') {
        // Poll at least every second: a slot held for a request in flight elsewhere frees when it completes.
        this.sharedWaitUntil = t + Math.min(Math.max(1, r.ms), 1000);
      } else {
        this.sharedDownUntil = t + this.retrySharedMs;
      }
      this.schedule();
    };
    this.shared!.take(id, this.limit, this.windowMs + this.marginMs, this.holdMs).then(answer, (err: unknown) =>
      answer({ kind: 'unavailable', detail: (err as Error)?.message ?? String(err) }),
    );
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (;;) {
      const w = this.queue[0];
      if (!w || this.taking) return; // a shared-budget answer calls schedule() again
      const t = this.now();
      const useShared = this.shared !== undefined && t >= this.sharedDownUntil;
      const limit = this.shared && !useShared ? this.shared.localShare(this.limit) : this.limit;
      let at = this.blockedUntil(t, limit);
      if (useShared && this.sharedWaitUntil > at) at = this.sharedWaitUntil;
      if (at === Infinity) return; // a completion (done/refund) calls schedule() again
      if (at > t) {
        // +1 ms: timers may fire a hair early relative to performance.now().
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.schedule();
        }, Math.ceil(at - t) + 1);
        this.timer.unref();
        return;
      }
      if (useShared) return this.askShared();
      this.queue.shift();
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.resolve({ ok: true, ticket: this.grant(t) });
    }
  }
}
