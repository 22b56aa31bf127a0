import uPlot from 'uplot';
import { h } from '../dom.js';
import { axisTime, dateTime, useUtc } from '../format.js';
import { cssVar } from '../theme.js';

/**
 * uPlot (the canvas chart of Grafana's graph panel: 50 kB, draws 1,000
 * buckets in a few ms) with what every chart of the target page shares:
 * theme colours, width following the container, the cursor synced across
 * charts, drag-to-zoom handed to the page (it fetches the narrower range
 * at full resolution), and route changes as vertical markers.
 */

export interface PlotSpec {
  id: string;
  title: string;
  /** One sentence for screen readers: what the chart shows. */
  summary: string;
  height?: number;
  data: uPlot.AlignedData;
  series: uPlot.Series[];
  bands?: uPlot.Band[];
  scales?: uPlot.Scales;
  /** [x, ...value axes]: the x entry is replaced by the shared time axis. */
  axes?: uPlot.Axis[];
  /** Epoch seconds of route changes: drawn as markers. */
  markers: number[];
  /** Extra drawing after the series (SmokePing's per-slot loss colours). */
  draw?: (u: uPlot) => void;
  onZoom?: (fromS: number, toS: number) => void;
  /** The x range to show, so charts of one page line up even with gaps. */
  range: [number, number];
}

export interface Chart {
  el: HTMLElement;
  destroy(): void;
}

const SYNC_KEY = 'nt-target';

/** Width in CSS px the longest label of an axis needs (so `1250 ms` is not clipped). */
function labelWidth(u: uPlot, values: string[] | undefined): number {
  if (!values?.length) return 40;
  const ctx = u.ctx;
  ctx.save();
  ctx.font = `${12 * uPlot.pxRatio}px system-ui, sans-serif`;
  let w = 0;
  for (const v of values) w = Math.max(w, ctx.measureText(v ?? '').width);
  ctx.restore();
  return Math.ceil(w / uPlot.pxRatio) + 18;
}

export function valueAxis(unit: string, extra: Partial<uPlot.Axis> = {}): uPlot.Axis {
  return {
    stroke: cssVar('--fg'),
    grid: { stroke: cssVar('--grid'), width: 1 },
    ticks: { stroke: cssVar('--grid'), width: 1 },
    font: '12px system-ui, sans-serif',
    size: (u, values) => labelWidth(u, values),
    values: (_u, vals) => vals.map((v) => (v === null ? '' : `${+v.toFixed(3)}${unit ? ` ${unit}` : ''}`)),
    ...extra,
  };
}

/**
 * Time labels in the page's zone (the header's toggle): `14:05`, the date
 * where the day changes, `12-05` over several days; 90 px apart at least,
 * so a 6-hour axis on a phone does not overlap.
 */
function timeAxis(): uPlot.Axis {
  return {
    stroke: cssVar('--fg'),
    grid: { stroke: cssVar('--grid'), width: 1 },
    ticks: { stroke: cssVar('--grid'), width: 1 },
    font: '12px system-ui, sans-serif',
    space: 90,
    values: (u, splits) => {
      const span = (u.scales.x?.max ?? 0) - (u.scales.x?.min ?? 0);
      let lastDay = '';
      return splits.map((s) => {
        const day = dateTime(s, { zone: false }).slice(0, 10);
        const withDate = day !== lastDay && lastDay !== '';
        lastDay = day;
        return axisTime(s, span, withDate || (span > 86400 && splits.length <= 8));
      });
    },
  };
}

/** Clip drawing to the plot area. */
export function inPlot(u: uPlot, fn: (ctx: CanvasRenderingContext2D) => void): void {
  const { ctx, bbox } = u;
  ctx.save();
  ctx.beginPath();
  ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
  ctx.clip();
  fn(ctx);
  ctx.restore();
}

/** Count of non-null values of series `i`. */
export function drawnCount(values: (number | null | undefined)[]): number {
  let n = 0;
  for (const v of values) if (v !== null && v !== undefined && Number.isFinite(v)) n++;
  return n;
}

export function makeChart(parent: HTMLElement, spec: PlotSpec): Chart {
  const plot = h('div', { class: 'chart-plot' });
  const el = h(
    'figure',
    { class: 'chart', id: spec.id, 'data-buckets': spec.data[0].length },
    h('figcaption', {}, spec.title),
    h('p', { class: 'visually-hidden' }, spec.summary),
    plot,
  );
  parent.append(el);
  const markerColour = cssVar('--marker');
  const fg = cssVar('--fg');
  const markers = (u: uPlot) => {
    const min = u.scales.x?.min ?? -Infinity;
    const max = u.scales.x?.max ?? Infinity;
    let shown = 0;
    inPlot(u, (ctx) => {
      ctx.strokeStyle = markerColour;
      ctx.fillStyle = markerColour;
      ctx.lineWidth = 2 * uPlot.pxRatio;
      ctx.setLineDash([6 * uPlot.pxRatio, 4 * uPlot.pxRatio]);
      ctx.font = `${11 * uPlot.pxRatio}px system-ui, sans-serif`;
      for (const t of spec.markers) {
        if (t < min || t > max) continue;
        shown++;
        const x = Math.round(u.valToPos(t, 'x', true));
        ctx.beginPath();
        ctx.moveTo(x, u.bbox.top);
        ctx.lineTo(x, u.bbox.top + u.bbox.height);
        ctx.stroke();
        ctx.fillText('route', x + 3 * uPlot.pxRatio, u.bbox.top + 12 * uPlot.pxRatio);
      }
    });
    el.dataset.routeMarkers = String(shown);
  };
  const width = () => Math.max(300, plot.clientWidth || parent.clientWidth || 800);
  const opts: uPlot.Options = {
    width: width(),
    height: spec.height ?? 200,
    series: [{ label: 'time', value: (_u, v) => (v === null ? '–' : dateTime(v)) }, ...spec.series],
    bands: spec.bands,
    scales: { x: { time: true, range: () => spec.range }, ...spec.scales },
    tzDate: (ts) => (useUtc() ? uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') : new Date(ts * 1000)),
    // The x axis is always the shared time axis; specs give the value axes.
    axes: [timeAxis(), ...(spec.axes?.slice(1) ?? [valueAxis('ms')])],
    cursor: { sync: { key: SYNC_KEY }, drag: { x: true, y: false, setScale: false } },
    legend: { live: true },
    hooks: {
      draw: [
        (u) => {
          spec.draw?.(u);
          markers(u);
        },
      ],
      setSelect: [
        (u) => {
          if (u.select.width < 5 || !spec.onZoom) return;
          const from = u.posToVal(u.select.left, 'x');
          const to = u.posToVal(u.select.left + u.select.width, 'x');
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          spec.onZoom(Math.floor(from), Math.ceil(to));
        },
      ],
    },
  };
  const u = new uPlot(opts, spec.data, plot);
  u.root.style.color = fg;
  const resize = new ResizeObserver(() => {
    const w = width();
    if (Math.abs(w - u.width) > 2) u.setSize({ width: w, height: u.height });
  });
  resize.observe(plot);
  return {
    el,
    destroy() {
      resize.disconnect();
      u.destroy();
      el.remove();
    },
  };
}
