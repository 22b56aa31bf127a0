/**
 * A string cache with TTLs. In-process by default (bounded LRU); with Redis,
 * one shared by all replicas (cluster/redis-cache.ts) so a costly or
 * rate-limited lookup is done once per TTL for the whole cluster.
 */
export interface SharedCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlS: number): Promise<void>;
  /** Entries held in this process (the in-process part of the cache). */
  readonly size: number;
}

/** Bounded in-process LRU with per-entry expiry. */
export class MemoryCache implements SharedCache {
  private readonly map = new Map<string, { value: string; expires: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.map.size;
  }

  getSync(key: string): string | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.map.delete(key);
      return undefined;
    }
    this.map.delete(key); // refresh recency
    this.map.set(key, e);
    return e.value;
  }

  async get(key: string): Promise<string | undefined> {
    return this.getSync(key);
  }

  setSync(key: string, value: string, ttlS: number): void {
    this.map.delete(key);
    this.map.set(key, { value, expires: this.now() + ttlS * 1000 });
    while (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value as string);
  }

  async set(key: string, value: string, ttlS: number): Promise<void> {
    this.setSync(key, value, ttlS);
  }
}
