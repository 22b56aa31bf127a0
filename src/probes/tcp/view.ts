import { rollup, type RollupSpec } from '../../samples/rollup.js';
import type { FigureSpec, PanelSpec, TargetMetricSpec } from '../view.js';

/** What the daemon shows of the `tcp` points (see ../view.ts). */

export const TCP_ROLLUP: RollupSpec = {
  name: 'tcp',
  measurement: 'tcp',
  unsure: 'timing_uncertain',
  aggs: [rollup.count, rollup.ok, rollup.unsure, ...rollup.spread('connect', 'connect_ms')],
  outputs: [...rollup.spreadOut('connect'), ...rollup.counts, rollup.unsureOut],
};

export const TCP_FIGURES: readonly FigureSpec[] = [
  { key: 'tcp_ms', label: 'TCP connect', unit: 'ms', measurement: 'tcp', fields: ['connect_ms'], sort: 'tcp', threshold: { name: 'tcp_ms', worse: 'higher' } },
];

export const TCP_PANEL: PanelSpec = {
  stats: [{ id: 'tcp-p95', label: 'TCP p95', rollup: 'tcp', column: 'connect_ms', unit: 'ms', how: 'p95', title: '95th percentile of the connect time per bucket' }],
  charts: [{ id: 'chart-tcp', title: 'TCP connect time', rollup: 'tcp', type: 'lines', lines: [{ column: 'connect_ms', label: 'connect', unit: 'ms' }], failed: 'failed', unsure: 'unsure' }],
};

export const TCP_METRICS: readonly TargetMetricSpec[] = [
  { name: 'telemetry_tcp_connect_seconds', help: 'Last TCP probe connect time of the target', measurement: 'tcp', values: [{ field: 'connect_ms', scale: 0.001 }] },
];
