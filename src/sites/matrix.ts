import type { SourceState, Verdict } from './fault-domain.js';
import type { SiteRow } from './site-view.js';

export interface MatrixQuery {
  offset: number;
  limit: number;
  /** name; worst (the worst state across sources, then how many sources see it); rtt or loss of `source`; state of `source`. */
  sort: 'name' | 'worst' | 'rtt' | 'loss' | 'state';
  /** The column rtt/loss/state sort and the state filter look at (default: any source for the filter, this site for sorting). */
  source?: string;
  order: 'asc' | 'desc';
  /** Name contains (case-insensitive). */
  q?: string;
  /** Only targets with a cell in this state (in `source`'s column when given). */
  state?: SourceState;
}

export interface MatrixSource {
  name: string;
  url?: string;
  self: boolean;
  available: boolean;
  reason?: string;
  /** Age of the site's answer in seconds. */
  age_s?: number;
  rows: ReadonlyMap<string, SiteRow>;
}

export interface MatrixCell {
  state: SourceState;
  rtt_ms: number | null;
  loss_pct: number | null;
  /** Time of the last run (ISO). */
  time: string | null;
  why: string | null;
}

const RANK: Record<SourceState, number> = { failing: 0, degraded: 1, unknown: 2, ok: 3 };

interface Row {
  name: string;
  /** Each source's state, in the order of the sources. */
  states: SourceState[];
  worst: SourceState;
  /** Sources not ok (degraded or failing). */
  affected: number;
}

/**
 * The matrix view: configured targets x sources (this site first), each
 * cell the source's state with its last RTT and loss; counted, filtered,
 * sorted and paged on the server, so the page draws one page of rows
 * whatever the number of targets. Rows with no value for the sorted column
 * go last in either direction.
 */
export function buildMatrix(targets: readonly string[], sources: readonly MatrixSource[], verdictOf: (name: string) => Verdict | undefined, q: MatrixQuery): Record<string, unknown> {
  const col = q.source === undefined ? -1 : sources.findIndex((s) => s.name === q.source);
  if (q.source !== undefined && col < 0) throw new RangeError(`source: "${q.source.slice(0, 100)}" is not one of ${sources.map((s) => s.name).join(', ')}`);
  const counts: Record<SourceState, number> = { ok: 0, degraded: 0, failing: 0, unknown: 0 };
  // States and sort keys of every target; cells are built for the page only (10,000 cells -> 200 rows).
  const at = (si: number, name: string) => (sources[si]!.available ? sources[si]!.rows.get(name) : undefined);
  let rows: Row[] = targets.map((name) => {
    const states: SourceState[] = new Array(sources.length);
    let worst: SourceState = 'ok';
    let affected = 0;
    let known = 0;
    for (let si = 0; si < sources.length; si++) {
      const st = at(si, name)?.state ?? 'unknown';
      states[si] = st;
      counts[st]++;
      if (st !== 'unknown') known++;
      if (st === 'degraded' || st === 'failing') affected++;
      if (st !== 'unknown' && RANK[st] < RANK[worst]) worst = st;
    }
    return { name, states, worst: known ? worst : 'unknown', affected };
  });
  if (q.q) {
    const needle = q.q.toLowerCase();
    rows = rows.filter((r) => r.name.toLowerCase().includes(needle));
  }
  if (q.state) rows = rows.filter((r) => (col >= 0 ? r.states[col] === q.state : r.states.includes(q.state!)));
  const sortCol = col >= 0 ? col : 0;
  const key = (r: Row): number | string | null => {
    switch (q.sort) {
      case 'name':
        return r.name;
      case 'worst':
        return RANK[r.worst] * 1000 - r.affected;
      case 'state':
        return RANK[r.states[sortCol]!];
      case 'rtt':
        return num(at(sortCol, r.name)?.last.rtt_ms);
      case 'loss':
        return num(at(sortCol, r.name)?.last.loss_pct);
    }
  };
  const dir = q.order === 'desc' ? -1 : 1;
  const keyed = rows.map((r) => ({ r, k: key(r) }));
  keyed.sort((a, b) => {
    if (a.k === null || b.k === null) return a.k === b.k ? cmp(a.r.name, b.r.name) : a.k === null ? 1 : -1;
    return (cmp(a.k, b.k) || cmp(a.r.name, b.r.name)) * dir;
  });
  const page = keyed.slice(q.offset, q.offset + q.limit).map(({ r }) => {
    const v = verdictOf(r.name);
    return { name: r.name, worst: r.worst, fault: v && v.domain !== 'none' ? { domain: v.domain, affected: v.affected, summary: v.summary } : null, cells: sources.map((s, si) => cell(at(si, r.name), s)) };
  });
  return {
    total: rows.length,
    offset: q.offset,
    limit: q.limit,
    generated_at: new Date().toISOString(),
    sources: sources.map((s) => ({ name: s.name, self: s.self, ...(s.url ? { url: s.url } : {}), available: s.available, ...(s.reason ? { reason: s.reason } : {}), ...(s.age_s !== undefined ? { age_s: s.age_s } : {}) })),
    counts,
    targets: page,
  };
}

function cell(r: SiteRow | undefined, s: MatrixSource): MatrixCell {
  if (!r) return { state: 'unknown', rtt_ms: null, loss_pct: null, time: null, why: s.available ? null : `site unavailable: ${s.reason ?? ''}` };
  return { state: r.state, rtt_ms: num(r.last.rtt_ms), loss_pct: num(r.last.loss_pct), time: r.last.time, why: r.why };
}

function cmp(a: number | string, b: number | string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A figure as a number (a site of another version may lack it or send something else). */
function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
