/**
 * Geolocation of the destination and of every hop. GEO=off by
 * default; GEO=offline uses the database inside the geoip-lite package
 * (country, city, coordinates — no ASN; ~0.5 s and ~145 MiB RSS to load,
 * loaded only when enabled); GEO=http asks an ip-api.com compatible API
 * (GEO_HTTP_URL, GEO_HTTP_KEY) through the shared HttpClient and its
 * per-origin breaker, never faster than GEO_HTTP_RATE_PER_MINUTE in any
 * 60 s window, backing off on 429 / X-Rl: 0.
 *
 * Wiring (src/app.ts, only when `env.GEO !== 'off'`):
 *
 * ```ts
 * const geo = createGeo(env, http, geoCache, log, { metrics });
 * await geo.start();                 // offline: loads the database here, not mid-round
 * new Collector(..., geo.enricher);  // hop geo fields + one `geo` point per target run
 * await geo.stop();                  // idempotent, safe without start(); nothing to flush
 * ```
 *
 * - `createGeo(env: Env, http: HttpClient, cache: SharedCache | undefined, log: Logger, o?: GeoOptions): Geo`
 *   `cache` holds answers under `geo:<backend>:<ip>` for GEO_CACHE_TTL
 *   (negative ones too; failures never). Standalone pass undefined (a
 *   `MemoryCache(GEO_CACHE_SIZE)` is made); in a cluster pass
 *   `createCluster(...).geoCache` (Redis, src/cluster/index.ts) so the
 *   replicas ask about each address once per TTL, and `o.sharedBudget =
 *   createCluster(...).geoBudget` so they spend one GEO_HTTP_RATE_PER_MINUTE
 *   together. Only the http backend uses them: the offline database answers
 *   in ~20 µs.
 * - `geo.enricher`: the collector's Enricher (geo-enricher.ts) — at most
 *   2 s per target run (`o.budgetMs`); late lookups finish into the cache.
 * - `geo.lookup(ip, signal?)` → GeoAnswer: `private` (with the reserved
 *   kind) | `found` (GeoResult) | `none` (the backend has no data) |
 *   `failed` (GeoFailure), plus `cached`.
 * - `geo.sourceLocation(signal?)` → SourceLocation | undefined
 *   (SOURCE_LAT/LON, else SOURCE_IP located, else PUBLIC_IP_URL's answer located).
 * - `geo.stats()` → `{ backend, queueDepth, queueMax, pending, throttled }` for gauges.
 * - `geoCommand(args, env, http, cache, io?)` → exit code: `network-telemetry geo IP... [--json]`.
 * - lookups are counted in telemetry_geo_lookups_total{backend, result}: `hit` | `miss` |
 *   `private` | `error` | `throttled` | `timeout` (map it to a counter).
 *
 * Private, loopback, link-local, CGNAT, multicast, documentation,
 * benchmarking and other reserved addresses (reserved.ts) are never sent to
 * any backend; hops with them get `geo_private = true` and nothing else.
 */
export { createGeo, type Geo, type GeoOptions, type GeoStats } from './geo.js';
export { geoCommand } from './geo-command.js';
