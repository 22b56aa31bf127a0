import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { REPO } from '../../scripts/lib/services.js';

/**
 * The run as a picture: uPlot (the charting library the web UI uses) drawn
 * by headless Chromium (the Debian package, as the UI tests use it) and
 * saved as PNG. Top: replicas (the scale the HPA set, pods ready) and the
 * targets configured; bottom: the HPA metric (average over the pods) against
 * its target, with the band of the 10 % tolerance.
 */
export interface PlotRow {
  /** Seconds since the HPA started. */
  t: number;
  replicas: number;
  ready: number;
  targets: number;
  metric: number | null;
}

export interface PlotInput {
  title: string;
  rows: PlotRow[];
  metricTarget: number;
  tolerance: number;
  /** Labelled moments (the reloads, the outage) as vertical lines. */
  marks: { t: number; label: string }[];
}

export async function renderPlot(input: PlotInput, file: string): Promise<void> {
  const lib = readFileSync(join(REPO, 'node_modules/uplot/dist/uPlot.iife.min.js'), 'utf8');
  const css = readFileSync(join(REPO, 'node_modules/uplot/dist/uPlot.min.css'), 'utf8');
  const html = `<!doctype html><html><head><meta charset="utf-8"><style>${css}
body { font: 14px system-ui, sans-serif; margin: 16px; background: #fff; color: #222; }
h1 { font-size: 16px; margin: 0 0 8px; } .u-legend { font-size: 12px; }</style></head>
<body><h1 id="title"></h1><div id="a"></div><div id="b"></div><script>${lib}</script><script>
const input = ${JSON.stringify(input)};
document.getElementById('title').textContent = input.title;
const t = input.rows.map((r) => r.t);
const marks = (u) => {
  const ctx = u.ctx; ctx.save(); ctx.strokeStyle = '#999'; ctx.setLineDash([4, 4]); ctx.fillStyle = '#555'; ctx.font = (12 * devicePixelRatio) + 'px sans-serif';
  // Labels one line lower each, so marks close together stay readable.
  input.marks.forEach((m, k) => {
    const x = u.valToPos(m.t, 'x', true);
    ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
    ctx.fillText(m.label, x + 4 * devicePixelRatio, u.bbox.top + (14 + 14 * (k % 4)) * devicePixelRatio);
  });
  ctx.restore();
};
// Fixed axis widths so both charts share one time axis; no live legend values (a still picture).
const base = { width: 1200, height: 300, scales: { x: { time: false } }, hooks: { draw: [marks] }, legend: { live: false } };
const axisSize = 70;
new uPlot({ ...base,
  series: [{ label: 's' },
    { label: 'replicas (scale)', stroke: '#1f77b4', width: 2.5, paths: uPlot.paths.stepped({ align: 1 }), scale: 'n' },
    { label: 'pods ready', stroke: '#2ca02c', width: 1.5, dash: [6, 3], paths: uPlot.paths.stepped({ align: 1 }), scale: 'n' },
    { label: 'targets', stroke: '#ff7f0e', width: 1.5, paths: uPlot.paths.stepped({ align: 1 }), scale: 't' }],
  axes: [{ label: 'seconds (compressed time)' }, { scale: 'n', label: 'replicas', size: axisSize }, { scale: 't', side: 1, label: 'targets', grid: { show: false }, size: axisSize }],
  scales: { x: { time: false }, n: { range: (u, mn, mx) => [0, Math.max(mx + 1, 4)] }, t: { range: (u, mn, mx) => [0, mx * 1.1] } },
}, [t, input.rows.map((r) => r.replicas), input.rows.map((r) => r.ready), input.rows.map((r) => r.targets)], document.getElementById('a'));
const tol = (f) => input.rows.map(() => input.metricTarget * f);
new uPlot({ ...base,
  series: [{ label: 's' },
    { label: 'telemetry_collection_duration_seconds (average over pods)', stroke: '#d62728', width: 2 },
    { label: 'target', stroke: '#444', width: 1.5 },
    { label: 'target + 10 % (tolerance)', stroke: '#bbb', width: 1, dash: [3, 3] },
    { label: 'target - 10 %', stroke: '#bbb', width: 1, dash: [3, 3] }],
  axes: [{ label: 'seconds (compressed time)' }, { label: 'seconds', size: axisSize }, { side: 1, size: axisSize, grid: { show: false }, values: () => [] }],
}, [t, input.rows.map((r) => r.metric), tol(1), tol(1 + input.tolerance), tol(1 - input.tolerance)], document.getElementById('b'));
</script></body></html>`;
  const profile = mkdtempSync(join(tmpdir(), 'nt-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    viewport: { width: 1240, height: 720 },
    timeout: 60_000,
  });
  try {
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setContent(html, { waitUntil: 'load' });
    if (errors.length) throw new Error(`plot page: ${errors.join('; ')}`);
    await page.screenshot({ path: file, fullPage: true });
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
