import { statfsSync } from 'node:fs';
import type { Logger } from 'pino';
import { createCluster, type Coordinator, type PeerClient } from './cluster/index.js';
import { ConfigReloader, type ConfigDiff, type ReloadOutcome, type ReloadTrigger } from './config/config-reloader.js';
import type { AppConfig } from './config/load-config.js';
import type { Target } from './config/targets.js';
import { createGeo, type Geo } from './geo/index.js';
import { createHttpClient } from './http-client/create-http-client.js';
import type { HttpClient } from './http-client/http-client.js';
import { Deadline, type HealthStatus } from './lifecycle/component.js';
import { Lifecycle } from './lifecycle/lifecycle.js';
import { reportErrors } from './lifecycle/error-reporter.js';
import { TelemetryMetrics } from './metrics/telemetry-metrics.js';
import type { ProbeModule } from './probes/module.js';
import { createProbes, PROBE_MODULES, rollupsOf, sparklineOf } from './probes/registry.js';
import { ProbeTools } from './probes/tools/probe-tools.js';
import { LoopDelay } from './probes/timing/loop-delay.js';
import { threadProbes } from './probes/timing/timed-probe.js';
import { TimingThread } from './probes/timing/timing-thread.js';
import { RouteMemory } from './probes/trace/route-memory.js';
import type { Sample } from './samples/sample.js';
import { AdhocRunner } from './scheduler/adhoc-runner.js';
import { capacityNeedInSteps } from './scheduler/capacity.js';
import { Collector } from './scheduler/collector.js';
import { Scheduler, type RoundSummary } from './scheduler/scheduler.js';
import type { DaemonApi } from './server/daemon-api.js';
import type { DataApi } from './status/data-api.js';
import { ApiServer } from './server/http-server.js';
import { daemonRoutes } from './server/routes.js';
import { siteRoutes } from './server/site-routes.js';
import { StaticUi } from './server/static-ui.js';
import { uiRoutes } from './server/ui-routes.js';
import { createSinks } from './sinks/create-sinks.js';
import { OutboxHandoff } from './outbox/handoff.js';
import { OutboxSink } from './outbox/outbox-sink.js';
import { decideDeparture } from './cluster/departure.js';
import { randomUUID } from 'node:crypto';
import { openConnections } from './sqlite/sqlite-db.js';
import type { EmbeddedStore } from './store/embedded-store.js';
import type { FanoutSink } from './sinks/fanout-sink.js';
import { parseSites } from './config/site-list.js';
import { PromQueryClient, queryEndpoint } from './history/prom-query.js';
import { PromSeries } from './history/prom-series.js';
import { RecentRoutes } from './sites/recent-routes.js';
import { SiteClient } from './sites/site-client.js';
import { SiteView, type LocalTargetState } from './sites/site-view.js';
import { Vantage } from './sites/vantage.js';
import { rollupsWith } from './store/rollup-spec.js';
import { createDataApi } from './status/data-api.js';
import { targetFigures } from './status/probe-views.js';
import { describeCrossed } from './status/target-state.js';
import { TargetStatusBoard } from './status/target-status.js';
import { collectGarbageNow } from './util/heap.js';
import { Semaphore } from './util/semaphore.js';
import { eachInSteps, turnOfTheLoop } from './util/turn.js';
import { VERSION } from './version.js';

export interface AppOptions {
  /** One-shot runs (`collect --once`): results are printed, not stored; no server, no schedule, no spawner helper. */
  oneShot?: boolean;
  /** Run the API server (default: unless oneShot). */
  server?: boolean;
  /** Run the scheduler (default: unless oneShot). */
  schedule?: boolean;
  /** Clock of the circuit breakers (tests drive it by hand). */
  now?: () => number;
  /**
   * The probe kinds (default: the registry, src/probes/registry.ts). A test
   * adds one of its own to see a new probe go through every part: the
   * targets in `cfg` must then have been read with the same modules.
   */
  modules?: readonly ProbeModule[];
  /** Runs right before the API server listens (the start-up's loading listener gives the port up). */
  beforeListen?: () => Promise<void>;
}

/**
 * The wiring, and nothing else: builds every component from the
 * configuration (no I/O: constructors only store what they get) and puts the
 * long-lived ones in one ordered list. start() brings them up in that order,
 * stop() takes them down in reverse, each within its share of
 * SHUTDOWN_TIMEOUT (the shares are next to each `lifecycle.add`).
 *
 * Start order: state (route memory) -> HTTP client -> store/outbox -> tools
 * -> cluster -> geo -> scheduler -> config watch -> API. Stop is the reverse:
 * the API stops accepting, the scheduler hands its targets back to the
 * cluster and lets in-flight probes finish (or aborts them: nothing stored),
 * the sinks flush last.
 */
export class App {
  readonly metrics = new TelemetryMetrics();
  readonly lifecycle: Lifecycle;
  readonly http: HttpClient;
  readonly tools: ProbeTools;
  readonly sink: FanoutSink;
  readonly store?: EmbeddedStore;
  /** Cluster mode with an outbox: the scale-down hand-off (src/outbox/handoff.ts). */
  readonly handoff?: OutboxHandoff;
  readonly coordinator: Coordinator;
  /** Calls to the other members of a cluster (the UI shows every target from any replica). */
  readonly peers: PeerClient;
  readonly geo?: Geo;
  readonly status: TargetStatusBoard;
  readonly collector: Collector;
  readonly scheduler: Scheduler;
  readonly adhoc: AdhocRunner;
  readonly reloader: ConfigReloader;
  readonly server?: ApiServer;
  /** Each target's last traces, for the other sites and the fault-domain verdict. */
  readonly recentRoutes = new RecentRoutes();
  /** This site's view of its targets, which other sites read. */
  readonly siteView: SiteView;
  /** Several sites (SITES) and the shared database's history (QUERY_URL); absent when neither is set. */
  readonly vantage?: Vantage;
  private readonly data: DataApi;
  private readonly startedAt = Date.now();
  private stopping?: Promise<void>;
  /** Runs the scheduler: the capacity check is about its rounds. */
  private readonly schedules: boolean;
  private readonly modules: readonly ProbeModule[];

  constructor(
    cfg: AppConfig,
    readonly log: Logger,
    opts: AppOptions = {},
  ) {
    const env = cfg.env;
    const m = this.metrics;
    const oneShot = opts.oneShot === true;
    const schedule = opts.schedule ?? !oneShot;
    this.schedules = schedule;
    const serve = opts.server ?? !oneShot;
    const modules = (this.modules = opts.modules ?? (PROBE_MODULES as readonly ProbeModule[]));
    const moduleOf = (kind: string) => modules.find((x) => x.kind === kind);
    m.info.set({ version: VERSION, node: process.version }, 1);
    m.collectionInterval.set(env.COLLECTION_INTERVAL);
    // The one error reporter: telemetry_errors_total{component} and the log, for every part that keeps going.
    const reporter = reportErrors(m, log);
    this.lifecycle = new Lifecycle(log);

    // The data volume as the process sees it (alerts: TelemetryDataVolumeLow), read at each scrape.
    m.onCollect(() => {
      try {
        const fs = statfsSync(env.DATA_DIR);
        m.dataDirAvailableBytes.set(fs.bavail * fs.bsize);
        m.dataDirSizeBytes.set(fs.blocks * fs.bsize);
      } catch {
        // Not created yet, or gone: the store and the outbox report that themselves.
      }
    });

    const routeMemory = new RouteMemory(env.DATA_DIR, log);
    this.lifecycle.add(routeMemory, 0.05, { hidden: true });

    // Before the sinks: they deliver through it while they flush at stop.
    this.http = createHttpClient(env, m, log, opts.now);
    this.lifecycle.add(this.http, 0.05, { hidden: true });
    const sinks = createSinks({ cfg, http: this.http, metrics: m, log, errors: reporter, storeSpecs: { rollups: rollupsOf(modules), sparkline: sparklineOf(modules) } }, { discard: oneShot });
    this.sink = sinks.sink;
    this.store = sinks.store;
    // Cluster mode with an outbox: a replica leaving for good hands its undelivered points over.
    // Added before the sinks: it stops after them, while the outbox hands over.
    const outbox = sinks.parts.find((p): p is OutboxSink => p instanceof OutboxSink);
    if (outbox && env.REDIS_URL && !oneShot) {
      this.handoff = new OutboxHandoff(
        {
          redisUrl: env.REDIS_URL,
          prefix: env.REDIS_KEY_PREFIX,
          consumer: `${cfg.instanceName}:${randomUUID().slice(0, 8)}`,
          maxBytes: env.OUTBOX_HANDOFF_MAX_BYTES,
          claimIdleMs: Math.max(2000, 3 * env.CLUSTER_MEMBER_TTL * 1000),
        },
        m,
        log,
        reporter,
      );
      outbox.attachHandoff(this.handoff, () => decideDeparture(env, Deadline.in(3000)));
      this.lifecycle.add(this.handoff, 0.05);
    }
    // The sinks stop late: most of what is left of the deadline is theirs to flush.
    for (const part of sinks.parts) this.lifecycle.add(part, 0.9);

    const needsTools = cfg.targets.some((t) => t.probes.some((k) => moduleOf(k)?.pool !== undefined));
    this.tools = new ProbeTools(env, m, log, needsTools, schedule);
    this.lifecycle.add(this.tools, 0.05);

    const cluster = createCluster(env, {
      targets: cfg.targets.map((t) => t.name),
      metrics: m,
      log,
      http: this.http,
      errors: reporter,
    });
    this.coordinator = cluster.coordinator;
    this.peers = cluster.peers;
    this.lifecycle.add(this.coordinator, 0.2);
    m.onCollect(() => {
      for (const c of openConnections()) m.sqliteCacheMax.set({ db: c.file, thread: 'main' }, c.cacheBytes);
    });
    m.lookupCacheMax.set(env.LOOKUP_CACHE_SIZE);
    m.onCollect(() => m.lookupCacheEntries.set(cluster.cache.size));

    if (env.GEO !== 'off') {
      this.geo = createGeo(env, this.http, cluster.geoCache, log, { metrics: m, sharedBudget: cluster.geoBudget });
      this.lifecycle.add(this.geo, 0.05);
    }

    this.status = new TargetStatusBoard(m, log, env.PER_TARGET_METRICS, modules);
    const operations = new Semaphore(env.MAX_CONCURRENT_OPERATIONS);
    m.operationsInFlightMax.set(env.MAX_CONCURRENT_OPERATIONS);
    // Probes whose modules ask for it (timingThread) time on a thread of their own, away from this loop's lag;
    // a one-shot run has no busy loop. How late this loop runs: the slack of the timings taken on it.
    const loopDelay = new LoopDelay();
    this.lifecycle.add(loopDelay, 0.01, { hidden: true });
    const onThread = threadProbes(modules);
    const threadUsed = cfg.targets.some((t) => t.probes.some((k) => onThread.some((p) => p.kind === k)));
    const timingThread = oneShot ? undefined : new TimingThread(env.TIMING_SLACK_MAX_MS, onThread, log, m, threadUsed);
    if (timingThread) this.lifecycle.add(timingThread, 0.02);
    const probes = createProbes({ env, http: this.http, pingRunner: this.tools.pingRunner, traceRunner: this.tools.traceRunner, routeMemory, timingThread, loopDelay, cache: cluster.cache, metrics: m, log }, modules);
    this.collector = new Collector(probes, operations, this.sink, m, log, cfg.sourceName, this.geo?.enricher, (target, r, o) => {
      if (r.reason === 'tool_missing' || r.reason === 'no_permission') this.tools.recheckSoon();
      if (oneShot) return;
      this.status.record(target, r, o);
      if (!o.adhoc) this.recentRoutes.record(target.name, r.samples, o.timeMs);
    });
    this.scheduler = new Scheduler(cfg.targets, this.collector, this.coordinator, m, log, {
      maxConcurrentTargets: env.MAX_CONCURRENT_TARGETS,
      maxConcurrentOperations: env.MAX_CONCURRENT_OPERATIONS,
      referenceIntervalS: env.COLLECTION_INTERVAL,
      groupSize: env.BATCH_SIZE,
      onRound: (r) => void this.writeCollectorPoint(r),
      handBack: (deadline) => this.coordinator.stop(deadline),
    });
    // Most of the deadline: in-flight probes finish rather than being cut short.
    if (schedule) this.lifecycle.add(this.scheduler, 0.6);
    this.adhoc = new AdhocRunner(
      this.collector,
      () => this.reloader.config.targets,
      { maxRuns: env.MAX_ADHOC_RUNS, maxProbes: env.COLLECT_MAX_PROBES, maxOperations: env.MAX_CONCURRENT_OPERATIONS, timeoutMs: env.COLLECT_TIMEOUT * 1000 },
      m,
    );
    m.onCollect(() => {
      m.operationsInFlight.set(operations.active);
      m.queueDepth.set(operations.waiting + this.scheduler.waiting + this.tools.waiting);
    });

    this.reloader = new ConfigReloader(cfg, (next) => this.applyConfig(next), m, log, reporter);
    if (schedule) this.lifecycle.add(this.reloader, 0.02);

    this.data = createDataApi({
      targets: () => this.cfg.targets,
      status: this.status,
      store: this.store,
      peers: this.peers,
      modules: this.modules,
      ownership: {
        ownerOf: (t) => this.coordinator.ownerOf(t),
        members: () => this.coordinator.members().map((mb) => ({ id: mb.id, url: mb.url || null, self: mb.self })),
        selfId: () => this.coordinator.memberId,
        mode: () => (this.coordinator.health().mode === 'cluster' ? 'cluster' : 'standalone'),
      },
      health: () => {
        const h = this.health();
        return { status: h.status, components: h.body.components as Record<string, unknown> };
      },
      about: () => ({ version: VERSION, source: this.cfg.sourceName, instance: this.cfg.instanceName, uptimeS: Math.round((Date.now() - this.startedAt) / 1000) }),
      breakers: () => ({ open: this.http.breakers.notClosed(), hosts: this.http.breakers.size }),
      lastRound: () => (this.scheduler.lastRoundAt === undefined ? null : { atMs: this.scheduler.lastRoundAt, durationS: (this.scheduler.lastRoundMs ?? 0) / 1000 }),
      backlog: () => this.sink.backlog(),
    });
    this.siteView = new SiteView({
      source: cfg.sourceName,
      targets: () => this.cfg.targets,
      local: (name) => this.localState(name),
      route: (name) => this.recentRoutes.current(name),
      ownerOf: (t) => this.coordinator.ownerOf(t),
      selfId: () => this.coordinator.memberId,
      askMember: (member, path, deadline) => this.peers.get(member, path, deadline),
    });
    const sites = parseSites(env.SITES, cfg.sourceName).sites;
    if (serve && (sites.length || env.QUERY_URL)) {
      this.vantage = new Vantage({
        self: cfg.sourceName,
        sites,
        client: new SiteClient(sites, this.http, m),
        view: this.siteView,
        targets: () => this.cfg.targets,
        figures: (name) => {
          const t = this.cfg.targets.find((x) => x.name === name);
          return t ? targetFigures(t, this.modules) : [];
        },
        refreshMs: env.SITES_REFRESH * 1000,
        siteTimeoutMs: env.SITE_TIMEOUT * 1000,
        localSeries: this.store ? (name, q) => this.data.series(name, q) : undefined,
        localRoutes: this.store ? (name, q) => this.data.routes(name, q) : undefined,
        history: env.QUERY_URL
          ? new PromSeries(
              new PromQueryClient(
                queryEndpoint(env.QUERY_URL, { username: env.QUERY_USERNAME, password: env.QUERY_PASSWORD, bearerToken: env.QUERY_BEARER_TOKEN, orgId: env.QUERY_ORG_ID }),
                this.http,
              ),
              rollupsWith(rollupsOf(this.modules)),
            )
          : undefined,
        metrics: m,
        reporter,
        log,
      });
      this.lifecycle.add(this.vantage, 0.02);
    }

    if (serve) {
      const ui = new StaticUi();
      this.lifecycle.add(ui, 0.01);
      this.server = new ApiServer(
        [...daemonRoutes(this.api()), ...siteRoutes(this.siteView, this.vantage), ...uiRoutes(ui)],
        {
          port: env.PORT,
          host: env.LISTEN_ADDRESS,
          token: env.COLLECT_TOKEN,
          readToken: cluster.readToken,
          dataDir: env.DATA_DIR,
          webConfigFile: env.WEB_CONFIG_FILE,
          webConfigCheckMs: env.WEB_CONFIG_CHECK_INTERVAL * 1000,
          headersTimeoutMs: env.API_HEADERS_TIMEOUT * 1000,
          requestTimeoutMs: env.API_REQUEST_TIMEOUT * 1000,
          idleTimeoutMs: env.API_IDLE_TIMEOUT * 1000,
          handlerTimeoutMs: (env.COLLECT_TIMEOUT + 10) * 1000,
          maxConnections: env.MAX_API_CONNECTIONS,
          beforeListen: opts.beforeListen,
        },
        m,
        log,
      );
      this.lifecycle.add(this.server, 0.1);
    }
  }

  get cfg(): AppConfig {
    return this.reloader.config;
  }

  get apiPort(): number | undefined {
    return this.server?.port;
  }

  /**
   * A reload's new configuration: the targets change, everything else stays.
   * Applied in steps with a turn of the event loop between them (each is
   * linear in the targets; together, at 10,000 targets and more, they held
   * the loop too long). The status board learns the new list before the
   * scheduler runs it: a result of a target in flight during the switch is
   * dropped there rather than bringing back a removed target's series.
   */
  private async applyConfig(next: AppConfig): Promise<ConfigDiff> {
    const before = this.cfg.targets;
    const names = next.targets.map((t) => t.name);
    await this.coordinator.setTargets(names);
    await turnOfTheLoop();
    await this.status.setTargets(next.targets);
    await turnOfTheLoop();
    const diff = await this.scheduler.setTargetsInSteps(next.targets);
    await turnOfTheLoop();
    if (diff.removed.length) this.recentRoutes.retain(names);
    await turnOfTheLoop();
    await this.checkCapacity(next.targets);
    // Breakers of origins no target uses any more go with them (only a removed or changed target can have left one).
    if (diff.removed.length || diff.changed.length) {
      await turnOfTheLoop();
      const gone = new Set([...diff.removed, ...diff.changed]);
      const originsOf = (t: Target) => t.probes.flatMap((k) => this.modules.find((x) => x.kind === k)?.origins?.(t.specs[k]) ?? []);
      const maybeUnused = new Set<string>();
      await eachInSteps(before, (t) => {
        if (gone.has(t.name)) for (const o of originsOf(t)) maybeUnused.add(o);
      });
      if (maybeUnused.size) {
        await eachInSteps(next.targets, (t) => {
          for (const o of originsOf(t)) maybeUnused.delete(o);
        });
        for (const o of maybeUnused) this.http.breakers.forget(o);
      }
    }
    return diff;
  }

  /** One warning line when the bounds cannot fit the targets into their interval (docs/sizing.md); counted in steps. */
  private async checkCapacity(targets: readonly Target[]): Promise<void> {
    if (!this.schedules) return;
    const env = this.cfg.env;
    const { warning, bounds } = await capacityNeedInSteps(targets, {
      maxConcurrentTargets: env.MAX_CONCURRENT_TARGETS,
      maxConcurrentOperations: env.MAX_CONCURRENT_OPERATIONS,
      batchSize: env.BATCH_SIZE,
      workerPoolSize: env.WORKER_POOL_SIZE,
    }, this.modules);
    if (warning) this.log.warn({ need: Object.fromEntries(Object.entries(bounds).map(([k, b]) => [k, Math.ceil(b.need)])) }, warning);
  }

  /** The `collector` measurement: this replica's round, stored with the probe data. */
  private async writeCollectorPoint(r: RoundSummary): Promise<void> {
    const sink = this.sink.health();
    const cluster = this.coordinator.health();
    const point: Sample<'collector'> = {
      measurement: 'collector',
      tags: { source: this.cfg.sourceName, instance: this.cfg.instanceName },
      fields: {
        round_duration_s: Math.round(r.durationS * 1000) / 1000,
        targets_run: r.targetsRun,
        probes_ok: r.probesOk,
        probes_failed: r.probesFailed,
        skipped_overrun: r.skippedOverrun,
        not_owned: r.notOwned,
        targets_owned: this.coordinator.ownedCount(),
        cluster_members: Array.isArray(cluster.members) ? cluster.members.length : 1,
        outbox_points: typeof sink.outbox_points === 'number' ? sink.outbox_points : 0,
        open_circuits: this.http.breakers.notClosed().length,
      },
      timeMs: r.slotMs,
    };
    try {
      await this.sink.write([point]);
    } catch {
      // counted by the sink; the round's own points are what matters
    }
  }

  async start(): Promise<void> {
    await this.checkCapacity(this.cfg.targets);
    collectGarbageNow();
    await this.lifecycle.start();
    this.metrics.configLastReloadSuccess.set(Date.now() / 1000);
    if (this.store && this.lifecycle.components.includes(this.scheduler)) void this.seedStatus();
  }

  /** The targets' last state from the store, so a restart does not show them all "unknown" until the first round. */
  private async seedStatus(): Promise<void> {
    try {
      const targets = this.cfg.targets;
      const n = await this.status.seed(await this.store!.latest(targets.map((t) => t.name)), targets);
      if (n) this.log.debug({ targets: n }, 'target states restored from the store');
    } catch (err) {
      this.log.warn({ error: (err as Error).message }, 'could not restore the targets\' last state from the store (they show as unknown until their first round)');
    }
  }

  /** Probe now (`collect --once`, and POST /collect through the API). */
  collectNow(names?: readonly string[], kinds?: readonly string[], o: { adhoc?: boolean } = {}) {
    return this.adhoc.run(names, kinds, o);
  }

  reload(trigger: ReloadTrigger, o: { force?: boolean } = {}): Promise<ReloadOutcome> {
    return this.reloader.reload(trigger, o);
  }

  health(): { status: HealthStatus; body: Record<string, unknown> } {
    const { status: worst, components } = this.lifecycle.health();
    components.targets = this.status.health();
    const statuses = Object.values(components).map((c) => c.status);
    const status: HealthStatus = statuses.includes('failing') ? 'failing' : statuses.includes('degraded') ? 'degraded' : worst;
    return {
      status,
      body: {
        status,
        version: VERSION,
        source: this.cfg.sourceName,
        instance: this.cfg.instanceName,
        uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
        components,
      },
    };
  }

  ready(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.stopping) reasons.push('shutting down');
    if (this.lifecycle.components.includes(this.scheduler) && !this.scheduler.isRunning) reasons.push('scheduler not running');
    if (!this.sink.writable()) reasons.push(`${this.sink.kind} storage not writable`);
    if (this.sink.health().status === 'failing') reasons.push('sink failing');
    return { ready: reasons.length === 0, reasons };
  }

  live(): { live: boolean; problem?: string } {
    if (!this.schedules) return { live: true };
    const s = this.scheduler.stall(this.cfg.env.LIVENESS_MISSED_ROUNDS);
    return s ? { live: false, problem: `no round completed for ${Math.round(s.ageS)} s (limit ${s.limitS} s) while this replica owns targets` } : { live: true };
  }

  /** The narrow interface the HTTP server gets. */
  private api(): DaemonApi {
    return {
      health: () => this.health(),
      ready: () => this.ready(),
      live: () => this.live(),
      metrics: async () => ({ text: await this.metrics.render(), contentType: this.metrics.registry.contentType }),
      collect: (names, probes) => this.adhoc.run(names, probes),
      reload: (trigger, o) => this.reload(trigger, o),
      resetCircuits: (host) => this.http.breakers.reset(host),
      cluster: () => ({ ...this.coordinator.health(), peers: this.coordinator.members(), owned_targets: this.coordinator.ownedTargets() }),
      peers: () => this.peers.fanOut('/health/live', Deadline.in(2000)),
      data: this.data,
      site: this.siteView,
      sites: this.vantage,
    };
  }

  /** This member's state of a target, as other sites read it. */
  private localState(name: string): LocalTargetState | undefined {
    const st = this.status.get(name);
    if (!st) return undefined;
    const probes = [...st.probes.values()];
    // Failing probes first, then the thresholds crossed (what makes it degraded).
    const why = [...probes.filter((p) => !p.success).map((p) => `${p.probe}: ${p.reason ?? 'failed'}`), ...probes.flatMap((p) => p.crossed.map(describeCrossed))];
    return {
      state: this.status.status(name),
      why: why.length ? why.join(', ') : null,
      last: this.status.lastFigures(name),
    };
  }

  stop(deadline = Deadline.in(this.cfg.env.SHUTDOWN_TIMEOUT * 1000)): Promise<void> {
    this.stopping ??= (async () => {
      const t0 = Date.now();
      this.log.info({ deadline_ms: deadline.remaining() }, 'shutting down');
      await this.lifecycle.stop(deadline);
      const stored = (await this.metrics.pointsStored.get()).values[0]?.value ?? 0;
      // What the outbox still holds stays on disk for the next start.
      const sink = this.sink.health();
      this.log.info({ took_ms: Date.now() - t0, points_stored: stored, ...(typeof sink.outbox_points === 'number' ? { outbox_points: sink.outbox_points } : {}) }, 'stopped');
    })();
    return this.stopping;
  }
}
