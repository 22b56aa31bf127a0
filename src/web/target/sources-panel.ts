import type uPlot from 'uplot';
import { isAbort, request, targetPath } from '../api.js';
import type { ChartSpec, Columns, Num, PanelSpec, SourceRoutes, SourceSeries, SourceView, TargetSources, Verdict } from '../api-types.js';
import { errorBox, h, section } from '../dom.js';
import { ago, dateTime, ms, num, pct, toEpochS } from '../format.js';
import { cssVar } from '../theme.js';
import { makeChart, valueAxis, type Chart } from './charts.js';

/**
 * The target from every site (SITES): where the problem sits (the
 * fault-domain verdict), each source's state and last figures, one line per
 * source on the latency, loss and HTTP/DNS/TCP charts (the median of each),
 * the current routes side by side (hops shared with other sources, hops of
 * a path's own, the hop where a path's loss or latency begins), and route
 * changes per source. Each part loads and fails on its own.
 */
export class SourcesPanel {
  readonly el: HTMLElement;
  private readonly verdictEl = h('div', { id: 'verdict', class: 'verdict', 'aria-live': 'polite' });
  private readonly tableEl = h('div', { id: 'sources-table-holder' });
  private readonly noteEl = h('p', { id: 'sources-history-note', class: 'muted small' });
  private readonly chartsEl = h('div', { class: 'charts', id: 'sources-charts' });
  private readonly routesEl = h('div', { id: 'sources-routes' });
  private readonly changesEl = h('div', { id: 'sources-route-changes' });
  private charts: Chart[] = [];
  private last?: { series: SourceSeries; range: [number, number]; order: string[] };
  /** What the target's probes draw (its detail's panels): each chart becomes one line per source. */
  private panels?: readonly PanelSpec[];
  /** False once the daemon said it has no other sites and no shared database: the section stays hidden. */
  private enabled = true;

  constructor(
    private readonly name: string,
    private readonly onZoom: (fromS: number, toS: number) => void,
  ) {
    this.el = section(
      'From every site',
      'sources-section',
      this.verdictEl,
      this.tableEl,
      h('h3', {}, 'History per source'),
      this.noteEl,
      this.chartsEl,
      h('h3', {}, 'Current routes side by side'),
      this.routesEl,
      h('h3', {}, 'Route changes per source'),
      this.changesEl,
    );
    this.el.hidden = true;
  }

  async load(signal: AbortSignal, series: URLSearchParams, routes: URLSearchParams, range: [number, number]): Promise<void> {
    if (!this.enabled) return;
    const fail = (part: HTMLElement, what: string) => (err: unknown) => {
      if (!isAbort(err)) part.replaceChildren(errorBox(`${what} could not be loaded: ${(err as Error).message}`));
    };
    let order: string[] = [];
    const now = await request<TargetSources>(targetPath(this.name, '/sources'), { signal }).catch((err: unknown) => {
      // 404 with no other sites and no shared database configured: nothing to show.
      if ((err as { status?: number }).status === 404 && /SITES/.test((err as Error).message)) this.enabled = false;
      else fail(this.verdictEl, 'The sources')(err);
      return undefined;
    });
    if (!this.enabled) return;
    this.el.hidden = false;
    if (now) {
      order = now.sources.map((s) => s.source);
      this.verdictEl.replaceChildren(...verdictView(now.verdict));
      this.verdictEl.className = `verdict st-${verdictState(now.verdict)}`;
      this.verdictEl.dataset.domain = now.verdict.domain;
      this.tableEl.replaceChildren(sourcesTable(now.sources, now.figures, this.name));
      this.routesEl.replaceChildren(sideBySide(now.sources, now.verdict));
    }
    await Promise.all([
      request<SourceSeries>(targetPath(this.name, `/sources/series?${series}`), { signal }).then((s) => {
        this.last = { series: s, range, order: order.length ? order : s.sources.map((x) => x.source) };
        this.renderCharts();
      }, fail(this.chartsEl, 'The history per source')),
      request<SourceRoutes>(targetPath(this.name, `/sources/routes?${routes}`), { signal }).then((r) => this.changesEl.replaceChildren(changesView(r)), fail(this.changesEl, 'The route changes per source')),
    ]);
  }

  /** The target's panels, from its detail (the charts wait for them). */
  setPanels(panels: readonly PanelSpec[]): void {
    this.panels = panels;
    this.renderCharts();
  }

  /** Canvas colours are read when drawn: draw again after a theme change. */
  renderCharts(): void {
    for (const c of this.charts) c.destroy();
    this.charts = [];
    const l = this.last;
    if (!l || !this.panels) return;
    const s = l.series;
    this.noteEl.dataset.history = s.history;
    this.noteEl.replaceChildren(
      s.history === 'query_url' ? 'From the shared database (QUERY_URL), every source.' : 'From each site’s own store.',
      s.fallback ? ` The shared database did not answer (${s.fallback}): the sites answered instead.` : '',
      ...s.sources.filter((x) => !x.available).map((x) => ` ${x.source}: ${x.reason ?? 'unavailable'}.`),
    );
    const colour = (source: string) => sourceColour(l.order.indexOf(source) >= 0 ? l.order.indexOf(source) : l.order.length);
    const usable = s.sources.filter((x) => x.available && x.series);
    const markers = usable.flatMap((x) => (x.series!.route_changes ?? []).map((c) => toEpochS(c.time)).filter((t): t is number => t !== null));
    for (const spec of this.panels.flatMap((p) => p.charts.flatMap(perSource))) {
      const lines = usable.map((x) => ({ source: x.source, data: spec.pick(x.series!) })).filter((x): x is { source: string; data: { t: number[]; v: Num[] } } => !!x.data);
      if (!lines.length) continue;
      // One x axis for every source: the union of their bucket times (sites' stores may bucket differently).
      const times = [...new Set(lines.flatMap((x) => x.data.t))].sort((a, b) => a - b);
      const at = new Map(times.map((t, i) => [t, i]));
      const columns = lines.map((x) => {
        const col: (number | null)[] = new Array(times.length).fill(null);
        x.data.t.forEach((t, i) => (col[at.get(t)!] = x.data.v[i] ?? null));
        return col;
      });
      const few = times.length < 200;
      this.charts.push(
        makeChart(this.chartsEl, {
          id: spec.id,
          title: spec.title,
          summary: `${spec.title}: ${lines.map((x, i) => `${x.source} ${columns[i]!.filter((v) => v !== null).length} buckets`).join(', ')}.`,
          height: spec.id === 'chart-sources-latency' ? 260 : 160,
          data: [times, ...columns] as uPlot.AlignedData,
          series: lines.map((x) => ({ label: x.source, stroke: colour(x.source), width: 2, spanGaps: false, points: { show: few, size: 4 }, value: (_u: uPlot, v: number | null) => (spec.unit === '%' ? pct(v) : spec.unit === 'ms' ? ms(v) : num(v)) })),
          scales: { y: { range: spec.range ? [spec.range[0], spec.range[1]] : (_u: uPlot, _min: number, max: number) => [0, niceMax(max)] } },
          axes: [{}, valueAxis(spec.unit)] as uPlot.Axis[],
          markers,
          range: l.range,
          onZoom: this.onZoom,
          // What each source's line really drew inside the plot, for people (legend) and tests (data-drawn).
          draw: (u) => {
            const min = u.scales.x?.min ?? -Infinity;
            const max = u.scales.x?.max ?? Infinity;
            const drawn: Record<string, number> = {};
            lines.forEach((x, i) => {
              const ys = u.data[i + 1] as (number | null)[];
              drawn[x.source] = (u.data[0] as number[]).filter((t, k) => t >= min && t <= max && ys[k] !== null && ys[k] !== undefined).length;
            });
            u.root.closest('figure')?.setAttribute('data-drawn', JSON.stringify(drawn));
          },
        }),
      );
    }
    if (!this.charts.length) this.chartsEl.replaceChildren(h('p', { class: 'muted' }, 'No source has history for this target in this range.'));
  }

  dispose(): void {
    for (const c of this.charts) c.destroy();
  }
}

/** One chart of one line per source. */
interface SourceChart {
  id: string;
  title: string;
  unit: string;
  pick: (series: Record<string, unknown>) => { t: number[]; v: Num[] } | undefined;
  range?: readonly [number, number];
}

/**
 * A probe's chart (probes/<kind>/view.ts) as charts of one line per source:
 * the median of a smoke chart, the loss bars' column, each line of a lines
 * chart, a stacked chart's total (or the sum of its parts).
 */
export function perSource(c: ChartSpec): SourceChart[] {
  const id = c.id.replace(/^chart-/, 'chart-sources-');
  // The chart's subject: its title up to the first ':' or '(' ("Latency: median coloured by loss..." -> "Latency").
  const name = c.title.split(/[:(]/)[0]!.trim();
  const cols = (x: Record<string, unknown>) => x[c.rollup] as Columns | undefined;
  const one = (column: string) => (x: Record<string, unknown>) => {
    const r = cols(x);
    return r?.[column] ? { t: r.t, v: r[column]! } : undefined;
  };
  switch (c.type) {
    case 'smoke':
      return [{ id, title: `${name} per source (median of each)`, unit: 'ms', pick: one(c.median) }];
    case 'loss':
      return [{ id, title: `${name} per source`, unit: '%', pick: one(c.column), range: [0, 100] }];
    case 'lines':
      return c.lines.map((l) => ({ id: c.lines.length > 1 ? `${id}-${l.column}` : id, title: c.lines.length > 1 ? `${l.label} per source` : `${name} per source`, unit: l.unit, pick: one(l.column), range: l.range }));
    case 'stacked':
      if (c.total) return [{ id, title: `${name}: total per source`, unit: c.unit, pick: one(c.total) }];
      return [
        {
          id,
          title: `${name}: sum of the parts per source`,
          unit: c.unit,
          pick: (x) => {
            const r = cols(x);
            if (!r) return undefined;
            const parts = c.parts.map((p) => r[p.column]);
            return { t: r.t, v: r.t.map((_t, i) => (parts.some((p) => typeof p?.[i] === 'number') ? parts.reduce((a, p) => a + (p?.[i] ?? 0), 0) : null)) };
          },
        },
      ];
  }
}

/** A figure's cell: a number in its unit, a time as "3 min ago". */
function figureCell(f: TargetSources['figures'][number], v: number | string | null): HTMLElement {
  if (f.unit === 'time') return typeof v === 'string' ? h('td', { title: dateTime(v) }, ago(v)) : h('td', { class: 'muted' }, '–');
  const n = typeof v === 'number' ? v : null;
  return h('td', { class: 'num' }, f.unit === 'ms' ? ms(n) : f.unit === '%' ? pct(n) : f.unit === 'days' ? (n === null ? '–' : `${num(n, 0)} d`) : num(n, 0));
}

export function sourceColour(i: number): string {
  return cssVar(`--src-${(i % 10) + 1}`);
}

function verdictState(v: Verdict): string {
  return v.domain === 'none' ? 'ok' : v.domain === 'undetermined' ? 'unknown' : v.domain === 'target' ? 'failing' : 'degraded';
}

function verdictView(v: Verdict): HTMLElement[] {
  const title = { none: 'No fault', target: 'The target', path: 'A path, not the target', undetermined: 'Undetermined' }[v.domain];
  const out: HTMLElement[] = [h('p', {}, h('strong', {}, `Where is the problem? ${title}. `), v.summary.split('. ')[0]!.replace(/\.$/, ''), '.')];
  if (v.domain === 'path' && v.paths) {
    out.push(h('ul', {}, ...v.paths.map((p) => h('li', { 'data-source': p.source, 'data-loss-ttl': p.loss_begins?.ttl ?? null, 'data-latency-ttl': p.latency_begins?.ttl ?? null }, p.summary))));
  }
  if (v.domain === 'target' && v.common_hops?.length) out.push(h('p', { class: 'small' }, `Hops every path shares before the target: ${v.common_hops.map((x) => x.ip).join(' → ')}.`));
  if (v.no_data.length) out.push(h('p', { class: 'small muted' }, `Not counted (no data): ${v.no_data.join(', ')}.`));
  out.push(h('p', { class: 'small muted' }, 'Traceroute sees the forward path only: a problem on a different return path can show at a hop the forward paths share.'));
  return out;
}

function sourcesTable(sources: SourceView[], figures: TargetSources['figures'], name: string): HTMLElement {
  // Figures no source has a value of (a probe another site does not run either) take no column.
  const shown = figures.filter((f) => sources.some((s) => s.last[f.key] !== null && s.last[f.key] !== undefined));
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'sources', id: 'sources-table' },
      h('caption', { class: 'visually-hidden' }, 'The target as each source sees it'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Source', 'State', 'Why'].map((c) => h('th', { scope: 'col' }, c)),
          ...shown.map((f) => h('th', { scope: 'col', class: f.unit === 'time' ? null : 'num', 'data-figure': f.key }, f.label)),
          h('th', { scope: 'col' }, 'Last run'),
        ),
      ),
      h(
        'tbody',
        {},
        ...sources.map((s, i) =>
          h(
            'tr',
            { 'data-source': s.source, 'data-state': s.state, 'data-available': s.available ? '1' : '0' },
            h('th', { scope: 'row' }, h('span', { class: 'src-key', style: `background:${sourceColour(i)}` }), s.url ? h('a', { href: `${s.url}/targets/${encodeURIComponent(name)}`, title: `${s.source}'s own page` }, s.source) : [s.source, h('span', { class: 'muted small' }, ' (here)')]),
            h('td', {}, h('span', { class: `badge ${s.available ? s.state : 'unavailable'}` }, s.available ? s.state : 'unavailable')),
            h('td', { class: 'why' }, s.available ? (s.why ?? s.reason ?? '') : (s.reason ?? '')),
            ...shown.map((f) => figureCell(f, s.last[f.key] ?? null)),
            h('td', { title: dateTime(s.last.time) }, ago(s.last.time)),
          ),
        ),
      ),
    ),
  );
}

/** TTL rows, a column per source; a hop other sources' paths also have is shared, the others the path's own. */
function sideBySide(sources: SourceView[], v: Verdict): HTMLElement {
  const routed = sources.filter((s) => s.route && s.route.hops.length);
  if (!routed.length) return h('p', { class: 'muted', id: 'routes-side-by-side' }, 'No source has traced this target yet (the target needs the trace probe).');
  const seenBy = new Map<string, Set<string>>();
  for (const s of routed) for (const hop of s.route!.hops) if (hop.ip !== '*') (seenBy.get(hop.ip) ?? seenBy.set(hop.ip, new Set()).get(hop.ip)!).add(s.source);
  const onset = new Map((v.paths ?? []).flatMap((p) => [p.loss_begins, p.latency_begins].filter((o) => o).map((o) => [`${p.source} ${o!.ttl}`, o!])));
  const maxTtl = Math.max(...routed.map((s) => s.route!.hops[s.route!.hops.length - 1]!.ttl));
  const rows: HTMLElement[] = [];
  for (let ttl = 1; ttl <= maxTtl; ttl++) {
    rows.push(
      h(
        'tr',
        { 'data-ttl': ttl },
        h('td', { class: 'num' }, ttl),
        ...routed.map((s) => {
          const hop = s.route!.hops.find((x) => x.ttl === ttl);
          if (!hop) return h('td', { class: 'hop' });
          const shared = hop.ip !== '*' && seenBy.get(hop.ip)!.size > 1;
          const o = onset.get(`${s.source} ${ttl}`);
          return h(
            'td',
            { class: `hop ${hop.ip === '*' ? 'silent' : shared ? 'shared' : 'own'}${o ? ' onset' : ''}`, 'data-source': s.source, 'data-ip': hop.ip, title: o ? `${o.kind} begins here` : shared ? `also on the path from ${[...seenBy.get(hop.ip)!].filter((x) => x !== s.source).join(', ')}` : 'only on this path' },
            hop.ip === '*' ? '* (no answer)' : hop.ip,
            h('span', { class: 'figs' }, `${pct(hop.loss_pct)} · ${ms(hop.rtt_avg_ms)}${o ? ` · ${o.kind} begins` : ''}`),
          );
        }),
      ),
    );
  }
  return h(
    'div',
    { class: 'table-wrap' },
    h('p', { class: 'small muted' }, 'Loss and RTT per hop over each source’s recent traces. Shaded: hops only that path has; grey: hops shared with another source; outlined: where a path’s loss or latency begins.'),
    h(
      'table',
      { class: 'side-by-side', id: 'routes-side-by-side' },
      h('caption', { class: 'visually-hidden' }, 'Each source’s current route, hop by hop'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'TTL'), ...routed.map((s) => h('th', { scope: 'col', 'data-source': s.source }, `${s.source}${s.route!.reached ? '' : ' (not reached)'}`)))),
      h('tbody', {}, ...rows),
    ),
  );
}

function changesView(r: SourceRoutes): HTMLElement {
  return h(
    'ul',
    { class: 'source-changes' },
    ...r.sources.map((s) => {
      if (!s.available || !s.routes) return h('li', { 'data-source': s.source }, h('strong', {}, s.source), `: unavailable (${s.reason ?? ''})`);
      const changes = [...s.routes.changes].sort((a, b) => (toEpochS(b.time) ?? 0) - (toEpochS(a.time) ?? 0));
      return h(
        'li',
        { 'data-source': s.source, 'data-changes': changes.length },
        h('strong', {}, s.source),
        changes.length ? `: ${changes.length} change${changes.length === 1 ? '' : 's'}, the last ${dateTime(changes[0]!.time)}` : ': no route change in this range',
      );
    }),
  );
}

function niceMax(max: number | null): number {
  if (max === null || !Number.isFinite(max) || max <= 0) return 1;
  const m = max * 1.1;
  const p = 10 ** Math.floor(Math.log10(m));
  return Math.ceil(m / p) * p;
}
