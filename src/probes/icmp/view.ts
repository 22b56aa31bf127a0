import { rollup, US, type RollupSpec, type SparklineSpec } from '../../samples/rollup.js';
import type { FigureSpec, PanelSpec, TargetMetricSpec } from '../view.js';

/** What the daemon shows of the `ping` points (see ../view.ts). */

/** Per bucket: min/median/mean/max rtt, loss from the summed echo counts, mean jitter and MOS. */
export const PING_ROLLUP: RollupSpec = {
  name: 'ping',
  measurement: 'ping',
  aggs: [
    rollup.count,
    rollup.ok,
    rollup.sum('sent', 'sent'),
    rollup.sum('received', 'received'),
    rollup.min('rtt_min', 'rtt_min_ms'),
    rollup.median('rtt_median', 'rtt_median_ms'),
    rollup.avg('rtt_avg', 'rtt_avg_ms'),
    rollup.max('rtt_max', 'rtt_max_ms'),
    rollup.avg('jitter', 'jitter_ms'),
    rollup.avg('mos', 'mos'),
    // The worst slot: a 5-minute outage stays an outage in an hourly bucket (loss in thousandths of a percent).
    rollup.max('loss_max', 'loss_pct', 1000),
    // SmokePing's smoke: percentiles of every echo of the bucket (rtts_ms), and the p95 of the stat row.
    ...[10, 25, 75, 90, 95].map((p) => rollup.echoes(`rtt_p${p}`, 'rtts_ms', p)),
  ],
  outputs: [
    { name: 'rtt_min', from: 'column', column: 'rtt_min', scale: US },
    { name: 'rtt_median', from: 'column', column: 'rtt_median', scale: US },
    { name: 'rtt_avg', from: 'mean', agg: 'rtt_avg', scale: US },
    { name: 'rtt_max', from: 'column', column: 'rtt_max', scale: US },
    { name: 'loss_pct', from: 'lost_pct', total: 'sent', kept: 'received' },
    { name: 'loss_max_pct', from: 'column', column: 'loss_max', scale: 1000 },
    { name: 'sent', from: 'column', column: 'sent' },
    { name: 'received', from: 'column', column: 'received' },
    ...[10, 25, 75, 90, 95].map((p) => ({ name: `rtt_p${p}`, from: 'column' as const, column: `rtt_p${p}`, scale: US })),
    { name: 'jitter_ms', from: 'mean', agg: 'jitter', scale: US },
    { name: 'mos', from: 'mean', agg: 'mos', scale: US },
    ...rollup.counts,
  ],
};

export const PING_FIGURES: readonly FigureSpec[] = [
  { key: 'rtt_ms', label: 'RTT', unit: 'ms', measurement: 'ping', fields: ['rtt_median_ms', 'rtt_avg_ms'], sort: 'rtt', threshold: { name: 'rtt_ms', worse: 'higher' } },
  { key: 'loss_pct', label: 'Loss', unit: '%', measurement: 'ping', fields: ['loss_pct'], sort: 'loss', threshold: { name: 'loss_pct', worse: 'higher' } },
  { key: 'jitter_ms', label: 'Jitter', unit: 'ms', measurement: 'ping', fields: ['jitter_ms'], sort: 'jitter', column: false, threshold: { name: 'jitter_ms', worse: 'higher' } },
];

export const PING_PANEL: PanelSpec = {
  stats: [
    { id: 'rtt-now', label: 'RTT now', rollup: 'ping', column: 'rtt_median', unit: 'ms', how: 'last', title: 'median of the newest bucket with replies' },
    { id: 'rtt-avg', label: 'RTT avg', rollup: 'ping', column: 'rtt_avg', unit: 'ms', how: 'range', title: 'mean over the range', exact: true },
    { id: 'rtt-p95', label: 'RTT p95', rollup: 'ping', column: 'rtt_p95', unit: 'ms', how: 'range', title: '95th percentile of every echo of the range' },
    { id: 'loss', label: 'Loss', rollup: 'ping', column: 'loss_pct', unit: '%', how: 'range', title: 'echoes lost over echoes sent in the range', exact: true },
  ],
  charts: [
    {
      id: 'chart-latency',
      title: 'Latency: median coloured by loss, smoke p10–p90 and p25–p75 of the echoes',
      rollup: 'ping',
      type: 'smoke',
      median: 'rtt_median',
      min: 'rtt_min',
      max: 'rtt_max',
      loss: 'loss_pct',
      worst: 'loss_max_pct',
      bands: { outer: ['rtt_p10', 'rtt_p90'], inner: ['rtt_p25', 'rtt_p75'] },
    },
    { id: 'chart-loss', title: 'Packet loss: bucket rate (solid) and worst slot (pale)', rollup: 'ping', type: 'loss', column: 'loss_pct', worst: 'loss_max_pct' },
    {
      id: 'chart-jitter',
      title: 'Jitter and MOS',
      rollup: 'ping',
      type: 'lines',
      lines: [
        { column: 'jitter_ms', label: 'jitter', unit: 'ms' },
        { column: 'mos', label: 'MOS', unit: '', range: [1, 5] },
      ],
    },
  ],
};

export const PING_METRICS: readonly TargetMetricSpec[] = [
  // Base units on /metrics (seconds, ratios); the points keep ms and percent (InfluxDB's convention).
  {
    name: 'telemetry_icmp_rtt_avg_seconds',
    help: 'Mean round-trip time of the replies of the last ICMP probe of the target (absent when none came back)',
    measurement: 'ping',
    values: [{ field: 'rtt_avg_ms', scale: 1 / 1000 }],
    always: true,
  },
  { name: 'telemetry_icmp_loss_ratio', help: 'Share of echoes lost in the last ICMP probe of the target (0 to 1)', measurement: 'ping', values: [{ field: 'loss_pct', scale: 1 / 100 }], always: true },
];

/** The overview's last hour: median rtt and loss per minute. */
export const PING_SPARKLINE: SparklineSpec = { measurement: 'ping', value: 'rtt_median_ms', total: 'sent', kept: 'received' };
