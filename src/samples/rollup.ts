/**
 * What the embedded store keeps of a measurement once its raw points have
 * aged out: per target and per time bucket (5 minutes, 1 hour), SmokePing-
 * style aggregates of the main figures. A probe declares its own
 * (`ProbeModule.rollups`); the store turns each into a table, the SQL that
 * fills a bucket from raw points, the SQL that merges buckets into wider ones
 * and the columns of its series() answer.
 *
 * Plain data on purpose: the store runs in a worker thread that receives the
 * specs as a message and never loads the probe modules.
 */

/** How one stored column is computed from raw points, and merged across buckets. */
export type RollupOp =
  /** Rows in the bucket. */
  | { op: 'count' }
  /** Rows whose boolean field is true. */
  | { op: 'true'; field: string }
  /** Rows whose numeric field is in [lo, hi). */
  | { op: 'range'; field: string; lo: number; hi: number }
  /** Sum of an integer field (echo counts: a true rate over any range is sum lost / sum sent). */
  | { op: 'sum'; field: string }
  /** Lowest, highest value (`max` keeps the worst slot of a bucket visible at any age). */
  | { op: 'min' | 'max'; field: string; scale: number }
  /**
   * The p-th percentile (0-100) of the slots' values; `median` is p 50.
   * Merged buckets take the percentile of the buckets' percentiles, the same
   * kind of approximation as SmokePing's consolidation (said in
   * src/store/README.md).
   */
  | { op: 'median'; field: string; scale: number }
  | { op: 'percentile'; field: string; p: number; scale: number }
  /**
   * The p-th percentile of every number in the bucket's JSON-array field
   * (a slot's echoes: SmokePing's smoke), exact from raw points; a merged
   * bucket takes the p-th percentile of its buckets' values (as `percentile`).
   */
  | { op: 'echoes'; field: string; p: number; scale: number }
  /** Two stored columns, `<name>_sum` (scaled) and `<name>_n` (rows with a value): exact means at any width. */
  | { op: 'avg'; field: string; scale: number };

export interface RollupAgg {
  /** Column name (or prefix, for `avg`), unique within the rollup. */
  name: string;
  how: RollupOp;
}

/** One output column of series(), per bucket, computed from the stored aggregates. */
export type RollupOutput =
  /** A stored column, divided by `scale` (default 1). */
  | { name: string; from: 'column'; column: string; scale?: number }
  /** The mean of an `avg` aggregate: sum / n / scale. */
  | { name: string; from: 'mean'; agg: string; scale?: number }
  /** Rows not counted by `part` (failed runs: `n` - `ok`). */
  | { name: string; from: 'rest'; total: string; part: string }
  /** 100 x (total - kept) / total, from two sums (loss from sent and received). */
  | { name: string; from: 'lost_pct'; total: string; kept: string };

export interface RollupSpec {
  /** Table prefix and key of its columns in series() (`ping`, `http`). Unique across probes. */
  name: string;
  /** The raw measurement it summarizes. */
  measurement: string;
  aggs: readonly RollupAgg[];
  outputs: readonly RollupOutput[];
  /**
   * A boolean field that marks a point's values as unsure (`timing_uncertain`:
   * timed in JavaScript while the event loop was late). Such a point still
   * counts as a run (count, true, sum) but gives no value to min, max, avg,
   * median or percentile while its bucket has sure points, so a busy loop
   * does not move the percentiles; a bucket of unsure points only keeps
   * their values, and its `unsure` count (rollup.unsure) says so.
   */
  unsure?: string;
}

/** Times are stored as integer microseconds (a value in ms x 1000): SQLite stores an integer in 1-4 bytes, a REAL in 8. */
export const US = 1000;

/** Builders for the common cases, so a probe's spec reads as a list of its figures. */
export const rollup = {
  count: { name: 'n', how: { op: 'count' } } as RollupAgg,
  ok: { name: 'ok', how: { op: 'true', field: 'success' } } as RollupAgg,
  avg: (name: string, field: string, scale = US): RollupAgg => ({ name, how: { op: 'avg', field, scale } }),
  min: (name: string, field: string, scale = US): RollupAgg => ({ name, how: { op: 'min', field, scale } }),
  max: (name: string, field: string, scale = US): RollupAgg => ({ name, how: { op: 'max', field, scale } }),
  median: (name: string, field: string, scale = US): RollupAgg => ({ name, how: { op: 'median', field, scale } }),
  percentile: (name: string, field: string, p: number, scale = US): RollupAgg => ({ name, how: { op: 'percentile', field, p, scale } }),
  echoes: (name: string, field: string, p: number, scale = US): RollupAgg => ({ name, how: { op: 'echoes', field, p, scale } }),
  sum: (name: string, field: string): RollupAgg => ({ name, how: { op: 'sum', field } }),
  /** Lowest, mean and highest of one timing: aggregates `<name>_min`, `<name>`, `<name>_max`. */
  spread: (name: string, field: string): RollupAgg[] => [rollup.min(`${name}_min`, field), rollup.avg(name, field), rollup.max(`${name}_max`, field)],
  /** Outputs `<name>_min_ms`, `<name>_ms`, `<name>_max_ms` of a spread. */
  spreadOut: (name: string): RollupOutput[] => [
    { name: `${name}_min_ms`, from: 'column', column: `${name}_min`, scale: US },
    { name: `${name}_ms`, from: 'mean', agg: name, scale: US },
    { name: `${name}_max_ms`, from: 'column', column: `${name}_max`, scale: US },
  ],
  /** Runs whose timings were unsure (see RollupSpec.unsure), per bucket: aggregate and output `unsure`. */
  unsure: { name: 'unsure', how: { op: 'true', field: 'timing_uncertain' } } as RollupAgg,
  unsureOut: { name: 'unsure', from: 'column', column: 'unsure' } as RollupOutput,
  /** Outputs `ok` and `failed` (runs per bucket) from `count` and `ok`. */
  counts: [
    { name: 'ok', from: 'column', column: 'ok' },
    { name: 'failed', from: 'rest', total: 'n', part: 'ok' },
  ] as RollupOutput[],
};

/**
 * The overview's small chart of each target, from raw points of the last
 * hour: the median of `value` per bucket and, with `total` and `kept`, loss
 * from their sums (sent and received echoes). One probe provides it.
 */
export interface SparklineSpec {
  measurement: string;
  value: string;
  total?: string;
  kept?: string;
}
