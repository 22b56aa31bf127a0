import { writerBreakerPolicy, type HttpClient } from '../http-client/http-client.js';
import { splitUrlAuth, type EndpointAuth } from '../http-client/url-auth.js';
import type { Deadline } from '../lifecycle/component.js';
import { deadlineSignal, isDeadline } from '../util/abort.js';

/** One series of a range query: its labels and [epoch s, value] pairs. */
export interface MatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export type QueryAnswer =
  | { ok: true; result: MatrixSeries[]; ms: number }
  /** Why the database gave no answer: network, timeout, circuit_open, http_status, bad_answer. */
  | { ok: false; reason: 'unreachable' | 'timeout' | 'circuit_open' | 'http_status' | 'bad_answer'; detail: string };

export interface QueryEndpoint {
  /** The API root without credentials (…:8428, …:9090, …/select/0/prometheus): shown and the breaker's key. */
  url: string;
  headers: Record<string, string>;
}

export interface QueryAuth extends EndpointAuth {
  /** Tenant header of Mimir, Cortex and Thanos receive (X-Scope-OrgID). */
  orgId?: string;
}

/** QUERY_URL with its auth: userinfo in the URL, else the settings. Throws on a URL that does not parse (config checks first). */
export function queryEndpoint(raw: string, auth: QueryAuth): QueryEndpoint {
  const { url: u, headers } = splitUrlAuth(raw, auth);
  if (auth.orgId) headers['x-scope-orgid'] = auth.orgId;
  return { url: u.toString().replace(/\/$/, ''), headers };
}

/**
 * A client of the Prometheus HTTP query API (`/api/v1/query_range`), which
 * Prometheus, VictoriaMetrics (single node, and vmselect of a cluster),
 * Mimir and Thanos query all answer. Calls go through the project's
 * HttpClient: pooled, counted in MAX_CONNECTIONS, and behind the circuit
 * breaker of the database's origin, so a database that is down costs one
 * fast refusal per page while its breaker is open. Never throws: a failure
 * is an answer saying why, and the caller falls back to the embedded store.
 */
export class PromQueryClient {
  constructor(
    readonly endpoint: QueryEndpoint,
    private readonly http: HttpClient,
    /** Largest answer accepted. */
    private readonly maxBodyBytes = 64 * 1024 * 1024,
  ) {}

  /** A range query evaluated at start, start + step, ... up to end (epoch seconds, ms precision). */
  async queryRange(query: string, startS: number, endS: number, stepS: number, deadline: Deadline): Promise<QueryAnswer> {
    const body = new URLSearchParams({ query, start: startS.toFixed(3), end: endS.toFixed(3), step: `${+stepS.toFixed(3)}s` }).toString();
    return this.post('/api/v1/query_range', body, deadline);
  }

  private async post(path: string, body: string, deadline: Deadline): Promise<QueryAnswer> {
    const ms = deadline.remaining();
    if (ms === 0) return { ok: false, reason: 'timeout', detail: 'deadline passed before the query' };
    const { signal, dispose } = deadlineSignal(ms);
    let o;
    try {
      o = await this.http.request(this.endpoint.url + path, {
        method: 'POST',
        body,
        headers: { ...this.endpoint.headers, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        signal,
        readTimeoutMs: ms,
        keepBodyBytes: this.maxBodyBytes,
        policy: writerBreakerPolicy,
      });
    } finally {
      dispose();
    }
    if (!o.ok) {
      if (o.circuitOpen) return { ok: false, reason: 'circuit_open', detail: `${this.endpoint.url}: ${o.error.message}` };
      const timedOut = isDeadline(signal.reason) || /TIMEOUT/i.test(o.error.code ?? '');
      return { ok: false, reason: timedOut ? 'timeout' : 'unreachable', detail: `${this.endpoint.url}: ${o.error.code ?? o.error.name}: ${o.error.message}` };
    }
    const text = o.body?.toString('utf8') ?? '';
    let parsed: { status?: string; error?: string; errorType?: string; data?: { resultType?: string; result?: MatrixSeries[] } };
    try {
      parsed = JSON.parse(text);
    } catch {
      return { ok: false, reason: o.statusCode >= 300 ? 'http_status' : 'bad_answer', detail: `${this.endpoint.url}${path}: HTTP ${o.statusCode}, not JSON: ${text.replace(/\s+/g, ' ').slice(0, 200)}` };
    }
    if (o.statusCode < 200 || o.statusCode > 299 || parsed.status !== 'success') {
      return { ok: false, reason: 'http_status', detail: `${this.endpoint.url}${path}: HTTP ${o.statusCode}${parsed.error ? `: ${parsed.errorType ?? 'error'}: ${parsed.error.slice(0, 300)}` : ''}` };
    }
    if (o.bodyTruncated) return { ok: false, reason: 'bad_answer', detail: `${this.endpoint.url}${path}: answer larger than ${this.maxBodyBytes} bytes` };
    if (parsed.data?.resultType !== 'matrix' || !Array.isArray(parsed.data.result)) {
      return { ok: false, reason: 'bad_answer', detail: `${this.endpoint.url}${path}: expected a matrix, got ${parsed.data?.resultType ?? 'nothing'}` };
    }
    return { ok: true, result: parsed.data.result, ms: Math.round(o.timings.totalMs * 10) / 10 };
  }
}

/** A PromQL string literal. */
export function promString(s: string): string {
  return JSON.stringify(s);
}
