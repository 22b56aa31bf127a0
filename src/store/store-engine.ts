import { statSync } from 'node:fs';
import type { Db } from '../sqlite/sqlite-db.js';
import type { RollupSpec, SparklineSpec } from '../samples/rollup.js';
import type { AnySample } from '../samples/sample.js';
import { FieldLayouts } from './field-layouts.js';
import { Ingest } from './ingest.js';
import { LatestRunner } from './queries/latest.js';
import { Lookups } from './queries/lookups.js';
import { PointsQuery } from './queries/points.js';
import { RoutesRunner } from './queries/routes.js';
import { SeriesRunner } from './queries/series.js';
import { SparklinesRunner } from './queries/sparklines.js';
import { Retention, type DropReason } from './retention.js';
import { registerEchoPercentile, rollupsWith } from './rollup-spec.js';
import { Rollups } from './rollups.js';
import { createSchema } from './schema.js';
import type { LatestState, PointQuery, PointsResult, RoutesQuery, RoutesResult, SeriesQuery, SeriesResult, Sparkline, SparklineOptions } from './types.js';

export interface EngineOptions {
  /** EMBEDDED_RAW_HOURS in ms: raw points are kept this long. */
  rawWindowMs: number;
  /** EMBEDDED_RETENTION_DAYS in ms: everything is kept at most this long. */
  retentionMs: number;
  /** EMBEDDED_MAX_BYTES: database file + WAL. */
  maxBytes: number;
  /** The WAL's share of maxBytes (its journal_size_limit). */
  walAllowanceBytes: number;
  /** What the probes want kept after the raw window (registry rollupsOf()); the probe-run counts are added. */
  rollups: readonly RollupSpec[];
  /** The overview's sparkline (registry sparklineOf()); none without. */
  sparkline?: SparklineSpec;
}

export interface EngineHooks {
  now?: () => number;
  onDropped?: (reason: DropReason, points: number) => void;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/** What one maintenance step did (the worker reports its longest step of each kind). */
export type MaintenanceWork = 'rollup' | 'raw' | 'pass' | 'vacuum';

export interface EngineStats {
  file_bytes: number;
  wal_bytes: number;
  used_bytes: number;
  /** Oldest raw point (epoch ms) or null. */
  raw_oldest_ms: number | null;
  /** Oldest time any data may be from (age, size floor, start of the store). */
  oldest_kept_ms: number;
  /** The size bound's floor (epoch ms), 0 while the bound never bit. */
  size_floor_ms: number;
  rollup_lag_ms: Record<string, number>;
}

/**
 * Everything the store does, on one connection, synchronously: the worker
 * thread (store-worker.ts) owns an engine and feeds it messages, so none of
 * this runs on the daemon's event loop. Tests and the benchmark drive an
 * engine directly with a clock of their own.
 */
export class StoreEngine {
  readonly now: () => number;
  private readonly layouts: FieldLayouts;
  private readonly ingest: Ingest;
  private readonly rollups: Rollups;
  private readonly retention: Retention;
  private readonly lookups: Lookups;
  private readonly points: PointsQuery;
  private readonly seriesRunner: SeriesRunner;
  private readonly routesRunner: RoutesRunner;
  private readonly sparklinesRunner: SparklinesRunner;
  private readonly latestRunner: LatestRunner;

  constructor(
    private readonly db: Db,
    private readonly o: EngineOptions,
    hooks: EngineHooks = {},
  ) {
    const now = (this.now = hooks.now ?? Date.now);
    const kinds = rollupsWith(o.rollups);
    createSchema(db, kinds);
    registerEchoPercentile(db);
    this.layouts = new FieldLayouts(db);
    this.rollups = new Rollups(db, this.layouts, kinds, now);
    this.ingest = new Ingest(db, this.layouts, (t) => this.rollups.watermark(t), kinds);
    this.lookups = new Lookups(db, this.layouts);
    this.retention = new Retention(
      db,
      this.layouts,
      this.rollups,
      o,
      now,
      hooks.onDropped ?? (() => {}),
      () => {
        this.ingest.forgetIds();
        this.lookups.forget();
      },
    );
    this.points = new PointsQuery(db, this.lookups, now);
    this.seriesRunner = new SeriesRunner(db, this.lookups, this.rollups, o, now);
    this.routesRunner = new RoutesRunner(db, this.lookups, now, o.retentionMs);
    this.sparklinesRunner = new SparklinesRunner(db, this.lookups, now, o.rawWindowMs, o.sparkline);
    this.latestRunner = new LatestRunner(db, this.lookups);
  }

  /** Commit a batch in one transaction; returns the points written. */
  write(samples: readonly AnySample[]): number {
    return this.ingest.writeBatch(samples);
  }

  query(q: PointQuery): PointsResult {
    return this.points.run(q);
  }

  series(q: SeriesQuery): SeriesResult {
    return this.seriesRunner.run(q);
  }

  routes(q: RoutesQuery): RoutesResult {
    return this.routesRunner.run(q);
  }

  sparklines(targets: readonly string[], o?: SparklineOptions): Record<string, Sparkline> {
    return this.sparklinesRunner.run(targets, o);
  }

  latest(targets?: readonly string[]): LatestState[] {
    return this.latestRunner.run(targets);
  }

  /**
   * One bounded unit of background work (a rollup step, a retention step:
   * raw rows, the per-target pass, a vacuum step); undefined when nothing is
   * due.
   */
  maintain(): MaintenanceWork | undefined {
    if (this.rollups.step()) return 'rollup';
    return this.retention.step();
  }

  /** Run maintenance until nothing is due (tests, benchmark). */
  maintainAll(maxSteps = 1_000_000): number {
    let n = 0;
    while (n < maxSteps && this.maintain()) n++;
    return n;
  }

  stats(): EngineStats {
    const raw = this.retention.oldestRaw();
    return {
      file_bytes: this.retention.fileBytes(),
      wal_bytes: this.walBytes(),
      used_bytes: this.retention.usedBytes(),
      raw_oldest_ms: raw ?? null,
      oldest_kept_ms: this.retention.oldestKept,
      size_floor_ms: this.retention.sizeFloor,
      rollup_lag_ms: this.rollups.lagMs(),
    };
  }

  private walBytes(): number {
    try {
      return statSync(`${this.db.name}-wal`).size;
    } catch {
      return 0;
    }
  }
}
