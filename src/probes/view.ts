/**
 * The read side of a probe: what the daemon shows of its points, declared by
 * the probe itself (ProbeModule's `figures`, `charts`, `targetMetrics`; its
 * `rollups` and `sparkline` are in samples/rollup.ts, since the store's
 * worker reads them). Plain data: the status board, the data API and the
 * metrics read it on the daemon's side, and the web pages receive it as JSON
 * (web/api-types.ts imports these types), so a page draws a probe it has no
 * code for.
 */

/**
 * A figure of a target's last run: what the overview shows in its columns,
 * /api/targets in `last`, and what thresholds compare with.
 */
export interface FigureSpec {
  /** Key in `last` of /api/targets (`rtt_ms`); unique across probes. */
  key: string;
  /** Overview column header. */
  label: string;
  /** `time` figures are ISO times in the API (when something last happened). */
  unit: 'ms' | '%' | 'days' | 'time' | '';
  /** The measurement it is read from (a point of this run, or the store's last one after a restart). */
  measurement: string;
  /**
   * How: `fields` — the first of these numeric fields the point has (null if
   * none); `flag` — the point's time when this boolean field is true, else
   * the figure keeps its value (when the route last changed).
   */
  fields?: readonly string[];
  flag?: string;
  /** With `flag`: a field holding the event's own time (epoch ms), when it happened before the point that reports it. */
  flagTime?: string;
  /** `sort=` name in /api/targets (default: the key). */
  sort?: string;
  /** Shown as an overview column (default true). */
  column?: boolean;
  /**
   * The threshold a targets file can set for it (`loss_pct: 5`) and which
   * way is worse: a value past the threshold in that direction has crossed
   * it (see crosses()).
   */
  threshold?: { name: string; worse: 'higher' | 'lower' };
}

export type FigureValue = number | string | null;

/** Whether a figure's value crosses its threshold (false without a value, a threshold or a limit). */
export function crosses(f: FigureSpec, value: FigureValue, limit: number | undefined): boolean {
  if (typeof value !== 'number' || limit === undefined || !f.threshold) return false;
  return f.threshold.worse === 'higher' ? value >= limit : value <= limit;
}

/**
 * One chart of the target page, drawn from the series() columns of one of
 * the probe's rollups (`rollup` names it). The types are the drawings the
 * page knows, named for what they draw, not for a probe:
 *
 *   smoke    SmokePing's latency: the median coloured by loss (its worst slot
 *            with `worst`) in bands of percentiles (`bands`: outer p10-p90,
 *            inner p25-p75), or min-max where a bucket has none
 *   loss     loss per bucket as bars in the same colours (`worst`: the
 *            bucket's worst slot drawn around it)
 *   lines    one or two axes of lines (a `range` fixes an axis: MOS 1-5)
 *   stacked  parts stacked into a total (HTTP phases)
 *
 * `failed` (a column of failed runs per bucket) marks failures under a chart;
 * `unsure` (runs whose timings were unsure: timing_uncertain) marks those
 * buckets at its top edge.
 * Where several sites are compared (one line per source), a chart draws one
 * column: the median of `smoke`, each line of `lines`, and the `total` of
 * `stacked` (without one, the sum of its parts).
 */
export type ChartSpec = { id: string; title: string; rollup: string } & (
  | { type: 'smoke'; median: string; min: string; max: string; loss: string; worst?: string; bands?: { outer: readonly [string, string]; inner: readonly [string, string] } }
  | { type: 'loss'; column: string; worst?: string }
  | { type: 'lines'; lines: readonly ChartLine[]; failed?: string; unsure?: string }
  | { type: 'stacked'; unit: string; parts: readonly { column: string; label: string }[]; failed?: string; unsure?: string; total?: string }
);

export interface ChartLine {
  column: string;
  label: string;
  unit: string;
  /** A fixed axis range (MOS: 1-5); default 0 to a round number above the highest value. */
  range?: readonly [number, number];
}

/**
 * One figure of the target page's stat row, over the selected range, from
 * the series answer: `range` — an output of the rollup over the whole range
 * (series `summary`); `last` — the newest bucket's value; `p95` — the 95th
 * percentile of the buckets' values (one per run at raw resolution).
 */
export interface StatSpec {
  id: string;
  label: string;
  rollup: string;
  column: string;
  unit: 'ms' | '%' | '';
  how: 'range' | 'last' | 'p95';
  /** The tooltip: what the figure is. */
  title: string;
  /**
   * Exact from stored buckets too (a rate or mean of summed counts): the page
   * marks the others `≈` when the range is read from buckets.
   */
  exact?: boolean;
}

/** What a probe adds to its target's page. */
export interface PanelSpec {
  /** Charts of the History section, in this order. */
  charts: readonly ChartSpec[];
  /** Figures of the stat row, in this order. */
  stats?: readonly StatSpec[];
  /** The Route section: the route hop by hop, its history and the map (GET /api/targets/<name>/routes). */
  route?: boolean;
}

/**
 * A per-target /metrics series (PER_TARGET_METRICS, blackbox-style): set
 * from each point of `measurement` a run writes, one series per entry of
 * `values` (the entry's label value under `label`); a field the point does
 * not have removes its series. `scale` converts to the metric's unit.
 */
export interface TargetMetricSpec {
  name: string;
  help: string;
  measurement: string;
  /** The second label (`phase`); absent for one series per target. */
  label?: string;
  values: readonly { field: string; label?: string; scale?: number }[];
  /** Served whatever PER_TARGET_METRICS says (the two per-target gauges every deployment has had). */
  always?: boolean;
}
