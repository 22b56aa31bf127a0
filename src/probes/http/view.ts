import { rollup, US, type RollupSpec } from '../../samples/rollup.js';
import type { FigureSpec, PanelSpec, TargetMetricSpec } from '../view.js';

/** What the daemon shows of the `http` points (see ../view.ts). */

const PHASES = ['dns', 'connect', 'tls', 'ttfb', 'transfer'] as const;
const status = (name: string, lo: number) => ({ name, how: { op: 'range' as const, field: 'status_code', lo, hi: lo + 100 } });

/** Per bucket: phase means, the slowest total, status classes, runs. */
export const HTTP_ROLLUP: RollupSpec = {
  name: 'http',
  measurement: 'http',
  unsure: 'timing_uncertain',
  aggs: [
    rollup.count,
    rollup.ok,
    rollup.unsure,
    status('s2xx', 200),
    status('s3xx', 300),
    status('s4xx', 400),
    status('s5xx', 500),
    ...PHASES.map((p) => rollup.avg(p, `${p}_ms`)),
    rollup.avg('total', 'total_ms'),
    rollup.max('total_max', 'total_ms'),
  ],
  outputs: [
    ...[...PHASES, 'total'].map((p) => ({ name: `${p}_ms`, from: 'mean' as const, agg: p, scale: US })),
    { name: 'total_max_ms', from: 'column', column: 'total_max', scale: US },
    ...rollup.counts,
    rollup.unsureOut,
    ...['2xx', '3xx', '4xx', '5xx'].map((c) => ({ name: `status_${c}`, from: 'column' as const, column: `s${c}` })),
  ],
};

export const HTTP_FIGURES: readonly FigureSpec[] = [
  { key: 'http_total_ms', label: 'HTTP total', unit: 'ms', measurement: 'http', fields: ['total_ms'], sort: 'http', threshold: { name: 'http_total_ms', worse: 'higher' } },
  { key: 'cert_days', label: 'Certificate', unit: 'days', measurement: 'http', fields: ['cert_expiry_days'], sort: 'cert', column: false, threshold: { name: 'cert_days', worse: 'lower' } },
];

export const HTTP_PANEL: PanelSpec = {
  stats: [{ id: 'http-p95', label: 'HTTP p95', rollup: 'http', column: 'total_ms', unit: 'ms', how: 'p95', title: '95th percentile of the total request time per bucket' }],
  charts: [
    {
      id: 'chart-http',
      title: 'HTTP phases (stacked): dns, connect, tls, ttfb, transfer',
      rollup: 'http',
      type: 'stacked',
      unit: 'ms',
      parts: PHASES.map((p) => ({ column: `${p}_ms`, label: p })),
      total: 'total_ms',
      failed: 'failed',
      unsure: 'unsure',
    },
  ],
};

export const HTTP_METRICS: readonly TargetMetricSpec[] = [
  {
    name: 'telemetry_http_phase_seconds',
    help: 'Last HTTP probe of the target, by phase (dns, connect, tls, ttfb, transfer, total)',
    measurement: 'http',
    label: 'phase',
    values: [...PHASES, 'total'].map((p) => ({ field: `${p}_ms`, label: p, scale: 0.001 })),
  },
];
