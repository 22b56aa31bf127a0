import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { ComponentHealth, Deadline } from '../lifecycle/component.js';
import type { Coordinator } from './coordinator.js';
import { owners } from './rendezvous.js';

export interface ClusterOptions {
  redisUrl: string;
  /** Every key starts with this (REDIS_KEY_PREFIX). */
  prefix: string;
  heartbeatMs: number;
  /** A member silent this long is gone (CLUSTER_MEMBER_TTL). */
  memberTtlMs: number;
}

/**
 * Heartbeat: one script round trip registers us (sorted set member -> last
 * seen, by Redis's clock so replica clocks do not matter), drops members not
 * seen for TTL - heartbeat (so a dead member is noticed within TTL of its last
 * heartbeat) and returns the live set.
 */
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

type ClusterRedis = Redis & { heartbeat(key: string, member: string, expireMs: number): Promise<string[]> };

/** Options that make every command fail fast instead of hanging while Redis is away. */
export function redisOptions(extra: RedisOptions = {}): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 500,
    connectTimeout: 1000,
    lazyConnect: true,
    // Reconnect with capped exponential backoff and jitter.
    retryStrategy: (times) => Math.min(5000, 100 * 2 ** Math.min(times, 6)) * (0.5 + Math.random() / 2),
    ...extra,
  };
}

/**
 * Cluster mode over Redis. Each replica heartbeats into a members set and
 * owns the targets rendezvous hashing gives it over the live members,
 * computed locally. Before probing a slot the believed owner claims it with
 * `SET claim:<target>:<slot> <member> NX PX`; views that briefly disagree
 * therefore cost neither a double probe (the claim arbitrates) nor a gap (a
 * replica keeps its former targets for a grace of two heartbeats after a
 * view change, and a leaving replica keeps its own until peers have seen it go).
 *
 * Redis down: every replica owns every target (duplicates overwrite — same
 * slot timestamp, no replica tag — gaps would lose data), claims are skipped,
 * /health says degraded, and sharing resumes with the first heartbeat back.
 */
export class RedisCoordinator implements Coordinator {
  readonly name = 'cluster';
  readonly memberId: string;
  private readonly redis: ClusterRedis;
  private readonly sub: Redis;
  private targets: readonly string[];
  private members: string[] = [];
  private owned = new Set<string>();
  /** Former targets still claimed until this time (grace after a view change). */
  private readonly graceUntil = new Map<string, number>();
  private lastHeartbeatOk = 0;
  private heartbeatTimer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private shared = false;
  private leaving = false;
  private deregistered = false;
  private stopped = false;
  private connectionLost = false;
  private lastError?: string;

  constructor(
    targets: readonly string[],
    private readonly opts: ClusterOptions,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
  ) {
    this.targets = targets;
    this.memberId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.redis = new Redis(opts.redisUrl, redisOptions()) as ClusterRedis;
    this.redis.defineCommand('heartbeat', { numberOfKeys: 1, lua: HEARTBEAT });
    this.sub = new Redis(opts.redisUrl, redisOptions({ commandTimeout: undefined }));
    for (const c of [this.redis, this.sub]) c.on('error', (err: Error) => (this.lastError = err.message));
    this.redis.on('ready', () => {
      this.connectionLost = false;
      this.log.info({ member: this.memberId }, 'redis connected');
    });
    this.redis.on('close', () => {
      // Logged once per outage, not once per reconnect attempt.
      if (!this.stopped && !this.connectionLost) this.log.warn({ error: this.lastError }, 'redis connection lost');
      this.connectionLost = true;
    });
    this.sub.on('message', () => void this.beat());
    this.sub.on('ready', () => void this.sub.subscribe(this.key('events')).catch(() => {}));
    // Until Redis answers, own everything: better a duplicate than a gap.
    this.owned = new Set(targets);
    metrics.onCollect(() => {
      metrics.clusterMembers.set(this.shared ? this.members.length : 1);
      metrics.targetsOwned.set(this.ownedCount());
      metrics.redisConnected.set(this.redis.status === 'ready' ? 1 : 0);
      metrics.clusterViewAge.set(this.lastHeartbeatOk ? (Date.now() - this.lastHeartbeatOk) / 1000 : -1);
    });
  }

  private key(k: string): string {
    return `${this.opts.prefix}${k}`;
  }

  async start(): Promise<void> {
    // Give Redis a moment so the first view is shared (and the lookup cache
    // usable); if it is not there, start anyway and own everything.
    const connected = this.redis.connect().catch(() => {});
    this.sub.connect().catch(() => {});
    await Promise.race([connected, new Promise((r) => setTimeout(r, 2000).unref())]);
    await this.beat();
    this.heartbeatTimer = setInterval(() => void this.beat(), this.opts.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  setTargets(targets: readonly string[]): void {
    this.targets = [...targets];
    this.rebalance('targets reloaded');
  }

  owns(target: string): boolean {
    if (this.leaving) return false;
    if (this.owned.has(target)) return true;
    const until = this.graceUntil.get(target);
    return until !== undefined && Date.now() < until;
  }

  ownedCount(): number {
    return this.leaving ? 0 : this.owned.size;
  }

  /** The command connection, shared with the lookup cache (RedisCache). */
  get client(): Redis {
    return this.redis;
  }

  /** The claim arbitrates between replicas that both believe they own the target. */
  async claim(target: string, slotMs: number, intervalMs: number): Promise<boolean> {
    if (!this.shared || this.redis.status !== 'ready') {
      this.metrics.slotClaims.inc({ result: 'unshared' });
      return true; // no shared view: collect (a duplicate overwrites; a gap would lose data)
    }
    try {
      const ok = await this.redis.set(this.key(`claim:${target}:${slotMs}`), this.memberId, 'PX', intervalMs * 2, 'NX');
      this.metrics.slotClaims.inc({ result: ok ? 'won' : 'lost' });
      return ok === 'OK';
    } catch {
      this.metrics.slotClaims.inc({ result: 'error' });
      return true;
    }
  }

  private beat(): Promise<void> {
    // One heartbeat at a time; a call during one joins it.
    this.beating ??= this.heartbeatOnce().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async heartbeatOnce(): Promise<void> {
    if (this.stopped || this.leaving || this.deregistered) return;
    try {
      if (this.redis.status !== 'ready') throw new Error(`redis ${this.redis.status}${this.lastError ? `: ${this.lastError}` : ''}`);
      const live = await this.redis.heartbeat(this.key('members'), this.memberId, this.opts.memberTtlMs - this.opts.heartbeatMs);
      this.lastHeartbeatOk = Date.now();
      const wasShared = this.shared;
      this.shared = true;
      const sorted = [...live].sort();
      if (!wasShared || sorted.join('\n') !== this.members.join('\n')) {
        const joined = sorted.filter((m) => !this.members.includes(m));
        const left = this.members.filter((m) => !sorted.includes(m));
        this.members = sorted;
        this.rebalance(wasShared ? `members changed (+${joined.length} -${left.length})` : 'cluster view established');
      }
    } catch (err) {
      this.lastError = (err as Error).message;
      if (this.shared) {
        this.shared = false;
        this.members = [];
        this.log.warn({ error: this.lastError }, 'cluster view lost: owning every target until Redis is back');
        this.rebalance('redis unreachable');
      }
    }
  }

  /** Recompute ownership; targets we lose stay claimable for a grace of two heartbeats. */
  private rebalance(why: string): void {
    const before = this.owned;
    let now: Set<string>;
    if (this.shared) {
      const map = owners(this.targets, this.members.includes(this.memberId) ? this.members : [...this.members, this.memberId].sort());
      now = new Set(this.targets.filter((t) => map.get(t) === this.memberId));
    } else {
      now = new Set(this.targets);
    }
    const graceEnd = Date.now() + 2 * this.opts.heartbeatMs;
    let moved = 0;
    for (const t of before) {
      if (!now.has(t)) {
        this.graceUntil.set(t, graceEnd);
        moved++;
      }
    }
    for (const t of now) if (!before.has(t)) moved++;
    for (const [t, until] of this.graceUntil) if (until < Date.now() || now.has(t)) this.graceUntil.delete(t);
    this.owned = now;
    if (moved > 0) this.metrics.rebalances.inc();
    this.log.info({ why, members: this.members.length || 1, owned: now.size, moved }, 'cluster rebalanced');
  }

  health(): ComponentHealth {
    const age = this.lastHeartbeatOk ? Date.now() - this.lastHeartbeatOk : null;
    const fresh = this.shared && age !== null && age < this.opts.memberTtlMs;
    return {
      status: fresh ? 'ok' : 'degraded',
      mode: 'cluster',
      member: this.memberId,
      members: this.shared ? this.members : [this.memberId],
      view_fresh: fresh,
      view_age_s: age === null ? null : Math.round(age / 100) / 10,
      owned: this.ownedCount(),
      targets: this.targets.length,
      redis: this.redis.status,
      ...(fresh ? {} : { problem: `no fresh cluster view (${this.lastError ?? 'connecting'}): collecting every target` }),
    };
  }

  /** Targets this replica collects, for GET /api/cluster. */
  ownedTargets(): string[] {
    return this.leaving ? [] : [...this.owned].sort();
  }

  /**
   * Graceful leave: deregister and tell the peers, keep collecting our
   * targets until they have had time to see us go, then stop.
   */
  async stop(deadline: Deadline): Promise<void> {
    if (this.stopped) return;
    const deadlineMs = deadline.remaining();
    clearInterval(this.heartbeatTimer);
    await this.beating;
    this.deregistered = true; // no heartbeat may re-add us from here on
    if (this.shared && this.redis.status === 'ready') {
      try {
        await this.redis.zrem(this.key('members'), this.memberId);
        await this.redis.publish(this.key('events'), `leave ${this.memberId}`);
        // Peers heartbeat on the event (or within one interval): stay owner until then.
        await new Promise((r) => setTimeout(r, Math.min(deadlineMs, this.opts.heartbeatMs + 250)));
      } catch (err) {
        this.log.warn({ error: (err as Error).message }, 'could not deregister from the cluster');
      }
    }
    this.leaving = true;
    this.stopped = true;
    this.sub.disconnect();
    this.redis.disconnect();
  }
}
