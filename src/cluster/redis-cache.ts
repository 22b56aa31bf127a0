import type { Redis } from 'ioredis';
import { MemoryCache, type SharedCache } from '../util/shared-cache.js';

/**
 * Two-level lookup cache: a bounded in-process LRU in front of Redis, shared
 * by every replica, so a costly or rate-limited lookup (reverse DNS,
 * geolocation) is done once per TTL for the whole cluster. Redis trouble
 * never fails a lookup: it just misses.
 *
 * `redis` is asked for the connection at each call: the coordinator opens
 * it in start(), after this cache is built.
 */
export class RedisCache implements SharedCache {
  constructor(
    private readonly l1: MemoryCache,
    private readonly redis: () => Redis | undefined,
    private readonly prefix: string,
  ) {}

  get size(): number {
    return this.l1.size;
  }

  async get(key: string): Promise<string | undefined> {
    const local = this.l1.getSync(key);
    if (local !== undefined) return local;
    const redis = this.redis();
    if (redis?.status !== 'ready') return undefined;
    try {
      const [value, ttlMs] = (await redis.multi().get(this.prefix + key).pttl(this.prefix + key).exec()) ?? [];
      const v = value?.[1] as string | null | undefined;
      if (v === null || v === undefined) return undefined;
      const ms = Number(ttlMs?.[1] ?? 0);
      if (ms > 0) this.l1.setSync(key, v, ms / 1000);
      return v;
    } catch {
      return undefined;
    }
  }

  async set(key: string, value: string, ttlS: number): Promise<void> {
    this.l1.setSync(key, value, ttlS);
    const redis = this.redis();
    if (redis?.status !== 'ready') return;
    try {
      await redis.set(this.prefix + key, value, 'PX', Math.max(1, Math.round(ttlS * 1000)));
    } catch {
      /* the local copy still serves */
    }
  }
}
