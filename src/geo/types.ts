/**
 * What a geolocation backend answers. Three outcomes, kept apart on purpose:
 *   - a `GeoResult`: the backend knows the address (only the fields it gave;
 *     nothing is filled in or guessed),
 *   - `undefined`: the backend answered and has no data for it (cacheable,
 *     like a negative DNS answer),
 *   - a `GeoFailure`: we could not get an answer (network, 5xx, 429, open
 *     circuit, queue full, deadline) — not cached, asked again later.
 */
export interface GeoResult {
  /** ISO 3166-1 alpha-2 code (the only geo value used as a tag: bounded). */
  country?: string;
  /** Country name, when the backend gives one (display only). */
  countryName?: string;
  city?: string;
  /** Degrees, WGS 84. Present only as a pair. */
  lat?: number;
  lon?: number;
  /** Autonomous system number (http backend only: geoip-lite has no ASN data). */
  asn?: number;
  asOrg?: string;
}

export type GeoFailureReason =
  /** Connection error, timeout, 5xx, unexpected status or unreadable body. */
  | 'error'
  /** 429, or the server's own budget (X-Rl: 0) is spent: backing off. */
  | 'throttled'
  /** Our request queue is full: the lookup was refused instead of growing it. */
  | 'queue_full'
  /** The per-host circuit breaker is open: nothing was sent. */
  | 'circuit_open'
  /** The caller's deadline passed before an answer. */
  | 'timeout'
  /** Shutting down. */
  | 'aborted';

export interface GeoFailure {
  failure: GeoFailureReason;
  detail: string;
}

export type BackendName = 'offline' | 'http';

export type BackendAnswer = GeoResult | undefined | GeoFailure;

/** One way to locate an address. Never throws for an expected failure: returns it. */
export interface GeoBackend {
  readonly name: BackendName;
  /**
   * Whether answers are worth keeping in the shared cache. The offline
   * database answers in microseconds from memory, so a Redis round trip would
   * only add latency; the http backend is rate-limited and remote.
   */
  readonly cacheable: boolean;
  /** Called with public, normalized addresses only (see reserved.ts). */
  lookup(ip: string, signal: AbortSignal): Promise<BackendAnswer>;
  /** Optional warm-up (the offline database is loaded here). */
  start?(): Promise<void>;
  /** Idempotent; fails queued work with `aborted`. */
  stop?(): void;
}

export function isGeoFailure(a: BackendAnswer): a is GeoFailure {
  return a !== undefined && 'failure' in a;
}

export function geoFailure(failure: GeoFailureReason, detail: string): GeoFailure {
  return { failure, detail };
}

/** A latitude/longitude pair that is really one (finite, in range). */
export function validCoordinates(lat: unknown, lon: unknown): boolean {
  return typeof lat === 'number' && typeof lon === 'number' && Number.isFinite(lat) && Number.isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180;
}
