/**
 * createGeo: the backend GEO names, its cache, the locator, the source
 * location and the enricher, put together (see index.ts for the API).
 */
import type { Logger } from 'pino';
import type { Env } from '../config/env-schema.js';
import type { HttpClient } from '../http-client/http-client.js';
import { BaseComponent, Deadline, type Component, type ComponentHealth } from '../lifecycle/component.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { Enricher } from '../samples/enricher.js';
import { MemoryCache, type SharedCache } from '../util/shared-cache.js';
import { GeoCache } from './geo-cache.js';
import { createGeoEnricher } from './geo-enricher.js';
import { GeoLocator, type GeoAnswer, type GeoLookupResult } from './geo-locator.js';
import { HttpBackend } from './http-backend.js';
import type { SharedBudget } from './rate-limiter.js';
import { OfflineBackend } from './offline-backend.js';
import { SourceLocator, type SourceLocation } from './source-location.js';
import type { BackendName, GeoBackend } from './types.js';

export interface GeoOptions {
  /** telemetry_geo_lookups_total and telemetry_geo_queue_depth. */
  metrics?: TelemetryMetrics;
  /** Test seam: observe every lookup (backend, result). */
  onLookup?: (backend: BackendName, result: GeoLookupResult) => void;
  /** Time the enricher may add to a target run (default 2000 ms). */
  budgetMs?: number;
  /** Rate-limit window of the http backend (default 60 000 ms: GEO_HTTP_RATE_PER_MINUTE is per minute). */
  windowMs?: number;
  marginMs?: number;
  /** Bound of the http backend's request queue (default two windows of budget, at least 16). */
  maxQueue?: number;
  /**
   * Locate the source (default true). The `geo` command turns it off: checking
   * a few addresses must not spend rate budget or call PUBLIC_IP_URL.
   */
  locateSource?: boolean;
  /** Test seam: use this backend instead of the one GEO names. */
  backend?: GeoBackend;
  /** Cluster mode: the http backend's rate budget shared through Redis (createCluster's geoBudget). */
  sharedBudget?: SharedBudget;
}

export interface GeoStats {
  backend: BackendName;
  /** Lookups waiting for the rate limit (http) and its bound. */
  queueDepth: number;
  queueMax: number;
  /** Distinct addresses being looked up right now. */
  pending: number;
  /** The API told us to wait (429 / X-Rl: 0). */
  throttled: boolean;
}

export interface Geo extends Component {
  readonly backend: BackendName;
  readonly enricher: Enricher;
  lookup(ip: string, signal?: AbortSignal): Promise<GeoAnswer>;
  sourceLocation(signal?: AbortSignal): Promise<SourceLocation | undefined>;
  stats(): GeoStats;
  start(): Promise<void>;
  stop(deadline?: Deadline): Promise<void>;
  health(): ComponentHealth;
}

export function createGeo(env: Env, http: HttpClient, cache: SharedCache | undefined, log: Logger, o: GeoOptions = {}): Geo {
  if (env.GEO === 'off' && !o.backend) throw new Error('createGeo called with GEO=off');
  const backend: GeoBackend =
    o.backend ??
    (env.GEO === 'offline'
      ? new OfflineBackend(log)
      : new HttpBackend(http, {
          baseUrl: env.GEO_HTTP_URL,
          key: env.GEO_HTTP_KEY,
          ratePerWindow: env.GEO_HTTP_RATE_PER_MINUTE,
          windowMs: o.windowMs,
          marginMs: o.marginMs,
          maxQueue: o.maxQueue,
          sharedBudget: o.sharedBudget,
        }));
  const geoCache = new GeoCache(cache ?? new MemoryCache(env.GEO_CACHE_SIZE), env.GEO_CACHE_TTL);
  const metrics = o.metrics;
  const locator = new GeoLocator(backend, geoCache, {
    log,
    onLookup: (b, result) => {
      metrics?.geoLookups.inc({ backend: b, result });
      o.onLookup?.(b, result);
    },
  });
  const source = new SourceLocator(
    o.locateSource === false ? {} : { lat: env.SOURCE_LAT, lon: env.SOURCE_LON, ip: env.SOURCE_IP, publicIpUrl: env.PUBLIC_IP_URL },
    locator,
    http,
    log,
  );
  const enricher = createGeoEnricher({
    lookup: (ip, signal) => locator.lookup(ip, signal),
    source: (signal) => source.get(signal),
    budgetMs: o.budgetMs,
  });
  const stats = (): GeoStats => {
    const q = backend instanceof HttpBackend ? backend.stats : undefined;
    return { backend: backend.name, queueDepth: q?.queued ?? 0, queueMax: q?.maxQueue ?? 0, pending: locator.pending, throttled: q?.throttled ?? false };
  };
  metrics?.onCollect(() => metrics.geoQueueDepth.set(stats().queueDepth));
  return new GeoService(backend.name, enricher, locator, source, stats, log, o.locateSource !== false);
}

/** The geo component: what createGeo put together, on the shared lifecycle. */
class GeoService extends BaseComponent implements Geo {
  readonly name = 'geo';

  constructor(
    readonly backend: BackendName,
    readonly enricher: Enricher,
    private readonly locator: GeoLocator,
    private readonly source: SourceLocator,
    readonly stats: () => GeoStats,
    private readonly log: Logger,
    private readonly locateSource: boolean,
  ) {
    super();
  }

  lookup(ip: string, signal?: AbortSignal): Promise<GeoAnswer> {
    return this.locator.lookup(ip, signal);
  }

  sourceLocation(signal?: AbortSignal): Promise<SourceLocation | undefined> {
    return this.source.get(signal);
  }

  health(): ComponentHealth {
    const s = this.stats();
    return { status: s.throttled ? 'degraded' : 'ok', backend: s.backend, queue: s.queueDepth, queue_max: s.queueMax, pending: s.pending, throttled: s.throttled };
  }

  protected async onStart(): Promise<void> {
    await this.locator.start();
    if (!this.locateSource) return;
    if (!this.source.configured) this.log.info('source location not configured (SOURCE_LAT/SOURCE_LON, SOURCE_IP or PUBLIC_IP_URL): geo points carry no src_* fields and no distance');
    this.source.prime();
  }

  /** The deadline is optional here: nothing to flush (answers go to the cache as they arrive); waiting lookups resolve `aborted`. */
  override stop(deadline: Deadline = Deadline.in(0)): Promise<void> {
    return super.stop(deadline);
  }

  protected async onStop(): Promise<void> {
    this.source.stop();
    this.locator.stop();
  }
}
