import type { Deadline } from '../lifecycle/component.js';
import { seriesName } from '../outbox/transports/remote-write.js';
import type { RollupAgg, RollupSpec } from '../samples/rollup.js';
import { outputValue, PROBE_RUNS_ROLLUP, type BucketRow } from '../store/rollup-spec.js';
import type { Columns, SeriesHead } from '../store/types.js';
import { promString, type PromQueryClient, type QueryAnswer } from './prom-query.js';

/** One source's history of a target as the shared database answers it: the embedded store's series() shape. */
export type DbSeries = Omit<SeriesHead, 'tier'> & { tier: 'query_url' } & { [rollup: string]: Columns | undefined };

export interface DbSeriesQuery {
  target: string;
  fromMs: number;
  toMs: number;
  /** Most buckets per series. */
  maxBuckets: number;
  /** The target's slot interval: buckets are whole numbers of slots. */
  intervalS: number;
  /** Only these sources (default: every source the database has for the target). */
  sources?: readonly string[];
}

export type DbSeriesAnswer =
  | { ok: true; sources: { source: string; series: DbSeries }[]; queries: number; ms: number }
  | { ok: false; reason: string; detail: string };

/** Label carrying which stored column a series of the combined query is. */
const COL = 'nt_col';

/**
 * A target's history from the shared database, with the same numbers the
 * embedded store gives (src/store/rollup-spec.ts): every aggregate of the
 * probes' rollups (each probe declares its own, ProbeModule.rollups; count,
 * min, median, percentiles, means, sums...) becomes a PromQL
 * `*_over_time` over one bucket of the series remote write produced
 * (`telemetry_<measurement>_<field>`, labels = our tags), summed or merged
 * per source, and the store's own output functions turn them into the
 * columns the target page draws. One combined query per rollup (two when
 * the range ends inside a bucket).
 *
 * Buckets are [b, b + step) like the store's: each is evaluated at
 * b + step, a multiple of the step (VictoriaMetrics and Mimir's query
 * frontend align evaluation times to it), over a window of `step` moved back
 * by `offset 1ms`, which Prometheus (closed window) and VictoriaMetrics
 * (left-open) both read as the slots from b to b + step - 1 ms: a point at a
 * bucket's start is in that bucket only.
 *
 * Not from the database: route changes (paths are strings, which remote
 * write does not carry: the sites' own stores answer for those) and the
 * HTTP status classes (counting values in a range needs a subquery, which
 * repeats a missing slot's last value); both come back empty or null. Nor
 * does it leave out timings marked unsure (RollupSpec.unsure: a late event
 * loop) as the store does: that is a per-point condition on another series,
 * again a subquery; the database's figures include them; nor the
 * percentiles of every echo (SmokePing's smoke: the echoes are an array
 * field, which remote write does not carry) (docs/operations.md).
 */
export class PromSeries {
  /** `rollups`: what the store keeps (store/rollup-spec.ts rollupsWith: the probes' and the probe-run counts). */
  constructor(
    private readonly client: PromQueryClient,
    private readonly rollups: readonly RollupSpec[],
  ) {}

  async run(q: DbSeriesQuery, deadline: Deadline): Promise<DbSeriesAnswer> {
    if (!(q.toMs > q.fromMs)) return { ok: false, reason: 'bad_range', detail: 'to must be after from' };
    const slotMs = Math.max(1000, Math.round(q.intervalS * 1000));
    const stepMs = Math.max(1, Math.ceil((q.toMs - q.fromMs) / Math.max(1, q.maxBuckets) / slotMs)) * slotMs;
    const from = q.fromMs - (q.fromMs % stepMs);
    const n = Math.ceil((q.toMs - from) / stepMs);
    const selector = [`target=${promString(q.target)}`, 'mode!="adhoc"', ...(q.sources?.length ? [`source=~${promString(q.sources.map(escapeRegex).join('|'))}`] : [])].join(', ');
    // A last bucket that ends after `to` (the live view: it ends in the future) is evaluated at `to` over
    // what it has so far: VictoriaMetrics moves an evaluation time past its clock back to now, which
    // would slide that bucket's window into the one before.
    const lastStart = from + (n - 1) * stepMs;
    const partial = lastStart + stepMs > q.toMs;
    const full = partial ? n - 1 : n;
    const t0 = performance.now();
    const kinds = this.rollups;
    const calls: { k: RollupSpec; bucket?: number; answer: Promise<QueryAnswer> }[] = [];
    for (const k of kinds) {
      if (full > 0) calls.push({ k, answer: this.client.queryRange(kindQuery(k, selector, stepMs), (from + stepMs) / 1000, (from + full * stepMs) / 1000, stepMs / 1000, deadline) });
      if (partial) calls.push({ k, bucket: n - 1, answer: this.client.queryRange(kindQuery(k, selector, q.toMs - lastStart), q.toMs / 1000, q.toMs / 1000, stepMs / 1000, deadline) });
    }
    const answers = await Promise.all(calls.map((c) => c.answer));
    const failed = answers.find((a) => !a.ok);
    if (failed && !failed.ok) return { ok: false, reason: failed.reason, detail: failed.detail };
    // source -> kind -> sub-series ('' or the probe) -> bucket -> stored columns
    const rows = new Map<string, Map<string, Map<string, Map<number, BucketRow>>>>();
    calls.forEach(({ k, bucket }, ci) => {
      const a = answers[ci]!;
      if (!a.ok) return;
      for (const s of a.result) {
        const source = s.metric.source ?? '';
        const col = s.metric[COL];
        if (!col) continue;
        const sub = k === PROBE_RUNS_ROLLUP ? (s.metric.probe ?? '') : '';
        const byKind = rows.get(source) ?? rows.set(source, new Map()).get(source)!;
        const bySub = byKind.get(k.name) ?? byKind.set(k.name, new Map()).get(k.name)!;
        const byBucket = bySub.get(sub) ?? bySub.set(sub, new Map()).get(sub)!;
        for (const [t, v] of s.values) {
          const i = bucket ?? Math.round((t * 1000 - stepMs - from) / stepMs);
          const x = Number(v);
          if (i < 0 || i >= n || !Number.isFinite(x)) continue;
          const row = byBucket.get(i) ?? byBucket.set(i, {}).get(i)!;
          row[col] = x;
        }
      }
    });
    const sources = [...rows.keys()].sort();
    return {
      ok: true,
      queries: calls.length,
      ms: Math.round((performance.now() - t0) * 10) / 10,
      sources: sources.map((source) => {
        const head: Omit<SeriesHead, 'tier'> & { tier: 'query_url' } = {
          target: q.target,
          from: new Date(from).toISOString(),
          to: new Date(q.toMs).toISOString(),
          step_s: stepMs / 1000,
          resolution: stepMs === slotMs ? 'raw' : 'rollup',
          tier: 'query_url',
          buckets: n,
          route_changes: [],
        };
        const rollups: Record<string, Columns> = {};
        for (const k of kinds) {
          const bySub = rows.get(source)!.get(k.name);
          if (!bySub) continue;
          if (k === PROBE_RUNS_ROLLUP) {
            // Split by kind, under the key `probes`, as the store answers.
            const subs: Record<string, Columns> = {};
            for (const [sub, buckets] of [...bySub].sort(([a], [b]) => a.localeCompare(b))) subs[sub] = columns(k, buckets, from, stepMs, n);
            head.probes = subs;
          } else {
            rollups[k.name] = columns(k, bySub.get('') ?? new Map(), from, stepMs, n);
          }
        }
        return { source, series: { ...head, ...rollups } as DbSeries };
      }),
    };
  }
}

/** Every stored column of a rollup over windows of `windowMs` as one PromQL expression, each series tagged with its column. */
export function kindQuery(k: RollupSpec, selector: string, windowMs: number): string {
  const by = k === PROBE_RUNS_ROLLUP ? 'source, probe' : 'source';
  const w = `[${windowMs}ms] offset 1ms`;
  const sel = (field: string) => `${seriesName(k.measurement, field)}{${selector}}${w}`;
  const parts: string[] = [];
  const add = (col: string, expr: string) => parts.push(`label_replace(${expr}, "${COL}", "${col}", "", "")`);
  for (const a of k.aggs) for (const [col, expr] of aggExprs(a, sel, by)) add(col, expr);
  return parts.join(' or ');
}

function aggExprs(a: RollupAgg, sel: (field: string) => string, by: string): [string, string][] {
  const how = a.how;
  const scaled = (e: string, scale: number) => (scale === 1 ? e : `${e} * ${scale}`);
  switch (how.op) {
    case 'count':
      // Every point of our measurements carries `success`.
      return [[a.name, `sum by (${by}) (count_over_time(${sel('success')}))`]];
    case 'true':
    case 'sum':
      return [[a.name, `sum by (${by}) (sum_over_time(${sel(how.field)}))`]];
    case 'range':
    // Every echo of a slot (a JSON array field) is not in remote write, which carries numbers: no smoke percentiles.
    case 'echoes':
      return [];
    case 'min':
    case 'max':
      return [[a.name, scaled(`${how.op} by (${by}) (${how.op}_over_time(${sel(how.field)}))`, how.scale)]];
    case 'median':
      return [[a.name, scaled(`quantile by (${by}) (0.5, quantile_over_time(0.5, ${sel(how.field)}))`, how.scale)]];
    case 'percentile':
      return [[a.name, scaled(`quantile by (${by}) (${how.p / 100}, quantile_over_time(${how.p / 100}, ${sel(how.field)}))`, how.scale)]];
    case 'avg':
      return [
        [`${a.name}_sum`, scaled(`sum by (${by}) (sum_over_time(${sel(how.field)}))`, how.scale)],
        [`${a.name}_n`, `sum by (${by}) (count_over_time(${sel(how.field)}))`],
      ];
  }
}

/** Dense arrays over the range through the store's own output functions (null where a bucket has no point). */
function columns(k: RollupSpec, buckets: ReadonlyMap<number, BucketRow>, from: number, stepMs: number, n: number): Columns {
  const t: number[] = new Array(n);
  const cols: Record<string, (number | null)[]> = {};
  for (const o of k.outputs) cols[o.name] = new Array<number | null>(n).fill(null);
  for (let i = 0; i < n; i++) t[i] = (from + i * stepMs) / 1000;
  for (const [i, raw] of buckets) {
    if (raw.n === undefined) continue; // a bucket exists where points do
    // The store keeps scaled values as integers.
    const r: BucketRow = {};
    for (const [c, v] of Object.entries(raw)) r[c] = v === null ? null : Math.round(v);
    // A flag no point of the bucket carries has no series: the store counts it 0 (`timing_uncertain` on older points).
    for (const a of k.aggs) if (a.how.op === 'true' && r[a.name] === undefined) r[a.name] = 0;
    for (const o of k.outputs) cols[o.name]![i] = outputValue(o, r);
  }
  return { ...cols, t };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
