import { rollup, type RollupSpec } from '../../samples/rollup.js';
import type { FigureSpec, PanelSpec, TargetMetricSpec } from '../view.js';

/** What the daemon shows of the `dns` points (see ../view.ts). */

export const DNS_ROLLUP: RollupSpec = {
  name: 'dns',
  measurement: 'dns',
  unsure: 'timing_uncertain',
  aggs: [rollup.count, rollup.ok, rollup.unsure, ...rollup.spread('query', 'query_ms')],
  outputs: [...rollup.spreadOut('query'), ...rollup.counts, rollup.unsureOut],
};

export const DNS_FIGURES: readonly FigureSpec[] = [
  { key: 'dns_ms', label: 'DNS', unit: 'ms', measurement: 'dns', fields: ['query_ms'], sort: 'dns', threshold: { name: 'dns_ms', worse: 'higher' } },
];

export const DNS_PANEL: PanelSpec = {
  stats: [{ id: 'dns-p95', label: 'DNS p95', rollup: 'dns', column: 'query_ms', unit: 'ms', how: 'p95', title: '95th percentile of the query time per bucket' }],
  charts: [{ id: 'chart-dns', title: 'DNS query time', rollup: 'dns', type: 'lines', lines: [{ column: 'query_ms', label: 'query', unit: 'ms' }], failed: 'failed', unsure: 'unsure' }],
};

export const DNS_METRICS: readonly TargetMetricSpec[] = [
  { name: 'telemetry_dns_query_seconds', help: 'Last DNS probe query time of the target', measurement: 'dns', values: [{ field: 'query_ms', scale: 0.001 }] },
];
