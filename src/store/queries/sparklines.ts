import type { Db } from '../../sqlite/sqlite-db.js';
import type { SparklineSpec } from '../../samples/rollup.js';
import type { Statement } from '../schema.js';
import type { Sparkline, SparklineOptions } from '../types.js';
import type { Lookups } from './lookups.js';

/** Targets per call: one page of the overview. */
export const SPARKLINE_MAX_TARGETS = 100;
export const SPARKLINE_DEFAULT_BUCKETS = 30;
export const SPARKLINE_MAX_BUCKETS = 120;

/**
 * sparklines(): the overview's small charts — per target, the median of the
 * sparkline's value (rtt) and loss per bucket over the last hour, from raw
 * points (the measurement's rows of the target, a key seek per slot time).
 * Which measurement and fields: the probe that provides the sparkline says
 * (ProbeModule.sparkline); without one every line is empty. Buckets end at
 * the step boundary after `to`, so consecutive calls line up.
 */
export class SparklinesRunner {
  private readonly st?: Statement;

  constructor(
    db: Db,
    private readonly lookups: Lookups,
    private readonly now: () => number,
    private readonly rawWindowMs: number,
    spec?: SparklineSpec,
  ) {
    const l = lookups.layouts;
    if (!spec) return;
    const m = spec.measurement;
    const sum = (field: string | undefined) => (field ? `sum(${l.sql(m, field, 'r.f')})` : 'NULL');
    this.st = db.prepare(`
      SELECT CAST((r.ts - ?) / ? AS INTEGER) AS i,
        median(${l.sql(m, spec.value, 'r.f')}) AS rtt,
        ${sum(spec.total)} AS sent,
        ${sum(spec.kept)} AS received
      FROM times t CROSS JOIN raw r ON r.mid = ${l.midOf(m)} AND r.ts = t.ts AND r.tid = ?
      JOIN series s ON s.sid = r.sid
      WHERE t.ts >= ? AND t.ts < ? AND s.adhoc = 0
      GROUP BY 1`);
  }

  run(targets: readonly string[], o: SparklineOptions = {}): Record<string, Sparkline> {
    if (targets.length > SPARKLINE_MAX_TARGETS) throw new RangeError(`at most ${SPARKLINE_MAX_TARGETS} targets per call (got ${targets.length})`);
    const buckets = Math.min(SPARKLINE_MAX_BUCKETS, Math.max(1, Math.floor(o.buckets ?? SPARKLINE_DEFAULT_BUCKETS)));
    const now = this.now();
    const to = o.toMs ?? now;
    const from = Math.max(o.fromMs ?? to - 3_600_000, now - this.rawWindowMs);
    if (!(to > from)) throw new RangeError('sparklines: the range is empty or older than the raw window');
    const stepMs = Math.max(1000, Math.ceil((to - from) / buckets / 1000) * 1000);
    const start = Math.floor(to / stepMs) * stepMs + stepMs - buckets * stepMs;
    const out: Record<string, Sparkline> = {};
    for (const name of targets) {
      const line: Sparkline = { from: start / 1000, step_s: stepMs / 1000, rtt_ms: new Array(buckets).fill(null), loss_pct: new Array(buckets).fill(null), sent: 0, received: 0 };
      const tid = this.lookups.tid(name);
      if (tid !== undefined && this.st) {
        for (const r of this.st.all(start, stepMs, tid, start, start + buckets * stepMs) as { i: number; rtt: number | null; sent: number | null; received: number | null }[]) {
          const i = r.i;
          if (i < 0 || i >= buckets) continue;
          line.rtt_ms[i] = r.rtt === null ? null : Math.round(r.rtt * 1000) / 1000;
          line.loss_pct[i] = r.sent ? Math.round((100_000 * (r.sent - (r.received ?? 0))) / r.sent) / 1000 : null;
          line.sent += r.sent ?? 0;
          line.received += r.received ?? 0;
        }
      }
      out[name] = line;
    }
    return out;
  }
}
