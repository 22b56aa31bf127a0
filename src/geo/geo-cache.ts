import type { SharedCache } from '../util/shared-cache.js';
import type { BackendName, GeoResult } from './types.js';

/** A cached answer: a location, or the backend's "no data" (`null`). */
export type CachedGeo = GeoResult | null;

/** Bumped when the stored shape changes, so old entries read as misses, not garbage. */
const FORMAT = 1;

/**
 * Geolocation answers in a SharedCache under `geo:<backend>:<ip>` — the
 * in-process LRU standalone, Redis (behind its own LRU) in a cluster, so the
 * whole cluster asks a rate-limited API about an address once per
 * GEO_CACHE_TTL. Negative answers ("reserved range", no data) are cached
 * too: asking again would spend the same budget for the same nothing.
 * Failures are never cached. Cache trouble is a miss, never an error.
 */
export class GeoCache {
  constructor(
    private readonly cache: SharedCache,
    private readonly ttlS: number,
  ) {}

  static key(backend: BackendName, ip: string): string {
    return `geo:${backend}:${ip}`;
  }

  async get(backend: BackendName, ip: string): Promise<CachedGeo | undefined> {
    let raw: string | undefined;
    try {
      raw = await this.cache.get(GeoCache.key(backend, ip));
    } catch {
      return undefined;
    }
    if (raw === undefined) return undefined;
    try {
      const v = JSON.parse(raw) as { v?: number; g?: GeoResult | null };
      if (v.v !== FORMAT || v.g === undefined) return undefined;
      return v.g;
    } catch {
      return undefined;
    }
  }

  async set(backend: BackendName, ip: string, value: CachedGeo): Promise<void> {
    try {
      await this.cache.set(GeoCache.key(backend, ip), JSON.stringify({ v: FORMAT, g: value }), this.ttlS);
    } catch {
      /* a lost cache write costs one more lookup later, nothing else */
    }
  }
}
