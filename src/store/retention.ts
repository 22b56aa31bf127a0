import type { Db } from '../sqlite/sqlite-db.js';
import type { FieldLayouts } from './field-layouts.js';
import { TIERS, tableOf } from './rollup-spec.js';
import type { Rollups } from './rollups.js';
import { getMeta, setMeta } from './schema.js';
import { StepSizer } from './step-sizer.js';

export type DropReason = 'retention' | 'store_max_bytes';

export interface RetentionOptions {
  rawWindowMs: number;
  retentionMs: number;
  /** EMBEDDED_MAX_BYTES: main file + WAL. */
  maxBytes: number;
  /** The WAL's share of maxBytes (its journal_size_limit); the main file's pages get the rest. */
  walAllowanceBytes: number;
}

/** Series rows examined per step when pruning series nobody writes anymore. */
const SERIES_PER_STEP = 1000;
/** The per-target pass runs this often (and whenever the size bound moves the floor). */
const PASS_EVERY_MS = 3_600_000;
/** Pages returned to the file system per incremental_vacuum step (256 KiB). */
const VACUUM_PAGES = 64;
/** Free pages kept for reuse before they are given back to the file system. */
const FREE_SLACK_BYTES = 16 * 1024 * 1024;
/** Once over the bound, trim until this fraction of it is used (so trimming does not run on every write). */
const LOW_WATER = 0.9;

interface Pass {
  /** Cutoffs by age, and the size floor (everything before it goes, counted as store_max_bytes). */
  ageCutoff: number;
  floor: number;
  tids: number[];
  next: number;
  seriesCursor: number;
}

/**
 * Age and size bounds, in small steps (each one statement of bounded work,
 * run by the maintenance loop between writes and queries):
 *
 * - raw points leave after EMBEDDED_RAW_HOURS — never before every rollup
 *   tier has them — counted as telemetry_points_dropped_total{reason="retention"};
 * - rollup buckets, routes, route changes and latest states leave after
 *   their tier's keep or EMBEDDED_RETENTION_DAYS (hourly per-target pass);
 * - EMBEDDED_MAX_BYTES: when the used pages pass the bound, a floor moves
 *   forward from the oldest data and everything before it goes, oldest
 *   first, whatever its tier — counted as {reason="store_max_bytes"} (raw
 *   rows, and the slots a dropped bucket summarized);
 * - freed pages go back to the file system through incremental_vacuum, a
 *   megabyte at a time, so the file follows the bound down.
 */
export class Retention {
  /** Nothing older than this stays (moved forward by the size bound only). */
  private floor = 0;
  /** When this store began keeping data (meta first_ts): no data is older. */
  private historyStart: number;
  private pass?: Pass;
  private lastPassAt = 0;
  private readonly st;
  /** Raw rows removed per statement. */
  private readonly rawBatch = new StepSizer(500, 50, 20_000);
  /** Targets handled per step of the per-target pass (rollup tiers, routes, latest). */
  private readonly targetsPerStep = new StepSizer(50);

  constructor(
    private readonly db: Db,
    private readonly layouts: FieldLayouts,
    private readonly rollups: Rollups,
    private readonly o: RetentionOptions,
    private readonly now: () => number,
    private readonly onDropped: (reason: DropReason, points: number) => void,
    private readonly onSeriesPruned: () => void,
  ) {
    this.historyStart = getMeta(db, 'first_ts') ?? now();
    setMeta(db, 'first_ts', this.historyStart);
    const tierTables = rollups.kinds.flatMap((k) => TIERS.map((t) => ({ t, table: tableOf(k, t) })));
    this.st = {
      rawDelete: db.prepare('DELETE FROM raw WHERE mid = ? AND ts < ? LIMIT ?'),
      rawOldest: db.prepare('SELECT min(ts) FROM times').pluck(),
      timesDelete: db.prepare('DELETE FROM times WHERE ts < ? LIMIT ?'),
      tids: db.prepare('SELECT tid FROM targets ORDER BY tid').pluck(),
      tiers: tierTables.map(({ t, table }) => ({ t, del: db.prepare(`DELETE FROM ${table} WHERE tid = ? AND b < ? RETURNING n`).pluck() })),
      routes: db.prepare('DELETE FROM routes WHERE tid = ? AND last_seen < ?'),
      changes: db.prepare('DELETE FROM route_changes WHERE tid = ? AND ts < ?'),
      latest: db.prepare('DELETE FROM latest WHERE tid = ? AND ts < ?'),
      series: db.prepare('SELECT sid, last_ts AS lastTs FROM series WHERE sid > ? ORDER BY sid LIMIT ?'),
      seriesDelete: db.prepare('DELETE FROM series WHERE sid = ?'),
    };
  }

  /** Bytes of the main file in use (not free pages). */
  usedBytes(): number {
    const pages = Number(this.db.pragma('page_count', { simple: true }));
    const free = Number(this.db.pragma('freelist_count', { simple: true }));
    return (pages - free) * Number(this.db.pragma('page_size', { simple: true }));
  }

  fileBytes(): number {
    return Number(this.db.pragma('page_count', { simple: true })) * Number(this.db.pragma('page_size', { simple: true }));
  }

  private get budget(): number {
    return Math.max(1024 * 1024, this.o.maxBytes - this.o.walAllowanceBytes);
  }

  /** The oldest time still kept by the size bound (0 when the bound never bit). */
  get sizeFloor(): number {
    return this.floor;
  }

  /** Oldest raw point kept (undefined when there is none). */
  oldestRaw(): number | undefined {
    return (this.st.rawOldest.get() as number | null) ?? undefined;
  }

  /** One bounded unit of work; false when there is nothing to do. */
  step(): 'raw' | 'pass' | 'vacuum' | undefined {
    const now = this.now();
    this.checkSize(now);
    if (this.stepRaw(now)) return 'raw';
    if (this.stepPass(now)) return 'pass';
    return this.stepVacuum() ? 'vacuum' : undefined;
  }

  private checkSize(now: number): void {
    // The WAL is bounded on its own (journal_size_limit, checkpoints); trimming
    // data cannot shrink it, so the data pages answer to the rest of the bound.
    const used = this.usedBytes();
    if (used <= this.budget) return;
    if (this.pass && this.pass.floor >= this.floor && this.floor > 0) return; // a trim pass is on its way
    // Move the floor forward by the share of the data we must lose, at least
    // an hour: data is not spread evenly over time (raw is dense), so the
    // next check moves it again if that was not enough.
    const start = Math.max(this.floor, now - this.o.retentionMs, this.historyStart);
    const share = 1 - (LOW_WATER * this.budget) / used;
    this.floor = Math.min(now, start + Math.max(3_600_000, share * (now - start)));
    this.pass = undefined; // restart the per-target pass with the new floor
    this.lastPassAt = 0;
  }

  /** The oldest time any data may still be from. */
  get oldestKept(): number {
    return Math.max(this.floor, this.now() - this.o.retentionMs, this.historyStart);
  }

  /** Raw rows past their window (rolled up first), then past the size floor. */
  private stepRaw(now: number): boolean {
    const ageCut = Math.min(now - this.o.rawWindowMs, this.rollups.safeToDelete);
    // Every measurement known now: one first written after start (hop, collector...) too.
    for (const { mid } of this.layouts.all) {
      const aged = this.rawBatch.run((n) => this.st.rawDelete.run(mid, ageCut, n).changes, (deleted) => deleted);
      if (aged > 0) {
        this.onDropped('retention', aged);
        return true;
      }
      if (this.floor > ageCut) {
        const forced = this.rawBatch.run((n) => this.st.rawDelete.run(mid, this.floor, n).changes, (deleted) => deleted);
        if (forced > 0) {
          this.onDropped('store_max_bytes', forced);
          return true;
        }
      }
    }
    // No raw point is left before the cut: its times go too.
    return this.st.timesDelete.run(Math.max(ageCut, this.floor), 5000).changes > 0;
  }

  /** Per target: rollup buckets, routes, changes and latest states past their age or the floor. */
  private stepPass(now: number): boolean {
    if (!this.pass) {
      if (now - this.lastPassAt < PASS_EVERY_MS) return false;
      this.lastPassAt = now;
      this.pass = { ageCutoff: now - this.o.retentionMs, floor: this.floor, tids: this.st.tids.all() as number[], next: 0, seriesCursor: 0 };
    }
    const p = this.pass;
    if (p.next < p.tids.length) {
      this.targetsPerStep.run(
        (n) =>
          this.db.transaction(() => {
            const start = p.next;
            const end = Math.min(p.tids.length, p.next + n);
            for (; p.next < end; p.next++) this.trimTarget(p.tids[p.next]!, p, now);
            return end - start;
          })(),
        (done) => done,
      );
      return true;
    }
    return this.pruneSeries(p);
  }

  private trimTarget(tid: number, p: Pass, now: number): void {
    for (const { t, del } of this.st.tiers) {
      const age = now - Math.min(t.keepMs, this.o.retentionMs);
      del.all(tid, age);
      if (p.floor > age) {
        const summarized = (del.all(tid, p.floor) as (number | null)[]).reduce<number>((a, n) => a + (n ?? 0), 0);
        if (summarized > 0) this.onDropped('store_max_bytes', summarized);
      }
    }
    const cut = Math.max(p.ageCutoff, p.floor);
    this.st.routes.run(tid, cut);
    this.st.changes.run(tid, cut);
    this.st.latest.run(tid, cut);
  }

  /**
   * Series not written for longer than the retention and with no raw point
   * left. last_ts is refreshed hourly, hence the margin.
   */
  private pruneSeries(p: Pass): boolean {
    const rows = this.st.series.all(p.seriesCursor, SERIES_PER_STEP) as { sid: number; lastTs: number }[];
    if (!rows.length) {
      // Done: the next step checks the size again (the pass may not have freed enough).
      this.pass = undefined;
      return true;
    }
    const cut = Math.min(Math.max(p.ageCutoff, p.floor), this.oldestRaw() ?? Number.POSITIVE_INFINITY) - 2 * 3_600_000;
    let pruned = 0;
    this.db.transaction(() => {
      for (const r of rows) {
        if (r.lastTs < cut) pruned += this.st.seriesDelete.run(r.sid).changes;
      }
    })();
    p.seriesCursor = rows[rows.length - 1]!.sid;
    if (pruned) this.onSeriesPruned();
    return true;
  }

  /** Give free pages back: always past the bound, otherwise beyond a reuse slack. */
  private stepVacuum(): boolean {
    const pageSize = Number(this.db.pragma('page_size', { simple: true }));
    const free = Number(this.db.pragma('freelist_count', { simple: true }));
    if (free === 0) return false;
    const overBound = this.fileBytes() > this.budget;
    if (!overBound && free * pageSize <= FREE_SLACK_BYTES) return false;
    this.db.pragma(`incremental_vacuum(${VACUUM_PAGES})`);
    return true;
  }
}
