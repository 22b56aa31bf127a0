import { connectRedis, redisEndpoint, redisOptions } from '../cluster/redis-connection.js';
import { RedisCache } from '../cluster/redis-cache.js';
import { geoCommand } from '../geo/index.js';
import { createHttpClient } from '../http-client/create-http-client.js';
import { silentLogger } from '../logging/logger.js';
import { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { MemoryCache } from '../util/shared-cache.js';
import { configOrExitCode } from './errors.js';

/**
 * `geo IP...`: what the configured backend says, through the same cache the
 * daemon uses (Redis when REDIS_URL or REDIS_SENTINELS is set) — without joining the cluster.
 */
export async function geoCliCommand(args: string[]): Promise<number> {
  const cfg = configOrExitCode({ selfProbe: false });
  if (typeof cfg === 'number') return cfg;
  const env = cfg.env;
  const http = createHttpClient(env, new TelemetryMetrics(false), silentLogger());
  const endpoint = redisEndpoint(env);
  const redis = endpoint ? connectRedis(endpoint, redisOptions()) : undefined;
  try {
    await redis?.connect().catch(() => {});
    const cache = redis ? new RedisCache(new MemoryCache(env.GEO_CACHE_SIZE), () => redis, `${env.REDIS_KEY_PREFIX}cache:`) : undefined;
    return await geoCommand(args, env, http, cache);
  } finally {
    redis?.disconnect();
    await http.close();
  }
}
