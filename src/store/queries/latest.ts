import type { Db } from '../../sqlite/sqlite-db.js';
import type { FieldValue } from '../../samples/sample.js';
import type { LatestState } from '../types.js';
import { iso, type Lookups } from './lookups.js';

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
 * latest(): each target's last point per measurement and each probe's state
 * with the time it last flipped (`since`) — the overview's row. Served from
 * the `latest` table (one row per target and measurement, updated on write),
 * so its cost is the number of targets asked for, not the history kept.
 * Includes ad-hoc runs: "probe now" is the target's newest state.
 */
export class LatestRunner {
  private readonly one;
  private readonly all;
  private readonly lastChange;
  private readonly probeMid: number;

  constructor(
    db: Db,
    private readonly lookups: Lookups,
  ) {
    const select = 'SELECT t.name, l.tid, l.mid, l.sub, l.ts, l.f, l.ok, l.since FROM latest l JOIN targets t ON t.tid = l.tid';
    this.one = db.prepare(`${select} WHERE l.tid = ?`);
    this.all = db.prepare(`${select} WHERE t.name <> '' ORDER BY l.tid`);
    this.lastChange = db.prepare('SELECT max(ts) FROM route_changes WHERE tid = ?').pluck();
    this.probeMid = lookups.layouts.mid('probe')!;
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
      if (!s) {
        const changed = this.lastChange.get(r.tid) as number | null;
        s = { target: r.name, measurements: {}, probes: [], route_changed_at: changed === null ? null : iso(changed) };
        byTarget.set(r.tid, s);
      }
      const fields = this.lookups.layouts.decode(r.mid, r.f);
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
        s.measurements[this.lookups.layouts.name(r.mid)] = { time: iso(r.ts), fields };
      }
    }
    for (const s of byTarget.values()) s.probes.sort((a, b) => a.probe.localeCompare(b.probe));
    return [...byTarget.values()];
  }
}

const text = (v: FieldValue | undefined): string | null => (typeof v === 'string' ? v : null);
