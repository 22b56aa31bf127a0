import { FailureLog } from '../logging/failure-log.js';
import { join, resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { BaseComponent, type ComponentHealth, type Deadline } from '../lifecycle/component.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { RollupSpec, SparklineSpec } from '../samples/rollup.js';
import type { AnySample } from '../samples/sample.js';
import { closeDb, isDiskFull, openDb, type Db } from '../sqlite/sqlite-db.js';
import { startModuleWorker } from '../util/module-worker.js';
import { rollupsWith } from './rollup-spec.js';
import { createSchema } from './schema.js';
import type { EngineStats } from './store-engine.js';
import type { LatestState, PointQuery, PointsResult, RoutesQuery, RoutesResult, SeriesQuery, SeriesResult, Sparkline, SparklineOptions } from './types.js';
import { fromWire, type CallName, type FromWorker, type MaintenanceSteps, type ToWorker, type WireError, type WorkerMemory } from './worker-protocol.js';

export interface EmbeddedStoreOptions {
  dataDir: string;
  /** EMBEDDED_RETENTION_DAYS, in ms. */
  retentionMs: number;
  /** EMBEDDED_RAW_HOURS, in ms. */
  rawWindowMs: number;
  /** EMBEDDED_MAX_BYTES. */
  maxBytes: number;
  /** What the probes want kept after the raw window (registry rollupsOf()). */
  rollups: readonly RollupSpec[];
  /** The overview's sparkline (registry sparklineOf()). */
  sparkline?: SparklineSpec;
  /**
   * `sink`: the daemon's only sink — write() rejects when the commit fails
   * (the round is not reported stored). `mirror`: the local window beside
   * the outbox — write() never rejects; a failed or refused write is counted
   * (telemetry_points_dropped_total, telemetry_errors_total{component="store"})
   * and shown in health, so the outbox's write is never failed by ours.
   */
  role?: 'sink' | 'mirror';
  /** Points handed to the worker and not yet committed; beyond it writes are refused (counted). */
  queueMaxPoints?: number;
  /** Queries waiting for the worker; beyond it a query is refused at once. */
  maxQueriesInFlight?: number;
  queryTimeoutMs?: number;
}

/** The WAL's share of EMBEDDED_MAX_BYTES (its journal_size_limit). */
export const WAL_ALLOWANCE_BYTES = 16 * 1024 * 1024;
/** About two minutes of a 10,000-target daemon at 60 s: a stalled disk is noticed long before. */
const DEFAULT_QUEUE_MAX_POINTS = 100_000;
const DEFAULT_MAX_QUERIES = 32;
const DEFAULT_QUERY_TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 60_000;
/** Restart backoff of a worker that died: 1 s, 2 s, 4 s ... capped here. */
const MAX_RESTART_BACKOFF_MS = 30_000;
/** The worker's heap bound: query results and caches live there; SQLite's page cache is outside it. */
const WORKER_HEAP_MB = 96;

/** The store refused or could not do a call (busy, timed out, not running). */
export class StoreUnavailableError extends Error {
  /** What an HTTP answer says: try again shortly (the API server maps it, without knowing the store). */
  readonly httpStatus = 503;
  constructor(
    message: string,
    readonly code: 'store_busy' | 'store_timeout' | 'store_not_running' | 'store_backlog',
  ) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

interface PendingWrite {
  points: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface PendingCall {
  resolve: (v: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The embedded store (DATA_DIR/store.db): raw points for EMBEDDED_RAW_HOURS,
 * SmokePing-style rollups and route history for EMBEDDED_RETENTION_DAYS,
 * bounded by EMBEDDED_MAX_BYTES. See src/store/README.md.
 *
 * Why a worker thread: better-sqlite3 runs every statement on the calling
 * thread. On the daemon's loop, inserts, index maintenance, rollups and
 * retention deletes added lag that grew with the store (soak: p99 17 -> 44
 * ms over 20 minutes at 2,000 targets; one 102k-row DELETE blocked 343 ms),
 * and ten parallel /api/points queries delayed /health/live by 1.4 s. Here
 * the daemon thread only clones the samples into a message (measured in
 * bench/store.ts); SQLite work happens in the worker, which owns the write
 * connection. The daemon thread keeps one idle connection: openDb's checks
 * (DATA_DIR, corrupt file set aside) and the shared WAL checkpointer.
 *
 * write() settles when the worker has committed. Queries are asynchronous
 * for the same reason and bounded (in flight, timeout). A worker that dies
 * is restarted with backoff; meanwhile writes are refused and counted.
 */
export class EmbeddedStore extends BaseComponent {
  readonly name = 'store';
  readonly kind = 'embedded';
  private readonly role: 'sink' | 'mirror';
  private readonly queueMax: number;
  private readonly maxQueries: number;
  private readonly queryTimeoutMs: number;
  private db?: Db;
  private worker?: Worker;
  private ready = false;
  private shuttingDown = false;
  private restartTimer?: NodeJS.Timeout;
  private restarts = 0;
  private seq = 0;
  private queuedPoints = 0;
  private readonly writes = new Map<number, PendingWrite>();
  private readonly calls = new Map<number, PendingCall>();
  private stats?: EngineStats;
  private maintenance?: ComponentHealth;
  private maxStepMs = 0;
  private steps?: MaintenanceSteps;
  private workerMemory?: WorkerMemory;
  private lastWriteAt?: number;
  private lastFailure?: { at: number; message: string; diskFull: boolean };
  private workerDown?: string;
  /** Write and worker failures: logged once a minute at most per kind, with a count (a full disk fails every write). */
  private readonly failures: FailureLog;

  constructor(
    private readonly o: EmbeddedStoreOptions,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
  ) {
    super();
    this.failures = new FailureLog(log);
    this.role = o.role ?? 'sink';
    this.queueMax = o.queueMaxPoints ?? DEFAULT_QUEUE_MAX_POINTS;
    this.maxQueries = o.maxQueriesInFlight ?? DEFAULT_MAX_QUERIES;
    this.queryTimeoutMs = o.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    metrics.storeMaxBytes.set(o.maxBytes);
    metrics.storeQueueMaxPoints.set(this.queueMax);
    metrics.storeQueriesMax.set(this.maxQueries);
    metrics.onCollect(() => {
      metrics.storeBytes.set(this.stats ? this.stats.file_bytes + this.stats.wal_bytes : 0);
      metrics.storeQueuePoints.set(this.queuedPoints);
      metrics.storeQueriesInFlight.set(this.calls.size);
      metrics.storeOldestAge.set(this.stats ? Math.max(0, (Date.now() - this.stats.oldest_kept_ms) / 1000) : 0);
      metrics.storeMaintenanceMaxStep.set(this.maxStepMs / 1000);
      const mem = this.workerMemory;
      if (mem) {
        metrics.storeWorkerHeapUsed.set(mem.heap_used_bytes);
        metrics.storeWorkerHeapSize.set(mem.heap_size_bytes);
        metrics.sqliteCacheMax.set({ db: 'store.db', thread: 'store_worker' }, mem.page_cache_max_bytes);
      }
    });
  }

  protected async onStart(): Promise<void> {
    // On this thread: DATA_DIR checks and corrupt-file handling throw StartupErrors naming DATA_DIR.
    this.db = openDb(this.o.dataDir, 'store.db', { log: this.log, journalSizeLimit: WAL_ALLOWANCE_BYTES });
    createSchema(this.db, rollupsWith(this.o.rollups));
    await this.spawn();
  }

  // --- Sink ------------------------------------------------------------

  write(samples: readonly AnySample[]): Promise<void> {
    if (samples.length === 0) return Promise.resolve();
    const n = samples.length;
    if (!this.worker || !this.ready) return this.refuse(n, 'store_unavailable', new StoreUnavailableError(`embedded store is not running${this.workerDown ? `: ${this.workerDown}` : ''}`, 'store_not_running'));
    if (this.queuedPoints + n > this.queueMax) {
      return this.refuse(n, 'store_backlog', new StoreUnavailableError(`embedded store backlog full (${this.queuedPoints} points waiting, bound ${this.queueMax})`, 'store_backlog'));
    }
    const id = ++this.seq;
    this.queuedPoints += n;
    return new Promise<void>((resolve, reject) => {
      this.writes.set(id, { points: n, resolve, reject });
      this.post({ type: 'write', id, samples });
    });
  }

  /**
   * Can we commit right now? (GET /health/ready) From the worker's state and
   * last answers — never touches the disk on this thread: after a disk-full
   * failure, no until a write commits again.
   */
  writable(): boolean {
    return this.running && this.ready && !(this.lastFailure?.diskFull && (!this.lastWriteAt || this.lastFailure.at > this.lastWriteAt));
  }

  // --- queries (src/store/README.md documents each result) --------------

  query(q: PointQuery): Promise<PointsResult> {
    return this.call('query', [q]) as Promise<PointsResult>;
  }

  series(q: SeriesQuery): Promise<SeriesResult> {
    return this.call('series', [q]) as Promise<SeriesResult>;
  }

  routes(q: RoutesQuery): Promise<RoutesResult> {
    return this.call('routes', [q]) as Promise<RoutesResult>;
  }

  sparklines(targets: readonly string[], o: SparklineOptions = {}): Promise<Record<string, Sparkline>> {
    return this.call('sparklines', [targets, o]) as Promise<Record<string, Sparkline>>;
  }

  latest(targets?: readonly string[]): Promise<LatestState[]> {
    return this.call('latest', [targets]) as Promise<LatestState[]>;
  }

  /** The worker's maintenance steps so far (as of its last report, once a second). */
  maintenanceSteps(): MaintenanceSteps | undefined {
    return this.steps;
  }

  // --- lifecycle -----------------------------------------------------------

  health(): ComponentHealth {
    const base = { kind: this.kind, role: this.role };
    if (!this.running) return { status: 'ok', ...base, running: false };
    const failedLast = this.lastFailure && (!this.lastWriteAt || this.lastFailure.at > this.lastWriteAt);
    const s = this.stats;
    const bytes = s ? s.file_bytes + s.wal_bytes : 0;
    const problems: string[] = [];
    if (!this.ready) problems.push(`worker not running${this.workerDown ? `: ${this.workerDown}` : ''}`);
    if (failedLast) problems.push(`${this.lastFailure!.diskFull ? 'disk full' : 'write failed'}: ${this.lastFailure!.message}`);
    if (this.maintenance?.status === 'failing') problems.push(`maintenance: ${String(this.maintenance.problem ?? 'failing')}`);
    const degraded = this.maintenance?.status === 'degraded' || bytes > this.o.maxBytes;
    return {
      status: problems.length ? 'failing' : degraded ? 'degraded' : 'ok',
      ...base,
      bytes,
      max_bytes: this.o.maxBytes,
      queue_points: this.queuedPoints,
      queue_max_points: this.queueMax,
      last_write: this.lastWriteAt ? new Date(this.lastWriteAt).toISOString() : null,
      raw_from: s?.raw_oldest_ms ? new Date(s.raw_oldest_ms).toISOString() : null,
      history_from: s ? new Date(s.oldest_kept_ms).toISOString() : null,
      ...(s?.size_floor_ms ? { trimmed_by_size_before: new Date(s.size_floor_ms).toISOString() } : {}),
      maintenance_max_step_ms: this.maxStepMs,
      rollup_lag_s: s ? Object.fromEntries(Object.entries(s.rollup_lag_ms).map(([k, v]) => [k, Math.round(v / 1000)])) : null,
      ...(this.restarts ? { worker_restarts: this.restarts } : {}),
      ...(problems.length ? { problem: problems.join('; ') } : {}),
      ...(this.lastFailure ? { last_error: this.lastFailure.message } : {}),
    };
  }

  protected async onStop(deadline: Deadline): Promise<void> {
    this.shuttingDown = true;
    clearTimeout(this.restartTimer);
    const w = this.worker;
    if (w) {
      // Writes already posted are committed before the worker reads 'stop'.
      const exited = new Promise<void>((r) => w.once('exit', () => r()));
      this.post({ type: 'stop' });
      if ((await deadline.race(exited.then(() => true))) === undefined) await w.terminate();
    }
    this.failAll(new StoreUnavailableError('embedded store stopped', 'store_not_running'));
    if (this.db) closeDb(this.db);
  }

  // --- worker ------------------------------------------------------------

  private spawn(): Promise<void> {
    const path = join(resolve(this.o.dataDir), 'store.db');
    const worker = startModuleWorker(import.meta.url, './store-worker', {
      workerData: {
        path,
        options: {
          rawWindowMs: this.o.rawWindowMs,
          retentionMs: this.o.retentionMs,
          maxBytes: this.o.maxBytes,
          walAllowanceBytes: WAL_ALLOWANCE_BYTES,
          rollups: this.o.rollups,
          sparkline: this.o.sparkline,
        },
      },
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    this.worker = worker;
    return new Promise<void>((resolveStart, rejectStart) => {
      let started = false;
      const timer = setTimeout(() => fail(new Error(`store worker did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      timer.unref();
      const fail = (err: Error) => {
        clearTimeout(timer);
        if (started) return;
        started = true;
        void worker.terminate();
        rejectStart(err);
      };
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          started = true;
          this.ready = true;
          this.workerDown = undefined;
          resolveStart();
        } else if (m.type === 'fatal') {
          fail(fromWire(m.error));
        } else {
          this.onMessage(m);
        }
      });
      worker.on('error', (err) => {
        if (!started) fail(err);
        else this.log.error({ err }, 'store worker failed');
      });
      worker.on('exit', (code) => {
        if (!started) return fail(new Error(`store worker exited (${code}) before it was ready`));
        this.onExit(worker, code);
      });
    });
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'written': {
        const w = this.writes.get(m.id);
        if (!w) return;
        this.writes.delete(m.id);
        this.queuedPoints -= w.points;
        this.lastWriteAt = Date.now();
        if (this.lastFailure) this.failures.resolved('write', 'embedded store: points stored again');
        this.metrics.storePointsWritten.inc(m.points);
        if (this.role === 'sink') this.metrics.pointsStored.inc(m.points);
        w.resolve();
        return;
      }
      case 'failed': {
        const w = this.writes.get(m.id);
        if (w) {
          this.writes.delete(m.id);
          this.queuedPoints -= w.points;
          this.writeFailed(w, m.error);
          return;
        }
        const c = this.calls.get(m.id);
        if (c) {
          this.calls.delete(m.id);
          clearTimeout(c.timer);
          c.reject(fromWire(m.error));
        }
        return;
      }
      case 'result': {
        const c = this.calls.get(m.id);
        if (!c) return;
        this.calls.delete(m.id);
        clearTimeout(c.timer);
        c.resolve(m.value);
        return;
      }
      case 'stats':
        this.stats = m.stats;
        this.maintenance = m.maintenance;
        this.maxStepMs = m.max_step_ms;
        this.steps = m.steps;
        this.workerMemory = m.memory;
        return;
      case 'dropped':
        this.metrics.pointsDropped.inc({ reason: m.reason }, m.points);
        return;
      case 'error':
        this.metrics.errors.inc({ component: m.component });
        // Once a minute at most per component and error code (maintenance on a full disk fails at every try).
        this.failures.failed(`${m.component}:${m.error.code ?? m.error.name}`, fromWire(m.error), m.message, { component: m.component, disk_full: isDiskFull(m.error) });
        return;
      case 'log':
        this.log[m.level](m.fields ?? {}, m.msg);
        return;
      default:
        return;
    }
  }

  private writeFailed(w: PendingWrite, wire: WireError): void {
    const err = fromWire(wire);
    const diskFull = isDiskFull(err);
    this.lastFailure = { at: Date.now(), message: err.message, diskFull };
    this.metrics.errors.inc({ component: 'store' });
    this.metrics.pointsDropped.inc({ reason: diskFull ? 'store_disk_full' : 'store_write_failed' }, w.points);
    this.failures.failed('write', err, 'embedded store write failed: points not stored', { component: 'store', points: w.points, disk_full: diskFull });
    if (this.role === 'mirror') w.resolve();
    else w.reject(err);
  }

  /** Not committed: counted, then resolved (mirror) or rejected (sink). */
  private refuse(points: number, reason: string, err: Error): Promise<void> {
    this.metrics.pointsDropped.inc({ reason }, points);
    this.metrics.errors.inc({ component: 'store' });
    // A worker that is down shows in health by itself, and stops showing once it is back.
    if (reason !== 'store_unavailable') this.lastFailure = { at: Date.now(), message: err.message, diskFull: false };
    return this.role === 'mirror' ? Promise.resolve() : Promise.reject(err);
  }

  private call(op: CallName, args: unknown[]): Promise<unknown> {
    if (!this.worker || !this.ready) return Promise.reject(new StoreUnavailableError('embedded store is not running', 'store_not_running'));
    if (this.calls.size >= this.maxQueries) {
      return Promise.reject(new StoreUnavailableError(`embedded store busy: ${this.calls.size} queries in flight`, 'store_busy'));
    }
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(id);
        reject(new StoreUnavailableError(`embedded store query ${op} took longer than ${this.queryTimeoutMs} ms`, 'store_timeout'));
      }, this.queryTimeoutMs);
      timer.unref();
      this.calls.set(id, { resolve, reject, timer });
      this.post({ type: 'call', id, op, args });
    });
  }

  private post(m: ToWorker): void {
    this.worker!.postMessage(m);
  }

  /** A worker that exits while we run: fail what it held, restart it with backoff. */
  private onExit(worker: Worker, code: number): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.ready = false;
    this.failAll(new StoreUnavailableError(`embedded store worker exited (${code})`, 'store_not_running'));
    if (this.shuttingDown) return;
    this.workerDown = `worker exited with code ${code}`;
    this.metrics.errors.inc({ component: 'store' });
    const delay = Math.min(MAX_RESTART_BACKOFF_MS, 1000 * 2 ** Math.min(this.restarts, 15));
    this.restarts++;
    this.log.error({ code, restart_in_ms: delay }, 'embedded store worker exited: restarting it');
    this.restartTimer = setTimeout(() => {
      this.spawn().catch((err: Error) => {
        this.workerDown = err.message;
        this.log.error({ err }, 'embedded store worker could not restart');
        this.onExit(this.worker ?? worker, -1);
      });
    }, delay);
    this.restartTimer.unref();
  }

  private failAll(err: StoreUnavailableError): void {
    for (const [id, w] of this.writes) {
      this.writes.delete(id);
      this.queuedPoints -= w.points;
      this.metrics.pointsDropped.inc({ reason: 'store_unavailable' }, w.points);
      if (this.role === 'mirror') w.resolve();
      else w.reject(err);
    }
    for (const [id, c] of this.calls) {
      this.calls.delete(id);
      clearTimeout(c.timer);
      c.reject(err);
    }
  }
}
