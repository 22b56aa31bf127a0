/**
 * The JSON the pages read (served by the daemon's /api routes). Series
 * arrays are columnar and uPlot-ready: `t` in epoch seconds, null = no data.
 * Other times are ISO strings. What each probe shows (figures, charts) is
 * declared by the probe and arrives with the data (probes/view.ts).
 */
import type { FigureSpec, PanelSpec } from '../probes/view.js';

export type { ChartLine, ChartSpec, PanelSpec, StatSpec } from '../probes/view.js';

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
  /** Threshold key (`loss_pct`). */
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
  /** Why it is degraded: each threshold the last runs crossed. */
  crossed?: Crossed[];
  /** The probes' figures of the last run by key (FigureColumn.key); ISO strings for `time` figures. */
  last: ({ time: string | null } & Record<string, number | string | null>) | null;
  /** Echoes lost over echoes sent in the last hour. */
  loss_hour_pct?: Num;
  echoes_hour?: { sent: number; received: number } | null;
  spark: { from: number; step_s: number; rtt_ms: Num[]; loss_pct: Num[] } | null;
}

/** An overview column of a probe's figure. */
export interface FigureColumn {
  key: string;
  label: string;
  unit: FigureSpec['unit'];
  /** Its `sort=` name. */
  sort: string;
}

export interface TargetList {
  total: number;
  offset: number;
  limit: number;
  generated_at: string;
  counts: Record<Status, number>;
  members: Member[];
  columns: FigureColumn[];
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
  /** Each probe's settings in words. */
  settings: { probe: string; summary: string }[];
  /** What each probe of the target draws on its page, in order. */
  panels: ({ probe: string } & PanelSpec)[];
}

export interface RouteChange {
  /** Epoch seconds in /series, ISO in /routes: both accepted (see toEpochS). */
  time: number | string;
  from_hash: string | null;
  to_hash: string;
  /** TTL by TTL, `2:10.77.2.2>10.77.5.2;4:+10.77.9.1` (docs/schema.md, route_diff); null for changes stored before diffs were. */
  diff?: string | null;
}

/** One rollup's columns: `t` (bucket starts, epoch s) and one value per bucket for each output. */
export type Columns = { t: number[] } & { [output: string]: Num[] | undefined };

export interface SeriesHead {
  target: string;
  from: number | string;
  to: number | string;
  step_s: number;
  resolution: 'raw' | 'rollup';
  tier?: 'raw' | '5m' | '1h';
  route_changes?: RouteChange[];
  /** Each rollup's outputs over the whole range; `probes`: each probe's runs ok and failed. */
  summary?: Record<string, Record<string, Num>> & { probes?: Record<string, Record<string, Num>> };
  /** true: from raw points (percentiles of every echo); false: merged from stored buckets. */
  summary_exact?: boolean;
}

/** /series: the head, and each rollup's Columns under its name (ChartSpec.rollup). */
export type Series = SeriesHead & { [rollup: string]: unknown };

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

/** Several sites: a source's view of a target (GET /api/targets/<name>/sources). */
export type SourceState = 'ok' | 'degraded' | 'failing' | 'unknown';
export type FaultDomain = 'none' | 'target' | 'path' | 'undetermined';

export interface HopRef {
  ttl: number;
  ip: string;
}

export interface Onset extends HopRef {
  kind: 'loss' | 'latency';
  /** Loss in % at that hop, or the milliseconds the step adds. */
  value: number;
  /** On the part of the path no healthy source uses (false: a hop healthy paths share). */
  own: boolean;
}

export interface PathFault {
  source: string;
  state: SourceState;
  why: string | null;
  /** Responding hops of this path that no healthy source's path has. */
  own_hops: HopRef[];
  /** The first hop after its own part that a healthy path has too. */
  joins_at: HopRef | null;
  loss_begins: Onset | null;
  latency_begins: Onset | null;
  summary: string;
}

export interface Verdict {
  domain: FaultDomain;
  /** One line a person reads first. */
  summary: string;
  /** Sources with data that see the target ok. */
  healthy: string[];
  /** Sources with data that see it degraded or failing. */
  affected: string[];
  /** Sources without data (their site did not answer, or nothing measured yet): not counted. */
  no_data: string[];
  /** `target`: responding hops every affected path has, in path order (nearest the target last). */
  common_hops?: HopRef[];
  /** `path`: one entry per affected source. */
  paths?: PathFault[];
}

export interface SourceRoute {
  at: string;
  reached: boolean;
  traces: number;
  hops: { ttl: number; ip: string; sent: number; loss_pct: Num; rtt_avg_ms: Num }[];
}

export interface SourceView {
  source: string;
  available: boolean;
  reason?: string;
  url?: string;
  state: SourceState;
  why: string | null;
  /** The last runs' figures by their keys (TargetSources.figures names them). */
  last: { time: string | null } & Record<string, number | string | null>;
  route?: SourceRoute | null;
}

export interface TargetSources {
  /** The figures of the target's probes (probes' view.ts), a column each. */
  figures: Pick<FigureSpec, 'key' | 'label' | 'unit'>[];
  sources: SourceView[];
  verdict: Verdict;
}

export interface SourceSeries {
  /** `query_url`: the shared database; `sites`: each site's own store. */
  history: 'query_url' | 'sites';
  /** Why the shared database did not answer (the sites did instead). */
  fallback?: string;
  sources: { source: string; available: boolean; reason?: string; series?: Series & { probes?: Record<string, { t: number[]; ok: Num[]; failed: Num[] }> } }[];
}

export interface SourceRoutes {
  sources: { source: string; available: boolean; reason?: string; routes?: Routes }[];
}

export interface MatrixCell {
  state: SourceState;
  rtt_ms: Num;
  loss_pct: Num;
  time: string | null;
  why: string | null;
}

export interface Matrix {
  total: number;
  offset: number;
  limit: number;
  generated_at: string;
  sources: { name: string; self: boolean; url?: string; available: boolean; reason?: string; age_s?: number }[];
  counts: Record<SourceState, number>;
  targets: { name: string; worst: SourceState; fault: { domain: Verdict['domain']; affected: string[]; summary: string } | null; cells: MatrixCell[] }[];
}
