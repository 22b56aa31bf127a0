import type { Db } from '../../sqlite/sqlite-db.js';
import type { PointQuery, PointsResult, PointRecord } from '../types.js';
import { iso, type Lookups } from './lookups.js';

/** Without `since`, /api/points looks at the hour before `until` (or now). */
export const DEFAULT_WINDOW_MS = 3_600_000;
/**
 * Most slot times a target query walks (one key seek per time and
 * measurement): 20,000 is two weeks of 60-s slots, or 5.5 hours of 1-s ones.
 * Beyond it the answer is flagged truncated. Bounds a query's cost whatever
 * the store holds.
 */
export const SCAN_CAP = 20_000;

interface Row {
  mid: number;
  ts: number;
  sid: number;
  f: string;
}

/**
 * GET /api/points. Every filter combination reads backwards from `until`
 * and stops at `limit`, so the cost is the rows returned, not the rows
 * stored:
 *   measurement (+ window)      -> one range of the raw key (mid, ts)
 *   target (+ measurement)      -> per slot time, a seek to (mid, ts, tid) (capped at SCAN_CAP times)
 *   neither                     -> each measurement's range, merged
 */
export class PointsQuery {
  private readonly byMeasurement;
  private readonly byTarget;
  private readonly byTargetAndMeasurement;
  private readonly timesInWindow;

  constructor(
    db: Db,
    private readonly lookups: Lookups,
    private readonly now: () => number,
  ) {
    this.byMeasurement = db.prepare('SELECT mid, ts, sid, f FROM raw WHERE mid = ? AND ts >= ? AND ts < ? ORDER BY ts DESC, tid DESC, sid DESC LIMIT ?');
    const times = '(SELECT ts FROM times WHERE ts >= ? AND ts < ? ORDER BY ts DESC LIMIT ?) t';
    this.byTarget = db.prepare(
      `SELECT r.mid, r.ts, r.sid, r.f FROM ${times} CROSS JOIN measurements m CROSS JOIN raw r ON r.mid = m.mid AND r.ts = t.ts AND r.tid = ?
       ORDER BY t.ts DESC, r.mid DESC, r.sid DESC LIMIT ?`,
    );
    this.byTargetAndMeasurement = db.prepare(
      `SELECT r.mid, r.ts, r.sid, r.f FROM ${times} CROSS JOIN raw r ON r.mid = ? AND r.ts = t.ts AND r.tid = ? ORDER BY t.ts DESC, r.sid DESC LIMIT ?`,
    );
    this.timesInWindow = db.prepare('SELECT count(*) FROM (SELECT 1 FROM times WHERE ts >= ? AND ts < ? LIMIT ?)').pluck();
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
    if (tid !== undefined) {
      rows = (mid === undefined ? this.byTarget.all(since, upper, SCAN_CAP, tid, want) : this.byTargetAndMeasurement.all(since, upper, SCAN_CAP, mid, tid, want)) as Row[];
      // Fewer matches than wanted and the cap reached: older matches may exist.
      capped = rows.length < want && (this.timesInWindow.get(since, upper, SCAN_CAP + 1) as number) > SCAN_CAP;
    } else if (mid !== undefined) {
      rows = this.byMeasurement.all(mid, since, upper, want) as Row[];
    } else {
      rows = [];
      for (const l of this.lookups.layouts.all) rows.push(...(this.byMeasurement.all(l.mid, since, upper, want) as Row[]));
      rows.sort((a, b) => b.ts - a.ts || b.mid - a.mid || b.sid - a.sid);
    }
    const truncated = rows.length > q.limit || capped;
    const points: PointRecord[] = rows
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
