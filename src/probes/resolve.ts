import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/**
 * Name -> address for the path probes (fping and mtr get addresses, never
 * names: the resolved IP is reported and "unknown host" is told apart from
 * "no reply"). getaddrinfo runs on libuv's small thread pool, so answers are
 * cached briefly and concurrent lookups of one name share a single call.
 */
const TTL_MS = 30_000;
const MAX_ENTRIES = 50_000;
const cache = new Map<string, { at: number; address: string; family: 4 | 6 }>();
const inflight = new Map<string, Promise<{ address: string; family: 4 | 6 }>>();

export async function resolveHost(host: string, family: 4 | 6 | null): Promise<{ address: string; family: 4 | 6 }> {
  const literal = isIP(host);
  if (literal) return { address: host, family: literal as 4 | 6 };
  const key = `${family ?? 0}|${host}`;
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < TTL_MS) return hit;
  let p = inflight.get(key);
  if (!p) {
    p = lookup(host, { family: family ?? 0 })
      .then((r) => {
        const v = { address: r.address, family: r.family as 4 | 6 };
        if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
        cache.set(key, { ...v, at: Date.now() });
        return v;
      })
      .finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  return p;
}
