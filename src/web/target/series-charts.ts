import type uPlot from 'uplot';
import type { Num, Series } from '../api-types.js';
import { cssVar } from '../theme.js';
import { drawnCount, inPlot, makeChart, valueAxis, type Chart, type ChartSpec } from './charts.js';
import { lossColour } from './loss-colours.js';

/** Every chart of the target page from one /series answer: only those the target has data for. */

export interface SeriesContext {
  series: Series;
  range: [number, number];
  markers: number[];
  onZoom: (fromS: number, toS: number) => void;
}

type Common = Pick<ChartSpec, 'range' | 'markers' | 'onZoom'>;

const nums = (a: Num[]) => a as (number | null)[];

/** Percentile `p` of the non-null values (linear between closest ranks). */
function pctOf(values: readonly (number | null | undefined)[], p: number): number | null {
  const v = values.filter((x): x is number => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const rank = (p / 100) * (v.length - 1);
  const lo = Math.floor(rank);
  return v[lo]! + (v[Math.min(v.length - 1, lo + 1)]! - v[lo]!) * (rank - lo);
}

/** The loss a bucket is coloured by: its worst slot (rollups), else its rate. */
function worstLoss(p: NonNullable<Series['ping']>): (number | null)[] {
  const mean = nums(p.loss_pct);
  const worst = p.loss_max_pct ? nums(p.loss_max_pct) : mean;
  return mean.map((m, i) => worst[i] ?? m);
}

/** Upper edge of the latency axis: outliers above it are marked, not scaled to. */
export const Y_CAP_PERCENTILE = 98;

/**
 * SmokePing's latency graph: the smoke is the spread of the echoes (p10-p90
 * light, p25-p75 darker, around the median), and the median a bar per
 * bucket coloured by that bucket's loss (its worst slot in a rollup
 * bucket). The y-axis ends at the 98th percentile of the buckets' p90
 * (min-max for points stored without echoes), so one 350 ms echo does not
 * flatten a 50 -> 67 ms step; values above are marked at the top edge. A
 * bucket where every echo was lost has no median; it is marked at the top
 * in the 100 % colour.
 */
function latencyChart(p: NonNullable<Series['ping']>, step: number, c: Common): ChartSpec {
  const median = nums(p.rtt_median);
  const hasSmoke = (p.rtt_p90 ?? []).some((v) => v !== null);
  const hi = hasSmoke ? nums(p.rtt_p90!) : nums(p.rtt_max);
  const lo = hasSmoke ? nums(p.rtt_p10!) : nums(p.rtt_min);
  const q3 = hasSmoke ? nums(p.rtt_p75!) : hi.map(() => null);
  const q1 = hasSmoke ? nums(p.rtt_p25!) : hi.map(() => null);
  const max = nums(p.rtt_max);
  const colourBy = worstLoss(p);
  const cap = niceMax(Math.max(pctOf(hi, Y_CAP_PERCENTILE) ?? 0, pctOf(median, Y_CAP_PERCENTILE) ?? 0) || null);
  const clipped = max.filter((v, i) => (v !== null && v > cap) || (median[i] !== null && median[i]! > cap)).length;
  return {
    ...c,
    id: 'chart-latency',
    title: hasSmoke ? 'Latency: median coloured by loss, smoke p10–p90 and p25–p75 of the echoes' : 'Latency: median coloured by loss, min–max band',
    summary: `Round-trip time per bucket: ${drawnCount(median)} buckets with a median; the axis ends at ${cap} ms, ${clipped} buckets above it are marked at the top.`,
    height: 280,
    data: [p.t, hi, lo, q3, q1, median, nums(p.loss_pct), colourBy, max],
    series: [
      { label: hasSmoke ? 'p90' : 'max', stroke: cssVar('--smoke-edge'), width: 1, points: { show: false }, value: (_u, v) => fmt(v, 'ms') },
      { label: hasSmoke ? 'p10' : 'min', stroke: cssVar('--smoke-edge'), width: 1, points: { show: false }, value: (_u, v) => fmt(v, 'ms') },
      { label: 'p75', show: hasSmoke, stroke: 'transparent', width: 0, points: { show: false }, value: (_u, v) => fmt(v, 'ms') },
      { label: 'p25', show: hasSmoke, stroke: 'transparent', width: 0, points: { show: false }, value: (_u, v) => fmt(v, 'ms') },
      { label: 'median', stroke: cssVar('--muted'), width: 1, points: { show: false }, value: (_u, v) => fmt(v, 'ms') },
      { label: 'loss', show: false, value: (_u, v) => fmt(v, '%') },
      { label: 'worst slot', show: false, value: (_u, v) => fmt(v, '%') },
      { label: 'max', show: false, value: (_u, v) => fmt(v, 'ms') },
    ],
    bands: [
      { series: [1, 2], fill: cssVar('--smoke') },
      ...(hasSmoke ? [{ series: [3, 4] as [number, number], fill: cssVar('--smoke-core') }] : []),
    ],
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
          // Above the axis: a small triangle at the top edge.
          const over = (top[i] ?? 0) > cap || m > cap;
          if (over) {
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
 * Loss % as bars in the same colours. In a rollup bucket the bar is its
 * worst slot (pale) with the bucket's rate (solid) inside, coloured by the
 * worst slot: a 5-minute outage a week ago still shows as an outage in an
 * hourly bucket; hovering shows both.
 */
function lossChart(p: NonNullable<Series['ping']>, step: number, c: Common): ChartSpec {
  const loss = nums(p.loss_pct);
  const worst = worstLoss(p);
  return {
    ...c,
    id: 'chart-loss',
    title: p.loss_max_pct ? 'Packet loss: bucket rate (solid) and worst slot (pale)' : 'Packet loss',
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

function jitterChart(p: NonNullable<Series['ping']>, c: Common): ChartSpec {
  return {
    ...c,
    id: 'chart-jitter',
    title: 'Jitter and MOS',
    summary: `Jitter in ms (left axis) and the mean opinion score 1–5 (right axis), ${drawnCount(nums(p.jitter_ms))} slots.`,
    height: 180,
    data: [p.t, nums(p.jitter_ms), nums(p.mos)],
    series: [
      { label: 'jitter', stroke: cssVar('--series-1'), width: 1.5, scale: 'ms', value: (_u, v) => fmt(v, 'ms'), spanGaps: false },
      { label: 'MOS', stroke: cssVar('--series-2'), width: 1.5, scale: 'mos', value: (_u, v) => fmt(v, '') },
    ],
    scales: { ms: { range: (_u, _min, max) => [0, niceMax(max)] }, mos: { range: [1, 5] } },
    axes: [{}, valueAxis('ms', { scale: 'ms' }), valueAxis('', { scale: 'mos', side: 1, grid: { show: false } })] as uPlot.Axis[],
  };
}

const PHASES = ['dns_ms', 'connect_ms', 'tls_ms', 'ttfb_ms', 'transfer_ms'] as const;

/** HTTP phases stacked: each series is the running sum, the band under it is the phase. */
function httpChart(s: NonNullable<Series['http']>, c: Common): ChartSpec {
  const raw = PHASES.map((k) => nums(s[k]));
  const stacked: (number | null)[][] = [];
  for (let p = 0; p < PHASES.length; p++) {
    stacked.push(
      s.t.map((_, i) => {
        if (raw.every((r) => r[i] === null || r[i] === undefined)) return null;
        let sum = 0;
        for (let q = 0; q <= p; q++) sum += raw[q]![i] ?? 0;
        return sum;
      }),
    );
  }
  const colours = PHASES.map((_, i) => cssVar(`--phase-${i + 1}`));
  return {
    ...c,
    id: 'chart-http',
    title: 'HTTP phases (stacked): dns, connect, tls, ttfb, transfer',
    summary: `HTTP request time split in phases, ${drawnCount(stacked[PHASES.length - 1]!)} slots.`,
    height: 220,
    data: [s.t, ...stacked],
    series: PHASES.map((k, i) => ({
      label: k.replace('_ms', ''),
      stroke: colours[i],
      fill: `${colours[i]}99`,
      width: 1,
      value: (_u: uPlot, _v: number | null, _si: number, idx: number | null) => (idx === null ? '–' : fmt(raw[i]![idx] ?? null, 'ms')),
    })),
    bands: PHASES.slice(1).map((_, i) => ({ series: [i + 2, i + 1] as [number, number], fill: `${colours[i + 1]}99` })),
    scales: { y: { range: (_u, _min, max) => [0, niceMax(max)] } },
    draw: (u) => failures(u, nums(s.failed)),
  };
}

function simpleChart(id: string, title: string, label: string, t: number[], v: Num[], failed: Num[], c: Common): ChartSpec {
  return {
    ...c,
    id,
    title,
    summary: `${title}: ${drawnCount(nums(v))} slots, ${nums(failed).filter((f) => f !== null && f > 0).length} with failures (red marks at the bottom).`,
    height: 160,
    data: [t, nums(v)],
    series: [{ label, stroke: cssVar('--series-1'), width: 1.5, value: (_u, x) => fmt(x, 'ms'), points: { show: t.length < 200 } }],
    scales: { y: { range: (_u, _min, max) => [0, niceMax(max)] } },
    draw: (u) => failures(u, nums(failed)),
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

export function buildSeriesCharts(parent: HTMLElement, ctx: SeriesContext): Chart[] {
  const { series: s } = ctx;
  const c: Common = { range: ctx.range, markers: ctx.markers, onZoom: ctx.onZoom };
  const specs: ChartSpec[] = [];
  const step = s.step_s || 60;
  if (s.ping) specs.push(latencyChart(s.ping, step, c), lossChart(s.ping, step, c), jitterChart(s.ping, c));
  if (s.http) specs.push(httpChart(s.http, c));
  if (s.dns) specs.push(simpleChart('chart-dns', 'DNS query time', 'query', s.dns.t, s.dns.query_ms, s.dns.failed, c));
  if (s.tcp) specs.push(simpleChart('chart-tcp', 'TCP connect time', 'connect', s.tcp.t, s.tcp.connect_ms, s.tcp.failed, c));
  return specs.map((spec) => makeChart(parent, spec));
}
