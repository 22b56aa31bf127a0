import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Sample } from './samples/sample.js';
import { StandaloneCoordinator, type Coordinator } from './cluster/coordinator.js';
import { RedisCache } from './cluster/redis-cache.js';
import { RedisCoordinator } from './cluster/redis-coordinator.js';
import type { AppConfig } from './config/load-config.js';
import { PROBE_KINDS, type ProbeKind, type Target } from './config/targets.js';
import { BREAKER_STATE_VALUE } from './http-client/circuit-breaker.js';
import { HttpClient } from './http-client/http-client.js';
import { TelemetryMetrics } from './metrics/telemetry-metrics.js';
import { checkPrivileges, type PrivilegeReport } from './probes/privileges.js';
import { ProcessRunner } from './probes/tools/process-runner.js';
import { Spawner } from './probes/tools/spawner.js';
import { createProbeRegistry } from './probes/registry.js';
import { ReverseDns } from './probes/trace/reverse-dns.js';
import { RouteMemory } from './probes/trace/route-memory.js';
import type { ProbeResult } from './probes/types.js';
import { Collector } from './scheduler/collector.js';
import { Scheduler, type RoundSummary } from './scheduler/scheduler.js';
import { ApiServer } from './server/http-server.js';
import { apiRoutes } from './server/routes.js';
import { EmbeddedStore } from './sinks/embedded-store.js';
import { createOutboxSink } from './outbox/create-outbox-sink.js';
import type { Sink } from './sinks/sink.js';
import { Deadline, type ComponentHealth, type HealthStatus } from './lifecycle/component.js';
import { closeDb, openDb, type Db } from './sqlite/sqlite-db.js';
import { deadlineSignal } from './util/abort.js';
import { MemoryCache, type SharedCache } from './util/shared-cache.js';
import { Semaphore } from './util/semaphore.js';
import { VERSION } from './version.js';
import { createGeo, type Geo } from './geo/index.js';

export interface AppOptions {
  /** Sink override: `collect --once` passes a discarding sink. */
  sink?: Sink;
  /** Start the API server (false for one-shot CLI runs). */
  server?: boolean;
  /** Run the scheduler (false for one-shot CLI runs). */
  schedule?: boolean;
  /** Clock of the circuit breakers (tests drive it by hand). */
  now?: () => number;
}

/**
 * The wiring: builds every component from the configuration and owns their
 * lifecycle. start() brings them up in dependency order; stop() takes them
 * down in reverse, within SHUTDOWN_TIMEOUT: stop accepting, stop scheduling,
 * let in-flight probes finish or abort them, hand targets back to the
 * cluster, flush the sink.
 */
export class App {
  readonly metrics = new TelemetryMetrics();
  readonly http: HttpClient;
  /** mtr processes: WORKER_POOL_SIZE at once. */
  readonly runner: ProcessRunner;
  /**
   * fping processes, a pool of their own so long traces never starve echo
   * requests: each carries up to BATCH_SIZE operations, so
   * ceil(MAX_CONCURRENT_OPERATIONS / BATCH_SIZE) at once is all the
   * operations bound can use.
   */
  readonly pingRunner: ProcessRunner;
  private readonly spawner?: Spawner;
  readonly sink: Sink;
  readonly store?: EmbeddedStore;
  readonly collector: Collector;
  readonly scheduler: Scheduler;
  readonly coordinator: Coordinator;
  readonly operations: Semaphore;
  readonly cache: SharedCache;
  /** Geolocation (GEO != off) and its cache: in-process, or Redis shared by the cluster. */
  readonly geo?: Geo;
  readonly geoCache?: SharedCache;
  private readonly stateDb: Db;
  private server?: ApiServer;
  privileges?: PrivilegeReport;
  private readonly startedAt = Date.now();
  private started = false;
  private stopping?: Promise<void>;
  adhocInFlight = 0;

  constructor(
    readonly cfg: AppConfig,
    readonly log: Logger,
    private readonly opts: AppOptions = {},
  ) {
    const env = cfg.env;
    const m = this.metrics;
    m.info.set({ version: VERSION, node: process.version }, 1);
    m.collectionInterval.set(env.COLLECTION_INTERVAL);

    this.http = new HttpClient(
      {
        maxConnections: env.MAX_CONNECTIONS,
        maxConnectionsPerHost: env.MAX_CONNECTIONS_PER_HOST,
        keepAliveTimeoutMs: env.KEEPALIVE_TIMEOUT * 1000,
        connectTimeoutMs: env.CONNECTION_TIMEOUT * 1000,
        readTimeoutMs: env.READ_TIMEOUT * 1000,
        breaker: {
          failureThreshold: env.CIRCUIT_FAILURE_THRESHOLD,
          successThreshold: env.CIRCUIT_SUCCESS_THRESHOLD,
          recoveryTimeoutMs: env.CIRCUIT_RECOVERY_TIMEOUT * 1000,
          halfOpenMaxCalls: env.CIRCUIT_HALF_OPEN_MAX_CALLS,
          idleEvictMs: env.CIRCUIT_IDLE_EVICT * 1000,
          maxBreakers: 10_000,
        },
      },
      {
        transition: (host, from, to) => {
          m.breakerTransitions.inc({ to });
          m.breakerState.set({ host }, BREAKER_STATE_VALUE[to]);
          log.info({ host, from, to }, 'circuit breaker transition');
        },
        evicted: (host) => m.breakerState.remove({ host }),
        connectionOpened: () => m.connectionsOpened.inc(),
        rejected: () => m.breakerRejections.inc(),
      },
      opts.now,
    );
    m.poolMax.set(env.MAX_CONNECTIONS);
    m.onCollect(() => {
      const b = this.http.budget;
      m.poolActive.set(b.busySockets);
      m.poolIdle.set(b.idleSockets);
      m.poolPending.set(this.http.pendingRequests());
      m.breakers.set(this.http.breakers.size);
      for (const [host, { breaker }] of this.http.breakers.entries()) m.breakerState.set({ host }, BREAKER_STATE_VALUE[breaker.state]);
    });

    // The daemon starts its tools through a small helper process (see spawner-process.ts).
    this.spawner = opts.schedule === false ? undefined : new Spawner();
    this.runner = new ProcessRunner(env.WORKER_POOL_SIZE, m, 'mtr', this.spawner);
    this.pingRunner = new ProcessRunner(Math.max(2, Math.ceil(env.MAX_CONCURRENT_OPERATIONS / env.BATCH_SIZE)), m, 'fping', this.spawner);
    this.stateDb = openDb(env.DATA_DIR, 'state.db');
    const names = cfg.targets.map((t) => t.name);
    if (env.REDIS_URL) {
      const cluster = new RedisCoordinator(
        names,
        { redisUrl: env.REDIS_URL, prefix: env.REDIS_KEY_PREFIX, heartbeatMs: env.CLUSTER_HEARTBEAT_INTERVAL * 1000, memberTtlMs: env.CLUSTER_MEMBER_TTL * 1000 },
        m,
        log,
      );
      this.coordinator = cluster;
      this.cache = new RedisCache(new MemoryCache(100_000), cluster.client, `${env.REDIS_KEY_PREFIX}cache:`);
      this.geoCache = new RedisCache(new MemoryCache(env.GEO_CACHE_SIZE), cluster.client, `${env.REDIS_KEY_PREFIX}cache:`);
      if (!env.SOURCE_NAME) {
        log.warn('cluster mode without SOURCE_NAME: each replica tags points with its own hostname, so a slot collected twice is two series, not one point; set the same SOURCE_NAME on every replica');
      }
    } else {
      this.coordinator = new StandaloneCoordinator(names);
      this.cache = new MemoryCache(100_000);
      m.clusterMembers.set(1);
      m.onCollect(() => m.targetsOwned.set(names.length));
    }
    const registry = createProbeRegistry({
      http: this.http,
      pingRunner: this.pingRunner,
      traceRunner: this.runner,
      routeMemory: new RouteMemory(this.stateDb),
      icmp: { fpingPath: env.FPING_PATH, batchSize: env.BATCH_SIZE, batchWaitMs: env.ICMP_BATCH_WAIT * 1000 },
      trace: { mtrPath: env.MTR_PATH, reverseDns: env.TRACE_REVERSE_DNS ? new ReverseDns(this.cache) : undefined },
      log,
    });

    if (opts.sink) {
      this.sink = opts.sink;
    } else if (cfg.influxUrls.length || cfg.remoteWriteUrls.length) {
      this.sink = createOutboxSink(env, cfg, this.http, m, log)!;
    } else {
      this.store = new EmbeddedStore(env.DATA_DIR, env.EMBEDDED_RETENTION_DAYS * 86_400_000, m, log);
      this.sink = this.store;
    }

    if (env.GEO !== 'off') {
      this.geo = createGeo(env, this.http, this.geoCache, log, { onLookup: (backend, result) => m.geoLookups.inc({ backend, result }) });
      m.onCollect(() => m.geoQueueDepth.set(this.geo?.stats().queueDepth ?? 0));
    }

    this.operations = new Semaphore(env.MAX_CONCURRENT_OPERATIONS);
    m.operationsInFlightMax.set(env.MAX_CONCURRENT_OPERATIONS);
    this.collector = new Collector(registry, this.operations, this.sink, m, log, cfg.sourceName, this.geo?.enricher);
    this.scheduler = new Scheduler(cfg.targets, this.collector, this.coordinator, m, log, {
      maxConcurrentTargets: env.MAX_CONCURRENT_TARGETS,
      groupSize: env.BATCH_SIZE,
      onRound: (r) => this.writeCollectorPoint(r),
    });
    m.onCollect(() => {
      m.operationsInFlight.set(this.operations.active);
      m.queueDepth.set(this.operations.waiting + this.scheduler.waiting + this.runner.waiting + this.pingRunner.waiting);
      m.adhocRuns.set(this.adhocInFlight);
    });
  }

  /** The `collector` measurement: this replica's round, stored with the probe data. */
  private writeCollectorPoint(r: RoundSummary): void {
    const sink = this.sink.health();
    const point: Sample<'collector'> = {
      measurement: 'collector',
      tags: { source: this.cfg.sourceName, instance: hostname() },
      fields: {
        round_duration_s: Math.round(r.durationS * 1000) / 1000,
        targets_run: r.targetsRun,
        probes_ok: r.probesOk,
        probes_failed: r.probesFailed,
        skipped_overrun: r.skippedOverrun,
        not_owned: r.notOwned,
        targets_owned: this.coordinator.ownedCount(),
        cluster_members: Array.isArray(this.coordinator.health().members) ? (this.coordinator.health().members as unknown[]).length : 1,
        outbox_points: typeof sink.outbox_points === 'number' ? sink.outbox_points : 0,
        open_circuits: this.http.breakers.notClosed().length,
      },
      timeMs: r.slotMs,
    };
    // The sink counts and logs points it cannot store; nothing more to do here.
    void Promise.resolve(this.sink.write([point])).catch(() => {});
  }

  get apiPort(): number | undefined {
    return this.server?.port;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const env = this.cfg.env;
    await this.sink.start();
    const needsTools = this.cfg.targets.some((t) => t.probes.includes('icmp') || t.probes.includes('trace'));
    if (needsTools) {
      this.privileges = await checkPrivileges(this.runner, env.FPING_PATH, env.MTR_PATH);
      this.metrics.icmpMode.set({ mode: this.privileges.mode }, 1);
      if (this.privileges.problem) this.log.error({ icmp_mode: this.privileges.mode }, this.privileges.problem);
      else this.log.info({ icmp_mode: this.privileges.mode }, 'icmp/trace tools ready');
    }
    await this.coordinator.start();
    // Offline geolocation loads its database here, not in the middle of a round.
    await this.geo?.start();
    if (this.opts.server !== false) {
      this.server = new ApiServer(apiRoutes(this), { port: env.PORT, host: env.LISTEN_ADDRESS, token: env.COLLECT_TOKEN }, this.metrics, this.log);
      await this.server.listen();
    }
    if (this.opts.schedule !== false) this.scheduler.start();
    this.log.info(
      { port: this.apiPort, targets: this.cfg.targets.length, sink: this.sink.kind, source: this.cfg.sourceName, version: VERSION },
      'network-telemetry started',
    );
  }

  /** Run probes now (POST /collect, `collect --once`). Only configured targets; probes ∩ configured. */
  async collectNow(targets: readonly Target[], kinds: readonly ProbeKind[] | undefined, timeoutMs: number, adhoc = true): Promise<ProbeResult[]> {
    const { signal, dispose } = deadlineSignal(timeoutMs);
    setMaxListeners(0, signal); // one listener per probe of the run
    const timeMs = Date.now();
    try {
      const perTarget = await Promise.all(
        targets.map((t) => {
          const want = (kinds ?? PROBE_KINDS).filter((k) => t.probes.includes(k));
          return want.length ? this.collector.collect(t, want, { timeMs, adhoc, signal }) : Promise.resolve([]);
        }),
      );
      return perTarget.flat();
    } finally {
      dispose();
    }
  }

  health(): { status: HealthStatus; body: Record<string, unknown> } {
    const components: Record<string, ComponentHealth> = {
      scheduler: this.opts.schedule === false ? { status: 'ok', running: false } : this.scheduler.health(this.cfg.env.COLLECTION_INTERVAL),
      sink: this.sink.health(),
      cluster: this.coordinator.health(),
      http_client: {
        status: 'ok',
        open_circuits: this.http.breakers.notClosed(),
        connections_open: this.http.budget.openSockets,
        connections_max: this.cfg.env.MAX_CONNECTIONS,
      },
    };
    if (this.privileges) {
      components.icmp = {
        status: this.privileges.problem ? 'degraded' : 'ok',
        mode: this.privileges.mode,
        fping: this.privileges.fping,
        mtr: this.privileges.mtr,
        ...(this.privileges.problem ? { problem: this.privileges.problem } : {}),
      };
    }
    const statuses = Object.values(components).map((c) => c.status);
    const status: HealthStatus = statuses.includes('failing') ? 'failing' : statuses.includes('degraded') ? 'degraded' : 'ok';
    return {
      status,
      body: {
        status,
        version: VERSION,
        source: this.cfg.sourceName,
        uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
        components,
      },
    };
  }

  ready(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.stopping) reasons.push('shutting down');
    if (this.opts.schedule !== false && !this.scheduler.isRunning) reasons.push('scheduler not running');
    if (!this.sink.writable()) reasons.push(`${this.sink.kind} storage not writable`);
    if (this.sink.health().status === 'failing') reasons.push('sink failing');
    return { ready: reasons.length === 0, reasons };
  }

  stop(deadlineMs = this.cfg.env.SHUTDOWN_TIMEOUT * 1000): Promise<void> {
    this.stopping ??= this.doStop(deadlineMs);
    return this.stopping;
  }

  private async doStop(deadlineMs: number): Promise<void> {
    const t0 = Date.now();
    const left = () => Math.max(0, deadlineMs - (Date.now() - t0));
    this.log.info({ deadline_ms: deadlineMs }, 'shutting down');
    this.server?.stopAccepting();
    // Leave the cluster first, so peers take our targets over at once.
    await this.coordinator.stop(left() * 0.2);
    await this.scheduler.stop(left() * 0.6);
    this.runner.killAll();
    this.pingRunner.killAll();
    this.spawner?.close();
    await this.geo?.stop(left() * 0.1);
    await this.sink.stop(Deadline.in(left() * 0.9));
    const sinkState = this.sink.health();
    await this.server?.close();
    await this.http.close();
    closeDb(this.stateDb);
    const stored = (await this.metrics.pointsStored.get()).values[0]?.value ?? 0;
    this.log.info({ took_ms: Date.now() - t0, points_stored: stored, outbox_points: sinkState.outbox_points }, 'stopped');
  }
}
