import { h } from '../dom.js';
import { dateTime, ms, pct } from '../format.js';
import { cssVar } from '../theme.js';
import { lossColour } from './loss-colours.js';

/**
 * Per-hop history over the range, mtr-style: for each TTL the loss, last,
 * average, best and worst RTT and the spread of every trace of the range,
 * the addresses seen there, and a strip of its average RTT per trace
 * (coloured by that trace's loss at the hop), so a person sees which hop
 * got worse and when. From the stored `hop` points (raw window only).
 *
 * Figures over the traces of the range: loss is the mean of the traces'
 * loss at the hop (each trace sends the same number of probes), avg the
 * mean of their averages, best/worst the extremes, stdev the pooled
 * standard deviation sqrt(mean(stdev²) + variance of the averages).
 */

export interface HopPoint {
  timestamp_ms: number;
  tags: Record<string, string>;
  fields: Record<string, unknown>;
}

interface HopRow {
  ttl: number;
  ips: string[];
  traces: number;
  loss: number;
  last: number | null;
  avg: number | null;
  best: number | null;
  worst: number | null;
  stdev: number | null;
  strip: { t: number; rtt: number | null; loss: number }[];
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function hopRows(points: readonly HopPoint[]): HopRow[] {
  const byTtl = new Map<number, HopPoint[]>();
  for (const p of points) {
    const ttl = Number(p.tags.ttl);
    if (!Number.isFinite(ttl)) continue;
    (byTtl.get(ttl) ?? byTtl.set(ttl, []).get(ttl)!).push(p);
  }
  return [...byTtl.entries()]
    .sort(([a], [b]) => a - b)
    .map(([ttl, list]) => {
      list.sort((a, b) => a.timestamp_ms - b.timestamp_ms);
      const ips: string[] = [];
      for (const p of list) {
        const ip = String(p.fields.ip ?? '*');
        if (ips[ips.length - 1] !== ip) ips.push(ip);
      }
      const avgs = list.map((p) => num(p.fields.rtt_avg_ms)).filter((v): v is number => v !== null);
      const sds = list.map((p) => num(p.fields.rtt_stddev_ms)).filter((v): v is number => v !== null);
      const mean = avgs.length ? avgs.reduce((a, b) => a + b, 0) / avgs.length : null;
      const varAvg = mean === null ? 0 : avgs.reduce((a, b) => a + (b - mean) ** 2, 0) / avgs.length;
      const meanVar = sds.length ? sds.reduce((a, b) => a + b * b, 0) / sds.length : 0;
      const bests = list.map((p) => num(p.fields.rtt_best_ms)).filter((v): v is number => v !== null);
      const worsts = list.map((p) => num(p.fields.rtt_worst_ms)).filter((v): v is number => v !== null);
      const losses = list.map((p) => num(p.fields.loss_pct) ?? 100);
      return {
        ttl,
        ips: uniqueRuns(ips),
        traces: list.length,
        loss: losses.reduce((a, b) => a + b, 0) / losses.length,
        last: num(list[list.length - 1]!.fields.rtt_avg_ms),
        avg: mean,
        best: bests.length ? Math.min(...bests) : null,
        worst: worsts.length ? Math.max(...worsts) : null,
        stdev: mean === null ? null : Math.sqrt(meanVar + varAvg),
        strip: list.map((p) => ({ t: p.timestamp_ms / 1000, rtt: num(p.fields.rtt_avg_ms), loss: num(p.fields.loss_pct) ?? 100 })),
      };
    });
}

/** Addresses in the order seen, each run once (a -> b -> a stays three entries). */
function uniqueRuns(ips: string[]): string[] {
  return ips.filter((ip, i) => i === 0 || ip !== ips[i - 1]);
}

export function hopHistory(points: readonly HopPoint[], range: [number, number]): HTMLElement {
  const rows = hopRows(points);
  if (!rows.length) return h('p', { class: 'muted', id: 'hop-history' }, 'No per-hop data in this range (traces are kept hop by hop for the raw window, EMBEDDED_RAW_HOURS).');
  const strips: [HTMLCanvasElement, HopRow][] = [];
  const table = h(
    'table',
    { class: 'hops', id: 'hop-history', 'data-hops': rows.length },
    h('caption', { class: 'visually-hidden' }, 'Each hop over the range: loss, last, average, best, worst RTT and spread, and its RTT per trace'),
    h('thead', {}, h('tr', {}, ...['TTL', 'Address', 'Loss', 'Last', 'Avg', 'Best', 'Worst', 'StDev', 'RTT per trace'].map((c, i) => h('th', { scope: 'col', class: i === 0 || (i >= 2 && i <= 7) ? 'num' : null }, c)))),
    h(
      'tbody',
      {},
      ...rows.map((r) => {
        const canvas = h('canvas', { class: 'hop-strip', width: 160, height: 22, role: 'img', 'aria-label': `hop ${r.ttl} over ${r.traces} traces` });
        strips.push([canvas, r]);
        return h(
          'tr',
          { 'data-ttl': r.ttl, 'data-traces': r.traces },
          h('td', { class: 'num' }, r.ttl),
          h('td', { class: 'mono hop-ips' }, r.ips.map((ip) => (ip === '*' ? '*' : ip)).join(' → ')),
          h('td', { class: 'num' }, pct(r.loss)),
          h('td', { class: 'num' }, ms(r.last)),
          h('td', { class: 'num' }, ms(r.avg)),
          h('td', { class: 'num' }, ms(r.best)),
          h('td', { class: 'num' }, ms(r.worst)),
          h('td', { class: 'num' }, ms(r.stdev)),
          h('td', { title: `${dateTime(range[0])} – ${dateTime(range[1])}` }, canvas),
        );
      }),
    ),
  );
  const wrap = h('div', { class: 'table-wrap' }, table);
  // Drawn once in the document (canvas sizes known); one scale for every hop so strips compare.
  const top = Math.max(1, ...rows.flatMap((r) => r.strip.map((s) => s.rtt ?? 0)));
  requestAnimationFrame(() => {
    for (const [c, r] of strips) c.dataset.points = String(drawStrip(c, r, range, top));
  });
  return wrap;
}

function drawStrip(c: HTMLCanvasElement, r: HopRow, range: [number, number], top: number): number {
  const ratio = devicePixelRatio || 1;
  const w = c.clientWidth || 160;
  const hgt = c.clientHeight || 22;
  c.width = Math.round(w * ratio);
  c.height = Math.round(hgt * ratio);
  const ctx = c.getContext('2d');
  if (!ctx) return 0;
  ctx.scale(ratio, ratio);
  ctx.fillStyle = cssVar('--grid');
  ctx.fillRect(0, hgt - 1, w, 1);
  const span = Math.max(1, range[1] - range[0]);
  let n = 0;
  for (const s of r.strip) {
    const x = ((s.t - range[0]) / span) * w;
    if (x < -2 || x > w + 2) continue;
    n++;
    ctx.fillStyle = lossColour(s.loss);
    if (s.rtt === null) {
      ctx.fillRect(x - 1, 0, 2, hgt); // no answer: a full-height mark
      continue;
    }
    const y = hgt - 2 - Math.min(1, s.rtt / top) * (hgt - 4);
    ctx.fillRect(x - 1, y, 2.5, hgt - 1 - y);
  }
  return n;
}
