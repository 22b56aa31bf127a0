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

/**
 * SmokePing's latency graph: the min..max "smoke" band, and the median as
 * a bar per slot coloured by that slot's loss. A slot where every packet
 * was lost has no median; it is marked at the top in the 100 % colour.
 */
function smokeChart(spec: Of<'smoke'>, p: Columns, step: number, c: Common): PlotSpec {
  const n = p.t.length;
  const median = nums(p[spec.median], n);
  return {
    ...c,
    id: spec.id,
    title: spec.title,
    summary: `Round-trip time per slot: ${drawnCount(median)} slots with a median.`,
    height: 280,
    data: [p.t, nums(p[spec.max], n), nums(p[spec.min], n), median, nums(p[spec.loss], n)],
    series: [
      { label: 'max', stroke: cssVar('--smoke-edge'), width: 1, value: (_u, v) => fmt(v, 'ms') },
      { label: 'min', stroke: cssVar('--smoke-edge'), width: 1, value: (_u, v) => fmt(v, 'ms') },
      { label: 'median', stroke: cssVar('--muted'), width: 1, value: (_u, v) => fmt(v, 'ms') },
      { label: 'loss', show: false, value: (_u, v) => fmt(v, '%') },
    ],
    bands: [{ series: [1, 2], fill: cssVar('--smoke') }],
    scales: { y: { range: (_u, _min, max) => [0, niceMax(max)] } },
    draw: (u) => {
      const t = u.data[0];
      const med = u.data[3] as (number | null)[];
      const loss = u.data[4] as (number | null)[];
      let drawn = 0;
      inPlot(u, (ctx) => {
        const half = step / 2;
        for (let i = 0; i < t.length; i++) {
          const l = loss[i] ?? 0;
          const m = med[i];
          const x0 = u.valToPos(t[i]! - half, 'x', true);
          const x1 = u.valToPos(t[i]! + half, 'x', true);
          const w = Math.max(2 * devicePixelRatio, x1 - x0);
          if (m === null || m === undefined) {
            if (loss[i] !== null && loss[i] !== undefined && l >= 100) {
              ctx.fillStyle = lossColour(100);
              ctx.fillRect(x0, u.bbox.top, w, 4 * devicePixelRatio);
            }
            continue;
          }
          drawn++;
          ctx.fillStyle = lossColour(l);
          const y = u.valToPos(m, 'y', true);
          ctx.fillRect(x0, y - 1.5 * devicePixelRatio, w, 3 * devicePixelRatio);
        }
      });
      u.root.closest('figure')?.setAttribute('data-points', String(drawn));
    },
  };
}

/** Loss % as bars in the same colours. */
function lossChart(spec: Of<'loss'>, p: Columns, step: number, c: Common): PlotSpec {
  const loss = nums(p[spec.column], p.t.length);
  return {
    ...c,
    id: spec.id,
    title: spec.title,
    summary: `Packet loss per slot: ${loss.filter((v) => v !== null && v > 0).length} of ${drawnCount(loss)} slots lost packets.`,
    height: 140,
    data: [p.t, loss],
    series: [{ label: 'loss', stroke: cssVar('--muted'), width: 0, points: { show: false }, value: (_u, v) => fmt(v, '%'), paths: () => null }],
    scales: { y: { range: [0, 100] } },
    axes: [{}, valueAxis('%', { splits: () => [0, 25, 50, 75, 100] })] as uPlot.Axis[],
    draw: (u) => {
      const t = u.data[0];
      const v = u.data[1] as (number | null)[];
      let drawn = 0;
      inPlot(u, (ctx) => {
        for (let i = 0; i < t.length; i++) {
          const l = v[i];
          if (l === null || l === undefined) continue;
          drawn++;
          const x0 = u.valToPos(t[i]! - step / 2, 'x', true);
          const x1 = u.valToPos(t[i]! + step / 2, 'x', true);
          const y = u.valToPos(Math.max(l, 0.8), 'y', true); // a hairline for 0 %, so "measured, no loss" shows
          ctx.fillStyle = lossColour(l);
          ctx.fillRect(x0, y, Math.max(1, x1 - x0 - 1), u.bbox.top + u.bbox.height - y);
        }
      });
      u.root.closest('figure')?.setAttribute('data-points', String(drawn));
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
    summary: `${spec.title}: ${described}, ${drawnCount(values[0] ?? [])} slots${failed ? `, ${failed.filter((f) => f !== null && f > 0).length} with failures (red marks at the bottom)` : ''}.`,
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
    draw: failed ? (u) => failures(u, failed) : undefined,
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
  return {
    ...c,
    id: spec.id,
    title: spec.title,
    summary: `${spec.title}: ${drawnCount(stacked[parts.length - 1] ?? [])} slots.`,
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
    draw: failed ? (u) => failures(u, failed) : undefined,
  };
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
