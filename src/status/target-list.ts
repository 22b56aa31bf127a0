import type { FigureSpec } from '../probes/view.js';
import type { ListedRow } from './target-rows.js';

/** GET /api/targets: which rows, in which order, which page. */
export interface TargetListQuery {
  offset: number;
  limit: number;
  /** `name`, `status`, or a figure's sort name (listSortKeys()). */
  sort: string;
  order: 'asc' | 'desc';
  /** Part of the name or host, any case. */
  q?: string;
  status?: ListedRow['status'];
}

/** Worst first: what needs a look comes first in the overview's default order. */
const STATUS_ORDER: Record<string, number> = { failing: 0, degraded: 1, unavailable: 2, unknown: 3, ok: 4 };

/** Every sort= the list accepts: name, status and each figure the probes declare. */
export function listSortKeys(figures: readonly FigureSpec[]): string[] {
  return ['name', 'status', ...figures.map((f) => f.sort ?? f.key)];
}

/**
 * Filter, sort and page the rows (the overview of 10,000 targets is a sort of
 * an in-memory list, paged on the server). `counts` are per status over every
 * row, before the filter. A figure sorts by its value; a row without one
 * comes last in either direction. Ties go by name.
 */
export function listTargets(rows: ListedRow[], q: TargetListQuery, figures: readonly FigureSpec[]): { total: number; counts: Record<ListedRow['status'], number>; page: ListedRow[] } {
  const counts = { ok: 0, degraded: 0, failing: 0, unknown: 0, unavailable: 0 };
  for (const r of rows) counts[r.status]++;
  let list = rows;
  if (q.q) {
    const needle = q.q.toLowerCase();
    list = list.filter((r) => r.name.toLowerCase().includes(needle) || r.host.toLowerCase().includes(needle));
  }
  if (q.status) list = list.filter((r) => r.status === q.status);
  const key = sortKey(q.sort, figures);
  const dir = q.order === 'desc' ? -1 : 1;
  const keyed = list.map((r) => ({ r, k: key(r) }));
  // A row without a value comes last in either direction: a descending RTT sort opens with the slowest, not with 9,000 dashes.
  keyed.sort((a, b) => {
    if (a.k === null || b.k === null) {
      if (a.k !== b.k) return a.k === null ? 1 : -1;
    } else if (a.k !== b.k) return (a.k < b.k ? -1 : 1) * dir;
    return a.r.name < b.r.name ? -1 : a.r.name > b.r.name ? 1 : 0;
  });
  return { total: keyed.length, counts, page: keyed.slice(q.offset, q.offset + q.limit).map((x) => x.r) };
}

function sortKey(sort: string, figures: readonly FigureSpec[]): (r: ListedRow) => number | string | null {
  if (sort === 'name') return (r) => r.name;
  if (sort === 'status') return (r) => STATUS_ORDER[r.status] ?? 9;
  const f = figures.find((x) => (x.sort ?? x.key) === sort);
  if (!f) throw new RangeError(`sort: one of ${listSortKeys(figures).join(', ')}`);
  if (f.unit === 'time') return (r) => (typeof r.last[f.key] === 'string' ? (r.last[f.key] as string) : null);
  return (r) => (typeof r.last[f.key] === 'number' ? (r.last[f.key] as number) : null);
}
