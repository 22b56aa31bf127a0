import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import { parseSentinels, type RedisEnv } from '../config/redis-env.js';

export { clusterConfigured } from '../config/redis-env.js';

/**
 * Where the cluster's Redis is: one server (REDIS_URL) or the primary that a
 * set of Sentinels names (REDIS_SENTINELS + REDIS_SENTINEL_NAME). Every Redis
 * connection of the daemon is made here, so the coordinator, the lookup cache
 * and the `geo` command follow a failover alike.
 *
 * With Sentinels, ioredis asks them for the primary on every (re)connect and
 * checks that what it reached has the role `master`; `failoverDetector`
 * subscribes to the Sentinels' `+switch-master` so a failover is followed at
 * once, not only when the old primary's connection breaks. The commands keep
 * their fail-fast options (redisOptions): while no primary is reachable every
 * command fails at once and the coordinator's partition behaviour applies
 * (src/cluster/README.md, "When Redis misbehaves").
 */

export type RedisEndpoint =
  | { kind: 'url'; url: string; tls?: ConnectionOptions }
  | {
      kind: 'sentinel';
      sentinels: { host: string; port: number }[];
      name: string;
      username?: string;
      password?: string;
      sentinelUsername?: string;
      sentinelPassword?: string;
      tls?: ConnectionOptions;
    };

/** The endpoint of a checked env (redisProblems empty); undefined standalone. */
export function redisEndpoint(env: RedisEnv): RedisEndpoint | undefined {
  const ca = env.REDIS_CA_FILE ? readFileSync(env.REDIS_CA_FILE) : undefined;
  if (env.REDIS_URL) {
    const tls = env.REDIS_URL.startsWith('rediss:') && ca ? { ca } : undefined;
    return { kind: 'url', url: env.REDIS_URL, tls };
  }
  if (!env.REDIS_SENTINELS) return undefined;
  return {
    kind: 'sentinel',
    sentinels: parseSentinels(env.REDIS_SENTINELS).sentinels,
    name: env.REDIS_SENTINEL_NAME!,
    username: env.REDIS_USERNAME,
    password: env.REDIS_PASSWORD,
    sentinelUsername: env.REDIS_SENTINEL_USERNAME,
    sentinelPassword: env.REDIS_SENTINEL_PASSWORD,
    tls: env.REDIS_TLS ? (ca ? { ca } : {}) : undefined,
  };
}

/** Options that make every command fail fast instead of hanging while Redis is away. */
export function redisOptions(extra: RedisOptions = {}, reconnectCapMs = 5000): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 500,
    connectTimeout: 1000,
    lazyConnect: true,
    // Reconnect with capped exponential backoff and jitter.
    retryStrategy: (times) => Math.min(reconnectCapMs, 100 * 2 ** Math.min(times, 6)) * (0.5 + Math.random() / 2),
    ...extra,
  };
}

/** A connection to the endpoint (lazy: call connect()), reconnected until its owner closes it. */
export function connectRedis(endpoint: RedisEndpoint, options: RedisOptions): Redis {
  return superviseEnd(openRedis(endpoint, options), options);
}

/**
 * ioredis gives a connection up for good (status `end`, no retry) when its
 * connector throws while connecting, whatever retryStrategy says. With
 * Sentinels that happens in a failover: the previous connection's failover
 * detector receives +switch-master while the reconnect is still asking a
 * Sentinel for the primary, closes the connector under it, and
 * SentinelConnector.connect throws "Connection is closed" (ioredis 5.11,
 * connectors/SentinelConnector/index.js, the `!this.connecting` check). Seen
 * here: a collector's heartbeat connection stayed `end` after the primary was
 * killed, and the member fell out of the cluster for good. So an `end` its
 * owner did not ask for (disconnect() or quit()) is followed by a new
 * connect() on the same backoff as any other reconnect.
 */
function superviseEnd(redis: Redis, options: RedisOptions): Redis {
  let closedByOwner = false;
  let attempts = 0;
  const disconnect = redis.disconnect.bind(redis);
  redis.disconnect = (reconnect = false) => {
    if (!reconnect) closedByOwner = true;
    disconnect(reconnect);
  };
  const quit = redis.quit.bind(redis);
  redis.quit = ((...args: Parameters<Redis['quit']>) => {
    closedByOwner = true;
    return quit(...args);
  }) as Redis['quit'];
  redis.on('ready', () => (attempts = 0));
  redis.on('end', () => {
    if (closedByOwner) return;
    const delay = options.retryStrategy?.(++attempts);
    setTimeout(() => {
      if (!closedByOwner && redis.status === 'end') redis.connect().catch(() => {});
    }, typeof delay === 'number' ? delay : 1000).unref();
  });
  return redis;
}

function openRedis(endpoint: RedisEndpoint, options: RedisOptions): Redis {
  if (endpoint.kind === 'url') return new Redis(endpoint.url, endpoint.tls ? { ...options, tls: endpoint.tls } : options);
  return new Redis({
    ...options,
    sentinels: endpoint.sentinels,
    name: endpoint.name,
    role: 'master',
    username: endpoint.username,
    password: endpoint.password,
    sentinelUsername: endpoint.sentinelUsername,
    sentinelPassword: endpoint.sentinelPassword,
    tls: endpoint.tls,
    enableTLSForSentinelMode: endpoint.tls !== undefined,
    sentinelTLS: endpoint.tls,
    // Each Sentinel gets as long as a command to answer; the list is walked in order.
    sentinelCommandTimeout: options.commandTimeout ?? 500,
    // Follow +switch-master at once (not only when the old primary's socket breaks).
    failoverDetector: true,
    // Learn Sentinels added later from the ones we know.
    updateSentinels: true,
    // While no Sentinel answers: retry on the same capped backoff as the data connection.
    sentinelRetryStrategy: options.retryStrategy as RedisOptions['sentinelRetryStrategy'],
  });
}

/** For logs and check-config: where Redis is, without credentials. */
export function describeEndpoint(endpoint: RedisEndpoint, redact: (u: string) => string): string {
  if (endpoint.kind === 'url') return `Redis ${redact(endpoint.url)}`;
  return `Redis primary "${endpoint.name}" through Sentinels ${endpoint.sentinels.map((s) => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`)).join(',')}${endpoint.tls ? ' (TLS)' : ''}`;
}
