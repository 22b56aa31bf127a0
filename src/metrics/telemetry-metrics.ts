import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { PerTargetGauge, RENDER_CHUNK, TargetSlots } from './per-target-gauge.js';
import { readProcessMemory } from './process-memory.js';

/**
 * Every self-metric of the daemon, in one place (names kept from the seed
 * guide: telemetry_<what>_<unit>). Each component receives this object and
 * updates what it owns; gauges that mirror live state read it at scrape time
 * through `collect` callbacks registered by the wiring (app.ts).
 */
export class TelemetryMetrics {
  readonly registry = new Registry();
  /** One slot number per target, shared by the per-target gauges (declared before them). */
  private readonly targetSlots = new TargetSlots();

  // --- scheduler -------------------------------------------------------
  readonly collectionDuration = this.gauge(
    'telemetry_collection_duration_seconds',
    "The HPA metric: how long this instance's last round would take through its concurrency slots back to back (slot-seconds its target runs and probes held, divided by MAX_CONCURRENT_TARGETS or MAX_CONCURRENT_OPERATIONS, whichever is busier), per COLLECTION_INTERVAL; proportional to the targets it runs, and the real round duration once the slots are saturated (docs/sizing.md)",
  );
  readonly roundLongestTarget = this.gauge(
    'telemetry_round_longest_target_seconds',
    'The last completed round: the longest time one of its targets took from its scheduled start to its last probe ending, queueing included (the wall-clock figure; floored by the slowest probe)',
  );
  readonly collectionInterval = this.gauge('telemetry_collection_interval_seconds', 'COLLECTION_INTERVAL: the slot length (alerts compare round durations with it)');
  readonly roundDuration = new Histogram({
    name: 'telemetry_round_duration_seconds',
    help: 'Distribution of round durations (same definition as telemetry_round_longest_target_seconds)',
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120, 300],
    registers: [this.registry],
  });
  readonly rounds = this.counter('telemetry_rounds_total', 'Rounds completed');
  readonly targetsSkipped = this.counter(
    'telemetry_targets_skipped_total',
    'Target runs skipped because the previous run of the same target had not finished (overruns)',
  );
  readonly lastRoundTimestamp = this.gauge('telemetry_last_round_timestamp_seconds', 'Unix time the last round completed');
  readonly queueDepth = this.gauge('telemetry_queue_depth', 'Target runs and probe operations waiting for a concurrency slot');
  readonly targetsInFlight = this.gauge('telemetry_targets_in_flight', 'Targets being probed now (bound: MAX_CONCURRENT_TARGETS)');
  readonly targetsInFlightMax = this.gauge('telemetry_targets_in_flight_max', 'MAX_CONCURRENT_TARGETS');
  readonly operationsInFlight = this.gauge('telemetry_operations_in_flight', 'Probe operations running now (bound: MAX_CONCURRENT_OPERATIONS)');
  readonly operationsInFlightMax = this.gauge('telemetry_operations_in_flight_max', 'MAX_CONCURRENT_OPERATIONS');
  readonly targetsConfigured = this.gauge('telemetry_targets_configured', 'Targets in the configuration');

  // --- probes ----------------------------------------------------------
  readonly probeDuration = new Histogram({
    name: 'telemetry_probe_duration_seconds',
    help: 'Probe duration by probe kind and result',
    labelNames: ['probe', 'result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly probes = this.counter('telemetry_probes_total', 'Probes run by kind and result (success/failure)', ['probe', 'result']);
  readonly probeFailures = this.counter('telemetry_probe_failures_total', 'Failed probes by kind and reason', ['probe', 'reason']);
  readonly errors = this.counter('telemetry_errors_total', 'Internal errors by component (bugs, storage failures)', ['component']);
  // Per-target series (blackbox-style, PER_TARGET_METRICS): rendered outside prom-client (see PerTargetGauge).
  // Every probe's own (its figures: rtt, loss, HTTP phases...) are declared in its folder (ProbeModule.targetMetrics)
  // and made with perTargetGauge() by the status board.
  private readonly perTarget: PerTargetGauge[] = [];
  readonly probeSuccess = this.perTargetGauge('telemetry_probe_success', 'Last run of the probe on the target succeeded (1) or failed (0)', 'probe');
  readonly probeLastDuration = this.perTargetGauge('telemetry_probe_last_duration_seconds', 'Duration of the last run of the probe on the target', 'probe');
  /** 0 ok, 1 degraded, 2 failing (status/target-state.ts); no series before the first run. */
  readonly targetState = this.perTargetGauge('telemetry_target_state', 'State of the target: 0 ok, 1 degraded (a threshold crossed), 2 failing (a probe failed)');
  // Several sites (SITES): where a target's problem sits, from every source's state and route (src/sites/fault-domain.ts).
  readonly faultDomain = this.perTargetGauge(
    'telemetry_target_fault_domain',
    'Where the target\'s problem sits, seen from every site (value 1 on the current domain: none, target, path, undetermined)',
    'domain',
  );
  readonly faultSource = this.perTargetGauge('telemetry_target_fault_source', 'Sources whose path to the target is named by the fault domain `path` (value 1)', 'source');
  readonly childProcesses = this.gauge('telemetry_child_processes', 'Probe tool processes running now, per pool (fping, mtr)', ['pool']);
  readonly childProcessesMax = this.gauge('telemetry_child_processes_max', 'Bound of each tool pool (mtr: WORKER_POOL_SIZE; fping: ceil(MAX_CONCURRENT_OPERATIONS / BATCH_SIZE))', ['pool']);
  readonly childProcessesStarted = this.counter('telemetry_child_processes_started_total', 'Probe tool processes started', ['tool']);

  // --- HTTP client -----------------------------------------------------
  readonly breakerState = this.gauge('telemetry_circuit_breaker_state', 'Circuit breaker state per host (0 closed, 1 half-open, 2 open)', ['host']);
  readonly breakerTransitions = this.counter('telemetry_circuit_breaker_transitions_total', 'Circuit breaker transitions by new state', ['to']);
  readonly breakerRejections = this.counter('telemetry_circuit_breaker_rejections_total', 'Calls refused by an open circuit without touching the network');
  readonly breakers = this.gauge('telemetry_circuit_breakers', 'Hosts with a circuit breaker in memory');
  readonly breakersMax = this.gauge('telemetry_circuit_breakers_max', 'CIRCUIT_MAX_HOSTS: bound of the breakers kept in memory');
  readonly poolActive = this.gauge('telemetry_connection_pool_active', 'Outbound HTTP sockets carrying a request');
  readonly poolIdle = this.gauge('telemetry_connection_pool_idle', 'Outbound HTTP sockets open and idle (keep-alive)');
  readonly poolMax = this.gauge('telemetry_connection_pool_max', 'MAX_CONNECTIONS: cap on open outbound HTTP sockets');
  readonly poolPending = this.gauge('telemetry_connection_pool_pending', 'Outbound HTTP requests waiting for a socket');
  readonly connectionsOpened = this.counter('telemetry_connections_opened_total', 'Outbound HTTP connections opened');

  // --- sink ------------------------------------------------------------
  readonly pointsStored = this.counter('telemetry_points_stored_total', 'Points committed to local storage: to the outbox when a database is configured, else to the embedded store');
  readonly pointsWritten = this.counter('telemetry_points_written_total', 'Points acknowledged by a database endpoint', ['endpoint']);
  readonly pointsDropped = this.counter('telemetry_points_dropped_total', 'Points dropped, by reason', ['reason']);
  readonly storeBytes = this.gauge('telemetry_store_bytes', 'Bytes on disk of the embedded store (database file + WAL; bound: EMBEDDED_MAX_BYTES)');
  readonly storeMaxBytes = this.gauge('telemetry_store_max_bytes', 'EMBEDDED_MAX_BYTES');
  readonly dataDirAvailableBytes = this.gauge('telemetry_data_dir_available_bytes', 'Bytes free for this process on the filesystem of DATA_DIR (outbox, embedded store)');
  readonly dataDirSizeBytes = this.gauge('telemetry_data_dir_size_bytes', 'Size of the filesystem of DATA_DIR');
  readonly storePointsWritten = this.counter('telemetry_store_points_written_total', 'Points committed to the embedded store');
  readonly storeQueuePoints = this.gauge('telemetry_store_queue_points', 'Points handed to the embedded store and not yet committed');
  readonly storeQueueMaxPoints = this.gauge('telemetry_store_queue_max_points', 'Bound of telemetry_store_queue_points (writes beyond it are dropped and counted)');
  readonly storeQueriesInFlight = this.gauge('telemetry_store_queries_in_flight', 'Embedded store queries waiting for an answer');
  readonly storeQueriesMax = this.gauge('telemetry_store_queries_max', 'Bound of telemetry_store_queries_in_flight (queries beyond it are refused)');
  readonly storeOldestAge = this.gauge('telemetry_store_history_seconds', 'Age of the oldest data the embedded store keeps (EMBEDDED_RETENTION_DAYS, or less when EMBEDDED_MAX_BYTES bites)');
  readonly storeMaintenanceMaxStep = this.gauge(
    'telemetry_store_maintenance_max_step_seconds',
    'Longest single maintenance step (rollup, retention, vacuum) in the store worker during the last second: the longest a write or query waited for it',
  );
  readonly outboxPoints = this.gauge('telemetry_outbox_points', 'Points in the outbox not yet acknowledged by every endpoint');
  readonly outboxBytes = this.gauge('telemetry_outbox_bytes', 'Bytes the outbox uses on disk: pages of outbox.db in use plus its WAL (bound: OUTBOX_MAX_BYTES)');
  readonly outboxMaxBytes = this.gauge('telemetry_outbox_max_bytes', 'OUTBOX_MAX_BYTES');
  readonly outboxOldestAge = this.gauge('telemetry_outbox_oldest_age_seconds', 'Age of the oldest point in the outbox');
  readonly outboxPending = this.gauge('telemetry_outbox_pending_points', 'Points not yet acknowledged, per endpoint', ['endpoint']);
  readonly handoffPoints = this.counter(
    'telemetry_outbox_handoff_points_total',
    'Points handed over through the cluster: sent (this replica left for good and gave what it had not delivered to the hand-off stream), received (taken from the stream into this outbox)',
    ['direction'],
  );
  readonly handoffBytes = this.gauge('telemetry_outbox_handoff_bytes', 'Compressed bytes waiting in the hand-off stream, all replicas together, as last read (bound: OUTBOX_HANDOFF_MAX_BYTES)');
  readonly handoffMaxBytes = this.gauge('telemetry_outbox_handoff_max_bytes', 'OUTBOX_HANDOFF_MAX_BYTES');
  readonly writeDuration = new Histogram({
    name: 'telemetry_write_duration_seconds',
    help: 'Duration of one write request to a database endpoint',
    labelNames: ['endpoint'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly writeDuplicates = this.counter(
    'telemetry_write_duplicates_total',
    'Re-sent points (after a crash or a timeout) that the receiver refused as already stored: delivered, not lost',
    ['endpoint'],
  );
  readonly writeErrors = this.counter('telemetry_write_errors_total', 'Failed write requests by endpoint and kind', ['endpoint', 'kind']);
  readonly endpointUp = this.gauge('telemetry_write_endpoint_up', '1 when the last write to the endpoint succeeded (or nothing was pending), 0 while failing', ['endpoint']);

  // --- cluster ---------------------------------------------------------
  readonly clusterMembers = this.gauge('telemetry_cluster_members', 'Live members in this replica\'s cluster view (1 when standalone or when Redis is away)');
  readonly targetsOwned = this.gauge('telemetry_targets_owned', 'Configured targets this replica collects');
  readonly lookupCacheEntries = this.gauge('telemetry_lookup_cache_entries', 'Entries of the in-process lookup cache (reverse DNS; in front of Redis in a cluster)');
  readonly lookupCacheMax = this.gauge('telemetry_lookup_cache_max_entries', 'LOOKUP_CACHE_SIZE: bound of the in-process lookup cache');
  readonly slotClaims = this.counter(
    'telemetry_slot_claims_total',
    'Slot claims by result: won, lost, late (Redis ran it after the replica stopped waiting) and error (the view decided), foreign (held by no verified member: the view decided), unshared (no fresh view: collected without a claim)',
    ['result'],
  );
  readonly clusterMembersRejected = this.counter(
    'telemetry_cluster_members_rejected_total',
    'Member records in Redis ignored because their proof is missing, wrong (another CLUSTER_SECRET, or forged), stale or future-dated; counted once per member id',
    ['reason'],
  );
  readonly rebalances = this.counter('telemetry_cluster_rebalances_total', 'Ownership recomputations that moved targets');
  readonly redisConnected = this.gauge('telemetry_redis_connected', '1 while the Redis connection is ready (cluster mode)');
  readonly clusterViewAge = this.gauge('telemetry_cluster_view_age_seconds', 'Seconds since the last successful cluster heartbeat (-1 before the first)');
  readonly clusterClockOffset = this.gauge('telemetry_cluster_clock_offset_seconds', "Redis's clock minus this replica's, estimated from heartbeats (claims name slots by Redis's clock)");
  readonly peerRequests = this.counter('telemetry_peer_requests_total', 'Requests to other cluster members by result (ok, or why the member was unavailable)', ['result']);

  // --- sites (SITES, QUERY_URL) --------------------------------------------
  readonly siteRequests = this.counter('telemetry_site_requests_total', 'Requests to other sites (SITES) by site and result (ok, or why the site was unavailable)', ['site', 'result']);
  readonly siteUp = this.gauge('telemetry_site_up', '1 when the site answered the last refresh of its targets\' states, 0 when it did not', ['site']);
  readonly historyQueries = this.counter('telemetry_history_queries_total', 'History reads from QUERY_URL by result (ok, or why the embedded store answered instead)', ['result']);

  // --- memory (where RSS is: docs/sizing.md "Memory") ----------------------
  readonly residentMemory = this.gauge(
    'telemetry_resident_memory_bytes',
    'Resident memory by kind (/proc/self/status): anon (V8 heaps, malloc arenas, SQLite page caches), file (the node binary, libraries, mapped files), shmem (SQLite WAL indexes)',
    ['kind'],
  );
  readonly mallocArenas = this.gauge('telemetry_malloc_arenas', 'glibc malloc arenas in the process, the main one included (MALLOC_ARENA_MAX caps them); 0 under another allocator (the image preloads jemalloc)');
  readonly mallocArenaResident = this.gauge('telemetry_malloc_arena_resident_bytes', 'Resident bytes of glibc\'s malloc arenas (what malloc holds: SQLite, Node internals; not V8 heaps); 0 under another allocator (the image preloads jemalloc)');
  readonly storeWorkerHeapUsed = this.gauge('telemetry_store_worker_heap_used_bytes', "The embedded store worker thread's V8 heap in use");
  readonly storeWorkerHeapSize = this.gauge('telemetry_store_worker_heap_size_bytes', "The embedded store worker thread's V8 heap size (bound: 96 MiB of old generation)");
  readonly sqliteCacheMax = this.gauge(
    'telemetry_sqlite_page_cache_max_bytes',
    'Bound of the page cache of each open SQLite connection (PRAGMA cache_size), by database file and the thread that holds the connection; the cache fills up to it as pages are read',
    ['db', 'thread'],
  );

  // --- geolocation -----------------------------------------------------
  readonly geoLookups = this.counter('telemetry_geo_lookups_total', 'Geolocation lookups by backend and result (hit, miss, private, error, throttled, timeout)', ['backend', 'result']);
  readonly geoQueueDepth = this.gauge('telemetry_geo_queue_depth', 'Geolocation API requests waiting for rate budget');
  readonly geoRateLimit = this.gauge(
    'telemetry_geo_rate_limit_per_second',
    'Geolocation API requests allowed per second (GEO_HTTP_RATE_PER_MINUTE / 60), by scope: cluster (GEO_HTTP_RATE_PER_MINUTE shared through Redis), local_share (its share while Redis is away), process (no Redis)',
    ['scope'],
  );

  // --- server ----------------------------------------------------------
  readonly adhocRuns = this.gauge('telemetry_adhoc_runs_in_flight', 'POST /collect runs in flight (bound: MAX_ADHOC_RUNS)');
  readonly apiConnections = this.gauge('telemetry_api_connections', 'Open connections to the daemon\'s HTTP server (bound: MAX_API_CONNECTIONS)');
  readonly apiConnectionsMax = this.gauge('telemetry_api_connections_max', 'MAX_API_CONNECTIONS');
  readonly apiConnectionsClosed = this.counter(
    'telemetry_api_connections_closed_total',
    'Connections the API closed because its table was full (MAX_API_CONNECTIONS): displaced (the longest-idle one, to let a newcomer in), refused (every connection was serving a request)',
    ['reason'],
  );
  readonly authFailures = this.counter('telemetry_api_auth_failures_total', 'Basic-auth attempts that failed: wrong (a bcrypt check said no), throttled (refused without a check: too many failures from that client), busy (refused without a check: too many checks waiting)', ['result']);
  readonly httpRequests = this.counter('telemetry_http_requests_total', 'Requests to the daemon API by route and status', ['route', 'status']);

  // --- configuration -------------------------------------------------------
  readonly configReloads = this.counter('telemetry_config_reloads_total', 'Configuration reloads (SIGHUP, POST /-/reload, TARGETS_FILE change) by result (success, failure)', ['result']);
  readonly configLastReloadSuccess = this.gauge('telemetry_config_last_reload_success_timestamp_seconds', 'Unix time of the last successful configuration load (start or reload)');

  readonly info = this.gauge('telemetry_build_info', 'Build and runtime information (value 1)', ['version', 'node']);
  readonly icmpMode = this.gauge('telemetry_icmp_privilege_mode', 'ICMP privilege mode in use (value 1 on the active mode)', ['mode']);

  constructor(defaults = true) {
    if (defaults) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client names these gauges *_total, which `promtool check metrics`
      // rejects (the suffix is for counters); they are dropped, not renamed.
      for (const n of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
        this.registry.removeSingleMetric(n);
      }
      this.onCollectAsync(async () => {
        const m = await readProcessMemory();
        if (!m) return;
        this.residentMemory.set({ kind: 'anon' }, m.anon);
        this.residentMemory.set({ kind: 'file' }, m.file);
        this.residentMemory.set({ kind: 'shmem' }, m.shmem);
        this.mallocArenas.set(m.arenas);
        this.mallocArenaResident.set(m.arenaResident);
      });
    }
  }

  gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  counter(name: string, help: string, labelNames: string[] = []): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /**
   * A gauge with one series per target (and per value of `label`, if any);
   * the same name gives the same gauge.
   */
  perTargetGauge(name: string, help: string, label?: string): PerTargetGauge {
    const have = this.perTarget.find((g) => g.name === name);
    if (have) return have;
    const g = new PerTargetGauge(name, help, this.targetSlots, label);
    this.perTarget.push(g);
    return g;
  }

  /** A target left the configuration: its per-target series go. */
  forgetTarget(target: string): void {
    this.targetSlots.release(target);
  }

  /** Run `fn` at every scrape, before the registry renders (live-state gauges). */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }
  private readonly collectors: (() => void)[] = [];

  /** Like onCollect, for a figure that needs I/O (read off the event loop); render waits for it. */
  onCollectAsync(fn: () => Promise<void>): void {
    this.asyncCollectors.push(fn);
  }
  private readonly asyncCollectors: (() => Promise<void>)[] = [];

  async render(): Promise<string> {
    await Promise.all(this.asyncCollectors.map((fn) => fn().catch(() => this.errors.inc({ component: 'metrics' }))));
    for (const fn of this.collectors) {
      try {
        fn();
      } catch {
        this.errors.inc({ component: 'metrics' });
      }
    }
    let text = await this.registry.metrics();
    // A piece per turn of the event loop: at 10,000 targets the whole set
    // is ~130,000 lines, tens of ms of string building in one go.
    for (const g of this.perTarget) {
      text += g.header();
      for (let s = 0; s < this.targetSlots.capacity; s += RENDER_CHUNK) {
        await nextTurn();
        text += g.renderSlots(s, s + RENDER_CHUNK);
      }
    }
    return text;
  }
}
