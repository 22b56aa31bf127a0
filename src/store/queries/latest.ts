import type { Db } from '../../sqlite/sqlite-db.js';
import type { FieldValue } from '../../samples/sample.js';
import type { LatestState } from '../types.js';
import { iso, type Lookups } from './lookups.js';

/** The fields latest() returns per measurement: what an overview row shows and sorts by. */
export const MAIN_FIELDS: Record<string, readonly string[]> = {
  ping: ['rtt_median_ms', 'rtt_avg_ms', 'loss_pct', 'jitter_ms', 'mos', 'success'],
  http: ['total_ms', 'status_code', 'success'],
  dns: ['query_ms', 'rcode', 'success'],
  tcp: ['connect_ms', 'success'],
  route: ['hop_count', 'reached', 'route_hash', 'success'],
  probe: ['reason', 'detail', 'duration_ms'],
};
/** latest.sub of the row holding a target's last route change (mid of `route`). */
export const ROUTE_CHANGE_SUB = 'changed';

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
 * latest(): each target's last point per measurement (main fields) and each
 * probe's state with the time it last flipped (`since`) — the overview's
 * row. Served from the `latest` table (one row per target and measurement,
 * updated on write), so its cost is the number of targets asked for, not the
 * history kept. Includes ad-hoc runs: "probe now" is the target's newest state.
 */
export class LatestRunner {
  private readonly one;
  private readonly all;
  /** Per measurement: its main fields and their positions in the stored array. */
  private readonly byMid = new Map<number, { name: string; fields: readonly string[]; at: number[] }>();
  private readonly probeMid: number;
  private readonly routeMid: number;

  constructor(
    db: Db,
    private readonly lookups: Lookups,
  ) {
    const l = lookups.layouts;
    for (const [m, fields] of Object.entries(MAIN_FIELDS)) this.byMid.set(l.midOf(m), { name: m, fields, at: fields.map((f) => l.positionOf(m, f)) });
    this.probeMid = l.midOf('probe');
    this.routeMid = l.midOf('route');
    const mids = [...this.byMid.keys()].join(',');
    // One JSON.parse per row, then the main fields by position: six
    // json_extract calls per row parse the array six times (5x slower here).
    const select = `SELECT t.name, l.tid, l.mid, l.sub, l.ts, l.f, l.ok, l.since FROM latest l JOIN targets t ON t.tid = l.tid`;
    this.one = db.prepare(`${select} WHERE l.tid = ? AND l.mid IN (${mids})`);
    this.all = db.prepare(`${select} WHERE t.name <> '' AND l.mid IN (${mids}) ORDER BY l.tid`);
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
    const byTarget = new Map<number, LatestState>();
    for (const r of rows) {
      let s = byTarget.get(r.tid);
      if (!s) byTarget.set(r.tid, (s = { target: r.name, measurements: {}, probes: [], route_changed_at: null }));
      if (r.mid === this.routeMid && r.sub === ROUTE_CHANGE_SUB) {
        s.route_changed_at = iso(r.ts);
        continue;
      }
      const spec = this.byMid.get(r.mid)!;
      const values = JSON.parse(r.f) as (FieldValue | null)[];
      if (r.mid === this.probeMid) {
        const [reason, detail, duration] = spec.at.map((i) => values[i]);
        s.probes.push({
          probe: r.sub,
          success: r.ok === null ? null : r.ok === 1,
          reason: text(reason),
          detail: text(detail),
          duration_ms: typeof duration === 'number' ? duration : null,
          at: iso(r.ts),
          since: iso(r.since),
        });
      } else {
        const fields: Record<string, FieldValue> = {};
        for (let k = 0; k < spec.fields.length; k++) {
          const v = values[spec.at[k]!];
          if (v !== null && v !== undefined) fields[spec.fields[k]!] = v;
        }
        s.measurements[spec.name] = { time: iso(r.ts), fields };
      }
    }
    for (const s of byTarget.values()) s.probes.sort((a, b) => a.probe.localeCompare(b.probe));
    return [...byTarget.values()];
  }
}

const text = (v: FieldValue | null | undefined): string | null => (typeof v === 'string' ? v : null);
