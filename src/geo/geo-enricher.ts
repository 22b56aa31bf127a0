import type { Enricher } from '../samples/enricher.js';
import type { AnySample, Sample } from '../samples/sample.js';
import { deadlineSignal } from '../util/abort.js';
import { round3 } from '../util/numbers.js';
import type { GeoAnswer } from './geo-locator.js';
import { haversineKm } from './haversine.js';
import type { SourceLocation } from './source-location.js';

export interface GeoEnricherDeps {
  /** GeoLocator.lookup: never throws; answers `failed` when the signal aborts first. */
  lookup(ip: string, signal: AbortSignal): Promise<GeoAnswer>;
  /** SourceLocator.get: undefined when the source cannot be located (yet). */
  source(signal: AbortSignal): Promise<SourceLocation | undefined>;
  /**
   * Time the enrichment may add to a target run (default 2000 ms). Lookups
   * still running then are left to finish into the cache; their hops go out
   * without geo fields this round.
   */
  budgetMs?: number;
}

/** Order in which the probes' samples name the destination address. */
const DESTINATION_FROM = ['route', 'ping', 'http', 'tcp'] as const;

/**
 * Geolocation of one target run: adds lat/lon/country/city/asn/as_org to
 * each `hop` point whose first address the backend located (ECMP siblings
 * in `ecmp_ips` are not looked up: one position per TTL on the map), marks
 * private/reserved hops with `geo_private = true` (and nothing else), and
 * returns one `geo` point for the destination — with the source coordinates
 * and the great-circle distance when the source is known. Only what the
 * backend answered is written: a failed or late lookup leaves the fields
 * out, and a destination without a location gives no `geo` point.
 */
export function createGeoEnricher(deps: GeoEnricherDeps): Enricher {
  const budgetMs = deps.budgetMs ?? 2000;
  return {
    async enrich(_target, samples, ctx): Promise<AnySample[]> {
      const hops = samples.filter((s): s is Sample<'hop'> => s.measurement === 'hop');
      const dstIp = destinationIp(samples);
      const ips = new Set<string>();
      for (const h of hops) if (h.fields.ip && h.fields.ip !== '*') ips.add(h.fields.ip);
      if (dstIp) ips.add(dstIp);
      if (!ips.size) return [];

      const { signal, dispose } = deadlineSignal(budgetMs, ctx.signal);
      try {
        const [answers, source] = await Promise.all([
          Promise.all([...ips].map(async (ip) => [ip, await deps.lookup(ip, signal)] as const)),
          dstIp ? deps.source(signal) : Promise.resolve(undefined),
        ]);
        const byIp = new Map(answers);
        for (const h of hops) {
          const a = h.fields.ip ? byIp.get(h.fields.ip) : undefined;
          if (a) applyToHop(h, a);
        }
        const dst = dstIp ? byIp.get(dstIp) : undefined;
        if (!dstIp || dst?.status !== 'found' || dst.geo.lat === undefined || dst.geo.lon === undefined) return [];
        const g = dst.geo;
        const point: Sample<'geo'> = {
          measurement: 'geo',
          tags: g.country ? { ...ctx.tags, dst_country: g.country } : { ...ctx.tags },
          fields: { dst_lat: g.lat, dst_lon: g.lon, dst_city: g.city, dst_asn: g.asn, dst_ip: dst.ip },
          timeMs: ctx.timeMs,
        };
        if (source) {
          point.fields.src_lat = source.lat;
          point.fields.src_lon = source.lon;
          point.fields.distance_km = round3(haversineKm(source, { lat: g.lat!, lon: g.lon! }));
        }
        return [point];
      } finally {
        dispose();
      }
    },
  };
}

/** The destination address the probes resolved: route, else ping, else http, else tcp. */
export function destinationIp(samples: readonly AnySample[]): string | undefined {
  for (const m of DESTINATION_FROM) {
    for (const s of samples) {
      if (s.measurement !== m) continue;
      const ip = (s.fields as { ip?: string }).ip;
      if (ip && ip !== '*') return ip;
    }
  }
  return undefined;
}

function applyToHop(h: Sample<'hop'>, a: GeoAnswer): void {
  if (a.status === 'private') {
    h.fields.geo_private = true;
    return;
  }
  if (a.status !== 'found') return;
  const g = a.geo;
  if (g.lat !== undefined && g.lon !== undefined) {
    h.fields.lat = g.lat;
    h.fields.lon = g.lon;
  }
  if (g.country) h.fields.country = g.country;
  if (g.city) h.fields.city = g.city;
  if (g.asn !== undefined) h.fields.asn = g.asn;
  if (g.asOrg) h.fields.as_org = g.asOrg;
}
