import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { z } from 'zod';
import { geoipLiteInstalled, GEOIP_LITE_INSTALL } from './optional-packages.js';
import { remoteWriteUrls } from './remote-write-config.js';
import { parseSites } from './site-list.js';
import { SpecError } from '../probes/module.js';
import { PROBE_KINDS, type ProbeKind } from '../probes/registry.js';
import { cleanEnv, envSchema, type Env } from './env-schema.js';
import { isSecretVariable, redactEnvValue, redactUrl } from '../env/redact.js';
import { clusterConfigured, redisProblems } from './redis-env.js';
import { unknownVariableWarnings } from './suggest.js';
import { loadTargetsFile, TargetConfigError, targetFromEntry, type Target, type TargetDefaults } from './targets.js';

export interface AppConfig {
  env: Env;
  targets: Target[];
  /** Tag `source` on every point. */
  sourceName: string;
  /** Tag `instance` of the collector measurement: unique per process. */
  instanceName: string;
  /** INFLUXDB_URLS, or INFLUXDB_URL alone; empty = no InfluxDB. */
  influxUrls: string[];
  /** REMOTE_WRITE_URLS, or REMOTE_WRITE_URL alone (Prometheus remote write, through the same outbox). */
  remoteWriteUrls: string[];
  /** Defaults adapted to fit (say once at start). */
  notes: string[];
  /** Suspicious but not fatal (unknown variables that look like ours). */
  warnings: string[];
  /** Environment variables the user set. */
  explicit: ReadonlySet<string>;
}

/**
 * Invalid configuration: one line per problem, each `VARIABLE: what is wrong
 * and what to set`; the process exits 2.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Targets used when none are configured: they work offline and harm nobody —
 * the loopback path (icmp + trace) and an HTTP request to the daemon's own
 * liveness endpoint. Operators replace them with TARGET_FQDNS or TARGETS_FILE.
 */
export function defaultTargetEntries(port: number): string[] {
  return ['localhost', `http://127.0.0.1:${port}/health/live`];
}

export interface LoadOptions {
  /** The daemon's own /health/live is among the defaults only when the daemon serves it (not for collect --once). */
  selfProbe?: boolean;
  /** Progress of a large TARGETS_FILE (config/config-loader.ts logs it and shows it in /health/ready). */
  progress?(done: number, total: number): void;
  /** Check everything but TARGETS_FILE's content (a large file is then loaded in the background: config-loader.ts). */
  skipTargetsFile?: boolean;
}

export function loadConfig(rawEnv: NodeJS.ProcessEnv = process.env, o: LoadOptions = {}): AppConfig {
  const cleaned = cleanEnv(rawEnv);
  const explicit = new Set(Object.keys(cleaned).filter((k) => cleaned[k] !== undefined));
  const parsed = envSchema.safeParse(cleaned);
  const problems: string[] = [];
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const key = String(i.path[0] ?? '?');
        const value = cleaned[key];
        const shown = value === undefined ? '' : isSecretVariable(key) ? ' (value redacted)' : ` (got "${redactEnvValue(key, value)}")`;
        return `${key}: ${envIssueMessage(i, envSchema.shape[key as keyof typeof envSchema.shape]?.description)}${shown}`;
      }),
    );
  }
  const env = parsed.data;
  const notes = new Set<string>();

  for (const name of ['TARGET_FQDN', 'TARGET_FQDNS'] as const) {
    const raw = rawEnv[name];
    if (raw !== undefined && splitList(raw).length === 0) {
      problems.push(`${name}: set but empty: list targets (comma-separated: example.com, https://example.com/, db.example.com:5432) or unset it to use the defaults`);
    }
  }

  let defaultProbes: ProbeKind[] | null = null;
  if (env.DEFAULT_PROBES) {
    const list = splitList(env.DEFAULT_PROBES);
    const bad = list.filter((p) => !(PROBE_KINDS as readonly string[]).includes(p));
    if (bad.length) problems.push(`DEFAULT_PROBES: unknown probe ${bad.join(', ')}: use some of ${PROBE_KINDS.join(', ')}`);
    else defaultProbes = list as ProbeKind[];
  }

  const defaults: TargetDefaults = {
    env,
    explicit,
    intervalS: env.COLLECTION_INTERVAL,
    timeoutS: explicit.has('PROBE_TIMEOUT') ? env.PROBE_TIMEOUT : null,
    probes: defaultProbes,
    lookupEnv: (name) => rawEnv[name],
    note: (m) => notes.add(m),
    progress: o.progress,
  };

  const targets: Target[] = [];
  const entries: [string, string][] = [];
  if (env.TARGET_FQDN) entries.push(['TARGET_FQDN', env.TARGET_FQDN]);
  if (env.TARGET_FQDNS) for (const e of splitList(env.TARGET_FQDNS)) entries.push(['TARGET_FQDNS', e]);
  const fromEntry = (varName: string, entry: string) => {
    try {
      targets.push(targetFromEntry(entry, defaults));
    } catch (err) {
      if (!(err instanceof SpecError)) throw err;
      // Messages that already name their setting keep it; the others get the variable.
      problems.push(/^[A-Z][A-Z0-9_]+: /.test(err.message) ? err.message : `${varName}: ${err.message}`);
    }
  };
  for (const [varName, entry] of entries) fromEntry(varName, entry);
  if (env.TARGETS_FILE && !o.skipTargetsFile) {
    try {
      targets.push(...loadTargetsFile(env.TARGETS_FILE, defaults));
    } catch (err) {
      if (err instanceof TargetConfigError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (rawEnv.TARGET_FQDN === undefined && rawEnv.TARGET_FQDNS === undefined && !env.TARGETS_FILE) {
    const defaultsList = defaultTargetEntries(env.PORT);
    for (const e of o.selfProbe === false ? defaultsList.slice(0, 1) : defaultsList) fromEntry('default targets', e);
  }

  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.name)) problems.push(`targets: the name "${t.name}" is used twice: names are the "target" tag and must be unique (give one a name in TARGETS_FILE)`);
    seen.add(t.name);
  }

  const influxUrls = env.INFLUXDB_URLS ? splitList(env.INFLUXDB_URLS) : env.INFLUXDB_URL ? [env.INFLUXDB_URL] : [];
  for (const u of influxUrls) {
    if (!URL.canParse(u) || !/^https?:$/.test(new URL(u).protocol)) problems.push(`INFLUXDB_URLS: "${redactUrl(u)}" is not an http(s) URL`);
  }
  if (influxUrls.length && env.INFLUX_API === 'v2') {
    for (const k of ['INFLUXDB_TOKEN', 'INFLUXDB_ORG', 'INFLUXDB_BUCKET'] as const) {
      if (!env[k]) problems.push(`${k}: required when INFLUXDB_URL is set with INFLUX_API=v2 (or set INFLUX_API=v1 for InfluxDB 1.x)`);
    }
  }
  if (influxUrls.length && env.INFLUX_API === 'v1' && !env.INFLUXDB_DB && !env.INFLUXDB_BUCKET) {
    problems.push('INFLUXDB_DB: required when INFLUX_API=v1 (or set INFLUXDB_BUCKET)');
  }
  const remoteWrite = remoteWriteUrls(env);
  problems.push(...remoteWrite.problems);
  problems.push(...parseSites(env.SITES, env.SOURCE_NAME ?? hostname()).problems);
  if (env.QUERY_PASSWORD && !env.QUERY_USERNAME) problems.push('QUERY_USERNAME: required with QUERY_PASSWORD');
  if (env.QUERY_USERNAME && env.QUERY_BEARER_TOKEN) problems.push('QUERY_BEARER_TOKEN: set either it or QUERY_USERNAME/QUERY_PASSWORD, not both');
  if (env.MAX_CONNECTIONS_PER_HOST > env.MAX_CONNECTIONS) {
    problems.push(`MAX_CONNECTIONS_PER_HOST: ${env.MAX_CONNECTIONS_PER_HOST} exceeds MAX_CONNECTIONS ${env.MAX_CONNECTIONS}: lower it or raise MAX_CONNECTIONS`);
  }
  if ((env.SOURCE_LAT === undefined) !== (env.SOURCE_LON === undefined)) {
    problems.push('SOURCE_LAT / SOURCE_LON: set both or neither');
  }
  problems.push(...redisProblems(env));
  if (env.WEB_CLIENT_CA_FILE) {
    try {
      if (!/-----BEGIN CERTIFICATE-----/.test(readFileSync(env.WEB_CLIENT_CA_FILE, 'latin1'))) problems.push(`WEB_CLIENT_CA_FILE: ${env.WEB_CLIENT_CA_FILE} holds no PEM certificate`);
    } catch (err) {
      problems.push(`WEB_CLIENT_CA_FILE: cannot read ${env.WEB_CLIENT_CA_FILE} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  if (clusterConfigured(env) && !env.COLLECT_TOKEN) {
    // A token generated per replica answers 401 on every replica but one behind a load balancer.
    // It is also the membership secret when CLUSTER_SECRET is unset (a member
    // listed in Redis by someone without it is not believed).
    problems.push('COLLECT_TOKEN: required in cluster mode (REDIS_URL or REDIS_SENTINELS): one token for every replica, so POST /collect and /-/reload work through any of them; generate one with `openssl rand -hex 32`');
  }
  if (env.API_HEADERS_TIMEOUT > env.API_REQUEST_TIMEOUT) {
    problems.push(`API_HEADERS_TIMEOUT: ${env.API_HEADERS_TIMEOUT} s exceeds API_REQUEST_TIMEOUT ${env.API_REQUEST_TIMEOUT} s (the headers are part of the request): lower it or raise API_REQUEST_TIMEOUT`);
  }
  if (env.CLUSTER_ADVERTISE_URL) {
    const u = new URL(env.CLUSTER_ADVERTISE_URL);
    if (u.username || u.password || (u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) {
      problems.push(`CLUSTER_ADVERTISE_URL: must be the API root, scheme://host:port, without a user, path, query or fragment (got "${redactUrl(env.CLUSTER_ADVERTISE_URL)}"): peers refuse any other`);
    }
  }
  if (env.CLUSTER_MEMBER_TTL <= env.CLUSTER_HEARTBEAT_INTERVAL * 2) {
    problems.push('CLUSTER_MEMBER_TTL: must be more than twice CLUSTER_HEARTBEAT_INTERVAL, or one late heartbeat drops a live member');
  }
  if (env.GEO === 'offline' && !geoipLiteInstalled()) {
    problems.push(`GEO: offline needs the geoip-lite package (its 150 MB database is not part of the default install): run \`${GEOIP_LITE_INSTALL}\`, or build the image with --build-arg GEO=offline`);
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    env,
    targets,
    sourceName: env.SOURCE_NAME ?? hostname(),
    instanceName: env.INSTANCE_NAME ?? `${hostname()}:${env.PORT}`,
    influxUrls,
    remoteWriteUrls: remoteWrite.urls,
    notes: [...notes],
    warnings: unknownVariableWarnings(rawEnv, Object.keys(envSchema.shape)),
    explicit,
  };
}

/** zod's message about an environment variable, said the way an operator reads it; `unit` is the schema's description (seconds, e.g. 60). */
function envIssueMessage(i: z.core.$ZodIssue, unit: string | undefined): string {
  const seconds = unit?.startsWith('seconds') === true;
  if (i.code === 'invalid_type' && (i.expected === 'number' || i.expected === 'int')) {
    return seconds ? `must be a number of ${unit}` : unit ? `must be ${unit}` : i.expected === 'int' ? 'must be a whole number' : 'must be a number';
  }
  if (i.code === 'too_small' && i.origin === 'number') return `must be at least ${i.minimum}${seconds ? ' s' : ''}`;
  if (i.code === 'too_big' && i.origin === 'number') return `must be at most ${i.maximum}${seconds ? ' s' : ''}`;
  if (i.code === 'invalid_value') return `must be one of ${i.values.map(String).join(', ')}`;
  return i.message;
}

export function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}

/** The effective configuration for `check-config --json`, secrets replaced. */
export function redactedConfig(cfg: AppConfig): Record<string, unknown> {
  const env: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg.env)) {
    if (v === undefined) continue;
    env[k] = typeof v === 'string' ? redactEnvValue(k, v) : v;
  }
  return {
    source: cfg.sourceName,
    instance: cfg.instanceName,
    influxUrls: cfg.influxUrls.map(redactUrl),
    remoteWriteUrls: cfg.remoteWriteUrls.map(redactUrl),
    env,
    notes: cfg.notes,
    warnings: cfg.warnings,
    targets: cfg.targets.map(redactTarget),
  };
}

/** A target as it may be shown: header values and URL secrets replaced. */
export function redactTarget(t: Target): Record<string, unknown> {
  const specs: Record<string, unknown> = {};
  for (const [kind, spec] of Object.entries(t.specs)) {
    const s = { ...(spec as Record<string, unknown>) };
    if (typeof s.url === 'string') s.url = redactUrl(s.url);
    if (s.headers && typeof s.headers === 'object') {
      s.headers = Object.fromEntries(Object.keys(s.headers).map((h) => [h, '<redacted>']));
    }
    specs[kind] = s;
  }
  return { ...t, specs };
}
