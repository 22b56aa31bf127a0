import type { Db } from '../../sqlite/sqlite-db.js';
import type { FieldValue } from '../../samples/sample.js';
import type { LatestState } from '../types.js';
import { iso, type Lookups } from './lookups.js';

/** latest.sub of the row holding a target's last route change (mid of `route`). */
export const ROUTE_CHANGE_SUB = 'changed';
/** The flag whose last true value that row records (LatestState.flagged). */
export const ROUTE_CHANGE_FLAG = 'route.route_changed';

interface Row {
  name: string;
  tid: number;
  mid: number;
  sub: string;
  ts: number;
  f: string;
  ok: number | null;
  since: number;
}

/**
 * latest(): each target's last point per measurement (every field) and each
 * probe's state with the time it last flipped (`since`) — what the overview
 * shows after a restart, read by each probe's figures. Served from the
 * `latest` table (one row per target and measurement, updated on write), so
 * its cost is the number of targets asked for, not the history kept.
 * Includes ad-hoc runs: "probe now" is the target's newest state.
 */
export class LatestRunner {
  private readonly one;
  private readonly all;
  private readonly probeMid: number;
  private readonly routeMid: number;

  constructor(
    db: Db,
    private readonly lookups: Lookups,
  ) {
    const l = lookups.layouts;
    this.probeMid = l.midOf('probe');
    this.routeMid = l.midOf('route');
    const select = `SELECT t.name, l.tid, l.mid, l.sub, l.ts, l.f, l.ok, l.since FROM latest l JOIN targets t ON t.tid = l.tid`;
    this.one = db.prepare(`${select} WHERE l.tid = ?`);
    this.all = db.prepare(`${select} WHERE t.name <> '' ORDER BY l.tid`);
  }

  /** The targets asked for (those with no point yet are left out), or every target when none are named. */
  run(targets?: readonly string[]): LatestState[] {
    let rows: Row[];
    if (targets) {
      rows = [];
      for (const name of new Set(targets)) {
        const tid = this.lookups.tid(name);
        if (tid !== undefined) rows.push(...(this.one.all(tid) as Row[]));
      }
    } else {
      rows = this.all.all() as Row[];
    }
    const layouts = this.lookups.layouts;
    const byTarget = new Map<number, LatestState>();
    for (const r of rows) {
      let s = byTarget.get(r.tid);
      if (!s) byTarget.set(r.tid, (s = { target: r.name, measurements: {}, probes: [], route_changed_at: null, flagged: {} }));
      if (r.mid === this.routeMid && r.sub === ROUTE_CHANGE_SUB) {
        s.route_changed_at = iso(r.ts);
        s.flagged[ROUTE_CHANGE_FLAG] = iso(r.ts);
        continue;
      }
      // One JSON.parse per row (json_extract per field parses the array once per call).
      const fields = layouts.decode(r.mid, r.f);
      if (r.mid === this.probeMid) {
        s.probes.push({
          probe: r.sub,
          success: r.ok === null ? null : r.ok === 1,
          reason: text(fields.reason),
          detail: text(fields.detail),
          duration_ms: typeof fields.duration_ms === 'number' ? fields.duration_ms : null,
          at: iso(r.ts),
          since: iso(r.since),
        });
      } else {
        s.measurements[layouts.name(r.mid)] = { time: iso(r.ts), fields };
      }
    }
    for (const s of byTarget.values()) s.probes.sort((a, b) => a.probe.localeCompare(b.probe));
    return [...byTarget.values()];
  }
}

const text = (v: FieldValue | null | undefined): string | null => (typeof v === 'string' ? v : null);
