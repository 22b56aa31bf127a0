import type { Env } from './env-schema.js';

const splitList = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * REMOTE_WRITE_URLS, or REMOTE_WRITE_URL alone (mirrored like INFLUXDB_URLS:
 * every point to every URL), with one line per problem for ConfigError.
 */
export function remoteWriteUrls(env: Pick<Env, 'REMOTE_WRITE_URL' | 'REMOTE_WRITE_URLS' | 'REMOTE_WRITE_PASSWORD' | 'REMOTE_WRITE_USERNAME' | 'REMOTE_WRITE_BEARER_TOKEN'>): { urls: string[]; problems: string[] } {
  const urls = env.REMOTE_WRITE_URLS ? splitList(env.REMOTE_WRITE_URLS) : env.REMOTE_WRITE_URL ? [env.REMOTE_WRITE_URL] : [];
  const problems: string[] = [];
  for (const u of urls) {
    if (!URL.canParse(u) || !/^https?:$/.test(new URL(u).protocol)) problems.push(`REMOTE_WRITE_URLS: an entry is not an http(s) URL (e.g. http://prometheus:9090/api/v1/write)`);
  }
  if (env.REMOTE_WRITE_PASSWORD && !env.REMOTE_WRITE_USERNAME) problems.push('REMOTE_WRITE_USERNAME: required with REMOTE_WRITE_PASSWORD');
  if (env.REMOTE_WRITE_USERNAME && env.REMOTE_WRITE_BEARER_TOKEN) problems.push('REMOTE_WRITE_BEARER_TOKEN: set either it or REMOTE_WRITE_USERNAME/PASSWORD, not both');
  return { urls, problems };
}
