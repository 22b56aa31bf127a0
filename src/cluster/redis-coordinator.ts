import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { BaseComponent, Deadline, worstStatus, type ComponentHealth, type HealthStatus } from '../lifecycle/component.js';
import type { ErrorReporter } from '../lifecycle/error-reporter.js';
import { SupervisedLoop } from '../lifecycle/supervised-loop.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { shortSha } from '../util/hash.js';
import { ClockOffset } from './clock-offset.js';
import { CLAIM_LUA, HEARTBEAT_LUA, LEAVE_LUA } from './cluster-scripts.js';
import type { Coordinator, Member } from './coordinator.js';
import { connectRedis, type RedisEndpoint, redisOptions } from './redis-connection.js';
import type { ClusterCredentials, ProofCheck } from './member-auth.js';
import { owners } from './rendezvous.js';

export { redisOptions } from './redis-connection.js';

/** Former members remembered for their claims (a claim lives two intervals). */
const FORMER_MEMBERS = 1000;

export interface ClusterOptions {
  /** REDIS_URL (a string), or a Sentinel-managed primary (REDIS_SENTINELS). */
  redisUrl: string | RedisEndpoint;
  /** Every key starts with this (REDIS_KEY_PREFIX). */
  prefix: string;
  /** CLUSTER_HEARTBEAT_INTERVAL. */
  heartbeatMs: number;
  /** A member silent this long is gone (CLUSTER_MEMBER_TTL). */
  memberTtlMs: number;
  /** This replica's API address as peers should call it (CLUSTER_ADVERTISE_URL). */
  advertiseUrl: string;
  /** Proves our member record and checks the others' (CLUSTER_SECRET). */
  credentials: ClusterCredentials;
  /** Longest wait for a claim before the view decides (default: a quarter of the interval, at most 500 ms). */
  claimTimeoutMs?: number;
  /** Test seams. */
  memberId?: string;
  now?: () => number;
}

type Reply = (string | number)[];

interface ClusterRedis extends Redis {
  heartbeat(members: string, urls: string, configs: string, blob: string, tombstone: string, proofs: string, id: string, dropAfterMs: number, keepMs: number, url: string, config: string, blobValue: string, proof: string): Promise<Reply>;
  claim(prefix: string, target: string, elapsedMs: number, intervalMs: number, id: string, notAfterMs: number): Promise<Reply>;
  leave(members: string, urls: string, configs: string, tombstone: string, proofs: string, id: string, channel: string, keepMs: number): Promise<number>;
}

interface View {
  /** Member id -> advertised URL and target-list hash, sorted by id. */
  members: Map<string, { url: string; config: string }>;
  /** Identity of the view for change detection: ids, config hashes, whether each list is known. */
  key: string;
}

/**
 * Cluster mode over Redis. Each replica heartbeats into a members set and
 * owns the targets rendezvous hashing gives it over the live members that
 * list them, computed locally. Before probing a slot the believed owner
 * claims it (CLAIM_LUA, a slot named by Redis's clock); views that briefly
 * disagree therefore cost neither a double probe (the claim arbitrates) nor
 * a gap (a replica keeps its former targets claimable for two heartbeats
 * after a view change, and a leaving replica keeps its own until peers have
 * seen it go).
 *
 * Redis trouble, in order of severity (src/cluster/README.md has the why):
 *   - slow or failing heartbeats: the last view stays in force until it is
 *     CLUSTER_MEMBER_TTL old (peers drop us no earlier than that);
 *   - a claim that fails, times out or reaches Redis too late: the view
 *     decides (the rendezvous owner probes, nobody else) — arbitration by
 *     hashing instead of by Redis, never a free-for-all;
 *   - no successful heartbeat for CLUSTER_MEMBER_TTL (or none yet): this
 *     replica cannot know whether its peers still run, so it collects every
 *     target without claims (duplicates overwrite: same slot timestamp, no
 *     replica tag; a gap would lose data) until a heartbeat succeeds again.
 *
 * The heartbeat loop is supervised (SupervisedLoop): Redis failures are
 * expected and counted in telemetry_errors_total{component="cluster"};
 * anything else is a bug the supervisor counts, backs off from and restarts.
 */
export class RedisCoordinator extends BaseComponent implements Coordinator {
  readonly name = 'cluster';
  readonly memberId: string;
  private hb?: ClusterRedis;
  private cmd?: ClusterRedis;
  private sub?: Redis;
  private readonly loop: SupervisedLoop;
  private readonly now: () => number;
  private readonly clock = new ClockOffset();
  private readonly heartbeatTimeoutMs: number;
  private readonly maxHeartbeatsInFlight: number;
  private heartbeatsInFlight = 0;
  private heartbeatsSent = 0;
  /** Sequence number of the newest heartbeat whose answer is in force (answers may come out of order). */
  private heartbeatApplied = 0;

  private targets: string[] = [];
  private targetSet = new Set<string>();
  private configHash = '';
  private configBlob = '';
  /** The config hash whose blob Redis is known to hold. */
  private blobStoredFor?: string;
  /** Target lists of peers, by config hash (ours included). */
  private readonly lists = new Map<string, Set<string>>();

  private view?: View;
  private lastOkAt = 0;
  /** Whether the view was fresh at the last look (to log and count transitions once). */
  private wasFresh = false;
  private owned = new Set<string>();
  private ownerMap = new Map<string, string>();
  /** Former targets still claimable until this time (grace after a view change). */
  private readonly graceUntil = new Map<string, number>();
  private heartbeatFailures = 0;
  /**
   * Verified members that left the view, newest last (at most FORMER_MEMBERS):
   * a claim one of them took before leaving still stands (a slot it collected
   * is not collected again), unlike one held by an id never verified.
   */
  private readonly formerMembers = new Set<string>();
  private readonly gainListeners: ((targets: readonly string[]) => void)[] = [];
  /** Member ids seen in Redis without a valid proof (logged once each). */
  private readonly rejected = new Set<string>();
  private lastError?: string;
  private connectionLost = false;
  private deregistered = false;
  private leaving = false;
  private firstBeat?: () => void;

  constructor(
    targets: readonly string[],
    private readonly opts: ClusterOptions,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
    /** The daemon's (reportErrors): the heartbeat loop's errors. */
    errors: ErrorReporter,
  ) {
    super();
    this.now = opts.now ?? Date.now;
    this.memberId = opts.memberId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    // A late answer is still an answer (heartbeats overlap, see tick()): give
    // up only when it could no longer keep the view fresh.
    this.heartbeatTimeoutMs = Math.max(100, opts.memberTtlMs - opts.heartbeatMs);
    this.maxHeartbeatsInFlight = Math.ceil(this.heartbeatTimeoutMs / opts.heartbeatMs) + 1;
    this.setTargetList(targets);
    this.loop = new SupervisedLoop(
      {
        name: 'cluster',
        periodMs: opts.heartbeatMs,
        // A tick waits one period at most; after a bug, retry at the heartbeat pace.
        stallAfterMs: 3 * opts.heartbeatMs + 5000,
        maxBackoffMs: opts.heartbeatMs,
        tick: () => this.tick(),
      },
      errors,
      this.now,
    );
    metrics.onCollect(() => {
      const fresh = this.fresh();
      metrics.clusterMembers.set(fresh ? this.view!.members.size : 1);
      metrics.targetsOwned.set(this.ownedCount());
      metrics.redisConnected.set(this.hb?.status === 'ready' ? 1 : 0);
      metrics.clusterViewAge.set(this.lastOkAt ? (this.now() - this.lastOkAt) / 1000 : -1);
      const off = this.clock.offsetMs;
      if (off !== undefined) metrics.clusterClockOffset.set(off / 1000);
    });
  }

  private key(k: string): string {
    return `${this.opts.prefix}${k}`;
  }

  /** The command connection (claims, lookups cache, geo budget); undefined before start. */
  get client(): Redis | undefined {
    return this.cmd;
  }

  protected async onStart(): Promise<void> {
    const cap = Math.max(200, Math.min(5000, 2 * this.opts.heartbeatMs));
    const make = (extra: RedisOptions) => connectRedis(typeof this.opts.redisUrl === 'string' ? { kind: 'url', url: this.opts.redisUrl } : this.opts.redisUrl, redisOptions(extra, cap)) as ClusterRedis;
    this.hb = make({ commandTimeout: this.heartbeatTimeoutMs });
    this.cmd = make({});
    this.sub = make({ commandTimeout: undefined });
    for (const c of [this.hb, this.cmd]) {
      c.defineCommand('heartbeat', { numberOfKeys: 6, lua: HEARTBEAT_LUA });
      c.defineCommand('claim', { numberOfKeys: 1, lua: CLAIM_LUA });
      c.defineCommand('leave', { numberOfKeys: 5, lua: LEAVE_LUA });
    }
    for (const c of [this.hb, this.cmd, this.sub]) c.on('error', (err: Error) => (this.lastError = err.message));
    this.hb.on('ready', () => {
      this.connectionLost = false;
      this.log.info({ member: this.memberId }, 'redis connected');
    });
    this.hb.on('close', () => {
      // Logged once per outage, not once per reconnect attempt.
      if (!this.stopped && !this.connectionLost) this.log.warn({ error: this.lastError }, 'redis connection lost');
      this.connectionLost = true;
    });
    // A peer left or reloaded its targets: look at the cluster now, not at the next beat.
    this.sub.on('message', () => this.loop.wake());
    this.sub.on('ready', () => void this.sub?.subscribe(this.key('events')).catch(() => {}));
    const connected = Promise.all([this.hb.connect(), this.cmd.connect()]).catch(() => {});
    this.sub.connect().catch(() => {});
    // Give Redis a moment so the first view is shared; if it is not there,
    // start anyway and collect everything.
    await Deadline.in(2000).race(connected);
    const first = new Promise<void>((r) => (this.firstBeat = r));
    this.loop.start();
    await Deadline.in(this.heartbeatTimeoutMs + 1000).race(first);
  }

  /**
   * Graceful leave: stop the heartbeat, deregister and tell the peers, keep
   * collecting our targets until they have had time to see us go, then stop.
   */
  protected async onStop(deadline: Deadline): Promise<void> {
    await this.loop.stop(deadline.within(this.opts.heartbeatMs + 250));
    this.deregistered = true; // no heartbeat may re-add us from here on
    if (this.fresh() && this.cmd?.status === 'ready') {
      try {
        await this.cmd.leave(this.key('members'), this.key('member-urls'), this.key('member-targets'), this.key(`left:${this.memberId}`), this.key('member-proofs'), this.memberId, this.key('events'), this.opts.memberTtlMs * 10);
        // Peers heartbeat on the event (or within one interval): stay owner until then.
        await deadline.within(this.opts.heartbeatMs + 250).sleep();
      } catch (err) {
        this.log.warn({ error: (err as Error).message }, 'could not deregister from the cluster');
      }
    }
    this.leaving = true;
    for (const c of [this.sub, this.cmd, this.hb]) c?.disconnect();
  }

  // --- ownership ---------------------------------------------------------

  /** A heartbeat succeeded less than one TTL ago: the view is in force. */
  private fresh(): boolean {
    return this.view !== undefined && this.now() - this.lastOkAt < this.opts.memberTtlMs;
  }

  owns(target: string): boolean {
    if (this.leaving || !this.targetSet.has(target)) return false;
    if (!this.fresh()) return true;
    if (this.owned.has(target)) return true;
    const until = this.graceUntil.get(target);
    return until !== undefined && this.now() < until;
  }

  ownerOf(target: string): string | undefined {
    if (!this.targetSet.has(target)) return undefined;
    if (!this.fresh()) return this.memberId;
    return this.ownerMap.get(target) ?? this.memberId;
  }

  members(): Member[] {
    const self: Member = { id: this.memberId, url: this.opts.advertiseUrl, self: true };
    if (!this.view) return [self];
    const out: Member[] = [];
    for (const [id, m] of this.view.members) out.push(id === this.memberId ? self : { id, url: m.url, self: false });
    if (!this.view.members.has(this.memberId)) out.push(self);
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  ownedCount(): number {
    if (this.leaving) return 0;
    return this.fresh() ? this.owned.size : this.targets.length;
  }

  ownedTargets(): string[] {
    if (this.leaving) return [];
    return this.fresh() ? [...this.owned].sort() : [...this.targets].sort();
  }

  onGain(listener: (targets: readonly string[]) => void): void {
    this.gainListeners.push(listener);
  }

  /**
   * A reload changed the configured targets. The new list is published with
   * the next heartbeat (at once) and peers recompute when they see it;
   * ownership is computed over the members that list each target, so a
   * target every replica lists keeps its owner while the change spreads.
   */
  setTargets(names: readonly string[]): void {
    const before = this.fresh() ? this.owned : new Set(this.targets);
    this.setTargetList(names);
    for (const t of this.graceUntil.keys()) if (!this.targetSet.has(t)) this.graceUntil.delete(t);
    if (this.view) this.recompute('targets reloaded', before);
    if (this.running) this.loop.wake();
  }

  private setTargetList(names: readonly string[]): void {
    // The old list stays known while a peer still runs it (learnLists forgets unused ones).
    this.targets = [...new Set(names)].sort();
    this.targetSet = new Set(this.targets);
    this.configBlob = JSON.stringify(this.targets);
    this.configHash = shortSha(this.configBlob);
    this.lists.set(this.configHash, this.targetSet);
  }

  /** Whether `member` lists `target` (a member whose list we do not know is assumed to list everything). */
  private listsTarget(member: string, target: string): boolean {
    if (member === this.memberId) return true;
    const config = this.view?.members.get(member)?.config;
    const list = config ? this.lists.get(config) : undefined;
    return list ? list.has(target) : true;
  }

  /** Recompute ownership from the view; targets we lose stay claimable for a grace of two heartbeats. */
  private recompute(why: string, before: Set<string>): void {
    const ids = [...this.view!.members.keys()];
    if (!this.view!.members.has(this.memberId)) ids.push(this.memberId);
    this.ownerMap = owners(this.targets, ids, (m, t) => this.listsTarget(m, t));
    const now = new Set(this.targets.filter((t) => this.ownerMap.get(t) === this.memberId));
    const t = this.now();
    const graceEnd = t + 2 * this.opts.heartbeatMs;
    let moved = 0;
    for (const x of before) {
      if (!now.has(x) && this.targetSet.has(x)) {
        this.graceUntil.set(x, graceEnd);
        moved++;
      }
    }
    const gained = [...now].filter((x) => !before.has(x));
    moved += gained.length;
    for (const [x, until] of this.graceUntil) if (until < t || now.has(x)) this.graceUntil.delete(x);
    this.owned = now;
    if (moved > 0) this.metrics.rebalances.inc();
    this.log.info({ why, members: this.view!.members.size, owned: now.size, moved }, 'cluster rebalanced');
    if (gained.length === 0) return;
    for (const listener of this.gainListeners) {
      try {
        listener(gained);
      } catch (err) {
        this.metrics.errors.inc({ component: 'cluster' });
        this.log.error({ err }, 'taking over gained targets failed (bug)');
      }
    }
  }

  // --- claims -------------------------------------------------------------

  /** The claim arbitrates between replicas that both believe they own the target. */
  async claim(target: string, slotMs: number, intervalMs: number): Promise<boolean> {
    if (!this.fresh()) {
      this.metrics.slotClaims.inc({ result: 'unshared' });
      return true; // no view: collect (a duplicate overwrites; a gap would lose data)
    }
    const byView = this.owned.has(target);
    const offset = this.clock.offsetMs;
    const cmd = this.cmd;
    if (!cmd || cmd.status !== 'ready' || offset === undefined) {
      this.metrics.slotClaims.inc({ result: 'error' });
      return byView;
    }
    const t = this.now();
    const timeoutMs = this.opts.claimTimeoutMs ?? Math.max(20, Math.min(500, intervalMs / 4));
    // Half the wait for the way there: a claim Redis runs after this takes
    // nothing, so one we gave up on cannot keep the owner out.
    const notAfter = Math.round(t + offset + timeoutMs / 2);
    try {
      const r = await withTimeout(cmd.claim(this.key('claim:'), target, t - slotMs, intervalMs, this.memberId, notAfter), timeoutMs);
      let result = r[0] === 'won' || r[0] === 'lost' || r[0] === 'late' ? r[0] : 'error';
      // Held by someone who is not a member we verified (a key written into
      // Redis by hand, or a replica without the secret): it cannot keep the
      // owner out of its slot. A member that just joined may hold it too: a
      // duplicate then, never a gap. One that has left took it while it was
      // a member: that slot is collected.
      const holder = String(r[2] ?? '');
      if (result === 'lost' && !this.view?.members.has(holder) && !this.formerMembers.has(holder)) result = 'foreign';
      this.metrics.slotClaims.inc({ result });
      if (result === 'won') return true;
      if (result === 'lost') return false;
      return byView;
    } catch {
      this.metrics.slotClaims.inc({ result: 'error' });
      return byView;
    }
  }

  // --- heartbeat ----------------------------------------------------------

  /**
   * One heartbeat per period, waiting for its answer at most one period: with
   * a quick Redis that is one at a time; with a slow one the next heartbeat
   * leaves while the last is still on its way (at most
   * maxHeartbeatsInFlight), so a Redis that answers every heartbeat late
   * still keeps us registered and our view fresh.
   */
  private async tick(): Promise<number | void> {
    if (this.deregistered) return;
    let again = false;
    if (this.heartbeatsInFlight < this.maxHeartbeatsInFlight) {
      const beat = this.heartbeat();
      let timer: NodeJS.Timeout | undefined;
      const period = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.opts.heartbeatMs).unref()));
      again = await Promise.race([beat, period]);
      clearTimeout(timer);
    }
    this.noticeFreshness();
    this.firstBeat?.();
    this.firstBeat = undefined;
    return again ? 0 : undefined;
  }

  /** One heartbeat. Redis trouble is expected: counted, logged once per streak, never thrown. Returns true to beat again at once. */
  private async heartbeat(): Promise<boolean> {
    const hb = this.hb;
    const seq = ++this.heartbeatsSent;
    this.heartbeatsInFlight++;
    try {
      if (!hb || hb.status !== 'ready') throw new Error(`redis ${hb?.status ?? 'not started'}${this.lastError ? `: ${this.lastError}` : ''}`);
      const config = this.configHash;
      const sendBlob = this.blobStoredFor !== config;
      const sent = this.now();
      const proof = this.opts.credentials.prove({ id: this.memberId, url: this.opts.advertiseUrl, config }, sent + (this.clock.offsetMs ?? 0));
      const reply = await hb.heartbeat(
        this.key('members'),
        this.key('member-urls'),
        this.key('member-targets'),
        this.key(`targets:${config}`),
        this.key(`left:${this.memberId}`),
        this.key('member-proofs'),
        this.memberId,
        this.opts.memberTtlMs - this.opts.heartbeatMs,
        this.opts.memberTtlMs * 10,
        this.opts.advertiseUrl,
        config,
        sendBlob ? this.configBlob : '',
        proof,
      );
      const received = this.now();
      this.clock.add(sent, received, Number(reply[0]));
      // Out of order (a slow one overtaken by a quicker one), or arrived after we left: nothing to apply.
      if (seq < this.heartbeatApplied || this.deregistered || Number(reply[1]) === -1) return false;
      this.heartbeatApplied = seq;
      if (this.heartbeatFailures > 0) this.log.info({ failed: this.heartbeatFailures }, 'cluster heartbeat ok again');
      this.heartbeatFailures = 0;
      this.lastOkAt = received;
      const blobPresent = Number(reply[1]) === 1;
      this.blobStoredFor = blobPresent ? config : undefined;
      const members = this.verifiedMembers(reply, Number(reply[0]));
      if (sendBlob && blobPresent) void this.cmd?.publish(this.key('events'), `targets ${this.memberId}`).catch(() => {});
      await this.learnLists(members);
      this.applyView(members);
      return !blobPresent;
    } catch (err) {
      if (this.deregistered || seq < this.heartbeatApplied) return false; // leaving, or a newer one already answered
      this.lastError = (err as Error).message;
      this.heartbeatFailures++;
      this.metrics.errors.inc({ component: 'cluster' });
      if (this.heartbeatFailures === 1) {
        this.log.warn({ error: this.lastError }, 'cluster heartbeat failed: keeping the current view until it is CLUSTER_MEMBER_TTL old');
      }
      return false;
    } finally {
      this.heartbeatsInFlight--;
    }
  }

  /**
   * The members of a heartbeat's answer whose record carries a valid proof
   * (member-auth.ts); the others are not members: no ownership, no request,
   * no token. Each rejected id is logged once (bounded) and counted.
   */
  private verifiedMembers(reply: Reply, redisNow: number): Map<string, { url: string; config: string }> {
    const members = new Map<string, { url: string; config: string }>();
    const seenNow = new Set<string>();
    for (let i = 2; i + 3 < reply.length; i += 4) {
      const record = { id: String(reply[i]), url: String(reply[i + 1]), config: String(reply[i + 2]) };
      const verdict: ProofCheck = this.opts.credentials.check(record, String(reply[i + 3]), redisNow, this.opts.memberTtlMs);
      if (verdict === 'ok') {
        members.set(record.id, { url: record.url, config: record.config });
        continue;
      }
      seenNow.add(record.id);
      if (!this.rejected.has(record.id)) {
        this.metrics.clusterMembersRejected.inc({ reason: verdict });
        if (this.rejected.size < 1000) {
          this.log.warn(
            { member: record.id.slice(0, 100), reason: verdict },
            'ignoring a cluster member whose record does not carry a valid proof (a replica with another CLUSTER_SECRET, or a record written into Redis by someone else): it gets no targets, no requests and no token',
          );
        }
      }
      this.rejected.add(record.id);
    }
    // Forget ids that are gone, so one that comes back is logged again.
    for (const id of this.rejected) if (!seenNow.has(id)) this.rejected.delete(id);
    return members;
  }

  /** Fetch the target lists of config hashes we have not seen (a peer reloaded); forget unused ones. */
  private async learnLists(members: Map<string, { config: string }>): Promise<void> {
    const inUse = new Set([this.configHash, ...[...members.values()].map((m) => m.config).filter(Boolean)]);
    for (const h of this.lists.keys()) if (!inUse.has(h)) this.lists.delete(h);
    const unknown = [...inUse].filter((h) => !this.lists.has(h));
    if (!unknown.length || !this.cmd) return;
    try {
      const blobs = await this.cmd.mget(unknown.map((h) => this.key(`targets:${h}`)));
      unknown.forEach((h, i) => {
        const b = blobs[i];
        if (!b) return; // not there (yet): that member counts as listing everything
        // The hash is signed by the member (its record); the list must be the one it hashes.
        if (shortSha(b) !== h) return;
        try {
          const names = JSON.parse(b) as unknown;
          if (Array.isArray(names)) this.lists.set(h, new Set(names.map(String)));
        } catch {
          /* a foreign or broken value: treat as unknown */
        }
      });
    } catch {
      /* the next heartbeat asks again */
    }
  }

  private applyView(members: Map<string, { url: string; config: string }>): void {
    // By id: the heartbeat answers in the members set's order, by expiry, which turns with every peer's heartbeat.
    const key = [...members]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, m]) => `${id}\t${m.config}\t${this.lists.has(m.config) ? 1 : 0}`)
      .join('\n');
    const wasFresh = this.wasFresh;
    const before = wasFresh ? this.owned : new Set(this.targets);
    const changed = !wasFresh || key !== this.view?.key;
    const previous = this.view;
    this.view = { members, key };
    this.wasFresh = true;
    if (!changed) return;
    const joined = [...members.keys()].filter((m) => !previous?.members.has(m)).length;
    const gone = previous ? [...previous.members.keys()].filter((m) => !members.has(m)) : [];
    const left = gone.length;
    for (const id of gone) {
      this.formerMembers.delete(id);
      this.formerMembers.add(id);
      if (this.formerMembers.size > FORMER_MEMBERS) this.formerMembers.delete(this.formerMembers.values().next().value!);
    }
    this.recompute(wasFresh ? `members changed (+${joined} -${left})` : 'cluster view established', before);
  }

  /** Log and count the moment the view goes stale (no heartbeat for a TTL): from then on every target is ours. */
  private noticeFreshness(): void {
    if (this.wasFresh && !this.fresh()) {
      this.wasFresh = false;
      this.metrics.rebalances.inc();
      this.log.warn(
        { error: this.lastError, view_age_s: Math.round((this.now() - this.lastOkAt) / 100) / 10 },
        'cluster view lost (no heartbeat for CLUSTER_MEMBER_TTL): collecting every target until Redis answers',
      );
    }
  }

  health(): ComponentHealth {
    if (!this.started) return { status: 'ok', mode: 'cluster', member: this.memberId, state: 'not started' };
    if (this.stopped) return { status: 'ok', mode: 'cluster', member: this.memberId, state: 'stopped' };
    const t = this.now();
    const age = this.lastOkAt ? t - this.lastOkAt : null;
    const fresh = this.fresh();
    const heartbeat = this.loop.health();
    const view: HealthStatus = fresh && this.heartbeatFailures === 0 ? 'ok' : 'degraded';
    const offset = this.clock.offsetMs;
    let problem: string | undefined;
    if (!fresh) problem = `no cluster view for ${age === null ? 'ever' : `${Math.round(age / 1000)} s`} (${this.lastError ?? 'connecting'}): collecting every target`;
    else if (this.heartbeatFailures > 0) problem = `${this.heartbeatFailures} heartbeats failed (${this.lastError}): keeping a view ${Math.round((age ?? 0) / 100) / 10} s old until it is CLUSTER_MEMBER_TTL old`;
    return {
      status: worstStatus([view, heartbeat.status]),
      mode: 'cluster',
      member: this.memberId,
      members: fresh ? [...this.view!.members.keys()] : [this.memberId],
      view_fresh: fresh,
      view_age_s: age === null ? null : Math.round(age / 100) / 10,
      owned: this.ownedCount(),
      targets: this.targets.length,
      redis: this.hb?.status ?? 'not started',
      heartbeat,
      ...(offset !== undefined ? { clock_offset_ms: Math.round(offset) } : {}),
      ...(problem ? { problem } : {}),
    };
  }
}

/** `p`, or a rejection after ms (the command itself goes on; its late answer is ignored). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  p.catch(() => {}); // a late rejection after the timeout must not go unhandled
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
