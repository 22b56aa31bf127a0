import type { Logger } from 'pino';
import { writerBreakerPolicy, type HttpClient } from '../http-client/http-client.js';
import { deadlineSignal } from '../util/abort.js';
import { raceSignal, type GeoLocator } from './geo-locator.js';
import { normalizeIp } from './ip-address.js';
import { reservedKind } from './reserved.js';

export interface SourceLocation {
  lat: number;
  lon: number;
  /** Where the coordinates came from. */
  from: 'config' | 'source_ip' | 'public_ip';
  /** The address that was located (SOURCE_IP or the discovered public IP). */
  ip?: string;
  country?: string;
  city?: string;
}

export interface SourceLocatorOptions {
  /** SOURCE_LAT / SOURCE_LON: used as given when both are set. */
  lat?: number;
  lon?: number;
  /** SOURCE_IP: the source's public address, located through the backend. */
  ip?: string;
  /** PUBLIC_IP_URL: returns the caller's public address (plain text, or JSON with `ip` or `query`). */
  publicIpUrl?: string;
  /** A located source is re-resolved after this long (the public IP may change). Default 1 h. */
  refreshMs?: number;
  /** After a failure (endpoint down, lookup failed), try again after this long. Default 60 s. */
  retryMs?: number;
  /** Bound of one resolution (public IP fetch + lookup). Default 60 s. */
  resolveTimeoutMs?: number;
}

type State = { loc: SourceLocation | undefined; until: number };

/**
 * Where the source is, in this order: SOURCE_LAT/SOURCE_LON; SOURCE_IP
 * located through the configured backend; the public IP that PUBLIC_IP_URL
 * reports, located the same way; else unknown (then `geo` points carry no
 * src_* fields and no distance). There is no built-in list of "what is my
 * IP" services: sending the source's address to a third party is the
 * operator's choice, made by setting PUBLIC_IP_URL.
 *
 * Resolution runs once at a time in the background and is remembered;
 * failures are retried after `retryMs`, never on every round.
 */
export class SourceLocator {
  private state: State | undefined;
  private running: Promise<SourceLocation | undefined> | undefined;
  private readonly life = new AbortController();
  private readonly fixed: SourceLocation | undefined;

  constructor(
    private readonly o: SourceLocatorOptions,
    private readonly locator: Pick<GeoLocator, 'lookup'>,
    private readonly http: HttpClient | undefined,
    private readonly log?: Logger,
  ) {
    const hasLat = o.lat !== undefined;
    const hasLon = o.lon !== undefined;
    if (hasLat && hasLon) this.fixed = { lat: o.lat!, lon: o.lon!, from: 'config' };
    else if (hasLat || hasLon) log?.warn('SOURCE_LAT and SOURCE_LON must be set together: ignoring the one that is set');
  }

  /** Whether any way to locate the source is configured. */
  get configured(): boolean {
    return !!(this.fixed || this.o.ip || this.o.publicIpUrl);
  }

  /** Start resolving now (does not wait). */
  prime(): void {
    if (!this.fixed && this.configured) void this.get();
  }

  /** The source location, waiting at most until `signal` aborts. */
  async get(signal?: AbortSignal): Promise<SourceLocation | undefined> {
    if (this.fixed) return this.fixed;
    if (!this.configured || this.life.signal.aborted) return undefined;
    const now = Date.now();
    if (this.state && now < this.state.until && !this.running) return this.state.loc;
    if (!this.running) {
      const run = this.resolve();
      this.running = run;
      void run.finally(() => {
        if (this.running === run) this.running = undefined;
      });
    }
    // While a refresh runs, the previous location (if any) still stands.
    return raceSignal(this.running, signal, () => this.state?.loc);
  }

  stop(): void {
    this.life.abort(Object.assign(new Error('stopped'), { code: 'ABORT_ERR' }));
  }

  /** Never rejects. */
  private async resolve(): Promise<SourceLocation | undefined> {
    const refreshMs = this.o.refreshMs ?? 3_600_000;
    const retryMs = this.o.retryMs ?? 60_000;
    const { signal, dispose } = deadlineSignal(this.o.resolveTimeoutMs ?? 60_000, this.life.signal);
    const remember = (loc: SourceLocation | undefined, forMs: number) => {
      this.state = { loc, until: Date.now() + forMs };
      return loc;
    };
    try {
      let ip = this.o.ip;
      let from: SourceLocation['from'] = 'source_ip';
      if (!ip) {
        const found = await this.publicIp(signal);
        if (typeof found !== 'string') {
          this.log?.warn({ url: this.o.publicIpUrl, error: found.error }, 'public IP unknown: source location unknown for now');
          return remember(this.state?.loc, retryMs);
        }
        ip = found;
        from = 'public_ip';
      }
      const a = await this.locator.lookup(ip, signal);
      if (a.status === 'found' && a.geo.lat !== undefined && a.geo.lon !== undefined) {
        const loc: SourceLocation = { lat: a.geo.lat, lon: a.geo.lon, from, ip: a.ip, country: a.geo.country, city: a.geo.city };
        this.log?.info({ source: loc }, 'source located');
        return remember(loc, refreshMs);
      }
      if (a.status === 'failed') {
        this.log?.warn({ ip, failure: a.failure }, 'source address could not be located now: retrying later');
        return remember(this.state?.loc, retryMs);
      }
      this.log?.warn(
        { ip, status: a.status },
        a.status === 'private' ? 'source address is private: set SOURCE_LAT/SOURCE_LON, SOURCE_IP or PUBLIC_IP_URL' : 'the geo backend has no location for the source address; set SOURCE_LAT/SOURCE_LON',
      );
      return remember(undefined, refreshMs);
    } catch (err) {
      this.log?.error({ err }, 'source location failed (bug)');
      return remember(this.state?.loc, retryMs);
    } finally {
      dispose();
    }
  }

  /** The public address from PUBLIC_IP_URL, or why not. */
  private async publicIp(signal: AbortSignal): Promise<string | { error: string }> {
    if (!this.o.publicIpUrl || !this.http) return { error: 'no PUBLIC_IP_URL' };
    const r = await this.http.request(this.o.publicIpUrl, { signal, keepBodyBytes: 4096, policy: writerBreakerPolicy, headers: { accept: 'application/json, text/plain' } });
    if (!r.ok) return { error: `${r.error.code ?? r.error.name}: ${r.error.message}` };
    if (r.statusCode !== 200) return { error: `HTTP ${r.statusCode}` };
    const ip = parsePublicIp(r.body?.toString('utf8') ?? '');
    if (!ip) return { error: `no IP address in the answer: ${JSON.stringify((r.body?.toString('utf8') ?? '').slice(0, 80))}` };
    const norm = normalizeIp(ip)!;
    if (reservedKind(norm)) return { error: `the endpoint answered a ${reservedKind(norm)} address (${norm.ip})` };
    return norm.ip;
  }
}

/** A plain-text address, or JSON `{"ip": ...}` (ipify style) / `{"query": ...}` (ip-api style). */
export function parsePublicIp(text: string): string | undefined {
  const t = text.trim();
  if (t.startsWith('{')) {
    try {
      const j = JSON.parse(t) as Record<string, unknown>;
      for (const k of ['ip', 'query']) {
        const v = j[k];
        if (typeof v === 'string' && normalizeIp(v)) return normalizeIp(v)!.ip;
      }
    } catch {
      return undefined;
    }
    return undefined;
  }
  return normalizeIp(t)?.ip;
}
