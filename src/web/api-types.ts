/**
 * The JSON the pages read (served by the daemon's /api routes). Series
 * arrays are columnar and uPlot-ready: `t` in epoch seconds, null = no data.
 * Other times are ISO strings.
 */

export type Status = 'ok' | 'degraded' | 'failing' | 'unknown' | 'unavailable';
export type Num = number | null;

export interface Member {
  id: string;
  url: string;
  self: boolean;
  available: boolean;
  reason?: string;
}

export interface Failure {
  probe: string;
  reason: string;
  detail: string | null;
  since: string | null;
}

/** A threshold the last run of a probe crossed (why a target is degraded). */
export interface Crossed {
  threshold: string;
  probe: string;
  value: number;
  limit: number;
  when: 'above' | 'below';
  unit: string;
  /** `loss_pct 20 % >= 5 %` */
  text: string;
}

export interface TargetRow {
  name: string;
  host: string;
  probes: string[];
  interval_s: number;
  owner: string | null;
  available: boolean;
  status: Status;
  state_since?: string | null;
  failing: Failure[];
  crossed?: Crossed[];
  last: { time: string | null; rtt_ms: Num; loss_pct: Num; http_total_ms: Num; dns_ms: Num; tcp_ms: Num } | null;
  route_changed_at: string | null;
  /** Echoes lost over echoes sent in the last hour. */
  loss_hour_pct?: Num;
  echoes_hour?: { sent: number; received: number } | null;
  spark: { from: number; step_s: number; rtt_ms: Num[]; loss_pct: Num[] } | null;
}

export interface TargetList {
  total: number;
  offset: number;
  limit: number;
  generated_at: string;
  counts: Record<Status, number>;
  members: Member[];
  targets: TargetRow[];
}

export interface ProbeStatus {
  probe: string;
  success: boolean | null;
  reason: string | null;
  detail: string | null;
  at: string | null;
  since: string | null;
}

export interface TargetDetail {
  name: string;
  host: string;
  probes: string[];
  interval_s: number;
  timeout_s: number;
  owner: string | null;
  available: boolean;
  status: Status;
  state_since?: string | null;
  crossed?: Crossed[];
  thresholds?: Record<string, number | null>;
  probe_status: ProbeStatus[];
  http: { url: string; method: string } | null;
  tcp: { port: number } | null;
  dns: { record: string; server: string | null } | null;
}

export interface RouteChange {
  /** Epoch seconds in /series, ISO in /routes: both accepted (see toEpochS). */
  time: number | string;
  from_hash: string | null;
  to_hash: string;
  /** `2:a>b;4:+c`: what changed, hop by hop (stored by the trace probe when it confirms a change). */
  route_diff?: string | null;
}

export interface Series {
  target: string;
  from: number | string;
  to: number | string;
  step_s: number;
  resolution: 'raw' | 'rollup';
  tier?: 'raw' | '5m' | '1h';
  ping?: {
    t: number[];
    rtt_min: Num[];
    rtt_median: Num[];
    rtt_avg: Num[];
    rtt_max: Num[];
    loss_pct: Num[];
    /** The worst slot's loss of each bucket. */
    loss_max_pct?: Num[];
    sent?: Num[];
    received?: Num[];
    rtt_p10?: Num[];
    rtt_p25?: Num[];
    rtt_p75?: Num[];
    rtt_p90?: Num[];
    jitter_ms: Num[];
    mos: Num[];
  };
  summary?: SeriesSummary;
  http?: { t: number[]; dns_ms: Num[]; connect_ms: Num[]; tls_ms: Num[]; ttfb_ms: Num[]; transfer_ms: Num[]; total_ms: Num[]; failed: Num[] };
  dns?: { t: number[]; query_ms: Num[]; failed: Num[] };
  tcp?: { t: number[]; connect_ms: Num[]; failed: Num[] };
  route_changes?: RouteChange[];
}

export interface SeriesSummary {
  sent: number;
  received: number;
  loss_pct: Num;
  rtt_last_ms: Num;
  rtt_avg_ms: Num;
  rtt_p95_ms: Num;
  rtt_p95_exact: boolean;
  runs: number;
  runs_ok: number;
  availability_pct: Num;
}

export interface Hop {
  ttl: number;
  ip: string;
  hostname: string | null;
  loss_pct: Num;
  rtt_avg_ms: Num;
  lat: Num;
  lon: Num;
  country: string | null;
  city: string | null;
  asn: number | string | null;
}

export interface Routes {
  current: { hash: string; first_seen: string; last_seen: string; reached: boolean; hop_count: number; path?: string | null; hops: Hop[] } | null;
  earlier: { hash: string; first_seen: string; last_seen: string; hop_count: number; reached: boolean; path: string }[];
  changes: RouteChange[];
  source: { lat: number; lon: number } | null;
  destination: { ip: string; lat: Num; lon: Num } | null;
}

export interface DaemonStatus {
  status: 'ok' | 'degraded' | 'failing';
  version: string;
  source: string;
  instance: string;
  uptime_s: number;
  components: Record<string, { status: string; [k: string]: unknown }>;
  breakers: { host: string; state: string }[];
  /** Hosts with a circuit breaker (every origin probed recently). */
  breaker_hosts?: number;
  outbox: { points: number; pending: Record<string, number> } | null;
  cluster: { mode: 'standalone' | 'cluster'; members: Member[] };
  last_round: { at: string; duration_s: number } | null;
}

export interface CollectResult {
  target: string;
  probe: string;
  success: boolean;
  reason: string | null;
  detail: string | null;
  duration_ms: number;
  [figure: string]: unknown;
}

export interface CollectReply {
  time: string;
  duration_ms: number;
  ok: number;
  failed: number;
  results: CollectResult[];
}
