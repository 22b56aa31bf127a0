/**
 * The store's public API: what the HTTP routes and the pages get. Shapes are
 * documented with examples in src/store/README.md. Series arrays carry epoch
 * seconds (uPlot's unit); everything else carries ISO times.
 */
import type { FieldValue } from '../samples/sample.js';

/** GET /api/points: raw points, InfluxDB-like. */
export interface PointQuery {
  measurement?: string;
  target?: string;
  /** Inclusive, epoch ms. Default: one hour before `untilMs` (or now). */
  sinceMs?: number;
  /** Exclusive, epoch ms. Default: no upper bound. */
  untilMs?: number;
  /** Newest `limit` points of the window are returned. */
  limit: number;
}

/** A point as the embedded store returns it (GET /api/points): ISO and epoch-ms time. */
export interface PointRecord {
  measurement: string;
  time: string;
  timestamp_ms: number;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
}

export interface PointsResult {
  /** In time order (oldest first). */
  points: PointRecord[];
  /** More points matched than `limit`, or the scan cap stopped the search first. */
  truncated: boolean;
  /** The window actually applied (after defaults). */
  since_ms: number;
  until_ms: number | null;
}

export interface SeriesQuery {
  target: string;
  fromMs: number;
  toMs: number;
  /** Most buckets per series (default 1000, at most 2000). */
  maxBuckets?: number;
}

/** One value per bucket, null where the bucket has no data. */
export type Col = (number | null)[];

/**
 * One rollup's series, columnar and uPlot-ready: `t` holds the bucket starts
 * (epoch s), every other array one value per bucket (null: no data), named
 * by the rollup's outputs (samples/rollup.ts; each probe's view.ts lists
 * its own, e.g. ping `rtt_median`, `loss_pct`; `ok` / `failed` count runs).
 */
export type Columns = { t: number[] } & { [output: string]: Col };

export interface RouteChange {
  /** When the new route was first seen (epoch seconds). */
  time: number;
  from_hash: string | null;
  to_hash: string;
  /** TTL by TTL, `2:10.77.2.2>10.77.5.2;4:+10.77.9.1` (docs/schema.md, route_diff); null for changes stored before diffs were. */
  diff: string | null;
}

export interface SeriesHead {
  target: string;
  from: string;
  to: string;
  step_s: number;
  /** `raw`: buckets computed from raw points; `rollup`: from stored buckets (`tier`). */
  resolution: 'raw' | 'rollup';
  tier: 'raw' | '5m' | '1h';
  buckets: number;
  /** Per probe kind (icmp, trace, http, ...): runs ok and failed per bucket. */
  probes?: Record<string, Columns>;
  /**
   * Each rollup's outputs over the whole range (one value each), and under
   * `probes` each probe's runs ok and failed: the target page's stat row.
   */
  summary?: Record<string, Record<string, number | null>> & { probes?: Record<string, Record<string, number | null>> };
  /** true: computed from raw points (percentiles of every echo); false: merged from stored buckets. */
  summary_exact?: boolean;
  /** Route changes in the range, epoch s. */
  route_changes: RouteChange[];
}

/**
 * series(): the head, and the Columns of each probe rollup with data in the
 * range, under the rollup's name (`ping`, `http`, ...).
 */
export type SeriesResult = SeriesHead & { [rollup: string]: Columns | undefined };

export interface RouteHop {
  ttl: number;
  /** `*` for a silent hop. */
  ip: string;
  hostname: string | null;
  ecmp_ips: string | null;
  loss_pct: number | null;
  rtt_avg_ms: number | null;
  rtt_best_ms: number | null;
  rtt_worst_ms: number | null;
  lat: number | null;
  lon: number | null;
  country: string | null;
  city: string | null;
  asn: number | null;
  as_org: string | null;
}

export interface RouteSummary {
  hash: string;
  first_seen: string;
  last_seen: string;
  hop_count: number | null;
  reached: boolean | null;
  path: string | null;
}

export interface RoutesQuery {
  target: string;
  /** Default: the retention (everything kept). */
  fromMs?: number;
  /** Default: now. */
  toMs?: number;
}

export interface RoutesResult {
  /** The route seen last (up to `to`), hop by hop as last measured. */
  current: (RouteSummary & { hops: RouteHop[] }) | null;
  /** Other routes seen in the range, most recently seen first (at most 100). */
  earlier: RouteSummary[];
  /** Route changes in the range, oldest first (ISO times). */
  changes: { time: string; from_hash: string | null; to_hash: string; diff: string | null }[];
  /** From the target's latest `geo` point. */
  source: { lat: number; lon: number } | null;
  destination: { ip: string | null; lat: number | null; lon: number | null } | null;
}

export interface SparklineOptions {
  /** Default: now. */
  toMs?: number;
  /** Default: one hour before `toMs`; clamped to the raw window. */
  fromMs?: number;
  /** Default 30, at most 120. */
  buckets?: number;
}

export interface Sparkline {
  /** Start of the first bucket, epoch s. */
  from: number;
  step_s: number;
  /** Median of the slots' rtt_median_ms per bucket. */
  rtt_ms: (number | null)[];
  /** From the bucket's summed sent/received. */
  loss_pct: (number | null)[];
  /** Echo requests sent and answered over the whole range: its loss rate is 100 x (sent - received) / sent. */
  sent: number;
  received: number;
}

/** The last run of one probe as the embedded store keeps it (status/target-status.ts ProbeState in memory): ISO times. */
export interface ProbeStateRecord {
  probe: string;
  success: boolean | null;
  reason: string | null;
  detail: string | null;
  duration_ms: number | null;
  /** Time (ISO) of the last run of this probe. */
  at: string;
  /** Since when (ISO) `success` has had its current value. */
  since: string;
}

export interface LatestState {
  target: string;
  /** Last point of each measurement the target has (ping, http, route, geo...): its time and fields. */
  measurements: Record<string, { time: string; fields: Record<string, FieldValue> }>;
  probes: ProbeStateRecord[];
  /** Time (ISO) of the last route change kept, or null. */
  route_changed_at: string | null;
  /**
   * Time (ISO) a flag was last true, by `measurement.field` — the route
   * history's change (`route.route_changed`): a figure that says when
   * something last happened (probes/view.ts FigureSpec.flag) reads it.
   */
  flagged: Record<string, string>;
}
