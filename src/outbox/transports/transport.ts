import type { HttpClient, HttpOutcome } from '../../http-client/http-client.js';
import type { StoredPoint } from '../stored-point.js';

/**
 * What one request told us.
 * - ok: stored; the rows may leave the outbox.
 * - retry: nothing is known to be stored and nothing is wrong with the
 *   points (network, 5xx, 429, an endpoint that refuses everybody: 401,
 *   403, 404): try the same rows again later, after `afterMs` if the server
 *   said so (Retry-After).
 * - reject: the receiver refused something in this batch (400, 413, 422 ...):
 *   split it until the bad points stand alone, and drop only those. `stale`
 *   says the refusal was for points older than, or equal to, what the
 *   receiver already holds for their series (Prometheus: out of order,
 *   duplicate sample): a re-sent batch that was stored the first time.
 */
export type SendResult =
  | { kind: 'ok' }
  | { kind: 'retry'; errorKind: string; message: string; afterMs?: number }
  | { kind: 'reject'; status: number; message: string; stale: boolean };

/**
 * One write endpoint's protocol: how a batch of points becomes a request
 * body, and how to send it and read the answer. The outbox, the cursors,
 * batching, splitting and retrying are the EndpointWriter's; a transport
 * never sees the outbox. Adding a database = one file implementing this
 * (see src/outbox/README.md).
 */
export interface Transport {
  /** `influxdb` | `remote_write`: in /health and logs. */
  readonly kind: string;
  /** The endpoint's name: its URL without credentials (cursor key and metric label). */
  readonly name: string;
  /**
   * The request body for these points, or null when none of them has
   * anything this receiver stores (e.g. only string fields for remote write):
   * the batch is then acknowledged without a request.
   */
  encode(points: readonly StoredPoint[]): Promise<Uint8Array | null>;
  send(body: Uint8Array, signal: AbortSignal): Promise<SendResult>;
}

/** Retry-After: seconds or an HTTP date; capped at 5 minutes. */
export function parseRetryAfter(v: string | string[] | undefined, now = Date.now()): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  const ms = /^\d+$/.test(s.trim()) ? Number(s) * 1000 : Date.parse(s) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 300_000) : undefined;
}

/**
 * The verdict every HTTP transport shares: 2xx ok; 429, 5xx, 401/403/404/405/407/408
 * and network errors retry (a misconfigured or absent endpoint refuses every
 * point alike: dropping them would turn a config mistake into data loss); any
 * other 4xx rejects the batch (split; the bad points dropped).
 */
export function httpVerdict(o: HttpOutcome, isStale: (status: number, text: string) => boolean = () => false): SendResult {
  if (!o.ok) return { kind: 'retry', errorKind: o.error.code ?? 'network', message: `${o.error.code ?? ''} ${o.error.message}`.trim() };
  const s = o.statusCode;
  const text = o.body?.toString('utf8').slice(0, 500).trim() ?? '';
  if (s >= 200 && s < 300) return { kind: 'ok' };
  if (s >= 400 && s < 500 && !RETRY_4XX.has(s)) return { kind: 'reject', status: s, message: text || `HTTP ${s}`, stale: isStale(s, text) };
  const kind = s === 429 ? 'throttled' : s >= 500 ? 'server_error' : s === 401 || s === 403 ? 'unauthorized' : s === 404 || s === 405 ? 'not_found' : `http_${s}`;
  return { kind: 'retry', errorKind: kind, message: `HTTP ${s}${text ? `: ${text}` : ''}`, afterMs: parseRetryAfter(o.headers['retry-after']) };
}

const RETRY_4XX = new Set([401, 403, 404, 405, 407, 408, 429]);

/**
 * POST a body the way every write endpoint is written to: the answer's first
 * 4 kB kept for the verdict and the logs, and no per-origin circuit breaker
 * (the EndpointWriter's trial backoff is the recovery policy).
 */
export function postBody(http: HttpClient, url: string, body: Uint8Array, headers: Record<string, string>, signal: AbortSignal): Promise<HttpOutcome> {
  return http.request(url, { method: 'POST', body: Buffer.from(body.buffer, body.byteOffset, body.byteLength), headers, keepBodyBytes: 4096, breaker: false, signal });
}
