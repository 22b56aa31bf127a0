import { CircuitBreaker, type BreakerOptions, type BreakerState } from './circuit-breaker.js';

export interface BreakerRegistryOptions extends BreakerOptions {
  /** A breaker unused this long (and with no call in flight) is forgotten. */
  idleEvictMs: number;
  /** Hard bound on remembered hosts; the least recently used idle ones go first. */
  maxBreakers: number;
}

export interface BreakerEvents {
  transition?: (host: string, from: BreakerState, to: BreakerState) => void;
  evicted?: (host: string) => void;
}

/**
 * One breaker per origin, created on first use, kept in least-recently-used
 * order (a Map re-inserted on every use) and evicted lazily when idle: no
 * timer per breaker, no unbounded map.
 */
export class BreakerRegistry {
  private readonly breakers = new Map<string, { breaker: CircuitBreaker; lastUsed: number }>();

  constructor(
    private readonly opts: BreakerRegistryOptions,
    private readonly now: () => number = Date.now,
    private readonly events: BreakerEvents = {},
  ) {}

  get size(): number {
    return this.breakers.size;
  }

  /** The breaker of `host`, created if needed; marks it used. */
  get(host: string): CircuitBreaker {
    const now = this.now();
    let entry = this.breakers.get(host);
    if (entry) {
      this.breakers.delete(host);
    } else {
      entry = { breaker: new CircuitBreaker(host, this.opts, this.now, this.events.transition), lastUsed: now };
    }
    entry.lastUsed = now;
    this.breakers.set(host, entry);
    this.evict(now);
    return entry.breaker;
  }

  /** Look without creating or touching. */
  peek(host: string): CircuitBreaker | undefined {
    return this.breakers.get(host)?.breaker;
  }

  entries(): IterableIterator<[string, { breaker: CircuitBreaker; lastUsed: number }]> {
    return this.breakers.entries();
  }

  /** Hosts whose breaker is not closed, with their state. */
  notClosed(): { host: string; state: BreakerState }[] {
    const out: { host: string; state: BreakerState }[] = [];
    for (const [host, { breaker }] of this.breakers) {
      const state = breaker.state;
      if (state !== 'closed') out.push({ host, state });
    }
    return out;
  }

  /** Reset one host's breaker, or all when host is omitted. Returns the hosts reset. */
  reset(host?: string): string[] {
    const done: string[] = [];
    for (const [h, { breaker }] of this.breakers) {
      if (host !== undefined && h !== host) continue;
      if (breaker.state !== 'closed') done.push(h);
      breaker.reset();
    }
    return done;
  }

  /** Forget a host (no target uses it any more): its state and gauge go. */
  forget(host: string): void {
    if (this.breakers.delete(host)) this.events.evicted?.(host);
  }

  /** Drop idle breakers from the old end of the LRU order. Cheap: stops at the first recent one. */
  evict(now = this.now()): void {
    for (const [host, entry] of this.breakers) {
      const over = this.breakers.size > this.opts.maxBreakers;
      const idle = now - entry.lastUsed >= this.opts.idleEvictMs;
      if (!over && !idle) break;
      if (entry.breaker.active > 0) continue; // old but busy: keep it, look further
      this.breakers.delete(host);
      this.events.evicted?.(host);
    }
  }
}
