import { resolve } from 'node:path';
import { redactedConfig, type AppConfig } from '../config/load-config.js';
import { describeEndpoint, redisEndpoint } from '../cluster/redis-connection.js';
import { redactUrl } from '../env/redact.js';
import { moduleOf } from '../probes/registry.js';
import { loadWebConfig } from '../server/web-config.js';
import { configOrExitCode } from './errors.js';

/** Targets listed by name in the human summary; the rest are counted. */
const LISTED = 20;

/**
 * `check-config`: validate the configuration and say what it means in a
 * few lines (targets with their probes and intervals, where points go,
 * cluster, geolocation, what was adapted, warnings); `--json` prints the
 * whole effective configuration, secrets redacted.
 */
export function checkConfigCommand(args: string[]): number {
  // WEB_CONFIG_FILE is read at start by the API server; checked here too, so check-config fails where run would.
  const cfg = configOrExitCode({}, (c) => c.env.WEB_CONFIG_FILE && loadWebConfig(c.env.WEB_CONFIG_FILE));
  if (typeof cfg === 'number') return cfg;
  if (args.includes('--json')) {
    console.log(JSON.stringify(redactedConfig(cfg), null, 2));
    return 0;
  }
  console.log(summary(cfg).join('\n'));
  return 0;
}

export function summary(cfg: AppConfig): string[] {
  const env = cfg.env;
  const out = [`configuration OK: ${cfg.targets.length} target(s), source "${cfg.sourceName}", instance "${cfg.instanceName}"`, '', 'targets:'];
  const width = Math.min(48, Math.max(...cfg.targets.map((t) => t.name.length)));
  for (const t of cfg.targets.slice(0, LISTED)) {
    const probes = t.probes.map((k) => `${k} (${moduleOf(k)?.summary(t.specs[k] as never) ?? '?'})`).join('; ');
    out.push(`  ${t.name.padEnd(width)}  every ${t.intervalS} s, timeout ${t.timeoutS} s: ${probes}`);
  }
  if (cfg.targets.length > LISTED) out.push(`  ... and ${cfg.targets.length - LISTED} more (check-config --json lists them all)`);
  out.push('');
  const where: string[] = [];
  if (cfg.influxUrls.length) where.push(`InfluxDB ${env.INFLUX_API} ${cfg.influxUrls.map(redactUrl).join(', ')}${cfg.influxUrls.length > 1 ? ' (mirrored)' : ''}, through an outbox of at most ${(env.OUTBOX_MAX_BYTES / 2 ** 20).toFixed(0)} MiB`);
  where.push(`embedded store in ${resolve(env.DATA_DIR)} (${env.EMBEDDED_RETENTION_DAYS} days)`);
  out.push(`points:   ${where.join(' + ')}`);
  const redis = redisEndpoint(env);
  out.push(`cluster:  ${redis ? `${describeEndpoint(redis, redactUrl)}, keys under "${env.REDIS_KEY_PREFIX}"` : 'standalone (set REDIS_URL or REDIS_SENTINELS to share targets between replicas)'}`);
  out.push(`geo:      ${env.GEO === 'off' ? 'off' : env.GEO === 'offline' ? 'offline database (geoip-lite)' : `HTTP ${redactUrl(env.GEO_HTTP_URL)}, ${env.GEO_HTTP_RATE_PER_MINUTE}/min`}`);
  const auth = env.COLLECT_TOKEN ? 'COLLECT_TOKEN set' : `token generated into ${resolve(env.DATA_DIR, 'collect-token')}`;
  out.push(`api/ui:   ${env.LISTEN_ADDRESS}:${env.PORT}; POST /collect and /-/reload need a bearer token (${auth})${env.WEB_CONFIG_FILE ? `; TLS/basic auth from ${env.WEB_CONFIG_FILE}` : ''}`);
  if (cfg.notes.length) out.push('', 'adapted to fit (only defaults you did not set):', ...cfg.notes.map((n) => `  ${n}`));
  if (cfg.warnings.length) out.push('', 'warnings:', ...cfg.warnings.map((w) => `  ${w}`));
  return out;
}
