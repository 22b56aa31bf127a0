import { parseArgs } from 'node:util';
import type { Env } from '../config/env-schema.js';
import type { HttpClient } from '../http-client/http-client.js';
import { silentLogger } from '../logging/logger.js';
import type { SharedCache } from '../util/shared-cache.js';
import { DeadlineError } from '../util/abort.js';
import { createGeo, type GeoOptions } from './geo.js';
import type { GeoAnswer } from './geo-locator.js';
import { normalizeIp } from './ip-address.js';

export const GEO_USAGE = `Usage: network-telemetry geo IP... [--json]

Prints what the configured geolocation backend (GEO=offline|http) says about
each address: private/reserved marker, country, city, coordinates, AS number,
and whether the answer came from the cache. Exit 0 when every address was
resolved (located, or private), 1 when one had no data or failed, 2 on usage
errors.`;

/** The command as a whole waits at most this long (an http backend at 45/min queues). */
const COMMAND_TIMEOUT_MS = 30_000;

export interface GeoCommandIo {
  out(line: string): void;
  err(line: string): void;
}

const consoleIo: GeoCommandIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

/**
 * `network-telemetry geo IP... [--json]`: lets an operator check the
 * database or the API, and the cache, before trusting the map. Uses the
 * daemon's own configuration and (with REDIS_URL) its shared cache, so a
 * cached answer shows up as such.
 */
export async function geoCommand(args: string[], env: Env, http: HttpClient, cache: SharedCache | undefined, io: GeoCommandIo = consoleIo, o: GeoOptions = {}): Promise<number> {
  let values: { json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true }));
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${GEO_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(GEO_USAGE);
    return 0;
  }
  if (!positionals.length) {
    io.err(`geo needs at least one IP address\n\n${GEO_USAGE}`);
    return 2;
  }
  const bad = positionals.filter((p) => !normalizeIp(p));
  if (bad.length) {
    io.err(`not an IP address: ${bad.join(', ')} (names are not resolved here: geolocation is per address)`);
    return 2;
  }
  if (env.GEO === 'off' && !o.backend) {
    io.err(
      'geolocation is off (GEO=off, the default). Enable it with\n' +
        '  GEO=offline  the database shipped in the geoip-lite package: no network, no ASN, ~140 MB of memory\n' +
        `  GEO=http     an ip-api.com compatible API at GEO_HTTP_URL (now ${env.GEO_HTTP_URL}), rate-limited to GEO_HTTP_RATE_PER_MINUTE`,
    );
    return 2;
  }

  const geo = createGeo(env, http, cache, silentLogger(), { locateSource: false, ...o });
  // A ref'd timer on purpose: unlike the daemon, the command exists to wait
  // for the answers, and the rate limiter's own timers are unref'd.
  const ctl = new AbortController();
  const deadline = setTimeout(() => ctl.abort(new DeadlineError(COMMAND_TIMEOUT_MS)), COMMAND_TIMEOUT_MS);
  try {
    try {
      await geo.start();
    } catch (err) {
      io.err(`geo backend ${env.GEO} could not start: ${(err as Error).message}`);
      return 1;
    }
    const answers = await Promise.all(positionals.map((p) => geo.lookup(p, ctl.signal)));
    const rows = answers.map((a, i) => row(positionals[i]!, a));
    if (values.json) io.out(JSON.stringify(rows, null, 2));
    else io.out(table(rows));
    return answers.every((a) => a.status === 'found' || a.status === 'private') ? 0 : 1;
  } finally {
    clearTimeout(deadline);
    await geo.stop();
  }
}

interface Row {
  input: string;
  ip: string;
  backend: string;
  status: GeoAnswer['status'];
  /** For private/reserved addresses: which kind (private, loopback, cgnat, documentation, ...). */
  reserved: string | null;
  country: string | null;
  country_name: string | null;
  city: string | null;
  lat: number | null;
  lon: number | null;
  asn: number | null;
  as_org: string | null;
  cached: boolean;
  error: string | null;
}

function row(input: string, a: GeoAnswer): Row {
  const g = a.status === 'found' ? a.geo : {};
  return {
    input,
    ip: a.ip,
    backend: a.backend,
    status: a.status,
    reserved: a.status === 'private' ? a.reserved : null,
    country: g.country ?? null,
    country_name: g.countryName ?? null,
    city: g.city ?? null,
    lat: g.lat ?? null,
    lon: g.lon ?? null,
    asn: g.asn ?? null,
    as_org: g.asOrg ?? null,
    cached: a.cached,
    error: a.status === 'failed' ? `${a.failure.failure}: ${a.failure.detail}` : null,
  };
}

function table(rows: Row[]): string {
  const dash = (v: unknown) => (v === null || v === undefined ? '-' : String(v));
  const body = rows.map((r) => [
    r.ip,
    r.status === 'private' ? `private (${r.reserved})` : r.status === 'none' ? 'no data' : r.status === 'failed' ? 'FAILED' : 'found',
    dash(r.country),
    dash(r.city),
    r.lat === null ? '-' : `${r.lat},${r.lon}`,
    r.asn === null ? '-' : `AS${r.asn}${r.as_org ? ` ${r.as_org}` : ''}`,
    r.status === 'private' ? 'not looked up' : r.status === 'failed' ? dash(r.error) : r.cached ? 'cache' : `${r.backend} backend`,
  ]);
  const head = ['ADDRESS', 'RESULT', 'COUNTRY', 'CITY', 'LAT,LON', 'AS', 'FROM'];
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [fmt(head), ...body.map(fmt)].join('\n');
}
