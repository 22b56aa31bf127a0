import type { Logger } from 'pino';
import type { AppConfig } from '../config/load-config.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { MemoryCache, type SharedCache } from '../util/shared-cache.js';
import { StandaloneCoordinator, type Coordinator } from './coordinator.js';
import { RedisCache } from './redis-cache.js';
import { RedisCoordinator } from './redis-coordinator.js';

export interface ClusterParts {
  coordinator: Coordinator;
  /** Lookup cache (reverse DNS): shared through Redis in a cluster. */
  cache: SharedCache;
  /** Geolocation answers: shared through Redis in a cluster. */
  geoCache?: SharedCache;
}

/** Standalone, or a member of a cluster over Redis (REDIS_URL). */
export function createCluster(cfg: AppConfig, metrics: TelemetryMetrics, log: Logger): ClusterParts {
  const env = cfg.env;
  const names = cfg.targets.map((t) => t.name);
  if (!env.REDIS_URL) {
    metrics.clusterMembers.set(1);
    const coordinator = new StandaloneCoordinator(names);
    metrics.onCollect(() => metrics.targetsOwned.set(coordinator.ownedCount()));
    return { coordinator, cache: new MemoryCache(env.LOOKUP_CACHE_SIZE) };
  }
  const cluster = new RedisCoordinator(
    names,
    { redisUrl: env.REDIS_URL, prefix: env.REDIS_KEY_PREFIX, heartbeatMs: env.CLUSTER_HEARTBEAT_INTERVAL * 1000, memberTtlMs: env.CLUSTER_MEMBER_TTL * 1000 },
    metrics,
    log,
  );
  if (!env.SOURCE_NAME) {
    log.warn('cluster mode without SOURCE_NAME: each replica tags points with its own hostname, so a slot collected twice is two series, not one point; set the same SOURCE_NAME on every replica');
  }
  const prefix = `${env.REDIS_KEY_PREFIX}cache:`;
  return {
    coordinator: cluster,
    cache: new RedisCache(new MemoryCache(env.LOOKUP_CACHE_SIZE), () => cluster.client, prefix),
    geoCache: new RedisCache(new MemoryCache(env.GEO_CACHE_SIZE), () => cluster.client, prefix),
  };
}
