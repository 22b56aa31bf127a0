import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { isDeadline } from '../util/abort.js';
import type { GeoCache } from './geo-cache.js';
import { normalizeIp } from './ip-address.js';
import { reservedKind, type ReservedKind } from './reserved.js';
import { geoFailure, isGeoFailure, type BackendName, type GeoBackend, type GeoFailure, type GeoResult } from './types.js';

/** How one lookup went, for metrics (`onLookup`). */
export type GeoLookupResult =
  /** answered from the cache (location or "no data") */
  | 'hit'
  /** answered by the backend (location or "no data") */
  | 'miss'
  /** private/reserved address: not looked up */
  | 'private'
  /** the backend failed (network, 5xx, bad answer, open circuit) */
  | 'error'
  /** refused by our rate limit (queue full) or the API's (429) */
  | 'throttled'
  /** the caller's time budget ran out first */
  | 'timeout';

export type GeoAnswer =
  | { ip: string; backend: BackendName; status: 'private'; reserved: ReservedKind; cached: false }
  | { ip: string; backend: BackendName; status: 'found'; geo: GeoResult; cached: boolean }
  | { ip: string; backend: BackendName; status: 'none'; cached: boolean }
  | { ip: string; backend: BackendName; status: 'failed'; failure: GeoFailure; cached: false };

export interface GeoLocatorOptions {
  log?: Logger;
  onLookup?: (backend: BackendName, result: GeoLookupResult) => void;
}

type Settled = Exclude<GeoAnswer, { status: 'private' }>;

/**
 * One address → one answer: normalizes it, never sends private/reserved
 * addresses anywhere, reads the cache, and asks the backend once for all
 * concurrent callers of the same address (single flight).
 *
 * The backend call runs on the locator's own lifetime (aborted by stop()),
 * not the caller's: a caller whose budget ends stops waiting, but the answer
 * still lands in the cache for the next round. The flights are bounded by
 * the backend (rate-limit queue, HTTP timeouts).
 */
export class GeoLocator {
  private readonly flights = new Map<string, Promise<Settled>>();
  private readonly life = new AbortController();
  private readonly warnedAt = new Map<string, number>();

  constructor(
    readonly backend: GeoBackend,
    private readonly cache: GeoCache | undefined,
    private readonly o: GeoLocatorOptions = {},
  ) {
    // Every waiting lookup listens on this signal; their number is bounded by
    // the backend's queue, not by the default of 10 listeners.
    setMaxListeners(0, this.life.signal);
  }

  get name(): BackendName {
    return this.backend.name;
  }

  /** Lookups waiting on the backend right now (bounded by its queue). */
  get pending(): number {
    return this.flights.size;
  }

  async start(): Promise<void> {
    await this.backend.start?.();
  }

  /** Idempotent; safe without start(). Waiting lookups resolve `aborted`. */
  stop(): void {
    if (this.life.signal.aborted) return;
    this.life.abort(Object.assign(new Error('geo lookups stopped'), { code: 'ABORT_ERR' }));
    this.backend.stop?.();
  }

  async lookup(address: string, signal?: AbortSignal): Promise<GeoAnswer> {
    const backend = this.backend.name;
    const norm = normalizeIp(address);
    if (!norm) return { ip: address, backend, status: 'failed', failure: geoFailure('error', 'not an IP address'), cached: false };
    const reserved = reservedKind(norm);
    if (reserved) {
      this.o.onLookup?.(backend, 'private');
      return { ip: norm.ip, backend, status: 'private', reserved, cached: false };
    }
    let flight = this.flights.get(norm.ip);
    if (!flight) {
      flight = this.fly(norm.ip);
      this.flights.set(norm.ip, flight);
      const mine = flight;
      void mine.finally(() => {
        if (this.flights.get(norm.ip) === mine) this.flights.delete(norm.ip);
      });
    }
    const answer = await raceSignal(flight, signal, (reason) => ({
      ip: norm.ip,
      backend,
      status: 'failed' as const,
      failure: geoFailure(isDeadline(reason) ? 'timeout' : 'aborted', 'gave up waiting for the lookup'),
      cached: false as const,
    }));
    this.account(answer);
    return answer;
  }

  /** Cache, then backend; never rejects. */
  private async fly(ip: string): Promise<Settled> {
    const backend = this.backend.name;
    const useCache = this.cache && this.backend.cacheable;
    try {
      if (useCache) {
        const hit = await this.cache!.get(backend, ip);
        if (hit !== undefined) return hit ? { ip, backend, status: 'found', geo: hit, cached: true } : { ip, backend, status: 'none', cached: true };
      }
      if (this.life.signal.aborted) return { ip, backend, status: 'failed', failure: geoFailure('aborted', 'geo lookups stopped'), cached: false };
      const a = await this.backend.lookup(ip, this.life.signal);
      if (isGeoFailure(a)) {
        this.warn(a, ip);
        return { ip, backend, status: 'failed', failure: a, cached: false };
      }
      if (useCache) await this.cache!.set(backend, ip, a ?? null);
      return a ? { ip, backend, status: 'found', geo: a, cached: false } : { ip, backend, status: 'none', cached: false };
    } catch (err) {
      // A backend must not throw; if one does, it is a bug worth a log line, not a crash.
      this.o.log?.error({ err, ip, backend }, 'geo backend threw (bug)');
      return { ip, backend, status: 'failed', failure: geoFailure('error', String((err as Error)?.message ?? err)), cached: false };
    }
  }

  private account(a: GeoAnswer): void {
    const cb = this.o.onLookup;
    if (!cb) return;
    if (a.status === 'found' || a.status === 'none') return cb(a.backend, a.cached ? 'hit' : 'miss');
    if (a.status !== 'failed') return;
    const f = a.failure.failure;
    if (f === 'aborted') return; // shutdown: not a result worth counting
    cb(a.backend, f === 'throttled' || f === 'queue_full' ? 'throttled' : f === 'timeout' ? 'timeout' : 'error');
  }

  /** One warning per failure kind per minute: a dead API must not flood the log. */
  private warn(f: GeoFailure, ip: string): void {
    if (f.failure === 'aborted' || f.failure === 'timeout') return;
    const now = Date.now();
    if (now - (this.warnedAt.get(f.failure) ?? 0) < 60_000) {
      this.o.log?.debug({ ip, backend: this.backend.name, failure: f.failure, detail: f.detail }, 'geo lookup failed');
      return;
    }
    this.warnedAt.set(f.failure, now);
    this.o.log?.warn({ ip, backend: this.backend.name, failure: f.failure, detail: f.detail }, 'geo lookup failed (hops keep no geo fields; asked again next round)');
  }
}

/** `p`, or `onAbort(reason)` as soon as `signal` aborts, whichever comes first. */
export function raceSignal<T, U>(p: Promise<T>, signal: AbortSignal | undefined, onAbort: (reason: unknown) => U): Promise<T | U> {
  if (!signal) return p;
  if (signal.aborted) return Promise.resolve(onAbort(signal.reason));
  return new Promise<T | U>((resolve, reject) => {
    const abort = () => resolve(onAbort(signal.reason));
    signal.addEventListener('abort', abort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(err);
      },
    );
  });
}
