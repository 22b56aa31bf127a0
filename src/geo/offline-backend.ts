import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { geoFailure, validCoordinates, type BackendAnswer, type GeoBackend, type GeoResult } from './types.js';

/** The part of geoip-lite we use. */
interface GeoipLite {
  lookup(ip: string): null | { country: string; region: string; city: string; ll: [number | null, number | null] };
}

export interface OfflineLoadStats {
  loadMs: number;
  /** Process RSS / heap / external (Buffer) growth across the load, bytes. */
  rssBytes: number;
  heapBytes: number;
  externalBytes: number;
}

/**
 * GEO=offline: the MaxMind GeoLite2-derived database that geoip-lite ships
 * inside its npm package (country, region, city, coordinates; **no ASN**).
 * Nothing leaves the machine.
 *
 * Loading costs about half a second of blocking file reads and ~140 MB of
 * Buffers (measured in test/geo/offline-backend.test.ts), so the package is
 * imported only when GEO=offline, at start() — a startup pause beats a
 * half-second stall in the middle of a collection round. A lookup before
 * start() loads it too (the CLI `geo` command).
 */
export class OfflineBackend implements GeoBackend {
  readonly name = 'offline' as const;
  readonly cacheable = false;
  private loading: Promise<GeoipLite> | undefined;
  stats: OfflineLoadStats | undefined;

  constructor(
    private readonly log?: Logger,
    /** Test seam: how the module is obtained (default: dynamic import of geoip-lite). */
    private readonly load: () => Promise<GeoipLite> = importGeoipLite,
  ) {}

  async start(): Promise<void> {
    await this.db();
  }

  private db(): Promise<GeoipLite> {
    this.loading ??= (async () => {
      const m0 = process.memoryUsage();
      const t0 = performance.now();
      const db = await this.load();
      const m1 = process.memoryUsage();
      this.stats = {
        loadMs: Math.round(performance.now() - t0),
        rssBytes: m1.rss - m0.rss,
        heapBytes: m1.heapUsed - m0.heapUsed,
        externalBytes: m1.external - m0.external,
      };
      this.log?.info({ loadMs: this.stats.loadMs, rssMB: Math.round(this.stats.rssBytes / 2 ** 20) }, 'offline geolocation database loaded (geoip-lite)');
      return db;
    })();
    return this.loading;
  }

  async lookup(ip: string): Promise<BackendAnswer> {
    let db: GeoipLite;
    try {
      db = await this.db();
    } catch (err) {
      this.loading = undefined; // try again next time (e.g. a data file being replaced)
      return geoFailure('error', `geoip-lite could not be loaded: ${(err as Error).message}`);
    }
    return fromGeoipLite(db.lookup(ip));
  }
}

async function importGeoipLite(): Promise<GeoipLite> {
  const m = (await import('geoip-lite')) as unknown as { default?: GeoipLite } & GeoipLite;
  return m.default ?? m;
}

/**
 * Only what the record really holds. geoip-lite marks "range known, no
 * location" with an empty country and null (IPv4) or 0,0 (IPv6)
 * coordinates: that is "no data", not a point in the Gulf of Guinea.
 */
export function fromGeoipLite(r: ReturnType<GeoipLite['lookup']>): GeoResult | undefined {
  if (!r || !r.country) return undefined;
  const out: GeoResult = { country: r.country };
  if (r.city) out.city = r.city;
  const [lat, lon] = r.ll;
  if (validCoordinates(lat, lon)) {
    out.lat = lat as number;
    out.lon = lon as number;
  }
  return out;
}
