import { performance } from 'node:perf_hooks';
import { writerBreakerPolicy, type HttpClient } from '../http-client/http-client.js';
import { isDeadline } from '../util/abort.js';
import { RateLimiter, type RateScope, type SharedBudget } from './rate-limiter.js';
import { geoFailure, validCoordinates, type BackendAnswer, type GeoBackend, type GeoFailure, type GeoResult } from './types.js';

/** The ip-api fields we ask for (smaller answers, and the API counts nothing extra). */
export const IP_API_FIELDS = 'status,message,country,countryCode,city,lat,lon,as,query';

/** A broken or hostile Retry-After must not switch geolocation off for a day. */
const MAX_PAUSE_MS = 3_600_000;
const MAX_BODY_BYTES = 16 * 1024;

export interface HttpBackendOptions {
  /** GEO_HTTP_URL: the address is appended to its path (`http://ip-api.com/json/` + ip). */
  baseUrl: string;
  /** GEO_HTTP_KEY: sent as `key=` (ip-api pro). Never logged. */
  key?: string;
  /** GEO_HTTP_RATE_PER_MINUTE: requests per window, never exceeded in any window. */
  ratePerWindow: number;
  /** 60 000 (the API's budget is per minute); shorter only in tests. */
  windowMs?: number;
  /** See RateLimiter (default 0: slots are counted from completion, so delays need no margin). */
  marginMs?: number;
  /**
   * Lookups waiting for the rate limit at most (default: two windows' worth,
   * at least 16): nothing waits much longer than two minutes, and a burst of
   * new addresses beyond that is refused now and asked again next round.
   */
  maxQueue?: number;
  now?: () => number;
  /**
   * Cluster mode: the budget of GEO_HTTP_RATE_PER_MINUTE shared by every
   * replica through Redis (src/cluster/redis-rate-budget.ts), so N replicas
   * spend one key's budget, not N. Without it the budget is this process's.
   */
  sharedBudget?: SharedBudget;
}

/**
 * GEO=http: an ip-api.com compatible JSON API, through the project's
 * HttpClient (pooled connections, per-origin circuit breaker with the writer
 * policy: 429 and 5xx count as failures) behind a client-side RateLimiter.
 *
 * - 200 `{"status":"success",...}`: the location (country code, city,
 *   lat/lon, and `as` = "AS15169 Google LLC" → asn 15169 + as_org).
 * - 200 `{"status":"fail","message":"reserved range"}` (also "private
 *   range", "invalid query"): the API has no data — an answer, cached.
 * - 429: back off for Retry-After (or X-Ttl, or an exponential 1 s…window),
 *   a failure (not cached). X-Rl / X-Ttl on every answer feed the limiter.
 * - 5xx, other statuses, network errors, bad JSON: a failure (not cached).
 */
export class HttpBackend implements GeoBackend {
  readonly name = 'http' as const;
  readonly cacheable = true;
  readonly limiter: RateLimiter;
  private readonly base: URL;
  private readonly now: () => number;
  private readonly windowMs: number;
  private inFlight = 0;
  private consecutive429 = 0;

  constructor(
    private readonly http: HttpClient,
    private readonly o: HttpBackendOptions,
  ) {
    this.base = new URL(o.baseUrl);
    if (!this.base.pathname.endsWith('/')) this.base.pathname += '/';
    this.now = o.now ?? (() => performance.now());
    this.windowMs = o.windowMs ?? 60_000;
    this.limiter = new RateLimiter({
      limit: o.ratePerWindow,
      windowMs: this.windowMs,
      marginMs: o.marginMs,
      maxQueue: o.maxQueue ?? Math.min(10_000, Math.max(16, 2 * o.ratePerWindow)),
      now: this.now,
      shared: o.sharedBudget,
      // The longest one request can take: connect, then headers and body each within READ_TIMEOUT.
      holdMs: http.opts.connectTimeoutMs + 2 * http.opts.readTimeoutMs,
    });
  }

  /** Origin of the API (its breaker's name). */
  get origin(): string {
    return this.base.origin;
  }

  get stats(): { queued: number; maxQueue: number; inFlight: number; throttled: boolean; rateScope: RateScope; rateLimit: number } {
    const { scope, limit } = this.limiter.scope;
    return { queued: this.limiter.queued, maxQueue: this.limiter.maxQueue, inFlight: this.inFlight, throttled: this.limiter.throttled, rateScope: scope, rateLimit: limit };
  }

  url(ip: string): URL {
    const u = new URL(this.base);
    u.pathname += ip; // a validated address: digits, hex, dots and colons, all path-safe
    u.searchParams.set('fields', IP_API_FIELDS);
    if (this.o.key) u.searchParams.set('key', this.o.key);
    return u;
  }

  async lookup(ip: string, signal: AbortSignal): Promise<BackendAnswer> {
    // An open circuit fails fast without spending a slot of the rate budget.
    if (this.http.breakers.peek(this.base.origin)?.state === 'open') {
      return geoFailure('circuit_open', `circuit for ${this.base.origin} is open`);
    }
    const slot = await this.limiter.acquire(signal);
    if (!slot.ok) return slot.reason === 'queue_full' ? geoFailure('queue_full', slot.detail) : aborted(signal, slot.detail);

    this.inFlight++;
    let outcome;
    try {
      outcome = await this.http.request(this.url(ip), {
        signal,
        keepBodyBytes: MAX_BODY_BYTES,
        policy: writerBreakerPolicy,
        headers: { accept: 'application/json' },
      });
    } catch (err) {
      slot.ticket.done(); // HttpClient never throws; if it did, the slot must not leak
      throw err;
    } finally {
      this.inFlight--;
    }
    if (!outcome.ok && outcome.circuitOpen) {
      slot.ticket.refund(); // nothing reached the API
      return geoFailure('circuit_open', outcome.error.message);
    }
    // Completed (or failed) now: the server saw it no later than this.
    slot.ticket.done();
    if (!outcome.ok) {
      if (signal.aborted) return aborted(signal, outcome.error.message);
      return geoFailure('error', `${outcome.error.code ?? outcome.error.name}: ${outcome.error.message}`);
    }

    const t = this.now();
    this.readBudgetHeaders(outcome.headers, t);
    const status = outcome.statusCode;
    if (status === 429) {
      this.consecutive429++;
      const waitMs = retryAfterMs(outcome.headers, Date.now()) ?? ttlMs(outcome.headers) ?? Math.min(this.windowMs, (this.windowMs / 60) * 2 ** (this.consecutive429 - 1));
      this.limiter.pauseUntil(t + Math.min(MAX_PAUSE_MS, waitMs));
      return geoFailure('throttled', `HTTP 429 from ${this.base.origin}: pausing lookups for ${Math.round(waitMs / 100) / 10} s`);
    }
    this.consecutive429 = 0;
    if (status !== 200) {
      const text = outcome.body?.toString('utf8').replace(/\s+/g, ' ').slice(0, 120) ?? '';
      return geoFailure('error', `HTTP ${status} from ${this.base.origin}${text ? `: ${text}` : ''}`);
    }
    if (outcome.bodyTruncated) return geoFailure('error', `answer larger than ${MAX_BODY_BYTES} bytes`);
    return parseIpApi(outcome.body?.toString('utf8') ?? '');
  }

  stop(): void {
    this.limiter.stop();
  }

  /** ip-api: X-Rl = requests left in the window, X-Ttl = seconds until it resets. */
  private readBudgetHeaders(h: Record<string, string | string[] | undefined>, t: number): void {
    const rl = header(h, 'x-rl');
    const ttl = ttlMs(h);
    if (rl === undefined || ttl === undefined) return;
    const left = Number(rl);
    if (!Number.isFinite(left)) return;
    // Requests still in flight were granted after the server counted this one.
    this.limiter.serverBudget(left - this.inFlight, t + Math.min(MAX_PAUSE_MS, ttl));
  }
}

function aborted(signal: AbortSignal, detail: string): GeoFailure {
  return geoFailure(isDeadline(signal.reason) ? 'timeout' : 'aborted', detail);
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function ttlMs(h: Record<string, string | string[] | undefined>): number | undefined {
  const v = header(h, 'x-ttl');
  if (v === undefined || v.trim() === '') return undefined;
  const s = Number(v);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}

/** Retry-After: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(h: Record<string, string | string[] | undefined>, nowMs: number): number | undefined {
  const v = header(h, 'retry-after')?.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/** An ip-api JSON answer → location, "no data" (undefined) or failure. */
export function parseIpApi(text: string): BackendAnswer {
  let j: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    j = parsed as Record<string, unknown>;
  } catch {
    return geoFailure('error', `unreadable answer: ${text.slice(0, 80)}`);
  }
  if (j.status === 'fail') return undefined; // "reserved range", "private range", "invalid query"
  if (j.status !== 'success') return geoFailure('error', `unexpected status ${JSON.stringify(j.status)}`);
  const out: GeoResult = {};
  const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const code = str(j.countryCode);
  if (code) out.country = code.toUpperCase();
  const name = str(j.country);
  if (name) out.countryName = name;
  const city = str(j.city);
  if (city) out.city = city;
  if (validCoordinates(j.lat, j.lon)) {
    out.lat = j.lat as number;
    out.lon = j.lon as number;
  }
  const as = str(j.as);
  const m = as ? /^AS(\d+)\b\s*(.*)$/i.exec(as) : null;
  if (m) {
    out.asn = Number(m[1]);
    if (m[2]) out.asOrg = m[2];
  }
  // A "success" that says nothing is no data, not an empty location.
  return Object.keys(out).length ? out : undefined;
}
