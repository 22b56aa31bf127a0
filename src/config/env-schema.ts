import { z } from 'zod';

/**
 * Every environment variable the daemon reads, with its default and unit.
 * The README's configuration table lists each of them; a test checks that
 * every key here appears there.
 *
 * Empty strings count as "unset" (compose files often write `FOO: ""`).
 */

const seconds = (def: number, min = 0.001, max = 86_400) =>
  z.coerce.number().min(min).max(max).default(def);
const int = (def: number, min = 1, max = 1_000_000) => z.coerce.number().int().min(min).max(max).default(def);
const optionalText = z.string().min(1).optional();
const bool = (def: boolean) => z.stringbool().default(def);

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const envSchema = z
  .object({
    // --- what to measure -------------------------------------------------
    TARGET_FQDN: optionalText,
    TARGET_FQDNS: optionalText,
    TARGETS_FILE: optionalText,
    DEFAULT_PROBES: optionalText,
    COLLECTION_INTERVAL: seconds(60, 1, 86_400),
    PROBE_TIMEOUT: seconds(10, 0.1, 600),
    HTTP_REUSE_CONNECTIONS: bool(true),
    SOURCE_NAME: optionalText,

    // --- icmp / trace ----------------------------------------------------
    ICMP_COUNT: int(5, 1, 1000),
    ICMP_PACKET_INTERVAL: seconds(0.2, 0.01, 60),
    ICMP_BATCH_WAIT: seconds(0.05, 0, 10),
    TRACE_INTERVAL: z.coerce.number().min(1).max(86_400).optional(),
    TRACE_CYCLES: int(3, 1, 100),
    TRACE_MAX_HOPS: int(30, 1, 64),
    TRACE_PROTOCOL: z.enum(['icmp', 'udp', 'tcp']).default('icmp'),
    TRACE_PACKET_INTERVAL: seconds(1, 0.1, 60),
    TRACE_GRACE: seconds(1, 0.1, 30),
    TRACE_REVERSE_DNS: bool(false),
    FPING_PATH: z.string().default('fping'),
    MTR_PATH: z.string().default('mtr'),

    // --- seed guide: concurrency ------------------------------------------
    MAX_CONCURRENT_TARGETS: int(50, 1, 100_000),
    MAX_CONCURRENT_OPERATIONS: int(100, 1, 100_000),
    BATCH_SIZE: int(10, 1, 10_000),
    WORKER_POOL_SIZE: int(20, 1, 1024),

    // --- seed guide: outbound HTTP pool -----------------------------------
    MAX_CONNECTIONS: int(100, 1, 100_000),
    MAX_CONNECTIONS_PER_HOST: int(30, 1, 10_000),
    KEEPALIVE_TIMEOUT: seconds(30, 0.001, 3600),
    CONNECTION_TIMEOUT: seconds(10, 0.001, 600),
    READ_TIMEOUT: seconds(30, 0.001, 3600),

    // --- seed guide: circuit breakers -------------------------------------
    CIRCUIT_FAILURE_THRESHOLD: int(5, 1, 1000),
    CIRCUIT_RECOVERY_TIMEOUT: seconds(60, 0.001, 86_400),
    CIRCUIT_SUCCESS_THRESHOLD: int(3, 1, 1000),
    CIRCUIT_HALF_OPEN_MAX_CALLS: int(1, 1, 1000),
    CIRCUIT_IDLE_EVICT: seconds(600, 1, 86_400),

    // --- storage ----------------------------------------------------------
    DATA_DIR: z.string().min(1).default('./data'),
    EMBEDDED_RETENTION_DAYS: z.coerce.number().min(0.001).max(3650).default(7),
    INFLUXDB_URL: z.url().optional(),
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
    INFLUX_RETRY_MAX: seconds(2, 0.1, 3600),
    OUTBOX_MAX_BYTES: z.coerce.number().int().min(256 * 1024).default(1024 ** 3),
    // --- outbox: Prometheus remote write (src/outbox) -----------------------
    REMOTE_WRITE_URL: z.url().optional(),
    REMOTE_WRITE_URLS: optionalText,
    REMOTE_WRITE_USERNAME: optionalText,
    REMOTE_WRITE_PASSWORD: optionalText,
    REMOTE_WRITE_BEARER_TOKEN: optionalText,

    // --- cluster ----------------------------------------------------------
    REDIS_URL: optionalText,
    REDIS_KEY_PREFIX: z.string().min(1).default('telemetry:'),
    CLUSTER_HEARTBEAT_INTERVAL: seconds(1, 0.05, 60),
    CLUSTER_MEMBER_TTL: seconds(5, 0.2, 600),

    // --- geolocation ------------------------------------------------------
    GEO: z.enum(['off', 'offline', 'http']).default('off'),
    GEO_HTTP_URL: z.url().default('http://ip-api.com/json/'),
    GEO_HTTP_KEY: optionalText,
    GEO_HTTP_RATE_PER_MINUTE: int(45, 1, 1_000_000),
    GEO_CACHE_SIZE: int(10_000, 1, 10_000_000),
    GEO_CACHE_TTL: seconds(86_400, 1, 31 * 86_400),
    SOURCE_LAT: z.coerce.number().min(-90).max(90).optional(),
    SOURCE_LON: z.coerce.number().min(-180).max(180).optional(),
    SOURCE_IP: z.union([z.ipv4(), z.ipv6()]).optional(),
    PUBLIC_IP_URL: z.url().optional(),

    // --- server / process -------------------------------------------------
    PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
    LISTEN_ADDRESS: z.string().min(1).default('0.0.0.0'),
    COLLECT_TOKEN: optionalText,
    COLLECT_TIMEOUT: seconds(120, 1, 3600),
    MAX_ADHOC_RUNS: int(4, 1, 1000),
    SHUTDOWN_TIMEOUT: seconds(10, 0.1, 600),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  })
  .strip();

export type Env = z.infer<typeof envSchema>;

/** Map empty strings to undefined so defaults apply (see header comment). */
export function cleanEnv(raw: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = raw[key];
    out[key] = v === undefined || v.trim() === '' ? undefined : v.trim();
  }
  return out;
}

/** Names whose values are secrets: redacted in logs and in `check-config`. */
export const SECRET_ENV = new Set(['INFLUXDB_TOKEN', 'INFLUXDB_PASSWORD', 'COLLECT_TOKEN', 'GEO_HTTP_KEY', 'REDIS_URL', 'REMOTE_WRITE_URL', 'REMOTE_WRITE_URLS', 'REMOTE_WRITE_PASSWORD', 'REMOTE_WRITE_BEARER_TOKEN']);
