/**
 * Cluster mode (REDIS_URL or REDIS_SENTINELS) or standalone, put together in one call for the
 * wiring (src/cluster/README.md explains the behaviour and its trade-offs):
 *
 * ```ts
 * const cluster = createCluster(env, { targets: names, metrics, log, http, errors: reportErrors(metrics, log) });
 * lifecycle.add(cluster.coordinator, 0.2);          // Component 'cluster': joins in start(), leaves in stop()
 * new ReverseDns(cluster.cache);                     // lookups shared by the replicas
 * createGeo(env, http, cluster.geoCache, log, { sharedBudget: cluster.geoBudget, ... });
 * new Scheduler(targets, collector, cluster.coordinator, ...);
 * // on reload:  cluster.coordinator.setTargets(newNames)
 * // web UI:     cluster.coordinator.ownerOf(t), .members(), cluster.peers.get(id, path, deadline), .fanOut(path, deadline)
 * ```
 */
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import type { Env } from '../config/env-schema.js';
import type { SharedBudget } from '../geo/rate-limiter.js';
import type { HttpClient } from '../http-client/http-client.js';
import type { ErrorReporter } from '../lifecycle/error-reporter.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { shortSha } from '../util/hash.js';
import { MemoryCache, type SharedCache } from '../util/shared-cache.js';
import { StandaloneCoordinator, type Coordinator } from './coordinator.js';
import { ClusterCredentials, type MemberUrlPolicy } from './member-auth.js';
import { PeerClient } from './peer-client.js';
import { RedisCache } from './redis-cache.js';
import { redisEndpoint } from './redis-connection.js';
import { RedisCoordinator } from './redis-coordinator.js';
import { RedisRateBudget } from './redis-rate-budget.js';

export { StandaloneCoordinator, type Coordinator, type Member } from './coordinator.js';
export { RedisCoordinator, type ClusterOptions } from './redis-coordinator.js';
export { PeerClient, type PeerAnswer, type PeerFailure, type MemberDirectory, type PeerClientOptions } from './peer-client.js';
export { RedisCache } from './redis-cache.js';
export { ClusterCredentials, memberUrlProblem, type MemberUrlPolicy } from './member-auth.js';
export { RedisRateBudget } from './redis-rate-budget.js';

export type ClusterEnv = Pick<
  Env,
  | 'REDIS_URL'
  | 'REDIS_SENTINELS'
  | 'REDIS_SENTINEL_NAME'
  | 'REDIS_USERNAME'
  | 'REDIS_PASSWORD'
  | 'REDIS_SENTINEL_USERNAME'
  | 'REDIS_SENTINEL_PASSWORD'
  | 'REDIS_TLS'
  | 'REDIS_CA_FILE'
  | 'REDIS_KEY_PREFIX'
  | 'CLUSTER_HEARTBEAT_INTERVAL'
  | 'CLUSTER_MEMBER_TTL'
  | 'CLUSTER_ADVERTISE_URL'
  | 'CLUSTER_SECRET'
  | 'CLUSTER_READ_TOKEN'
  | 'CLUSTER_PEER_PORTS'
  | 'COLLECT_TOKEN'
  | 'PORT'
  | 'LISTEN_ADDRESS'
  | 'SOURCE_NAME'
  | 'GEO'
  | 'GEO_HTTP_URL'
  | 'GEO_HTTP_KEY'
  | 'GEO_HTTP_RATE_PER_MINUTE'
  | 'GEO_CACHE_SIZE'
  | 'LOOKUP_CACHE_SIZE'
>;

export interface ClusterDeps {
  /** Names of the configured targets. */
  targets: readonly string[];
  metrics: TelemetryMetrics;
  log: Logger;
  /** The shared HttpClient: peer calls get its pool, its MAX_CONNECTIONS and a breaker per member. */
  http: HttpClient;
  /** Where the heartbeat loop reports its errors (the daemon's reportErrors). */
  errors: ErrorReporter;
}

export interface Cluster {
  /** Component `cluster`. */
  coordinator: Coordinator;
  /** Lookup cache (reverse DNS): in-process, or Redis shared by the replicas. */
  cache: SharedCache;
  /** Geolocation answers: Redis shared by the replicas; undefined standalone (createGeo makes its own). */
  geoCache?: SharedCache;
  /** Geolocation API budget shared by the replicas; undefined standalone. */
  geoBudget?: SharedBudget;
  /** Calls to other members (web UI). Standalone: there are none, fanOut answers []. */
  peers: PeerClient;
  /** The URL this replica advertises to its peers. */
  advertiseUrl: string;
  /** The read-only token members send each other (the API accepts it for reads); undefined standalone without a secret. */
  readToken?: string;
}

export function createCluster(env: ClusterEnv, deps: ClusterDeps): Cluster {
  const { metrics: m, log } = deps;
  const advertiseUrl = advertisedUrl(env);
  const credentials = ClusterCredentials.fromEnv(env);
  const urlPolicy: MemberUrlPolicy = { selfUrl: advertiseUrl, ports: peerPorts(env.CLUSTER_PEER_PORTS) };
  const peerOptions = { readToken: credentials?.readToken, urlPolicy };
  const endpoint = redisEndpoint(env);
  if (!endpoint) {
    const coordinator = new StandaloneCoordinator(deps.targets, advertiseUrl);
    m.onCollect(() => {
      m.clusterMembers.set(1);
      m.targetsOwned.set(coordinator.ownedCount());
    });
    if (env.GEO === 'http') m.geoRateLimit.set({ scope: 'process' }, env.GEO_HTTP_RATE_PER_MINUTE / 60);
    return { coordinator, cache: new MemoryCache(env.LOOKUP_CACHE_SIZE), peers: new PeerClient(coordinator, deps.http, m, peerOptions), advertiseUrl, readToken: credentials?.readToken };
  }
  // load-config refuses cluster mode without a secret; this is the last line of defence.
  if (!credentials) throw new Error('cluster mode without CLUSTER_SECRET or COLLECT_TOKEN');
  const coordinator = new RedisCoordinator(
    deps.targets,
    {
      redisUrl: endpoint,
      prefix: env.REDIS_KEY_PREFIX,
      heartbeatMs: env.CLUSTER_HEARTBEAT_INTERVAL * 1000,
      memberTtlMs: env.CLUSTER_MEMBER_TTL * 1000,
      advertiseUrl,
      credentials,
    },
    m,
    log,
    deps.errors,
  );
  const redis = () => coordinator.client;
  const cachePrefix = `${env.REDIS_KEY_PREFIX}cache:`;
  if (!env.SOURCE_NAME) {
    log.warn('cluster mode without SOURCE_NAME: each replica tags points with its own hostname, so a slot collected twice is two series, not one point; set the same SOURCE_NAME on every replica');
  }
  return {
    coordinator,
    cache: new RedisCache(new MemoryCache(env.LOOKUP_CACHE_SIZE), redis, cachePrefix),
    geoCache: new RedisCache(new MemoryCache(env.GEO_CACHE_SIZE), redis, cachePrefix),
    // One budget per API and key: replicas pointed at another endpoint or key do not share it.
    geoBudget:
      env.GEO === 'http'
        ? new RedisRateBudget(redis, `${env.REDIS_KEY_PREFIX}geo-budget:${shortSha(`${new URL(env.GEO_HTTP_URL).origin} ${env.GEO_HTTP_KEY ?? ''}`)}`, () => coordinator.members().length, m)
        : undefined,
    peers: new PeerClient(coordinator, deps.http, m, peerOptions),
    advertiseUrl,
    readToken: credentials.readToken,
  };
}

/** CLUSTER_PEER_PORTS: `8080` or `8080,8443`; empty means any port (load-config checked the syntax). */
export function peerPorts(raw: string | undefined): number[] {
  return (raw ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map(Number);
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '']);

/**
 * CLUSTER_ADVERTISE_URL, or http://<host>:<PORT> where host is LISTEN_ADDRESS
 * when it names one address, else the first non-internal IPv4 address of the
 * host (a pod's IP in Kubernetes, the container's address in compose), else
 * 127.0.0.1 (peers on other hosts cannot reach that: set the variable).
 */
export function advertisedUrl(env: Pick<Env, 'CLUSTER_ADVERTISE_URL' | 'PORT' | 'LISTEN_ADDRESS'>, nics = networkInterfaces()): string {
  if (env.CLUSTER_ADVERTISE_URL) return env.CLUSTER_ADVERTISE_URL.replace(/\/$/, '');
  let host = WILDCARD.has(env.LISTEN_ADDRESS) ? undefined : env.LISTEN_ADDRESS;
  if (!host) {
    for (const list of Object.values(nics)) {
      const v4 = list?.find((a) => a.family === 'IPv4' && !a.internal);
      if (v4) {
        host = v4.address;
        break;
      }
    }
  }
  host ??= '127.0.0.1';
  return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${env.PORT}`;
}
