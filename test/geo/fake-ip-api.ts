import { performance } from 'node:perf_hooks';
import { BlockList } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHttpServer, type TestServer } from '../helpers/net.js';

/**
 * A loopback imitation of ip-api.com's JSON API — the one allowed fake for a
 * third-party service. It answers like ip-api does:
 *   GET /json/{ip}?fields=...[&key=...]
 *   200 {"status":"success","country":..,"countryCode":..,"city":..,"lat":..,"lon":..,"as":"AS15169 Google LLC","query":ip}
 *   200 {"status":"fail","message":"private range"|"reserved range"|"invalid query","query":ip}
 *   X-Rl (requests left in the window) and X-Ttl (seconds until it resets) on every answer
 *   429 once the window's budget is spent
 * plus switches for 5xx and forced 429s. Time is scaled down in tests: the
 * window is configurable and X-Ttl carries fractions of a second.
 */

export interface FakeRecord {
  country: string;
  countryCode: string;
  city?: string;
  lat: number;
  lon: number;
  as?: string;
}

export interface LoggedRequest {
  ip: string;
  url: string;
  /** Arrival, ms since the epoch with sub-ms precision. */
  at: number;
  status: number;
}

export interface FakeIpApiOptions {
  /** Server-side budget per window (ip-api free: 45 per 60 s). Infinity: none. */
  limit?: number;
  windowMs?: number;
  /** Send X-Rl / X-Ttl (default true). */
  rateHeaders?: boolean;
  records?: Record<string, FakeRecord>;
  /** Public addresses the API answers "fail" for (e.g. "reserved range"). */
  failFor?: Record<string, string>;
  /** Required key (ip-api pro); requests without it get 403. */
  key?: string;
  /** Listen address (default 127.0.0.1). */
  host?: string;
}

export interface FakeIpApi {
  url: string;
  server: TestServer;
  log: LoggedRequest[];
  /** 'ok' | 500 | 503: answer every request with this. */
  mode: 'ok' | 500 | 503;
  /** The next n requests get 429 with these headers. */
  force429(n: number, headers: Record<string, string>): void;
  /** The next n successful answers carry these rate headers instead of the real ones. */
  forceRateHeaders(n: number, headers: Record<string, string>): void;
  requestsFor(ip: string): number;
  close(): Promise<void>;
}

const PRIVATE = new BlockList();
for (const [p, b] of [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['127.0.0.0', 8], ['100.64.0.0', 10], ['169.254.0.0', 16]] as const) PRIVATE.addSubnet(p, b, 'ipv4');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');
PRIVATE.addSubnet('fe80::', 10, 'ipv6');
PRIVATE.addAddress('::1', 'ipv6');

/** A made-up but stable location for addresses not in the table (rate tests use many). */
function synthetic(ip: string): FakeRecord {
  let h = 0;
  for (const c of ip) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return { country: 'Testland', countryCode: 'TL', city: `City${h % 100}`, lat: (h % 17000) / 100 - 85, lon: (h % 35000) / 100 - 175, as: `AS${64512 + (h % 1000)} Test Net` };
}

export async function startFakeIpApi(o: FakeIpApiOptions = {}): Promise<FakeIpApi> {
  const limit = o.limit ?? Infinity;
  const windowMs = o.windowMs ?? 60_000;
  let windowStart = 0;
  let used = 0;
  let forced429: { n: number; headers: Record<string, string> } = { n: 0, headers: {} };
  let forcedHeaders: { n: number; headers: Record<string, string> } = { n: 0, headers: {} };
  const log: LoggedRequest[] = [];

  const api: FakeIpApi = {
    url: '',
    server: undefined as unknown as TestServer,
    log,
    mode: 'ok',
    force429: (n, headers) => (forced429 = { n, headers }),
    forceRateHeaders: (n, headers) => (forcedHeaders = { n, headers }),
    requestsFor: (ip) => log.filter((r) => r.ip === ip).length,
    close: () => api.server.close(),
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const at = performance.timeOrigin + performance.now();
    const u = new URL(req.url ?? '/', 'http://x');
    const ip = decodeURIComponent(u.pathname.replace(/^\/json\/?/, ''));
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      log.push({ ip, url: req.url ?? '', at, status });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    // ip-api's window: starts with the first request after the previous one ended.
    const now = Date.now();
    if (now >= windowStart + windowMs) {
      windowStart = now;
      used = 0;
    }
    const ttl = () => ({ 'X-Ttl': String(Math.max(0, (windowStart + windowMs - now) / 1000)) });
    if (api.mode !== 'ok') return send(api.mode, { status: 'fail', message: 'internal error' });
    if (forced429.n > 0) {
      forced429.n--;
      return send(429, undefined, forced429.headers);
    }
    if (o.key !== undefined && u.searchParams.get('key') !== o.key) return send(403, { status: 'fail', message: 'invalid key' });
    if (used >= limit) return send(429, undefined, o.rateHeaders === false ? {} : { 'X-Rl': '0', ...ttl() });
    used++;
    let rate: Record<string, string> = o.rateHeaders === false || limit === Infinity ? {} : { 'X-Rl': String(limit - used), ...ttl() };
    if (forcedHeaders.n > 0) {
      forcedHeaders.n--;
      rate = forcedHeaders.headers;
    }
    const family = ip.includes(':') ? 'ipv6' : 'ipv4';
    if (!/^[0-9a-fA-F:.]+$/.test(ip)) return send(200, { status: 'fail', message: 'invalid query', query: ip }, rate);
    if (PRIVATE.check(ip, family)) return send(200, { status: 'fail', message: 'private range', query: ip }, rate);
    if (o.failFor?.[ip]) return send(200, { status: 'fail', message: o.failFor[ip], query: ip }, rate);
    const r = o.records?.[ip] ?? synthetic(ip);
    // Only the requested fields, as ip-api does.
    const fields = (u.searchParams.get('fields') ?? 'status,message,country,countryCode,city,lat,lon,as,query').split(',');
    const full: Record<string, unknown> = { status: 'success', ...r, query: ip };
    send(200, Object.fromEntries(fields.filter((f) => f in full).map((f) => [f, full[f]])), rate);
  };
  api.server = await startHttpServer(handler, { host: o.host });
  api.url = `${api.server.url}/json/`;
  return api;
}

/** The largest number of logged requests inside any interval [t, t + windowMs). */
export function maxInAnyWindow(times: number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  let j = 0;
  for (let i = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}
