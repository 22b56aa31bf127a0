import type { DnsColumns, HttpColumns, PingColumns, ProbeColumns, TcpColumns } from './types.js';

/**
 * What the store keeps after the raw window, SmokePing-style: per target and
 * per time bucket, aggregates of each probe's main figures. One literal table
 * (KINDS) drives everything: the rollup tables' columns, the SQL that
 * aggregates raw points into a bucket, the SQL that merges stored buckets into
 * wider ones for a long view, and the per-bucket output of series().
 *
 * Times are stored as integer microseconds (`scale: 1000` on a value in ms):
 * SQLite stores an integer in 1-4 bytes where a REAL always takes 8, which
 * halves the size of a rollup row.
 */

/** How one stored column is computed from raw points and merged across buckets. */
export type AggOp =
  /** Rows in the bucket. */
  | { op: 'count' }
  /** Rows whose boolean field is true. */
  | { op: 'true'; field: string }
  /** Rows whose numeric field is in [lo, hi). */
  | { op: 'range'; field: string; lo: number; hi: number }
  | { op: 'sum'; field: string }
  | { op: 'min' | 'max' | 'median'; field: string; scale: number }
  /**
   * Percentile p of every number in the bucket's JSON-array field (the
   * echoes of its slots: SmokePing's smoke), exact from raw points; a merged
   * bucket takes the median of its buckets' values, as `median` does.
   */
  | { op: 'echo_pct'; field: string; p: number; scale: number }
  /** Two columns: `<name>_sum` (scaled) and `<name>_n` (rows with a value). */
  | { op: 'avg'; field: string; scale: number };

export interface Agg {
  name: string;
  how: AggOp;
}

export interface RollupKind {
  /** Table prefix and key in series() output. */
  name: 'ping' | 'http' | 'dns' | 'tcp' | 'probe';
  /** The raw measurement it summarizes. */
  measurement: string;
  /** Tag whose value splits the kind into sub-series (`probe` -> icmp, http, ...); '' when none. */
  subTag: string;
  aggs: readonly Agg[];
}

const US = 1000; // ms -> integer microseconds
const avg = (name: string, field: string, scale = US): Agg => ({ name, how: { op: 'avg', field, scale } });
const count: Agg = { name: 'n', how: { op: 'count' } };
const ok: Agg = { name: 'ok', how: { op: 'true', field: 'success' } };
/** Lowest, mean and highest of one timing: `<name>_min`, `<name>`, `<name>_max`. */
const spread = (name: string, field: string): Agg[] => [
  { name: `${name}_min`, how: { op: 'min', field, scale: US } },
  avg(name, field),
  { name: `${name}_max`, how: { op: 'max', field, scale: US } },
];

export const KINDS: readonly RollupKind[] = [
  {
    name: 'ping',
    measurement: 'ping',
    subTag: '',
    aggs: [
      count,
      ok,
      { name: 'sent', how: { op: 'sum', field: 'sent' } },
      { name: 'received', how: { op: 'sum', field: 'received' } },
      { name: 'rtt_min', how: { op: 'min', field: 'rtt_min_ms', scale: US } },
      { name: 'rtt_median', how: { op: 'median', field: 'rtt_median_ms', scale: US } },
      avg('rtt_avg', 'rtt_avg_ms'),
      { name: 'rtt_max', how: { op: 'max', field: 'rtt_max_ms', scale: US } },
      avg('jitter', 'jitter_ms'),
      avg('mos', 'mos'),
      // The worst slot: a 5-minute outage stays an outage in an hourly bucket (loss in thousandths of a percent).
      { name: 'loss_max', how: { op: 'max', field: 'loss_pct', scale: 1000 } },
      ...[10, 25, 75, 90].map((p): Agg => ({ name: `rtt_p${p}`, how: { op: 'echo_pct', field: 'rtts_ms', p, scale: US } })),
    ],
  },
  {
    name: 'http',
    measurement: 'http',
    subTag: '',
    aggs: [
      count,
      ok,
      { name: 's2xx', how: { op: 'range', field: 'status_code', lo: 200, hi: 300 } },
      { name: 's3xx', how: { op: 'range', field: 'status_code', lo: 300, hi: 400 } },
      { name: 's4xx', how: { op: 'range', field: 'status_code', lo: 400, hi: 500 } },
      { name: 's5xx', how: { op: 'range', field: 'status_code', lo: 500, hi: 600 } },
      avg('dns', 'dns_ms'),
      avg('connect', 'connect_ms'),
      avg('tls', 'tls_ms'),
      avg('ttfb', 'ttfb_ms'),
      avg('transfer', 'transfer_ms'),
      avg('total', 'total_ms'),
      { name: 'total_max', how: { op: 'max', field: 'total_ms', scale: US } },
    ],
  },
  {
    name: 'dns',
    measurement: 'dns',
    subTag: '',
    aggs: [count, ok, ...spread('query', 'query_ms')],
  },
  {
    name: 'tcp',
    measurement: 'tcp',
    subTag: '',
    aggs: [count, ok, ...spread('connect', 'connect_ms')],
  },
  {
    name: 'probe',
    measurement: 'probe',
    subTag: 'probe',
    // Success and failure counts only: a probe's own duration is in its measurement's figures.
    aggs: [count, ok],
  },
];

export interface Tier {
  name: '5m' | '1h';
  bucketMs: number;
  /** Kept this long (capped by EMBEDDED_RETENTION_DAYS). */
  keepMs: number;
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
  { name: '1h', bucketMs: 3_600_000, keepMs: Number.POSITIVE_INFINITY },
];

/**
 * A bucket is rolled up this long after it ends: most points of its slots
 * have arrived by then. A point that lands later still counts — it marks
 * its bucket to be rolled up again (see `dirty` in schema.ts).
 */
export const ROLLUP_GRACE_MS = 90_000;

export const tableOf = (k: RollupKind, t: Tier): string => `${k.name}_${t.name}`;

/** Stored column names of an aggregate, in table order. */
export function columnsOf(a: Agg): string[] {
  return a.how.op === 'avg' ? [`${a.name}_sum`, `${a.name}_n`] : [a.name];
}

export const kindColumns = (k: RollupKind): string[] => k.aggs.flatMap(columnsOf);

/**
 * SQL expressions aggregating raw rows into one bucket, one per stored
 * column. `field(name)` gives the SQL of a raw field's value.
 */
export function rawAggSql(k: RollupKind, field: (name: string) => string): string[] {
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
        return [`CAST(round(${how.op}(${field(how.field)}) * ${how.scale}) AS INTEGER)`];
      case 'echo_pct':
        return [`CAST(round(echo_percentile(${field(how.field)}, ${how.p}) * ${how.scale}) AS INTEGER)`];
      case 'avg':
        return [`CAST(round(sum(${field(how.field)}) * ${how.scale}) AS INTEGER)`, `count(${field(how.field)})`];
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
export function rawAggregateSql(k: RollupKind, mid: number, field: (name: string) => string, o: { key: string; targets: string; groupBy: string }): string {
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
 * sums, min, max and averages; the median of a merged bucket is the median
 * of its buckets' medians (SmokePing's consolidation does the same kind of
 * approximation), said in the README.
 */
export function mergeAggSql(k: RollupKind): string[] {
  return k.aggs.flatMap((a) => {
    const how = a.how;
    switch (how.op) {
      case 'min':
      case 'max':
        return [`${how.op}(${a.name})`];
      case 'median':
      case 'echo_pct':
        return [`CAST(round(median(${a.name})) AS INTEGER)`];
      case 'avg':
        return [`sum(${a.name}_sum)`, `sum(${a.name}_n)`];
      default:
        return [`sum(${a.name})`];
    }
  });
}

/** One bucket's stored columns by name (as SQLite returns them). */
export type BucketRow = Record<string, number | null>;

type Output<C> = readonly (readonly [Exclude<keyof C, 't'>, (r: BucketRow) => number | null])[];

/** A spread's outputs in ms: `<name>_min_ms`, `<name>_ms`, `<name>_max_ms`. */
const spreadOut = <N extends string>(name: N) =>
  [
    [`${name}_min_ms`, (r: BucketRow) => scaled(r[`${name}_min`])],
    [`${name}_ms`, (r: BucketRow) => mean(r, name)],
    [`${name}_max_ms`, (r: BucketRow) => scaled(r[`${name}_max`])],
  ] as const;
const counts = [
  ['ok', (r: BucketRow) => r.ok ?? null],
  ['failed', (r: BucketRow) => failed(r)],
] as const;

/** Per-bucket output values of each kind: the columns of series() (types.ts). */
export const OUTPUTS: { ping: Output<PingColumns>; http: Output<HttpColumns>; dns: Output<DnsColumns>; tcp: Output<TcpColumns>; probe: Output<ProbeColumns> } = {
  ping: [
    ['rtt_min', (r) => scaled(r.rtt_min)],
    ['rtt_median', (r) => scaled(r.rtt_median)],
    ['rtt_avg', (r) => mean(r, 'rtt_avg')],
    ['rtt_max', (r) => scaled(r.rtt_max)],
    ['loss_pct', (r) => (r.sent ? round3((100 * (r.sent - (r.received ?? 0))) / r.sent) : null)],
    ['sent', (r) => r.sent ?? null],
    ['received', (r) => r.received ?? null],
    ['loss_max_pct', (r) => (r.loss_max === null || r.loss_max === undefined ? null : r.loss_max / 1000)],
    ['rtt_p10', (r) => scaled(r.rtt_p10)],
    ['rtt_p25', (r) => scaled(r.rtt_p25)],
    ['rtt_p75', (r) => scaled(r.rtt_p75)],
    ['rtt_p90', (r) => scaled(r.rtt_p90)],
    ['jitter_ms', (r) => mean(r, 'jitter')],
    ['mos', (r) => mean(r, 'mos')],
    ['ok', (r) => r.ok ?? null],
    ['failed', failed],
  ],
  http: [
    ['dns_ms', (r) => mean(r, 'dns')],
    ['connect_ms', (r) => mean(r, 'connect')],
    ['tls_ms', (r) => mean(r, 'tls')],
    ['ttfb_ms', (r) => mean(r, 'ttfb')],
    ['transfer_ms', (r) => mean(r, 'transfer')],
    ['total_ms', (r) => mean(r, 'total')],
    ['total_max_ms', (r) => scaled(r.total_max)],
    ['ok', (r) => r.ok ?? null],
    ['failed', failed],
    ['status_2xx', (r) => r.s2xx ?? null],
    ['status_3xx', (r) => r.s3xx ?? null],
    ['status_4xx', (r) => r.s4xx ?? null],
    ['status_5xx', (r) => r.s5xx ?? null],
  ],
  dns: [...spreadOut('query'), ...counts],
  tcp: [...spreadOut('connect'), ...counts],
  probe: counts,
};

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

function scaled(v: number | null | undefined): number | null {
  return v === null || v === undefined ? null : v / US;
}

function mean(r: BucketRow, name: string): number | null {
  const n = r[`${name}_n`];
  const sum = r[`${name}_sum`];
  return n && sum !== null && sum !== undefined ? round3(sum / n / US) : null;
}

function failed(r: BucketRow): number | null {
  return r.n === null || r.n === undefined ? null : r.n - (r.ok ?? 0);
}
