import type uPlot from 'uplot';
import type { ChartLine, ChartSpec, Columns, Num, PanelSpec, Series } from '../api-types.js';
import { cssVar } from '../theme.js';
import { drawnCount, inPlot, makeChart, valueAxis, type Chart, type PlotSpec } from './charts.js';
import { lossColour } from './loss-colours.js';

/**
 * Every chart of the target page from one /series answer, as the target's
 * probes declare them (panels of /api/targets/<name>): a chart whose rollup
 * has no data in the range is left out. The drawings are named for what
 * they draw (probes/view.ts ChartSpec), so a probe this page has no code for
 * is drawn too.
 */

export interface SeriesContext {
  series: Series;
  panels: readonly PanelSpec[];
  range: [number, number];
  markers: number[];
  onZoom: (fromS: number, toS: number) => void;
}

type Common = Pick<PlotSpec, 'range' | 'markers' | 'onZoom'>;

const nums = (a: Num[] | undefined, n: number): (number | null)[] => (a ?? new Array<number | null>(n).fill(null)) as (number | null)[];

type Of<T extends ChartSpec['type']> = Extract<ChartSpec, { type: T }>;

/** Percentile `p` of the non-null values (linear between closest ranks). */
function pctOf(values: readonly (number | null | undefined)[], p: number): number | null {
  const v = values.filter((x): x is number => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const rank = (p / 100) * (v.length - 1);
  const lo = Math.floor(rank);
  return v[lo]! + (v[Math.min(v.length - 1, lo + 1)]! - v[lo]!) * (rank - lo);
}

/** Upper edge of the latency axis: outliers above it are marked, not scaled to. */
export const Y_CAP_PERCENTILE = 98;

/** A band's legend name: its percentile (`rtt_p90` -> `p90`), else the column. */
const bandLabel = (column: string) => /(p\d+)$/.exec(column)?.[1] ?? column;

/** The loss a bucket is coloured by: its worst slot when the rollup keeps it, else its rate. */
function colourLoss(p: Columns, loss: string, worst: string | undefined, n: number): (number | null)[] {
  const mean = nums(p[loss], n);
  const w = worst ? nums(p[worst], n) : mean;
  return mean.map((m, i) => w[i] ?? m);
}

/**
 * SmokePing's latency graph: the smoke is the spread of the echoes (the
 * spec's outer band, p10-p90, light; inner, p25-p75, darker; min-max for
 * points stored without echoes) around the median, a bar per bucket
 * coloured by that bucket's loss (its worst slot in a rollup bucket). The
 * y-axis ends at the 98th percentile of the buckets' upper edge, so one
 * 350 ms echo does not flatten a 50 -> 67 ms step; values above it are
 * marked at the top edge. A bucket where every echo was lost has no median;
 * it is marked at the top in the 100 % colour.
 */
function smokeChart(spec: Of<'smoke'>, p: Columns, step: number, c: Common): PlotSpec {
  const n = p.t.length;
  const median = nums(p[spec.median], n);
  const hasSmoke = !!spec.bands && nums(p[spec.bands.outer[1]], n).some((v) => v !== null);
  const hi = hasSmoke ? nums(p[spec.bands!.outer[1]], n) : nums(p[spec.max], n);
  const lo = hasSmoke ? nums(p[spec.bands!.outer[0]], n) : nums(p[spec.min], n);
  const q3 = hasSmoke ? nums(p[spec.bands!.inner[1]], n) : new Array<number | null>(n).fill(null);
  const q1 = hasSmoke ? nums(p[spec.bands!.inner[0]], n) : new Array<number | null>(n).fill(null);
  const max = nums(p[spec.max], n);
  const colourBy = colourLoss(p, spec.loss, spec.worst, n);
  const cap = niceMax(Math.max(pctOf(hi, Y_CAP_PERCENTILE) ?? 0, pctOf(median, Y_CAP_PERCENTILE) ?? 0) || null);
  const clipped = max.filter((v, i) => (v !== null && v > cap) || (median[i] !== null && median[i]! > cap)).length;
  return {
    ...c,
    id: spec.id,
    title: hasSmoke ? spec.title : spec.title.replace(/smoke .*$/, 'min–max band'),
    summary: `Round-trip time per bucket: ${drawnCount(median)} buckets with a median; the axis ends at ${cap} ms, ${clipped} buckets above it are marked at the top.`,
    height: 280,
    data: [p.t, hi, lo, q3, q1, median, nums(p[spec.loss], n), colourBy, max],
    series: [
      { label: hasSmoke ? bandLabel(spec.bands!.outer[1]) : 'max', stroke: cssVar('--smoke-edge'), width: 1, points: { show: false }, value: (_u, v) => fmt(v, 'ms') },
      { label: hasSmoke ? bandLabel(spec.bands!.outer[0]) : 'min', stroke: cssVar('--smoke-edge'), width: 1, points: { show: false }, value: (_u, v) => fmt(v, 'ms') },
      { label: hasSmoke ? bandLabel(spec.bands!.inner[1]) : '', show: hasSmoke, stroke: 'transparent', width: 0, points: { show: false }, value: (_u, v) => fmt(v, 'ms') },
      { label: hasSmoke ? bandLabel(spec.bands!.inner[0]) : '', show: hasSmoke, stroke: 'transparent', width: 0, points: { show: false }, value: (_u, v) => fmt(v, 'ms') },
      { label: 'median', stroke: cssVar('--muted'), width: 1, points: { show: false }, value: (_u, v) => fmt(v, 'ms') },
      { label: 'loss', show: false, value: (_u, v) => fmt(v, '%') },
      { label: 'worst slot', show: false, value: (_u, v) => fmt(v, '%') },
      { label: 'max', show: false, value: (_u, v) => fmt(v, 'ms') },
    ],
    bands: [{ series: [1, 2], fill: cssVar('--smoke') }, ...(hasSmoke ? [{ series: [3, 4] as [number, number], fill: cssVar('--smoke-core') }] : [])],
    scales: { y: { range: () => [0, cap] } },
    draw: (u) => {
      const t = u.data[0];
      const med = u.data[5] as (number | null)[];
      const loss = u.data[7] as (number | null)[];
      const top = u.data[8] as (number | null)[];
      let drawn = 0;
      let marks = 0;
      inPlot(u, (ctx) => {
        const half = step / 2;
        const px = devicePixelRatio;
        for (let i = 0; i < t.length; i++) {
          const l = loss[i] ?? 0;
          const m = med[i];
          const x0 = u.valToPos(t[i]! - half, 'x', true);
          const x1 = u.valToPos(t[i]! + half, 'x', true);
          const w = Math.max(2 * px, x1 - x0);
          if (m === null || m === undefined) {
            if (loss[i] !== null && loss[i] !== undefined && l >= 100) {
              ctx.fillStyle = lossColour(100);
              ctx.fillRect(x0, u.bbox.top, w, 4 * px);
            }
            continue;
          }
          drawn++;
          ctx.fillStyle = lossColour(l);
          const y = Math.max(u.bbox.top + 1.5 * px, u.valToPos(Math.min(m, cap), 'y', true));
          ctx.fillRect(x0, y - 1.5 * px, w, 3 * px);
          if ((top[i] ?? 0) > cap || m > cap) {
            // Above the axis: a small triangle at the top edge.
            marks++;
            const xm = (x0 + x1) / 2;
            ctx.fillStyle = cssVar('--fg');
            ctx.beginPath();
            ctx.moveTo(xm - 4 * px, u.bbox.top + 7 * px);
            ctx.lineTo(xm + 4 * px, u.bbox.top + 7 * px);
            ctx.lineTo(xm, u.bbox.top);
            ctx.closePath();
            ctx.fill();
          }
        }
      });
      const fig = u.root.closest('figure');
      fig?.setAttribute('data-points', String(drawn));
      fig?.setAttribute('data-clipped', String(marks));
      fig?.setAttribute('data-ymax', String(cap));
      fig?.setAttribute('data-smoke', hasSmoke ? 'percentiles' : 'min-max');
    },
  };
}

/**
 * Loss % as bars in the same colours. With the spec's `worst` column (a
 * rollup bucket's worst slot) the bar reaches the worst slot (pale) with the
 * bucket's rate solid inside it, coloured by the worst slot: a 5-minute
 * outage a week ago still shows as an outage in an hourly bucket; hovering
 * shows both.
 */
function lossChart(spec: Of<'loss'>, p: Columns, step: number, c: Common): PlotSpec {
  const n = p.t.length;
  const loss = nums(p[spec.column], n);
  const worst = colourLoss(p, spec.column, spec.worst, n);
  return {
    ...c,
    id: spec.id,
    title: spec.title,
    summary: `Packet loss per bucket: ${loss.filter((v) => v !== null && v > 0).length} of ${drawnCount(loss)} buckets lost packets; worst slot ${fmt(Math.max(0, ...worst.filter((v): v is number => v !== null)), '%')}.`,
    height: 140,
    data: [p.t, loss, worst],
    series: [
      { label: 'loss', stroke: cssVar('--muted'), width: 0, points: { show: false }, value: (_u, v) => fmt(v, '%'), paths: () => null },
      { label: 'worst slot', stroke: cssVar('--muted'), width: 0, points: { show: false }, value: (_u, v) => fmt(v, '%'), paths: () => null },
    ],
    scales: { y: { range: [0, 100] } },
    axes: [{}, valueAxis('%', { splits: () => [0, 25, 50, 75, 100] })] as uPlot.Axis[],
    draw: (u) => {
      const t = u.data[0];
      const v = u.data[1] as (number | null)[];
      const wv = u.data[2] as (number | null)[];
      let drawn = 0;
      let worstDrawn = 0;
      inPlot(u, (ctx) => {
        const bottom = u.bbox.top + u.bbox.height;
        for (let i = 0; i < t.length; i++) {
          const l = v[i];
          if (l === null || l === undefined) continue;
          drawn++;
          const w = wv[i] ?? l;
          const x0 = u.valToPos(t[i]! - step / 2, 'x', true);
          const x1 = u.valToPos(t[i]! + step / 2, 'x', true);
          const width = Math.max(1, x1 - x0 - 1);
          ctx.fillStyle = lossColour(w);
          if (w > l) {
            worstDrawn++;
            const yw = u.valToPos(w, 'y', true);
            ctx.globalAlpha = 0.35;
            ctx.fillRect(x0, yw, width, bottom - yw);
            ctx.globalAlpha = 1;
          }
          const y = u.valToPos(Math.max(l, 0.8), 'y', true); // a hairline for 0 %, so "measured, no loss" shows
          ctx.fillRect(x0, y, width, bottom - y);
        }
      });
      const fig = u.root.closest('figure');
      fig?.setAttribute('data-points', String(drawn));
      fig?.setAttribute('data-worst-bars', String(worstDrawn));
    },
  };
}

/**
 * Lines on one axis per unit (at most two: left and right); a line's
 * `range` fixes its axis (MOS 1-5), otherwise 0 to a round number above the
 * highest value. With `failed`, a red mark under every bucket with failures.
 */
function linesChart(spec: Of<'lines'>, p: Columns, c: Common): PlotSpec {
  const n = p.t.length;
  const units = [...new Set(spec.lines.map((l) => l.unit))].slice(0, 2);
  const scaleOf = (l: ChartLine) => `u${Math.max(0, units.indexOf(l.unit))}`;
  const values = spec.lines.map((l) => nums(p[l.column], n));
  const failed = spec.failed ? nums(p[spec.failed], n) : undefined;
  const unsure = spec.unsure ? nums(p[spec.unsure], n) : undefined;
  const scales: uPlot.Scales = {};
  for (const [i, unit] of units.entries()) {
    const fixed = spec.lines.find((l) => l.unit === unit && l.range)?.range;
    scales[`u${i}`] = { range: fixed ? [fixed[0], fixed[1]] : (_u, _min, max) => [0, niceMax(max)] };
  }
  const described = spec.lines.map((l) => `${l.label}${l.unit ? ` in ${l.unit}` : ''}`).join(', ');
  return {
    ...c,
    id: spec.id,
    title: spec.title,
    summary: `${spec.title}: ${described}, ${drawnCount(values[0] ?? [])} slots${failed ? `, ${failed.filter((f) => f !== null && f > 0).length} with failures (red marks at the bottom)` : ''}${unsureNote(unsure)}.`,
    height: spec.lines.length > 1 ? 180 : 160,
    data: [p.t, ...values],
    series: spec.lines.map((l, i) => ({
      label: l.label,
      stroke: cssVar(`--series-${(i % 2) + 1}`),
      width: 1.5,
      scale: scaleOf(l),
      value: (_u: uPlot, v: number | null) => fmt(v, l.unit),
      spanGaps: false,
      points: { show: n < 200 },
    })),
    scales,
    axes: [{}, ...units.map((unit, i) => valueAxis(unit, i === 0 ? { scale: 'u0' } : { scale: `u${i}`, side: 1, grid: { show: false } }))] as uPlot.Axis[],
    draw: marks(failed, unsure),
  };
}

/** Parts stacked (HTTP phases): each series is the running sum, the band under it is the part. */
function stackedChart(spec: Of<'stacked'>, s: Columns, c: Common): PlotSpec {
  const n = s.t.length;
  const parts = spec.parts;
  const raw = parts.map((k) => nums(s[k.column], n));
  const stacked: (number | null)[][] = [];
  for (let p = 0; p < parts.length; p++) {
    stacked.push(
      s.t.map((_, i) => {
        if (raw.every((r) => r[i] === null || r[i] === undefined)) return null;
        let sum = 0;
        for (let q = 0; q <= p; q++) sum += raw[q]![i] ?? 0;
        return sum;
      }),
    );
  }
  const colours = parts.map((_, i) => cssVar(`--phase-${(i % 5) + 1}`));
  const failed = spec.failed ? nums(s[spec.failed], n) : undefined;
  const unsure = spec.unsure ? nums(s[spec.unsure], n) : undefined;
  return {
    ...c,
    id: spec.id,
    title: spec.title,
    summary: `${spec.title}: ${drawnCount(stacked[parts.length - 1] ?? [])} slots${unsureNote(unsure)}.`,
    height: 220,
    data: [s.t, ...stacked],
    series: parts.map((k, i) => ({
      label: k.label,
      stroke: colours[i],
      fill: `${colours[i]}99`,
      width: 1,
      value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) => (idx === null ? '–' : fmt(raw[i]![idx] ?? null, spec.unit)),
    })),
    bands: parts.slice(1).map((_, i) => ({ series: [i + 2, i + 1] as [number, number], fill: `${colours[i + 1]}99` })),
    scales: { y: { range: (_u, _min, max) => [0, niceMax(max)] } },
    axes: [{}, valueAxis(spec.unit)] as uPlot.Axis[],
    draw: marks(failed, unsure),
  };
}

function marks(failed: (number | null)[] | undefined, unsure: (number | null)[] | undefined): ((u: uPlot) => void) | undefined {
  if (!failed && !unsure?.some((x) => x !== null && x > 0)) return undefined;
  return (u) => {
    if (failed) failures(u, failed);
    if (unsure) unsureMarks(u, unsure);
  };
}

function unsureNote(unsure: (number | null)[] | undefined): string {
  const k = unsure?.filter((x) => x !== null && x > 0).length ?? 0;
  return k ? `, ${k} with timings taken while the daemon was busy, which may read long (amber marks at the top)` : '';
}

/** An amber mark at the top of every slot with timings the daemon was unsure of (timing_uncertain). */
function unsureMarks(u: uPlot, unsure: (number | null)[]): void {
  const t = u.data[0];
  inPlot(u, (ctx) => {
    ctx.fillStyle = cssVar('--warn');
    for (let i = 0; i < t.length; i++) {
      const f = unsure[i];
      if (f === null || f === undefined || f <= 0) continue;
      const x = u.valToPos(t[i]!, 'x', true);
      ctx.fillRect(x - 2 * devicePixelRatio, u.bbox.top, 4 * devicePixelRatio, 6 * devicePixelRatio);
    }
  });
}

/** A red mark at the bottom of every slot where the probe failed. */
function failures(u: uPlot, failed: (number | null)[]): void {
  const t = u.data[0];
  inPlot(u, (ctx) => {
    ctx.fillStyle = cssVar('--bad');
    for (let i = 0; i < t.length; i++) {
      const f = failed[i];
      if (f === null || f === undefined || f <= 0) continue;
      const x = u.valToPos(t[i]!, 'x', true);
      ctx.fillRect(x - 2 * devicePixelRatio, u.bbox.top + u.bbox.height - 6 * devicePixelRatio, 4 * devicePixelRatio, 6 * devicePixelRatio);
    }
  });
}

function fmt(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const d = Math.abs(v) < 10 ? 2 : Math.abs(v) < 100 ? 1 : 0;
  return `${v.toFixed(d)}${unit ? ` ${unit}` : ''}`;
}

function niceMax(max: number | null): number {
  if (max === null || !Number.isFinite(max) || max <= 0) return 1;
  const m = max * 1.1;
  const p = 10 ** Math.floor(Math.log10(m));
  return Math.ceil(m / p) * p;
}

/** One declared chart from its rollup's columns; undefined when the range has none. */
function plotOf(spec: ChartSpec, series: Series, step: number, c: Common): PlotSpec | undefined {
  const cols = series[spec.rollup] as Columns | undefined;
  if (!cols || !Array.isArray(cols.t)) return undefined;
  switch (spec.type) {
    case 'smoke':
      return smokeChart(spec, cols, step, c);
    case 'loss':
      return lossChart(spec, cols, step, c);
    case 'lines':
      return linesChart(spec, cols, c);
    case 'stacked':
      return stackedChart(spec, cols, c);
    default:
      return undefined; // a drawing this page does not know yet (a newer daemon): left out
  }
}

export function buildSeriesCharts(parent: HTMLElement, ctx: SeriesContext): Chart[] {
  const c: Common = { range: ctx.range, markers: ctx.markers, onZoom: ctx.onZoom };
  const step = ctx.series.step_s || 60;
  const specs = ctx.panels.flatMap((p) => p.charts).flatMap((spec) => plotOf(spec, ctx.series, step, c) ?? []);
  return specs.map((spec) => makeChart(parent, spec));
}
