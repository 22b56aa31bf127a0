import { hostname } from 'node:os';
import { cleanEnv, envSchema, SECRET_ENV, type Env } from './env-schema.js';
import { remoteWriteUrls } from '../outbox/remote-write-config.js';
import {
  loadTargetsFile,
  PROBE_KINDS,
  TargetConfigError,
  targetFromEntry,
  type ProbeKind,
  type Target,
  type TargetDefaults,
} from './targets.js';

export interface AppConfig {
  env: Env;
  targets: Target[];
  /** Tag `source` on every point. */
  sourceName: string;
  /** INFLUXDB_URLS, or INFLUXDB_URL alone; empty = embedded store. */
  influxUrls: string[];
  /** REMOTE_WRITE_URLS, or REMOTE_WRITE_URL alone (Prometheus remote write, through the same outbox). */
  remoteWriteUrls: string[];
}

/** Invalid configuration: one line per problem; the process exits 2. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Targets used when none are configured: they work offline and harm nobody —
 * the loopback path (icmp + trace) and the daemon's own liveness endpoint
 * (http). Operators replace them with TARGET_FQDNS or TARGETS_FILE.
 */
export function defaultTargetEntries(port: number): string[] {
  return ['localhost', `http://127.0.0.1:${port}/health/live`];
}

export function loadConfig(rawEnv: NodeJS.ProcessEnv = process.env): AppConfig {
  const cleaned = cleanEnv(rawEnv);
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const key = String(i.path[0] ?? '?');
        const value = cleaned[key];
        const shown = value === undefined ? '' : SECRET_ENV.has(key) ? ' (value redacted)' : ` (got "${value}")`;
        return `${key}: ${i.message}${shown}`;
      }),
    );
  }
  const env = parsed.data;
  const problems: string[] = [];

  let defaultProbes: ProbeKind[] | null = null;
  if (env.DEFAULT_PROBES) {
    const list = splitList(env.DEFAULT_PROBES);
    const bad = list.filter((p) => !(PROBE_KINDS as readonly string[]).includes(p));
    if (bad.length) problems.push(`DEFAULT_PROBES: unknown probe ${bad.join(', ')} (known: ${PROBE_KINDS.join(', ')})`);
    else defaultProbes = list as ProbeKind[];
  }

  // Unset PROBE_TIMEOUT follows short intervals down so that COLLECTION_INTERVAL=5 just works.
  const timeoutS = cleaned.PROBE_TIMEOUT === undefined ? Math.min(10, env.COLLECTION_INTERVAL * 0.8) : env.PROBE_TIMEOUT;
  const defaults: TargetDefaults = {
    intervalS: env.COLLECTION_INTERVAL,
    timeoutS,
    probes: defaultProbes,
    icmp: { count: env.ICMP_COUNT, packetIntervalS: env.ICMP_PACKET_INTERVAL, family: null },
    trace: {
      protocol: env.TRACE_PROTOCOL,
      port: null,
      maxHops: env.TRACE_MAX_HOPS,
      cycles: env.TRACE_CYCLES,
      packetIntervalS: env.TRACE_PACKET_INTERVAL,
      graceS: env.TRACE_GRACE,
      intervalS: env.TRACE_INTERVAL ?? null,
    },
    httpReuse: env.HTTP_REUSE_CONNECTIONS,
  };

  const targets: Target[] = [];
  const entries: [string, string][] = [];
  if (env.TARGET_FQDN) entries.push(['TARGET_FQDN', env.TARGET_FQDN]);
  if (env.TARGET_FQDNS) for (const e of splitList(env.TARGET_FQDNS)) entries.push(['TARGET_FQDNS', e]);
  for (const [varName, entry] of entries) {
    try {
      targets.push(targetFromEntry(entry, defaults));
    } catch (err) {
      problems.push(`${varName}: ${(err as Error).message}`);
    }
  }
  if (env.TARGETS_FILE) {
    try {
      targets.push(...loadTargetsFile(env.TARGETS_FILE, defaults));
    } catch (err) {
      if (err instanceof TargetConfigError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (!env.TARGET_FQDN && !env.TARGET_FQDNS && !env.TARGETS_FILE) {
    for (const e of defaultTargetEntries(env.PORT)) targets.push(targetFromEntry(e, defaults));
  }

  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.name)) problems.push(`targets: the name "${t.name}" is used twice (names are the "target" tag and must be unique)`);
    seen.add(t.name);
  }

  const influxUrls = env.INFLUXDB_URLS ? splitList(env.INFLUXDB_URLS) : env.INFLUXDB_URL ? [env.INFLUXDB_URL] : [];
  for (const u of influxUrls) {
    if (!URL.canParse(u) || !/^https?:$/.test(new URL(u).protocol)) problems.push(`INFLUXDB_URLS: "${u}" is not an http(s) URL`);
  }
  if (influxUrls.length && env.INFLUX_API === 'v2') {
    for (const k of ['INFLUXDB_TOKEN', 'INFLUXDB_ORG', 'INFLUXDB_BUCKET'] as const) {
      if (!env[k]) problems.push(`${k}: required when INFLUXDB_URL is set with INFLUX_API=v2`);
    }
  }
  if (influxUrls.length && env.INFLUX_API === 'v1' && !env.INFLUXDB_DB && !env.INFLUXDB_BUCKET) {
    problems.push('INFLUXDB_DB: required when INFLUX_API=v1 (or set INFLUXDB_BUCKET)');
  }
  const remoteWrite = remoteWriteUrls(env);
  problems.push(...remoteWrite.problems);
  if (env.MAX_CONNECTIONS_PER_HOST > env.MAX_CONNECTIONS) {
    problems.push(`MAX_CONNECTIONS_PER_HOST: ${env.MAX_CONNECTIONS_PER_HOST} exceeds MAX_CONNECTIONS ${env.MAX_CONNECTIONS}`);
  }
  if ((env.SOURCE_LAT === undefined) !== (env.SOURCE_LON === undefined)) {
    problems.push('SOURCE_LAT / SOURCE_LON: set both or neither');
  }
  if (env.CLUSTER_MEMBER_TTL <= env.CLUSTER_HEARTBEAT_INTERVAL * 2) {
    problems.push('CLUSTER_MEMBER_TTL: must be more than twice CLUSTER_HEARTBEAT_INTERVAL, or one late heartbeat drops a live member');
  }
  if (problems.length) throw new ConfigError(problems);

  return { env, targets, sourceName: env.SOURCE_NAME ?? hostname(), influxUrls, remoteWriteUrls: remoteWrite.urls };
}

export function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}

/** The effective configuration for `check-config`, secrets replaced. */
export function redactedConfig(cfg: AppConfig): Record<string, unknown> {
  const env: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg.env)) {
    if (v === undefined) continue;
    env[k] = SECRET_ENV.has(k) ? redactValue(k, String(v)) : v;
  }
  return { source: cfg.sourceName, influxUrls: cfg.influxUrls.map(redactUrl), env, targets: cfg.targets };
}

function redactValue(key: string, v: string): string {
  return key.endsWith('_URL') ? redactUrl(v) : '<redacted>';
}

/** Keep a URL readable but drop its password. */
export function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = 'redacted';
    return url.toString();
  } catch {
    return '<redacted>';
  }
}
