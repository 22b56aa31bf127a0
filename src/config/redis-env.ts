import { readFileSync } from 'node:fs';
import type { DaemonEnv } from '../env/daemon-env.js';

/**
 * The Redis settings checked together (loadConfig reports these problems with
 * the others): one server (REDIS_URL) or a Sentinel-managed primary
 * (REDIS_SENTINELS + REDIS_SENTINEL_NAME), never both; credentials and TLS
 * where each form keeps them. src/cluster/redis-connection.ts connects.
 */

export type RedisEnv = Pick<
  DaemonEnv,
  'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_SENTINEL_NAME' | 'REDIS_USERNAME' | 'REDIS_PASSWORD' | 'REDIS_SENTINEL_USERNAME' | 'REDIS_SENTINEL_PASSWORD' | 'REDIS_TLS' | 'REDIS_CA_FILE'
>;

/** Cluster mode: either REDIS_URL or REDIS_SENTINELS is set. */
export function clusterConfigured(env: Pick<DaemonEnv, 'REDIS_URL' | 'REDIS_SENTINELS'>): boolean {
  return Boolean(env.REDIS_URL || env.REDIS_SENTINELS);
}

/** `host:port` (or `[v6]:port`) entries of REDIS_SENTINELS; problems named by variable. */
export function parseSentinels(list: string): { sentinels: { host: string; port: number }[]; problems: string[] } {
  const sentinels: { host: string; port: number }[] = [];
  const problems: string[] = [];
  for (const raw of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(raw);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port < 1 || port > 65_535) {
      problems.push(`REDIS_SENTINELS: "${raw}" is not host:port (e.g. sentinel-1:26379,sentinel-2:26379,sentinel-3:26379)`);
      continue;
    }
    sentinels.push({ host: (m[1] ?? m[2])!, port });
  }
  if (!problems.length && sentinels.length === 0) problems.push('REDIS_SENTINELS: no Sentinel listed (host:port, comma-separated)');
  return { sentinels, problems };
}

/** Cross-variable checks of the Redis settings (loadConfig reports them with the others). */
export function redisProblems(env: RedisEnv): string[] {
  const p: string[] = [];
  if (env.REDIS_URL && env.REDIS_SENTINELS) p.push('REDIS_SENTINELS: set either REDIS_URL (one Redis) or REDIS_SENTINELS (Sentinel-managed primary), not both');
  if (env.REDIS_SENTINELS) {
    p.push(...parseSentinels(env.REDIS_SENTINELS).problems);
    if (!env.REDIS_SENTINEL_NAME) p.push('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS: the name the Sentinels monitor the primary under (`sentinel monitor <name> ...`)');
  }
  if (env.REDIS_URL && (env.REDIS_USERNAME || env.REDIS_PASSWORD)) p.push('REDIS_PASSWORD: with REDIS_URL put the credentials in the URL (redis://user:password@host:6379); REDIS_USERNAME/REDIS_PASSWORD are for REDIS_SENTINELS');
  if (env.REDIS_URL && env.REDIS_TLS) p.push('REDIS_TLS: with REDIS_URL use the rediss:// scheme instead');
  if (env.REDIS_CA_FILE) {
    try {
      readFileSync(env.REDIS_CA_FILE);
    } catch (err) {
      p.push(`REDIS_CA_FILE: cannot read ${env.REDIS_CA_FILE}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return p;
}

