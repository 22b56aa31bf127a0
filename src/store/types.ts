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

export interface StoredPoint {
  measurement: string;
  time: string;
  timestamp_ms: number;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
}

export interface PointsResult {
  /** In time order (oldest first). */
  points: StoredPoint[];
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
 * Columnar, uPlot-ready: `t` holds the bucket starts (epoch s) and every
 * other array one value per bucket. `ok` / `failed` count runs per bucket.
 */
export interface PingColumns {
  t: number[];
  /** Lowest rtt_min_ms of the bucket's slots. */
  rtt_min: Col;
  /** Median of the slots' rtt_median_ms (merged buckets: median of the bucket medians). */
  rtt_median: Col;
  /** Mean of the slots' rtt_avg_ms. */
  rtt_avg: Col;
  /** Highest rtt_max_ms. */
  rtt_max: Col;
  /** 100 x (sent - received) / sent, summed over the bucket. */
  loss_pct: Col;
  /** Echo requests sent and answered in the bucket (loss over any range: sum lost / sum sent). */
  sent: Col;
  received: Col;
  /** The worst slot's loss in the bucket (a short outage stays visible in a long bucket). */
  loss_max_pct: Col;
  /** Percentiles of the bucket's echoes (raw slots: the slot's own; buckets: see rollup-spec.ts). */
  rtt_p10?: Col;
  rtt_p25?: Col;
  rtt_p75?: Col;
  rtt_p90?: Col;
  jitter_ms: Col;
  mos: Col;
  ok: Col;
  failed: Col;
}

/** Phase means over the bucket's runs (a phase a run did not have, e.g. tls on http://, is not averaged in). */
export interface HttpColumns {
  t: number[];
  dns_ms: Col;
  connect_ms: Col;
  tls_ms: Col;
  ttfb_ms: Col;
  transfer_ms: Col;
  total_ms: Col;
  total_max_ms: Col;
  ok: Col;
  failed: Col;
  status_2xx: Col;
  status_3xx: Col;
  status_4xx: Col;
  status_5xx: Col;
}

export interface DnsColumns {
  t: number[];
  query_min_ms: Col;
  query_ms: Col;
  query_max_ms: Col;
  ok: Col;
  failed: Col;
}

export interface TcpColumns {
  t: number[];
  connect_min_ms: Col;
  connect_ms: Col;
  connect_max_ms: Col;
  ok: Col;
  failed: Col;
}

export interface ProbeColumns {
  t: number[];
  ok: Col;
  failed: Col;
}

export interface RouteChange {
  time: number;
  from_hash: string | null;
  to_hash: string;
}

export interface SeriesResult {
  target: string;
  from: string;
  to: string;
  step_s: number;
  /** `raw`: buckets computed from raw points; `rollup`: from stored buckets (`tier`). */
  resolution: 'raw' | 'rollup';
  tier: 'raw' | '5m' | '1h';
  buckets: number;
  ping?: PingColumns;
  http?: HttpColumns;
  dns?: DnsColumns;
  tcp?: TcpColumns;
  /** Per probe kind (icmp, trace, http, tcp, dns). */
  probes?: Record<string, ProbeColumns>;
  /** Figures over the whole range (the target page's stat row). */
  summary?: SeriesSummary;
  /** Route changes in the range, epoch s. */
  route_changes: RouteChange[];
}

export interface SeriesSummary {
  sent: number;
  received: number;
  /** 100 x (sent - received) / sent over the range; null without echoes. */
  loss_pct: number | null;
  /** The median of the last bucket with replies. */
  rtt_last_ms: number | null;
  /** Mean RTT of every reply of the range. */
  rtt_avg_ms: number | null;
  rtt_p95_ms: number | null;
  /** true: p95 of every echo (raw window); false: the highest bucket p90 (older ranges). */
  rtt_p95_exact: boolean;
  /** Probe runs of every probe, and the successful ones. */
  runs: number;
  runs_ok: number;
  availability_pct: number | null;
}

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
  changes: { time: string; from_hash: string | null; to_hash: string }[];
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

export interface ProbeState {
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
  /**
   * Last point of each measurement (ping, http, dns, tcp, route): its time
   * and main fields (queries/latest.ts MAIN_FIELDS — e.g. ping rtt_median_ms,
   * rtt_avg_ms, loss_pct, jitter_ms, mos, success; http total_ms, status_code).
   */
  measurements: Record<string, { time: string; fields: Record<string, FieldValue> }>;
  probes: ProbeState[];
  /** Time (ISO) of the last route change kept, or null. */
  route_changed_at: string | null;
}
