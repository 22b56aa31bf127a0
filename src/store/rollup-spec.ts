import { rollup, type RollupOutput, type RollupSpec } from '../samples/rollup.js';

/**
 * SQL of the rollups (samples/rollup.ts): each probe declares what the store
 * keeps of its measurements after the raw window (ProbeModule.rollups); this
 * file turns one RollupSpec into the rollup tables' columns, the SQL that
 * aggregates raw points into a bucket, the SQL that merges stored buckets into
 * wider ones for a long view, and the per-bucket output of series().
 */

/**
 * The daemon's own rollup: success and failure counts of every probe run
 * (the `probe` point), one sub-series per kind (its `probe` tag: the `sub`
 * column every rollup table has, '' for the probes' own). A probe's
 * duration and figures are in its measurement's rollup.
 */
export const PROBE_RUNS_ROLLUP: RollupSpec = {
  name: 'probe',
  measurement: 'probe',
  aggs: [rollup.count, rollup.ok],
  outputs: rollup.counts,
};

/** Names become table and column names: checked, since they come from modules. */
const IDENT = /^[a-z][a-z0-9_]{0,40}$/;
/** Keys of series()'s head: a rollup of that name would hide them. */
const RESERVED = new Set(['target', 'from', 'to', 'step_s', 'resolution', 'tier', 'buckets', 'probes', 'route_changes']);

/**
 * The rollups the store keeps: the probes' (from the registry, handed in by
 * the wiring) and the daemon's own probe-run counts. Throws on a name that is
 * not a plain identifier or used twice: a module bug, found at start.
 */
export function rollupsWith(probeRollups: readonly RollupSpec[]): readonly RollupSpec[] {
  const all = [...probeRollups, PROBE_RUNS_ROLLUP];
  const seen = new Set<string>();
  for (const k of all) {
    if (!IDENT.test(k.name) || seen.has(k.name) || RESERVED.has(k.name)) throw new Error(`rollup "${k.name}": the name must be a unique lower-case identifier, not one of ${[...RESERVED].join(', ')}`);
    seen.add(k.name);
    const cols = new Set<string>();
    for (const c of kindColumns(k)) {
      if (!IDENT.test(c) || cols.has(c)) throw new Error(`rollup ${k.name}: column "${c}" must be a unique lower-case identifier`);
      cols.add(c);
    }
    // Retention counts the slots a dropped bucket summarized from it.
    if (!k.aggs.some((a) => a.name === 'n' && a.how.op === 'count')) throw new Error(`rollup ${k.name}: needs the run count (rollup.count, column n)`);
    for (const a of k.aggs) if ((a.how.op === 'percentile' || a.how.op === 'echoes') && !(a.how.p >= 0 && a.how.p <= 100)) throw new Error(`rollup ${k.name}: ${a.name} percentile ${a.how.p} is not within 0-100`);
  }
  return all;
}

export interface Tier {
  name: '5m' | '1h';
  bucketMs: number;
  /** Kept this long (capped by EMBEDDED_RETENTION_DAYS). */
  keepMs: number;
  /** Rolled up from this finer tier's buckets (mergeAggSql) instead of raw points. */
  from?: Tier['name'];
}

/**
 * SmokePing keeps 5-minute steps for 3.5 days and hourly ones for months; we
 * keep the same shape inside EMBEDDED_RETENTION_DAYS. 5 minutes serve the
 * 24-hour view (288 buckets) and any range of the last 3 days; hours serve
 * the 7-day view (168 buckets). Finer than 5 minutes comes from raw points.
 * Not settings: EMBEDDED_RAW_HOURS and EMBEDDED_MAX_BYTES are the knobs an
 * operator trades disk with; these only decide the views' resolution.
 */
export const TIERS: readonly Tier[] = [
  { name: '5m', bucketMs: 5 * 60_000, keepMs: 3 * 86_400_000 },
  // From the hour's twelve 5-minute buckets, not from raw points: raw points then wait for the 5-minute tier only
  // (minutes), so EMBEDDED_RAW_HOURS below an hour holds, and an hour costs twelve rows a target instead of every slot.
  // Exact for counts, sums, min, max and means; its median and percentiles are those of the 5-minute buckets'
  // (mergeAggSql), as SmokePing's RRAs consolidate the finer step.
  { name: '1h', bucketMs: 3_600_000, keepMs: Number.POSITIVE_INFINITY, from: '5m' },
];

/** The tier a tier is rolled up from (undefined: raw points). */
export const sourceOf = (t: Tier): Tier | undefined => (t.from ? TIERS.find((x) => x.name === t.from) : undefined);

/**
 * A bucket is rolled up this long after it ends: most points of its slots
 * have arrived by then. A point that lands later still counts — it marks
 * its bucket to be rolled up again (see `dirty` in schema.ts).
 */
export const ROLLUP_GRACE_MS = 90_000;

export const tableOf = (k: RollupSpec, t: Tier): string => `${k.name}_${t.name}`;

/** Stored column names of an aggregate, in table order. */
export function columnsOf(a: RollupSpec['aggs'][number]): string[] {
  return a.how.op === 'avg' ? [`${a.name}_sum`, `${a.name}_n`] : [a.name];
}

export const kindColumns = (k: RollupSpec): string[] => k.aggs.flatMap(columnsOf);

/**
 * SQL expressions aggregating raw rows into one bucket, one per stored
 * column. `field(name)` gives the SQL of a raw field's value.
 */
export function rawAggSql(k: RollupSpec, field: (name: string) => string): string[] {
  // Values of unsure points (RollupSpec.unsure) are left out while the bucket has sure ones; a bucket of
  // unsure points only keeps them (its `unsure` count says so) rather than showing nothing.
  const sure = (name: string) => `(CASE WHEN ${field(k.unsure!)} = 1 THEN NULL ELSE ${field(name)} END)`;
  const pick = (agg: (v: string) => string, name: string) =>
    k.unsure ? `(CASE WHEN count(${sure(name)}) > 0 THEN ${agg(sure(name))} ELSE ${agg(field(name))} END)` : agg(field(name));
  return k.aggs.flatMap(({ how }) => {
    switch (how.op) {
      case 'count':
        return ['count(*)'];
      case 'true':
        return [`coalesce(sum(${field(how.field)} = 1), 0)`];
      case 'range':
        return [`coalesce(sum(${field(how.field)} >= ${how.lo} AND ${field(how.field)} < ${how.hi}), 0)`];
      case 'sum':
        return [`sum(${field(how.field)})`];
      case 'min':
      case 'max':
      case 'median':
        return [`CAST(round(${pick((v) => `${how.op}(${v})`, how.field)} * ${how.scale}) AS INTEGER)`];
      case 'percentile':
        return [`CAST(round(${pick((v) => `percentile(${v}, ${how.p})`, how.field)} * ${how.scale}) AS INTEGER)`];
      case 'echoes':
        return [`CAST(round(${pick((v) => `echo_percentile(${v}, ${how.p})`, how.field)} * ${how.scale}) AS INTEGER)`];
      case 'avg':
        return [`CAST(round(${pick((v) => `sum(${v})`, how.field)} * ${how.scale}) AS INTEGER)`, pick((v) => `count(${v})`, how.field)];
    }
  });
}

/**
 * A SELECT of a kind's stored columns aggregated from raw points. It walks
 * the slot times of [from, to) and seeks (mid, ts, targets) for each (see
 * `times` in schema.ts); ad-hoc points are left out. `key` goes in front
 * (the grouping columns, their parameters first), `targets` is the condition
 * on r.tid; the last two parameters are from and to.
 */
export function rawAggregateSql(k: RollupSpec, mid: number, field: (name: string) => string, o: { key: string; targets: string; groupBy: string }): string {
  const cols = kindColumns(k);
  return `SELECT ${o.key}, s.sub AS sub, ${rawAggSql(k, field)
    .map((e, i) => `${e} AS ${cols[i]}`)
    .join(', ')}
    FROM times t CROSS JOIN raw r ON r.mid = ${mid} AND r.ts = t.ts AND ${o.targets}
    JOIN series s ON s.sid = r.sid
    WHERE t.ts >= ? AND t.ts < ? AND s.adhoc = 0
    GROUP BY ${o.groupBy}`;
}

/**
 * SQL expressions merging stored buckets into a wider one. Exact for counts,
 * sums, min, max and averages; the median (a percentile) of a merged bucket
 * is the median (the same percentile) of its buckets' (SmokePing's
 * consolidation does the same kind of approximation), said in the README.
 * A percentile of percentiles keeps a high one high where the level moved
 * within the range (the median of p95s would fall below the mean).
 */
export function mergeAggSql(k: RollupSpec): string[] {
  return k.aggs.flatMap((a) => {
    const how = a.how;
    switch (how.op) {
      case 'min':
      case 'max':
        return [`${how.op}(${a.name})`];
      case 'median':
        return [`CAST(round(median(${a.name})) AS INTEGER)`];
      case 'percentile':
      case 'echoes':
        return [`CAST(round(percentile(${a.name}, ${how.p})) AS INTEGER)`];
      case 'avg':
        return [`sum(${a.name}_sum)`, `sum(${a.name}_n)`];
      default:
        return [`sum(${a.name})`];
    }
  });
}

/**
 * A SELECT of a kind's stored columns merged from a finer tier's table into
 * buckets of `bucketMs` (the next tier's roll-up), per target and sub-series:
 * for each (target, sub) a scheduled series of the kind has, a seek on the
 * table's key (tid, sub, b). Parameters: first and last target id, from, to.
 */
export function tierAggregateSql(k: RollupSpec, mid: number, fromTable: string): string {
  const cols = kindColumns(k);
  return `SELECT p.tid AS tid, p.sub AS sub, ${mergeAggSql(k)
    .map((e, i) => `${e} AS ${cols[i]}`)
    .join(', ')}
    FROM (SELECT DISTINCT tid, sub FROM series WHERE tid >= ? AND tid <= ? AND mid = ${mid} AND adhoc = 0) p
    CROSS JOIN ${fromTable} r ON r.tid = p.tid AND r.sub = p.sub AND r.b >= ? AND r.b < ?
    GROUP BY p.tid, p.sub`;
}

/** One bucket's stored columns by name (as SQLite returns them). */
export type BucketRow = Record<string, number | null>;

/** One output value of a bucket (samples/rollup.ts RollupOutput). */
export function outputValue(o: RollupOutput, r: BucketRow): number | null {
  switch (o.from) {
    case 'column': {
      const v = r[o.column];
      return v === null || v === undefined ? null : o.scale ? v / o.scale : v;
    }
    case 'mean': {
      const n = r[`${o.agg}_n`];
      const sum = r[`${o.agg}_sum`];
      return n && sum !== null && sum !== undefined ? round3(sum / n / (o.scale ?? 1)) : null;
    }
    case 'rest': {
      const total = r[o.total];
      return total === null || total === undefined ? null : total - (r[o.part] ?? 0);
    }
    case 'lost_pct': {
      const total = r[o.total];
      return total ? round3((100 * (total - (r[o.kept] ?? 0))) / total) : null;
    }
  }
}

/**
 * SQL aggregate echo_percentile(json_array_text, p): percentile p (0-100) of
 * every number in the arrays of the group, linear between the closest ranks
 * (the icmp probe's rule for one slot). Registered on each connection that
 * rolls up or reads series.
 */
export function registerEchoPercentile(db: { aggregate(name: string, o: object): unknown }): void {
  db.aggregate('echo_percentile', {
    start: () => ({ values: [] as number[], p: 50 }),
    step: (acc: { values: number[]; p: number }, json: unknown, p: number) => {
      acc.p = p;
      if (typeof json !== 'string') return acc;
      try {
        for (const v of JSON.parse(json) as unknown[]) if (typeof v === 'number') acc.values.push(v);
      } catch {
        // a malformed array counts as no echoes
      }
      return acc;
    },
    result: (acc: { values: number[]; p: number }) => {
      const v = acc.values.sort((a, b) => a - b);
      if (!v.length) return null;
      const rank = (acc.p / 100) * (v.length - 1);
      const lo = Math.floor(rank);
      const hi = Math.min(v.length - 1, lo + 1);
      return v[lo]! + (v[hi]! - v[lo]!) * (rank - lo);
    },
  });
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
