import type { Db } from '../../sqlite/sqlite-db.js';
import type { Statement } from '../schema.js';
import type { RollupSpec } from '../../samples/rollup.js';
import { PROBE_RUNS_ROLLUP, TIERS, kindColumns, mergeAggSql, outputValue, rawAggregateSql, sourceOf, tableOf, type BucketRow, type Tier } from '../rollup-spec.js';
import type { Rollups } from '../rollups.js';
import type { Columns, SeriesHead, SeriesQuery, SeriesResult } from '../types.js';
import { iso, type Lookups } from './lookups.js';

export const DEFAULT_MAX_BUCKETS = 1000;
export const MAX_BUCKETS = 2000;
/** Slot interval assumed when the raw points do not tell (no two slots in range). */
const DEFAULT_SLOT_MS = 60_000;

type Row = BucketRow & { b: number; sub: string };

export interface SeriesOptions {
  rawWindowMs: number;
  retentionMs: number;
}

/**
 * series(): one target's downsampled history for the target page. Picks the
 * source by range (see choose()); the buckets after a tier's watermark (the
 * last minutes to hour, not rolled up yet) come from raw points, so a chart
 * reaches "now" at every range. All reads are per target through an index:
 * at most maxBuckets stored buckets, or the range's raw points.
 */
export class SeriesRunner {
  private readonly raw = new Map<string, Statement>();
  private readonly merged = new Map<string, Statement>();
  private readonly slotTimes;
  private readonly changes;
  private readonly probeMid: number;

  constructor(
    db: Db,
    private readonly lookups: Lookups,
    private readonly rollups: Rollups,
    private readonly o: SeriesOptions,
    private readonly now: () => number,
  ) {
    const layouts = lookups.layouts;
    for (const k of rollups.kinds) {
      const cols = kindColumns(k);
      const field = (name: string) => layouts.sql(k.measurement, name, 'r.f');
      this.raw.set(k.name, db.prepare(rawAggregateSql(k, layouts.midOf(k.measurement), field, { key: 'r.ts - r.ts % ? AS b', targets: 'r.tid = ?', groupBy: '1, 2' })));
      const mergeExprs = mergeAggSql(k);
      for (const t of TIERS) {
        this.merged.set(
          tableOf(k, t),
          db.prepare(
            `SELECT b - b % ? AS b, sub, ${mergeExprs.map((e, i) => `${e} AS ${cols[i]}`).join(', ')}
             FROM ${tableOf(k, t)} WHERE tid = ? AND b >= ? AND b < ? GROUP BY 1, 2`,
          ),
        );
      }
    }
    this.probeMid = layouts.midOf('probe');
    // Scheduled slots only: an ad-hoc run ("probe now") between two slots is not a slot length.
    this.slotTimes = db.prepare(
      'SELECT DISTINCT r.ts FROM times t CROSS JOIN raw r ON r.mid = ? AND r.ts = t.ts AND r.tid = ? JOIN series s ON s.sid = r.sid WHERE t.ts >= ? AND t.ts < ? AND s.adhoc = 0 ORDER BY t.ts DESC LIMIT 40',
    ).pluck();
    this.changes = db.prepare('SELECT ts, from_hash, to_hash, diff FROM route_changes WHERE tid = ? AND ts >= ? AND ts < ? ORDER BY ts');
  }

  run(q: SeriesQuery): SeriesResult {
    const maxBuckets = Math.min(MAX_BUCKETS, Math.max(1, Math.floor(q.maxBuckets ?? DEFAULT_MAX_BUCKETS)));
    if (!(q.toMs > q.fromMs)) throw new RangeError(`to must be after from (from ${iso(q.fromMs)}, to ${iso(q.toMs)})`);
    const tid = this.lookups.tid(q.target);
    const pick = this.choose(q, maxBuckets, tid);
    const from = q.fromMs - (q.fromMs % pick.stepMs);
    const n = Math.ceil((q.toMs - from) / pick.stepMs);
    const head: SeriesHead = {
      target: q.target,
      from: iso(from),
      to: iso(q.toMs),
      step_s: pick.stepMs / 1000,
      resolution: pick.tier ? 'rollup' : 'raw',
      tier: pick.tier?.name ?? 'raw',
      buckets: n,
      route_changes: [],
    };
    const rollups: Record<string, Columns> = {};
    if (tid === undefined) return head as SeriesResult;
    const stepped = new Map<RollupSpec, Row[]>();
    for (const k of this.rollups.kinds) {
      const rows = this.rows(k, tid, from, q.toMs, pick.stepMs, pick.tier);
      if (!rows.length) continue;
      stepped.set(k, rows);
      const bySub = new Map<string, Row[]>();
      for (const r of rows) (bySub.get(r.sub) ?? bySub.set(r.sub, []).get(r.sub)!).push(r);
      if (k === PROBE_RUNS_ROLLUP) {
        // Split by kind, under the API's key `probes`.
        const subs: Record<string, Columns> = {};
        for (const [sub, list] of [...bySub].sort(([a], [b]) => a.localeCompare(b))) subs[sub] = columns(k, list, from, pick.stepMs, n);
        head.probes = subs;
      } else {
        rollups[k.name] = columns(k, bySub.get('') ?? [], from, pick.stepMs, n);
      }
    }
    this.summary(head, tid, from, q.toMs, stepped);
    head.route_changes = (this.changes.all(tid, from, q.toMs) as { ts: number; from_hash: string | null; to_hash: string; diff: string | null }[]).map((c) => ({
      time: c.ts / 1000,
      from_hash: c.from_hash,
      to_hash: c.to_hash,
      diff: c.diff,
    }));
    return { ...head, ...rollups } as SeriesResult;
  }

  /**
   * Every rollup's outputs over the whole range, as one bucket (the target
   * page's stat row: loss as echoes lost over echoes sent, the mean of
   * every slot, the p95 of every echo...). Exact from raw points while the
   * raw window holds the range; from stored buckets otherwise, merged as
   * series() merges them (a median: the median of the buckets'; a
   * percentile: that percentile of the buckets'), said by `summary_exact: false`.
   */
  private summary(head: SeriesHead, tid: number, from: number, to: number, stepped: Map<RollupSpec, Row[]>): void {
    const exact = head.resolution === 'raw';
    const out: Record<string, Record<string, number | null>> = {};
    const probes: Record<string, Record<string, number | null>> = {};
    for (const [k, stepRows] of stepped) {
      const rows = exact ? (this.raw.get(k.name)!.all(Number.MAX_SAFE_INTEGER, tid, from, to) as Row[]) : stepRows;
      const bySub = new Map<string, Row[]>();
      for (const r of rows) (bySub.get(r.sub) ?? bySub.set(r.sub, []).get(r.sub)!).push(r);
      for (const [sub, list] of bySub) {
        const one = exact && list.length === 1 ? list[0]! : mergeRows(k, list);
        const values = Object.fromEntries(k.outputs.map((o) => [o.name, outputValue(o, one)]));
        if (k === PROBE_RUNS_ROLLUP) probes[sub] = values;
        else if (sub === '') out[k.name] = values;
      }
    }
    head.summary = Object.assign(out, { probes });
    head.summary_exact = exact;
  }

  /**
   * Source and step: among the sources that still hold `from` (raw points
   * for EMBEDDED_RAW_HOURS, 5-minute buckets for 3 days, hourly ones for the
   * retention), the coarsest whose bucket fits in range/maxBuckets — or the
   * finest if none does. The step is a whole number of that source's buckets.
   */
  private choose(q: SeriesQuery, maxBuckets: number, tid: number | undefined): { tier?: Tier; stepMs: number } {
    const now = this.now();
    const need = (q.toMs - q.fromMs) / maxBuckets;
    const slot = tid === undefined ? DEFAULT_SLOT_MS : this.slotMs(tid, q.fromMs, q.toMs);
    const sources: { tier?: Tier; bucketMs: number }[] = [];
    if (q.fromMs >= now - this.o.rawWindowMs) sources.push({ bucketMs: slot });
    for (const t of TIERS) if (q.fromMs >= now - Math.min(t.keepMs, this.o.retentionMs) || t === TIERS[TIERS.length - 1]) sources.push({ tier: t, bucketMs: t.bucketMs });
    const fitting = sources.filter((s) => s.bucketMs <= need);
    const s = fitting.length ? fitting[fitting.length - 1]! : sources[0]!;
    return { tier: s.tier, stepMs: Math.max(1, Math.ceil(need / s.bucketMs)) * s.bucketMs };
  }

  /** The target's slot interval: the smallest gap between its recent probe points (slots are epoch-aligned). */
  private slotMs(tid: number, fromMs: number, toMs: number): number {
    const ts = this.slotTimes.all(this.probeMid, tid, Math.max(fromMs, this.now() - this.o.rawWindowMs), toMs) as number[];
    let best = Number.POSITIVE_INFINITY;
    for (let i = 1; i < ts.length; i++) best = Math.min(best, ts[i - 1]! - ts[i]!);
    return Number.isFinite(best) && best >= 1000 ? best : DEFAULT_SLOT_MS;
  }

  /**
   * Stored buckets before the tier's watermark; after it, what its source
   * holds (the hourly tier's: 5-minute buckets, then raw points after theirs),
   * so a chart reaches "now" while raw points are kept less than an hour. A
   * step cut by a watermark gets a row from each side, merged (mergeRows).
   */
  private rows(k: RollupSpec, tid: number, from: number, to: number, stepMs: number, tier?: Tier): Row[] {
    if (!tier) return this.raw.get(k.name)!.all(stepMs, tid, from, to) as Row[];
    const split = Math.max(from, Math.min(to, this.rollups.watermark(tier)));
    const stored = split > from ? (this.merged.get(tableOf(k, tier))!.all(stepMs, tid, from, split) as Row[]) : [];
    if (split >= to) return stored;
    const tail = this.rows(k, tid, split, to, stepMs, sourceOf(tier));
    if (!stored.length || !tail.length || split % stepMs === 0) return stored.concat(tail);
    const cut = split - (split % stepMs);
    const sides = new Map<string, Row[]>();
    for (const r of [...stored, ...tail]) if (r.b === cut) (sides.get(r.sub) ?? sides.set(r.sub, []).get(r.sub)!).push(r);
    const joined = [...sides.values()].map((list) => (list.length === 1 ? list[0]! : ({ ...mergeRows(k, list), b: cut } as Row)));
    return [...stored.filter((r) => r.b !== cut), ...joined, ...tail.filter((r) => r.b !== cut)];
  }
}

/** Dense arrays over the range (null where a bucket has no row). */
function columns(k: RollupSpec, rows: readonly Row[], from: number, stepMs: number, n: number): Columns {
  const t: number[] = new Array(n);
  const cols: Record<string, (number | null)[]> = {};
  for (const o of k.outputs) cols[o.name] = new Array<number | null>(n).fill(null);
  for (let i = 0; i < n; i++) t[i] = (from + i * stepMs) / 1000;
  for (const r of rows) {
    const i = Math.round((r.b - from) / stepMs);
    if (i < 0 || i >= n) continue;
    for (const o of k.outputs) cols[o.name]![i] = outputValue(o, r);
  }
  return { ...cols, t };
}

/** Stored buckets merged into one in JS, the way mergeAggSql() merges them in SQL. */
function mergeRows(k: RollupSpec, rows: readonly Row[]): Row {
  const out: Row = { b: 0, sub: rows[0]?.sub ?? '' } as Row;
  const median = (v: number[]) => {
    if (!v.length) return null;
    const s = [...v].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2);
  };
  // SQLite's percentile(): linear between the closest ranks; stored values are integers.
  const percentile = (v: number[], p: number) => {
    if (!v.length) return null;
    const s = [...v].sort((a, b) => a - b);
    const rank = (p / 100) * (s.length - 1);
    const lo = Math.floor(rank);
    return Math.round(s[lo]! + (s[Math.min(s.length - 1, lo + 1)]! - s[lo]!) * (rank - lo));
  };
  for (const a of k.aggs) {
    const vals = (c: string) => rows.map((r) => r[c]).filter((v): v is number => v !== null && v !== undefined);
    switch (a.how.op) {
      case 'avg':
        out[`${a.name}_sum`] = vals(`${a.name}_sum`).reduce((x, y) => x + y, 0);
        out[`${a.name}_n`] = vals(`${a.name}_n`).reduce((x, y) => x + y, 0);
        break;
      case 'min':
        out[a.name] = vals(a.name).length ? Math.min(...vals(a.name)) : null;
        break;
      case 'max':
        out[a.name] = vals(a.name).length ? Math.max(...vals(a.name)) : null;
        break;
      case 'median':
        out[a.name] = median(vals(a.name));
        break;
      case 'percentile':
      case 'echoes':
        out[a.name] = percentile(vals(a.name), a.how.p);
        break;
      default:
        out[a.name] = vals(a.name).reduce((x, y) => x + y, 0);
    }
  }
  return out;
}
