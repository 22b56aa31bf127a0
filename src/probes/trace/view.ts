import type { FigureSpec, PanelSpec, TargetMetricSpec } from '../view.js';

/**
 * What the daemon shows of the `route` and `hop` points (see ../view.ts).
 * No rollup: the store keeps each distinct route and every change for the
 * whole retention instead (its route history), which the Route section reads.
 */

export const ROUTE_FIGURES: readonly FigureSpec[] = [
  { key: 'route_changed_at', label: 'Route changed', unit: 'time', measurement: 'route', flag: 'route_changed', flagTime: 'route_first_seen_ms', sort: 'route_change' },
  { key: 'hop_count', label: 'Hops', unit: '', measurement: 'route', fields: ['hop_count'], sort: 'hops', column: false },
];

export const ROUTE_PANEL: PanelSpec = { charts: [], route: true };

export const ROUTE_METRICS: readonly TargetMetricSpec[] = [
  // Not telemetry_hop_count: a gauge ending in _count reads as a histogram's count (promtool check metrics rejects it).
  { name: 'telemetry_route_hops', help: 'Hops of the last trace of the target', measurement: 'route', values: [{ field: 'hop_count' }] },
];
