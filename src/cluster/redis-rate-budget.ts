import type { Redis } from 'ioredis';
import type { SharedBudget, SharedTake } from '../geo/rate-limiter.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';

/**
 * Take one slot. KEYS: the budget's sorted set (request id -> the Redis time
 * its slot frees). ARGV: limit, windowMs, holdMs, id.
 *
 * A slot is held from the grant until one window after the request
 * completed (the same sliding-window log as the in-process RateLimiter, so
 * its guarantee carries over to the cluster: in any window of any alignment
 * at most `limit` requests reach the API, whatever the network delays). A
 * granted request holds its slot until grant + hold + window until its
 * completion moves that to completion + window (DONE_LUA): a replica that
 * dies mid-request costs the cluster that slot for hold + window, never more.
 *
 * Why not a token bucket: a bucket that guarantees at most `limit` in every
 * window must be sized to about half the rate (a full bucket spent at the end
 * of one window and refilled during the next doubles it); the log uses the
 * whole budget. It costs one sorted-set entry per slot (at most `limit`).
 *
 * Returns { 1 } granted | { 0, ms } when the earliest slot frees.
 */
const TAKE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local hold = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + hold + window, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], hold + window)
  return { 1 }
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return { 0, math.max(1, tonumber(first[2]) - now) }
`;

/** Request completed: its slot frees one window from now. KEYS: the set. ARGV: id, windowMs. */
const DONE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
return 1
`;

type BudgetRedis = Redis & {
  geoBudgetTake(key: string, limit: number, windowMs: number, holdMs: number, id: string): Promise<number[]>;
  geoBudgetDone(key: string, id: string, windowMs: number): Promise<number>;
};

/**
 * The geolocation API budget shared by the replicas through Redis: the
 * SharedBudget the http backend's RateLimiter asks before each request (see
 * src/geo/rate-limiter.ts). One key per API (origin and key, hashed) under
 * REDIS_KEY_PREFIX.
 *
 * While Redis cannot answer, take() says `unavailable` and the limiter falls
 * back to this process's share: the limit over the last known member count
 * (at least 1), so N replicas cut off from Redis together still stay near the
 * limit. What the share cannot know: how much of the current window the
 * others spent before Redis went away (src/cluster/README.md). The API's own
 * X-Rl / 429 answers, which every replica behind one address reads, remain
 * the backstop.
 */
export class RedisRateBudget implements SharedBudget {
  private lastLimit = 0;
  private lastWindowMs = 60_000;
  private available = true;

  constructor(
    private readonly redis: () => Redis | undefined,
    private readonly key: string,
    /** Members in the last cluster view (the coordinator's members().length). */
    private readonly members: () => number,
    metrics?: TelemetryMetrics,
  ) {
    metrics?.onCollect(() => {
      if (!this.lastLimit) return; // no lookup yet: nothing to say
      const local = !this.available;
      const perSecond = (n: number) => n / (this.lastWindowMs / 1000);
      metrics.geoRateLimit.set({ scope: 'cluster' }, local ? 0 : perSecond(this.lastLimit));
      metrics.geoRateLimit.set({ scope: 'local_share' }, local ? perSecond(this.localShare(this.lastLimit)) : 0);
    });
  }

  async take(id: string, limit: number, windowMs: number, holdMs: number): Promise<SharedTake> {
    this.lastLimit = limit;
    this.lastWindowMs = windowMs;
    const r = this.client();
    if (!r) return this.unavailable('redis not connected');
    try {
      const [granted, ms] = await r.geoBudgetTake(this.key, limit, Math.round(windowMs), Math.round(holdMs), id);
      this.available = true;
      return granted === 1 ? { kind: 'granted' } : { kind: 'wait', ms: Number(ms) };
    } catch (err) {
      return this.unavailable((err as Error).message);
    }
  }

  done(id: string, windowMs: number): void {
    // If this is lost the slot frees at grant + hold + window: later, never earlier.
    void this.client()
      ?.geoBudgetDone(this.key, id, Math.round(windowMs))
      .catch(() => {});
  }

  refund(id: string): void {
    void this.client()
      ?.zrem(this.key, id)
      .catch(() => {});
  }

  localShare(limit: number): number {
    return Math.max(1, Math.floor(limit / Math.max(1, this.members())));
  }

  private unavailable(detail: string): SharedTake {
    this.available = false;
    return { kind: 'unavailable', detail };
  }

  private client(): BudgetRedis | undefined {
    const r = this.redis() as BudgetRedis | undefined;
    if (r?.status !== 'ready') return undefined;
    // Scripts are defined on the connection the coordinator opened (EVALSHA, loaded on first use).
    if (typeof r.geoBudgetTake !== 'function') {
      r.defineCommand('geoBudgetTake', { numberOfKeys: 1, lua: TAKE_LUA });
      r.defineCommand('geoBudgetDone', { numberOfKeys: 1, lua: DONE_LUA });
    }
    return r;
  }
}
