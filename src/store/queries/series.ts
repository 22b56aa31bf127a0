import type { Db } from '../../sqlite/sqlite-db.js';
import type { Statement } from '../schema.js';
import { KINDS, OUTPUTS, TIERS, kindColumns, mergeAggSql, rawAggregateSql, tableOf, type BucketRow, type RollupKind, type Tier } from '../rollup-spec.js';
import type { Rollups } from '../rollups.js';
import type { ProbeColumns, SeriesQuery, SeriesResult, SeriesSummary } from '../types.js';
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
  private readonly echoP95;

  constructor(
    db: Db,
    private readonly lookups: Lookups,
    private readonly rollups: Rollups,
    private readonly o: SeriesOptions,
    private readonly now: () => number,
  ) {
    const layouts = lookups.layouts;
    for (const k of KINDS) {
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
    this.changes = db.prepare('SELECT ts, from_hash, to_hash FROM route_changes WHERE tid = ? AND ts >= ? AND ts < ? ORDER BY ts');
    // p95 of every echo of the range (raw points keep each slot's echoes in rtts_ms).
    this.echoP95 = db.prepare(`
      SELECT percentile(j.value, 95) AS p95, count(*) AS n
      FROM times t CROSS JOIN raw r ON r.mid = ${layouts.midOf('ping')} AND r.ts = t.ts AND r.tid = ?
      JOIN series s ON s.sid = r.sid, json_each(${layouts.sql('ping', 'rtts_ms', 'r.f')}) j
      WHERE t.ts >= ? AND t.ts < ? AND s.adhoc = 0 AND j.type != 'null'`);
  }

  run(q: SeriesQuery): SeriesResult {
    const maxBuckets = Math.min(MAX_BUCKETS, Math.max(1, Math.floor(q.maxBuckets ?? DEFAULT_MAX_BUCKETS)));
    if (!(q.toMs > q.fromMs)) throw new RangeError(`to must be after from (from ${iso(q.fromMs)}, to ${iso(q.toMs)})`);
    const tid = this.lookups.tid(q.target);
    const pick = this.choose(q, maxBuckets, tid);
    const from = q.fromMs - (q.fromMs % pick.stepMs);
    const n = Math.ceil((q.toMs - from) / pick.stepMs);
    const out: SeriesResult = {
      target: q.target,
      from: iso(from),
      to: iso(q.toMs),
      step_s: pick.stepMs / 1000,
      resolution: pick.tier ? 'rollup' : 'raw',
      tier: pick.tier?.name ?? 'raw',
      buckets: n,
      route_changes: [],
    };
    if (tid === undefined) return out;
    for (const k of KINDS) {
      const rows = this.rows(k, tid, from, q.toMs, pick.stepMs, pick.tier);
      if (!rows.length) continue;
      const bySub = new Map<string, Row[]>();
      for (const r of rows) (bySub.get(r.sub) ?? bySub.set(r.sub, []).get(r.sub)!).push(r);
      if (k.subTag) {
        const subs: Record<string, ProbeColumns> = {};
        for (const [sub, list] of [...bySub].sort(([a], [b]) => a.localeCompare(b))) subs[sub] = columns(k, list, from, pick.stepMs, n) as unknown as ProbeColumns;
        out.probes = subs;
      } else {
        (out as unknown as Record<string, unknown>)[k.name] = columns(k, bySub.get('') ?? [], from, pick.stepMs, n);
      }
    }
    out.summary = this.summary(out, tid, from, q.toMs);
    out.route_changes = (this.changes.all(tid, from, q.toMs) as { ts: number; from_hash: string | null; to_hash: string }[]).map((c) => ({
      time: c.ts / 1000,
      from_hash: c.from_hash,
      to_hash: c.to_hash,
    }));
    return out;
  }

  /**
   * Figures over the whole range for the target page's stat row: loss as
   * echoes lost over echoes sent, mean RTT weighted by replies, the p95 of
   * every echo when the raw window holds the range (else the highest
   * bucket p90, said by `rtt_p95_exact: false`), availability as successful
   * runs over runs of every probe.
   */
  private summary(out: SeriesResult, tid: number, from: number, to: number): SeriesSummary {
    const p = out.ping;
    let sent = 0;
    let received = 0;
    let rttWeighted = 0;
    let rttLast: number | null = null;
    if (p) {
      for (let i = 0; i < p.t.length; i++) {
        sent += p.sent[i] ?? 0;
        received += p.received[i] ?? 0;
        if (p.rtt_avg[i] !== null && p.received[i]) rttWeighted += p.rtt_avg[i]! * p.received[i]!;
        if (p.rtt_median[i] !== null) rttLast = p.rtt_median[i]!;
      }
    }
    let p95: number | null = null;
    let exact = false;
    if (p && from >= this.now() - this.o.rawWindowMs) {
      const r = this.echoP95.get(tid, from, to) as { p95: number | null; n: number };
      if (r.n > 0) {
        p95 = Math.round(r.p95! * 1000) / 1000;
        exact = true;
      }
    }
    if (!exact && p) for (const v of p.rtt_p90 ?? []) if (v !== null && (p95 === null || v > p95)) p95 = v;
    let ok = 0;
    let runs = 0;
    for (const c of Object.values(out.probes ?? {})) {
      for (let i = 0; i < c.t.length; i++) {
        ok += c.ok[i] ?? 0;
        runs += (c.ok[i] ?? 0) + (c.failed[i] ?? 0);
      }
    }
    return {
      sent,
      received,
      loss_pct: sent ? Math.round((100_000 * (sent - received)) / sent) / 1000 : null,
      rtt_last_ms: rttLast,
      rtt_avg_ms: received ? Math.round((rttWeighted / received) * 1000) / 1000 : null,
      rtt_p95_ms: p95,
      rtt_p95_exact: exact,
      runs,
      runs_ok: ok,
      availability_pct: runs ? Math.round((100_000 * ok) / runs) / 1000 : null,
    };
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

  /** Stored buckets before the tier's watermark, raw-computed ones after it. */
  private rows(k: RollupKind, tid: number, from: number, to: number, stepMs: number, tier?: Tier): Row[] {
    if (!tier) return this.raw.get(k.name)!.all(stepMs, tid, from, to) as Row[];
    const tailFrom = Math.max(from, Math.min(to, this.rollups.watermark(tier) - (this.rollups.watermark(tier) % stepMs)));
    const stored = tailFrom > from ? (this.merged.get(tableOf(k, tier))!.all(stepMs, tid, from, tailFrom) as Row[]) : [];
    const tail = tailFrom < to ? (this.raw.get(k.name)!.all(stepMs, tid, tailFrom, to) as Row[]) : [];
    return stored.concat(tail);
  }
}

/** Dense arrays over the range (null where a bucket has no row). */
function columns(k: RollupKind, rows: readonly Row[], from: number, stepMs: number, n: number): Record<string, unknown> {
  const outputs = OUTPUTS[k.name] as readonly (readonly [string, (r: BucketRow) => number | null])[];
  const t: number[] = new Array(n);
  const cols: Record<string, (number | null)[]> = {};
  for (const [name] of outputs) cols[name] = new Array<number | null>(n).fill(null);
  for (let i = 0; i < n; i++) t[i] = (from + i * stepMs) / 1000;
  for (const r of rows) {
    const i = Math.round((r.b - from) / stepMs);
    if (i < 0 || i >= n) continue;
    for (const [name, value] of outputs) cols[name]![i] = value(r);
  }
  return { t, ...cols };
}
