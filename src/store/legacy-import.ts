import Database from 'better-sqlite3';
import { existsSync, unlinkSync } from 'node:fs';
import type { AnySample } from '../samples/sample.js';

/** Rows read per step: a few milliseconds of work. */
const BATCH = 500;

type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

interface OldRow {
  ts: number;
  measurement: string;
  series: string;
  tags: string;
  fields: string;
}

/**
 * The store before src/store/ kept every point in DATA_DIR/points.db, table
 * points(ts, measurement, series, target, tags, fields) (key (ts,
 * measurement, series), or (measurement, series, ts) in its first layout).
 * Its points within the retention are replayed through the normal write
 * path in time order, a batch per maintenance step, so rollups and route
 * history come out as if they had been written live; then the old file is
 * deleted. A restart before the end starts the import over: points are
 * replayed with INSERT OR REPLACE, so a point imported twice is one point.
 */
export class LegacyImport {
  done = false;
  private cursor: { ts: number; measurement: string; series: string };
  private readonly next;
  imported = 0;

  private constructor(
    private readonly path: string,
    private readonly db: Database.Database,
    readonly oldestMs: number,
    private readonly log?: Log,
  ) {
    this.cursor = { ts: oldestMs - 1, measurement: '', series: '' };
    this.next = db.prepare(
      'SELECT ts, measurement, series, tags, fields FROM points WHERE (ts, measurement, series) > (?, ?, ?) ORDER BY ts, measurement, series LIMIT ?',
    );
  }

  /** An importer for `path`, or undefined when there is nothing (left) to import. */
  static open(path: string, sinceMs: number, log?: Log): LegacyImport | undefined {
    if (!existsSync(path)) return undefined;
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { fileMustExist: true });
      const hasPoints = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'points'").get();
      const oldest = hasPoints ? (db.prepare('SELECT min(ts) AS m FROM points WHERE ts >= ?').get(sinceMs) as { m: number | null }).m : null;
      if (oldest === null) {
        db.close();
        removeFiles(path);
        log?.('info', 'old points.db held nothing within the retention: removed', { file: path });
        return undefined;
      }
      log?.('info', 'importing the previous store (points.db) in the background', { file: path, oldest: new Date(oldest).toISOString() });
      return new LegacyImport(path, db, oldest, log);
    } catch (err) {
      db?.close();
      log?.('error', 'cannot read the previous store (points.db): left in place, not imported', { file: path, error: (err as Error).message });
      return undefined;
    }
  }

  /** Import one batch; returns whether there was one. */
  step(write: (batch: readonly AnySample[]) => number): boolean {
    if (this.done) return false;
    const c = this.cursor;
    const rows = this.next.all(c.ts, c.measurement, c.series, BATCH) as OldRow[];
    if (!rows.length) {
      this.finish();
      return true;
    }
    write(
      rows.map((r) => ({
        measurement: r.measurement,
        tags: JSON.parse(r.tags) as Record<string, string>,
        fields: JSON.parse(r.fields) as Record<string, never>,
        timeMs: r.ts,
      })) as AnySample[],
    );
    this.imported += rows.length;
    const last = rows[rows.length - 1]!;
    this.cursor = { ts: last.ts, measurement: last.measurement, series: last.series };
    return true;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private finish(): void {
    this.done = true;
    this.close();
    removeFiles(this.path);
    this.log?.('info', 'previous store imported and removed', { file: this.path, points: this.imported });
  }
}

function removeFiles(path: string): void {
  for (const ext of ['', '-wal', '-shm']) {
    try {
      unlinkSync(path + ext);
    } catch {
      // not there
    }
  }
}
