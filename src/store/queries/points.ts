import type { Db } from '../../sqlite/sqlite-db.js';
import type { PointQuery, PointsResult, StoredPoint } from '../types.js';
import { iso, type Lookups } from './lookups.js';

/** Without `since`, /api/points looks at the hour before `until` (or now). */
export const DEFAULT_WINDOW_MS = 3_600_000;
/**
 * Most index entries a target + measurement query walks (the target's other
 * measurements are skipped inside the index). Beyond it the answer is
 * flagged truncated: ~10 ms of work, whatever the store holds.
 */
export const SCAN_CAP = 50_000;

interface Row {
  mid: number;
  ts: number;
  sid: number;
  f: string;
}

/**
 * GET /api/points. Every filter combination is one index range read
 * backwards from `until`, so the cost is the rows returned, not the rows
 * stored:
 *   measurement (+ window)      -> raw primary key (mid, ts)
 *   target (+ window)           -> raw_target (tid, ts)
 *   target + measurement        -> raw_target, other measurements skipped in the index (capped)
 *   neither                     -> each measurement's range, merged
 */
export class PointsQuery {
  private readonly byMeasurement;
  private readonly byTarget;
  private readonly byTargetAndMeasurement;
  private readonly countCapped;

  constructor(
    db: Db,
    private readonly lookups: Lookups,
    private readonly now: () => number,
  ) {
    this.byMeasurement = db.prepare('SELECT mid, ts, sid, f FROM raw WHERE mid = ? AND ts >= ? AND ts < ? ORDER BY ts DESC, sid DESC LIMIT ?');
    this.byTarget = db.prepare(
      'SELECT r.mid, r.ts, r.sid, r.f FROM raw r INDEXED BY raw_target WHERE r.tid = ? AND r.ts >= ? AND r.ts < ? ORDER BY r.ts DESC, r.mid DESC, r.sid DESC LIMIT ?',
    );
    // The inner query reads only the index (tid, ts, mid, sid) and stops at the cap;
    // the table is read for the rows that match.
    this.byTargetAndMeasurement = db.prepare(`
      SELECT x.mid, x.ts, x.sid, r.f FROM (
        SELECT mid, ts, sid FROM raw INDEXED BY raw_target WHERE tid = ? AND ts >= ? AND ts < ? ORDER BY ts DESC, mid DESC, sid DESC LIMIT ?
      ) x JOIN raw r ON r.mid = x.mid AND r.ts = x.ts AND r.sid = x.sid
      WHERE x.mid = ? ORDER BY x.ts DESC, x.sid DESC LIMIT ?`);
    this.countCapped = db.prepare('SELECT count(*) FROM (SELECT 1 FROM raw INDEXED BY raw_target WHERE tid = ? AND ts >= ? AND ts < ? LIMIT ?)').pluck();
  }

  run(q: PointQuery): PointsResult {
    const until = q.untilMs;
    const upper = until ?? Number.MAX_SAFE_INTEGER;
    const since = q.sinceMs ?? Math.min(upper, this.now()) - DEFAULT_WINDOW_MS;
    const empty: PointsResult = { points: [], truncated: false, since_ms: since, until_ms: until ?? null };
    const mid = q.measurement === undefined ? undefined : this.lookups.layouts.mid(q.measurement);
    const tid = q.target === undefined ? undefined : this.lookups.tid(q.target);
    if ((q.measurement !== undefined && mid === undefined) || (q.target !== undefined && tid === undefined)) return empty;
    const want = q.limit + 1;
    let rows: Row[];
    let capped = false;
    if (tid !== undefined && mid !== undefined) {
      rows = this.byTargetAndMeasurement.all(tid, since, upper, SCAN_CAP, mid, want) as Row[];
      // Fewer matches than wanted and the cap reached: older matches may exist.
      capped = rows.length < want && (this.countCapped.get(tid, since, upper, SCAN_CAP + 1) as number) > SCAN_CAP;
    } else if (tid !== undefined) {
      rows = this.byTarget.all(tid, since, upper, want) as Row[];
    } else if (mid !== undefined) {
      rows = this.byMeasurement.all(mid, since, upper, want) as Row[];
    } else {
      rows = [];
      for (const l of this.lookups.layouts.all) rows.push(...(this.byMeasurement.all(l.mid, since, upper, want) as Row[]));
      rows.sort((a, b) => b.ts - a.ts || b.mid - a.mid || b.sid - a.sid);
    }
    const truncated = rows.length > q.limit || capped;
    const points: StoredPoint[] = rows
      .slice(0, q.limit)
      .reverse()
      .map((r) => ({
        measurement: this.lookups.layouts.name(r.mid),
        time: iso(r.ts),
        timestamp_ms: r.ts,
        tags: this.lookups.tags(r.sid),
        fields: this.lookups.layouts.decode(r.mid, r.f),
      }));
    return { points, truncated, since_ms: since, until_ms: until ?? null };
  }
}
