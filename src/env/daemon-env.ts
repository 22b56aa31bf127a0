import { z } from 'zod';
import { bool, httpUrl, int, optionalText, seconds } from './zod-env.js';

/**
 * The daemon's own environment variables (each probe declares its own in its
 * folder; env-schema.ts puts them together). Kept apart from env-schema.ts so
 * probe modules can name these types without a cycle.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const daemonEnv = {
  // --- what to measure -------------------------------------------------
  TARGET_FQDN: optionalText,
  TARGET_FQDNS: optionalText,
  TARGETS_FILE: optionalText,
  /** Largest share (0-1) of the running targets a reload may remove unless forced (POST /-/reload?force=1). */
  RELOAD_MAX_REMOVAL: z.coerce.number().min(0).max(1).default(0.5).describe('a share between 0 and 1, e.g. 0.5'),
  DEFAULT_PROBES: optionalText,
  COLLECTION_INTERVAL: seconds(60, 1, 86_400),
  PROBE_TIMEOUT: seconds(10, 0.1, 600),
  SOURCE_NAME: optionalText,
  /** `instance` tag of the collector measurement; default host name + port, unique per process. */
  INSTANCE_NAME: optionalText,
  /** A target's state (ok / degraded / failing) changes after this many consecutive slots agree on the new one. */
  STATE_HYSTERESIS_SLOTS: int(1, 1, 100),

  // --- concurrency ----------------------------------------------------
  MAX_CONCURRENT_TARGETS: int(50, 1, 100_000),
  MAX_CONCURRENT_OPERATIONS: int(100, 1, 100_000),
  BATCH_SIZE: int(10, 1, 10_000),
  WORKER_POOL_SIZE: int(20, 1, 1024),

  // --- outbound HTTP pool ---------------------------------------------
  MAX_CONNECTIONS: int(100, 1, 100_000),
  MAX_CONNECTIONS_PER_HOST: int(30, 1, 10_000),
  KEEPALIVE_TIMEOUT: seconds(30, 0.001, 3600),
  CONNECTION_TIMEOUT: seconds(10, 0.001, 600),
  READ_TIMEOUT: seconds(30, 0.001, 3600),

  // --- circuit breakers -----------------------------------------------
  CIRCUIT_FAILURE_THRESHOLD: int(5, 1, 1000),
  CIRCUIT_RECOVERY_TIMEOUT: seconds(60, 0.001, 86_400),
  CIRCUIT_SUCCESS_THRESHOLD: int(3, 1, 1000),
  CIRCUIT_HALF_OPEN_MAX_CALLS: int(1, 1, 1000),
  CIRCUIT_IDLE_EVICT: seconds(600, 1, 86_400),
  /** Hosts with a breaker in memory at most (least recently used idle ones go first). */
  CIRCUIT_MAX_HOSTS: int(10_000, 1, 10_000_000),

  // --- storage ----------------------------------------------------------
  DATA_DIR: z.string().min(1).default('./data'),
  EMBEDDED_RETENTION_DAYS: z.coerce.number().min(0.001).max(3650).default(7),
  EMBEDDED_STORE: bool(true),
  // Half an hour at least: retention never deletes a raw point before every rollup tier has it
  // (store/retention.ts, safeToDelete), so a short window costs only the per-slot detail of older charts.
  EMBEDDED_RAW_HOURS: z.coerce.number().min(0.5).max(8760).default(6),
  EMBEDDED_MAX_BYTES: z.coerce.number().int().min(64 * 1024 * 1024).default(4 * 1024 ** 3),
  INFLUXDB_URL: httpUrl().optional(),
  INFLUXDB_URLS: optionalText,
  INFLUXDB_TOKEN: optionalText,
  INFLUXDB_ORG: optionalText,
  INFLUXDB_BUCKET: optionalText,
  INFLUX_API: z.enum(['v1', 'v2']).default('v2'),
  INFLUXDB_DB: optionalText,
  INFLUXDB_RP: optionalText,
  INFLUXDB_USERNAME: optionalText,
  INFLUXDB_PASSWORD: optionalText,
  INFLUX_BATCH_SIZE: int(5000, 1, 1_000_000),
  INFLUX_FLUSH_INTERVAL: seconds(1, 0.01, 3600),
  /** Cap of every writer's retry backoff (1 s doubling up to this): small, so the outbox drains within seconds of a database's return. */
  INFLUX_RETRY_MAX: seconds(2, 0.1, 3600),
  /** The outbox's file and WAL together (src/outbox/README.md). */
  OUTBOX_MAX_BYTES: z.coerce.number().int().min(256 * 1024).default(1024 ** 3),
  // --- outbox: Prometheus remote write (src/outbox) -----------------------
  REMOTE_WRITE_URL: httpUrl().optional(),
  REMOTE_WRITE_URLS: optionalText,
  REMOTE_WRITE_USERNAME: optionalText,
  REMOTE_WRITE_PASSWORD: optionalText,
  REMOTE_WRITE_BEARER_TOKEN: optionalText,

  // --- cluster ----------------------------------------------------------
  /** One Redis (redis://[user:password@]host:port[/db], rediss:// for TLS). */
  REDIS_URL: optionalText,
  /** Or a Sentinel-managed primary: the Sentinels as host:port,... (src/cluster/redis-connection.ts). */
  REDIS_SENTINELS: optionalText,
  /** The name the Sentinels monitor the primary under. */
  REDIS_SENTINEL_NAME: optionalText,
  /** Credentials of the primary (and replicas) with REDIS_SENTINELS; with REDIS_URL they go in the URL. */
  REDIS_USERNAME: optionalText,
  REDIS_PASSWORD: optionalText,
  /** Credentials of the Sentinels themselves, when they require them (`requirepass` in sentinel.conf). */
  REDIS_SENTINEL_USERNAME: optionalText,
  REDIS_SENTINEL_PASSWORD: optionalText,
  /** TLS to the Sentinels and the primary (REDIS_SENTINELS); with REDIS_URL use rediss://. */
  REDIS_TLS: bool(false),
  /** PEM CA bundle trusted for TLS to Redis and the Sentinels (else the system's). */
  REDIS_CA_FILE: optionalText,
  REDIS_KEY_PREFIX: z.string().min(1).default('telemetry:'),
  CLUSTER_HEARTBEAT_INTERVAL: seconds(1, 0.05, 60),
  CLUSTER_MEMBER_TTL: seconds(5, 0.2, 600),
  /** API address peers use to reach this replica (default http://<LISTEN_ADDRESS or first non-internal IPv4>:<PORT>). */
  CLUSTER_ADVERTISE_URL: httpUrl('http://10.0.3.7:8080, an address peers can reach').optional(),
  /**
   * Shared by every replica of a cluster: members sign their record in Redis
   * with it and ignore records that are not signed (src/cluster/member-auth.ts).
   * Default: derived from COLLECT_TOKEN; cluster mode needs one of the two.
   */
  CLUSTER_SECRET: z.string().min(16, 'must be at least 16 characters (e.g. `openssl rand -hex 32`)').optional(),
  /** Read-only bearer token members (and other sites) send each other; default derived from CLUSTER_SECRET. */
  CLUSTER_READ_TOKEN: z.string().min(16, 'must be at least 16 characters (e.g. `openssl rand -hex 32`)').optional(),
  /** Ports a member may advertise in its URL, comma-separated (default: any). */
  CLUSTER_PEER_PORTS: z.string().regex(/^\s*\d{1,5}(\s*,\s*\d{1,5})*\s*$/, 'must be a comma-separated list of ports, e.g. 8080 or 8080,8443').optional(),
  /**
   * At stop, hand what the outbox could not deliver over to the other replicas
   * (a Redis stream they drain): `auto` when the StatefulSet scaled this
   * ordinal away (asked from the Kubernetes API), `always`, or `never`
   * (src/cluster/departure.ts).
   */
  OUTBOX_HANDOFF: z.enum(['auto', 'always', 'never']).default('auto'),
  /** Compressed bytes all replicas together may leave in the hand-off stream (Redis memory). */
  OUTBOX_HANDOFF_MAX_BYTES: z.coerce.number().int().min(64 * 1024).default(64 * 1024 ** 2),
  /** The Kubernetes API for the departure check when not the in-cluster one (kubectl proxy; npm run scale-sim). */
  KUBERNETES_API_URL: httpUrl().optional(),
  /** This pod's name and namespace (downward API); default: the host name and the service account's namespace. */
  POD_NAME: optionalText,
  POD_NAMESPACE: optionalText,
  /** Lookup cache entries kept in memory (reverse DNS; in front of Redis in a cluster). */
  LOOKUP_CACHE_SIZE: int(100_000, 1, 10_000_000),

  // --- several sites (src/sites, docs/operations.md "Several sites") ------
  /** Other sites this one shows: `name=URL` (name = that site's SOURCE_NAME), comma-separated. */
  SITES: optionalText,
  /** How long a page or a refresh waits for another site. */
  SITE_TIMEOUT: seconds(3, 0.1, 60),
  /** How often the other sites' states are read (the matrix, the fault-domain verdicts and their metric). */
  SITES_REFRESH: seconds(15, 1, 3600),
  /** Prometheus query API of the shared database (history of every source); unset: the embedded store and the sites. */
  QUERY_URL: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL of a Prometheus query API, e.g. http://victoria:8428 or http://vmselect:8481/select/0/prometheus' }).optional(),
  QUERY_USERNAME: optionalText,
  QUERY_PASSWORD: optionalText,
  QUERY_BEARER_TOKEN: optionalText,
  /** X-Scope-OrgID sent with every query (Mimir, Cortex, Thanos tenants). */
  QUERY_ORG_ID: optionalText,

  // --- geolocation ------------------------------------------------------
  GEO: z.enum(['off', 'offline', 'http']).default('off'),
  GEO_HTTP_URL: httpUrl().default('http://ip-api.com/json/'),
  GEO_HTTP_KEY: optionalText,
  GEO_HTTP_RATE_PER_MINUTE: int(45, 1, 1_000_000),
  GEO_CACHE_SIZE: int(10_000, 1, 10_000_000),
  GEO_CACHE_TTL: seconds(86_400, 1, 31 * 86_400),
  SOURCE_LAT: z.coerce.number().min(-90).max(90).optional(),
  SOURCE_LON: z.coerce.number().min(-180).max(180).optional(),
  SOURCE_IP: z.union([z.ipv4(), z.ipv6()]).optional(),
  PUBLIC_IP_URL: httpUrl().optional(),

  // --- server / process -------------------------------------------------
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  LISTEN_ADDRESS: z.string().min(1).default('0.0.0.0'),
  /** TLS and basic auth for the API and UI (Prometheus exporter web config format). */
  WEB_CONFIG_FILE: optionalText,
  /** Seconds between checks of WEB_CONFIG_FILE and the files it names: a change (a renewed certificate, new users) applies without a restart. */
  WEB_CONFIG_CHECK_INTERVAL: seconds(10, 0.1, 3600),
  /** PEM CA bundle trusted (besides the system's) for calls to other members behind TLS (their https:// CLUSTER_ADVERTISE_URL). */
  WEB_CLIENT_CA_FILE: optionalText,
  COLLECT_TOKEN: optionalText,
  COLLECT_TIMEOUT: seconds(120, 1, 3600),
  MAX_ADHOC_RUNS: int(4, 1, 1000),
  /** Most probes (targets x probes) one POST /collect may run. */
  COLLECT_MAX_PROBES: int(1000, 1, 1_000_000),
  /** Most open connections to the API; more wait in the kernel's backlog. */
  MAX_API_CONNECTIONS: int(256, 1, 100_000),
  /** From accept (or the end of the previous request) to complete request headers; bounds the TLS handshake too. */
  API_HEADERS_TIMEOUT: seconds(10, 0.05, 600),
  /** To receive a whole request, its body included (not the time to answer it). */
  API_REQUEST_TIMEOUT: seconds(30, 0.05, 3600),
  /** A keep-alive connection without a new request is closed after this. */
  API_IDLE_TIMEOUT: seconds(5, 0.05, 3600),
  /** Per-target series on /metrics (blackbox-style success, durations, timings). */
  PER_TARGET_METRICS: bool(true),
  SHUTDOWN_TIMEOUT: seconds(10, 0.1, 600),
  /** GET /health/live fails after this many intervals (the shortest; at least 10 s) without a completed round while the replica owns targets. */
  LIVENESS_MISSED_ROUNDS: int(3, 2, 1000),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** `auto`: one line per event on a terminal, JSON elsewhere. */
  LOG_FORMAT: z.enum(['auto', 'json', 'text']).default('auto'),
};

export type DaemonEnv = z.infer<z.ZodObject<typeof daemonEnv>>;
