import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { BaseComponent, worstStatus, type ComponentHealth, type Deadline, type HealthStatus } from '../lifecycle/component.js';
import type { ErrorReporter } from '../lifecycle/error-reporter.js';
import { FailureLog } from '../logging/failure-log.js';
import { SupervisedLoop } from '../lifecycle/supervised-loop.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { AnySample } from '../samples/sample.js';
import { canWrite, closeDb, isBusy, isCorrupt, isDiskFull, openDb, setAside, type Db } from '../sqlite/sqlite-db.js';
import { EndpointWriter, type WriterOptions } from './endpoint-writer.js';
import type { HandoffReceiver, HandoffRow, OutboxHandoff } from './handoff.js';
import { Outbox, walReserve } from './outbox.js';
import { salvageInto } from './salvage.js';
import { encodePoint, toStoredPoint } from './stored-point.js';
import type { Transport } from './transports/transport.js';

export interface OutboxSinkOptions {
  dataDir: string;
  /** OUTBOX_MAX_BYTES: outbox.db and its WAL on disk. */
  maxBytes: number;
  writer: WriterOptions;
}

/**
 * How long a write waits for another process's lock on outbox.db before the
 * points are refused (counted): asynchronous retries, the event loop free.
 */
const LOCK_WAIT_MS = 5000;
const FILE = 'outbox.db';

/**
 * The sink in front of every remote database: samples become transport-neutral
 * points, committed to the outbox (disk, synchronous=FULL: what write()
 * acknowledged survives a power loss) before write() settles; one
 * EndpointWriter per endpoint drains it through its Transport (mirror mode:
 * every point to every endpoint, each with its own cursor, so an endpoint
 * that was down catches up alone).
 *
 * Health: failing when the disk refuses points (full, I/O error, locked for
 * longer than LOCK_WAIT_MS) or a writer loop is stalled; degraded when an
 * endpoint fails (the points wait safely on disk); ok otherwise.
 */
/** Whether this stop is a departure for good (src/cluster/departure.ts), and why. */
export type DepartureCheck = () => Promise<{ leaving: boolean; why: string }>;

export class OutboxSink extends BaseComponent implements HandoffReceiver {
  readonly kind = 'outbox';
  readonly name = 'sink';
  private db?: Db;
  private box?: Outbox;
  readonly writers: EndpointWriter[];
  private readonly maintenance: SupervisedLoop;
  private chain: Promise<void> = Promise.resolve();
  /** Open and taking points: from the end of start() to the end of stop(). */
  private isOpen = false;
  private handoff?: { to: OutboxHandoff; departure: DepartureCheck };
  private lastDiskError?: { at: number; message: string; reason: string };
  private lastAppendAt?: number;
  private readonly failures: FailureLog;
  private lastPoints = 0;
  private diskBytes = 0;
  /** Since start: points committed, pushed out by the bound, refused at the door. */
  private stored = 0;
  private droppedFull = 0;
  private refused = 0;

  constructor(
    transports: readonly Transport[],
    private readonly o: OutboxSinkOptions,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
    /** The daemon's (reportErrors): the disk's refusals and the loops' errors. */
    private readonly reporter: ErrorReporter,
  ) {
    super();
    this.failures = new FailureLog(log);
    this.writers = transports.map((t) => new EndpointWriter(() => this.outbox, t, o.writer, metrics, log, this.reporter));
    this.maintenance = new SupervisedLoop(
      {
        name: 'outbox_maintenance',
        periodMs: 1000,
        tick: () => {
          this.outbox.maintain();
          this.diskBytes = this.outbox.usedBytes();
        },
      },
      this.reporter,
    );
  }

  /**
   * Cluster mode: a departure for good hands what is not delivered in time
   * over to the other replicas (src/outbox/handoff.ts), and this outbox
   * takes in what others hand over.
   */
  attachHandoff(to: OutboxHandoff, departure: DepartureCheck): void {
    this.handoff = { to, departure };
    to.attach(this);
  }

  /** Taking hand-overs: open and not stopping (once stop begins, hand-off entries are left for the other replicas). */
  get accepting(): boolean {
    return this.isOpen && !this.stopped;
  }

  /** Rows another replica handed over: committed here like our own points, then delivered by our writers. */
  adopt(rows: readonly HandoffRow[]): Promise<void> {
    if (!this.accepting) return Promise.reject(new Error('outbox sink is stopping'));
    const done = this.chain.then(() => {
      const dropped = this.outbox.adopt(rows);
      this.stored += rows.length;
      if (dropped.points > 0) {
        this.droppedFull += dropped.points;
        this.metrics.pointsDropped.inc({ reason: 'outbox_full' }, dropped.points);
        this.log.warn({ dropped_points: dropped.points, max_bytes: this.o.maxBytes }, 'outbox full: oldest points dropped');
      }
      this.diskBytes = this.outbox.usedBytes();
      for (const w of this.writers) w.wake();
    });
    this.chain = done.catch(() => {});
    return done;
  }

  /** The open outbox (after start). */
  get outbox(): Outbox {
    if (!this.box) throw new Error('outbox sink not started');
    return this.box;
  }

  protected async onStart(): Promise<void> {
    let setAsideAt: string | undefined;
    const openOpts = { synchronous: 'FULL' as const, journalSizeLimit: walReserve(this.o.maxBytes), log: this.log, onSetAside: (p: string) => (setAsideAt = p) };
    this.db = openDb(this.o.dataDir, FILE, openOpts);
    try {
      this.box = new Outbox(this.db, { maxBytes: this.o.maxBytes, log: this.log }).open();
    } catch (err) {
      if (!isCorrupt(err)) throw err;
      // A damaged page inside a file whose header reads fine: set it aside like openDb does.
      closeDb(this.db);
      setAsideAt = setAside(join(resolve(this.o.dataDir), FILE));
      this.log.warn({ moved_to: setAsideAt, error: (err as Error).message }, 'outbox.db is damaged: set aside, starting a fresh one');
      this.db = openDb(this.o.dataDir, FILE, openOpts);
      this.box = new Outbox(this.db, { maxBytes: this.o.maxBytes, log: this.log }).open();
    }
    if (setAsideAt) {
      const r = salvageInto(setAsideAt, this.box);
      this.log.warn({ from: setAsideAt, rows: r.rows, unreadable_ranges: r.unreadableRanges, ...(r.error ? { error: r.error } : {}) }, `salvaged ${r.rows} points from the damaged outbox`);
    }
    const names = this.writers.map((w) => w.name);
    this.box.retain(names);
    for (const n of names) this.box.register(n);
    this.diskBytes = this.box.usedBytes();
    this.metrics.outboxMaxBytes.set(this.o.maxBytes);
    this.metrics.onCollect(() => {
      if (!this.isOpen) return;
      const box = this.outbox;
      this.metrics.outboxPoints.set(box.points);
      this.metrics.outboxBytes.set(this.diskBytes);
      this.metrics.outboxOldestAge.set(box.oldestAgeMs() / 1000);
      for (const w of this.writers) {
        this.metrics.outboxPending.set({ endpoint: w.name }, box.pending(w.name));
        this.metrics.endpointUp.set({ endpoint: w.name }, w.failing ? 0 : 1);
      }
    });
    this.isOpen = true;
    if (this.box.points > 0) this.log.info({ points: this.box.points }, 'outbox holds points from before the restart; delivering');
    for (const w of this.writers) w.start();
    this.maintenance.start();
  }

  /**
   * Commit the samples; settles once they are on disk. Rejects (after
   * counting them in telemetry_points_dropped_total{reason}) when the disk
   * refuses them: full (disk_full), locked by another process for longer
   * than LOCK_WAIT_MS (outbox_locked), or another I/O error (disk_error).
   */
  write(samples: readonly AnySample[]): Promise<void> {
    if (!this.isOpen) return Promise.reject(new Error(`outbox sink is ${this.stopped ? 'closed' : 'not started'}`));
    const bodies: string[] = [];
    for (const s of samples) {
      const p = toStoredPoint(s);
      if (p) bodies.push(encodePoint(p));
    }
    if (!bodies.length) return Promise.resolve();
    // One commit at a time, in order: a write waiting out a lock holds the ones after it.
    const done = this.chain.then(() => this.commit(bodies));
    this.chain = done.catch(() => {});
    return done;
  }

  private async commit(bodies: string[]): Promise<void> {
    const giveUpAt = Date.now() + LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      if (!this.isOpen) throw new Error('outbox sink closed before the points were committed');
      try {
        const dropped = this.outbox.append(bodies);
        this.lastAppendAt = Date.now();
        if (this.lastDiskError) this.failures.resolved(this.lastDiskError.reason, 'outbox: points stored again');
        this.stored += bodies.length;
        this.metrics.pointsStored.inc(bodies.length);
        if (dropped.points > 0) {
          this.droppedFull += dropped.points;
          this.metrics.pointsDropped.inc({ reason: 'outbox_full' }, dropped.points);
          this.log.warn({ dropped_points: dropped.points, dropped_bytes: dropped.bytes, max_bytes: this.o.maxBytes }, 'outbox full: oldest points dropped');
        }
        this.diskBytes = this.outbox.usedBytes();
        for (const w of this.writers) if (this.outbox.pending(w.name) >= this.o.writer.batchSize) w.wake();
        return;
      } catch (err) {
        if (isBusy(err) && Date.now() < giveUpAt) {
          await new Promise((r) => setTimeout(r, Math.min(500, 25 * 2 ** attempt)));
          continue;
        }
        const reason = isDiskFull(err) ? 'disk_full' : isBusy(err) ? 'outbox_locked' : 'disk_error';
        const message = reason === 'outbox_locked' ? `outbox.db locked by another process for ${LOCK_WAIT_MS / 1000} s` : (err as Error).message;
        this.refused += bodies.length;
        this.metrics.pointsDropped.inc({ reason }, bodies.length);
        this.lastDiskError = { at: Date.now(), message, reason };
        // Counted every time; logged once a minute at most (a full disk refuses every commit, several a second).
        this.metrics.errors.inc({ component: 'outbox' });
        this.failures.failed(reason, Object.assign(err as Error, { code: (err as { code?: string }).code ?? reason }), `outbox: points not stored: ${message}`, { component: 'outbox', points: bodies.length, reason });
        throw Object.assign(new Error(`outbox: ${bodies.length} points not stored (${reason}): ${message}`), { code: reason });
      }
    }
  }

  health(): ComponentHealth {
    if (!this.isOpen) return this.stopped ? { status: 'ok', kind: this.kind, outbox_points: this.lastPoints, closed: true } : { status: 'ok', kind: this.kind, running: false };
    const box = this.outbox;
    const diskFailing = this.lastDiskError !== undefined && (this.lastAppendAt === undefined || this.lastDiskError.at > this.lastAppendAt);
    const endpoints = this.writers.map((w) => w.health());
    const maintenance = this.maintenance.health();
    const statuses: HealthStatus[] = [...endpoints.map((e) => e.status), maintenance.status === 'failing' ? 'failing' : 'ok', diskFailing ? 'failing' : 'ok'];
    const stalled = endpoints.filter((e) => e.status === 'failing').map((e) => e.endpoint);
    return {
      status: worstStatus(statuses),
      kind: this.kind,
      outbox_points: box.points,
      outbox_bytes: this.diskBytes,
      outbox_file_bytes: box.fileBytes(),
      outbox_max_bytes: this.o.maxBytes,
      points_stored: this.stored,
      points_dropped_outbox_full: this.droppedFull,
      points_refused: this.refused,
      outbox_oldest_age_s: Math.round(box.oldestAgeMs() / 100) / 10,
      endpoints,
      maintenance,
      ...(diskFailing ? { error: `disk: ${this.lastDiskError!.message}`, reason: this.lastDiskError!.reason } : {}),
      ...(stalled.length ? { problem: `writer stalled: ${stalled.join(', ')}` } : {}),
    };
  }

  writable(): boolean {
    return this.isOpen && canWrite(this.db!);
  }

  /** Points not yet acknowledged by every endpoint, and per endpoint (sinks/sink.ts Backlog). */
  backlog(): { points: number; pending: Record<string, number> } | undefined {
    if (!this.isOpen) return this.stopped ? { points: this.lastPoints, pending: {} } : undefined;
    return { points: this.outbox.points, pending: Object.fromEntries(this.writers.map((w) => [w.name, this.outbox.pending(w.name)])) };
  }

  /** SIGTERM: deliver for at most the deadline; what is left stays on disk for the next start. */
  protected async onStop(deadline: Deadline): Promise<void> {
    if (!this.isOpen) {
      // A start that failed half-way: release what it opened.
      if (this.db) closeDb(this.db);
      return;
    }
    await this.chain;
    const departure = this.handoff ? await this.askDeparture(deadline) : undefined;
    if (departure?.leaving) {
      // Deliver what the endpoints take in half the time left (a writer whose
      // endpoint is failing gives up at once); the rest goes to the cluster.
      await Promise.all(this.writers.map((w) => w.stop(deadline.within(deadline.remaining() / 2))));
      await this.handOver(deadline);
    } else {
      await Promise.all(this.writers.map((w) => w.stop(deadline)));
    }
    await this.maintenance.stop(deadline);
    this.lastPoints = this.outbox.points;
    this.isOpen = false;
    if (this.lastPoints > 0) this.log.info({ points: this.lastPoints }, 'outbox kept on disk for the next start');
    closeDb(this.db!);
  }

  private async askDeparture(deadline: Deadline): Promise<{ leaving: boolean; why: string }> {
    const d = (await deadline.within(Math.min(3000, deadline.remaining() / 5)).race(this.handoff!.departure().catch((err: Error) => ({ leaving: true, why: `departure check failed (${err.message}): handing over` })))) ?? {
      leaving: true,
      why: 'the departure check did not answer in time: handing over',
    };
    this.log.info({ leaving: d.leaving }, `stop: ${d.why}`);
    return d;
  }

  /** Leaving for good: every row an endpoint still needs goes to the cluster's hand-off stream, oldest first. */
  private async handOver(deadline: Deadline): Promise<void> {
    const box = this.outbox;
    const total = box.points;
    if (total === 0) return;
    const to = this.handoff!.to;
    let after = box.lowestCursor();
    let chunk: ReturnType<Outbox['rowsAfter']> = [];
    const res = await to.handOver(
      () => {
        chunk = box.rowsAfter(after, to.chunkRows);
        return chunk.map((r) => ({ enc: r.enc, body: r.body, ts_ms: r.ts_ms }));
      },
      () => {
        after = chunk[chunk.length - 1]!.seq;
        box.release(after);
      },
      deadline,
    );
    const left = box.points;
    if (res.rows) this.log.info({ points: res.rows }, 'handed the points not yet delivered over to the cluster (another replica delivers them)');
    if (left > 0) this.log.warn({ points: left, stopped_by: res.stoppedBy }, 'points not handed over stay in outbox.db on this volume: start this ordinal again to deliver them');
  }
}
