import { isAbort, request, targetPath } from '../api.js';
import type { Columns, PanelSpec, ProbeStatus, Routes, Series, StatSpec, TargetDetail } from '../api-types.js';
import { errorBox, h, section } from '../dom.js';
import { ago, dateTime, ms, pct, TIME_ZONE_EVENT, toEpochS } from '../format.js';
import { hopHistory, type HopPoint } from './hop-history.js';
import { Poller } from '../poller.js';
import { THEME_EVENT } from '../theme.js';
import type { Chart } from './charts.js';
import { lossLegend } from './loss-colours.js';
import { renderPathMap } from './path-map.js';
import { ProbeNow } from './probe-now.js';
import { currentRoute, routeHistory } from './routes-panel.js';
import { buildSeriesCharts } from './series-charts.js';
import { SourcesPanel } from './sources-panel.js';
import { apiParams, bounds, isLive, rangePicker, rangeQuery, readRange, type Range } from './time-range.js';

/**
 * One target: its configuration and probe states, the charts of the chosen
 * range (drag on a chart to zoom into it), the route hop by hop with its
 * history, the path on a map, and "probe now". Each part loads and fails on
 * its own: an error shows where the part would be.
 */
export class TargetPage {
  private range: Range = readRange();
  private charts: Chart[] = [];
  private lastSeries?: Series;
  private lastRoutes?: Routes;
  private lastHops?: HopPoint[];
  private detail?: TargetDetail;
  /** What the target's probes draw (its detail's panels): the charts wait for it. */
  private panels?: PanelSpec[];
  private readonly poller = new Poller((signal) => this.load(signal), 60_000);
  private readonly header = h('div', { class: 'target-head' });
  private readonly probes = h('div', { id: 'probe-status' });
  private readonly pickerHolder = h('div');
  private readonly chartsEl = h('div', { class: 'charts', id: 'charts' });
  private readonly chartsNote = h('div', { 'aria-live': 'polite' });
  private readonly statsEl = h('div', { class: 'stat-row', id: 'stat-row', 'aria-live': 'polite' });
  private readonly hopsEl = h('div', { id: 'hops' });
  private readonly routeEl = h('div', { id: 'route' });
  private readonly historyEl = h('div', { id: 'route-history' });
  private readonly mapEl = h('div', { class: 'map-holder' });
  private readonly probeNow: ProbeNow;
  private readonly lossKey = h('p', { class: 'loss-key small' });
  /** Every site's view of the target (SITES); hidden when there is none. */
  private readonly sources: SourcesPanel;
  private readonly routeSection: HTMLElement;

  constructor(
    private readonly el: HTMLElement,
    private readonly name: string,
  ) {
    this.probeNow = new ProbeNow(name, () => this.poller.now());
    this.sources = new SourcesPanel(name, (a, b) => this.setRange({ from: a, to: b }));
    this.routeSection = section('Route', 'route-section', this.routeEl, this.historyEl, h('h3', {}, 'Each hop over the range'), this.hopsEl, this.mapEl);
  }

  start(): void {
    document.title = `${this.name} · network-telemetry`;
    this.el.replaceChildren(
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/' }, '← All targets')),
      h('div', { class: 'target-top' }, this.header, h('div', { class: 'probe-now' }, this.probeNow.button, h('span', { class: 'muted small' }, 'runs every probe of this target once'))),
      this.probeNow.panel,
      this.statsEl,
      section('History', 'history-section', this.pickerHolder, this.lossKey, this.chartsNote, this.chartsEl),
      this.sources.el,
      this.routeSection,
      section('Probes', 'probes-section', this.probes),
    );
    this.header.append(h('h1', {}, this.name));
    this.renderPicker();
    window.addEventListener(THEME_EVENT, () => this.redraw());
    window.addEventListener(TIME_ZONE_EVENT, () => {
      this.renderPicker();
      this.redraw();
      if (this.detail) this.renderDetail(this.detail);
      this.renderRoutes();
    });
    window.addEventListener('popstate', () => {
      this.range = readRange();
      this.renderPicker();
      this.poller.now();
    });
    this.poller.start();
  }

  private renderPicker(): void {
    this.pickerHolder.replaceChildren(rangePicker(this.range, (r) => this.setRange(r)));
  }

  private setRange(r: Range): void {
    this.range = r;
    history.pushState(null, '', `${location.pathname}?${rangeQuery(r)}`);
    this.renderPicker();
    this.poller.now();
  }

  private async load(signal: AbortSignal): Promise<void> {
    const range = this.range;
    const params = apiParams(range);
    params.set('buckets', String(Math.min(1000, Math.max(60, Math.round(this.chartsEl.clientWidth || 1000)))));
    const routeParams = apiParams(range);
    await Promise.all([
      request<TargetDetail>(targetPath(this.name), { signal }).then(
        async (d) => {
          this.renderDetail(d);
          this.panels = d.panels;
          this.sources.setPanels(d.panels);
          this.renderCharts();
          this.renderRoutes();
          // Other sites' view only where the detail says there are sites: a standalone
          // daemon's /sources is a 404, which the browser logs as an error on every load.
          if ('sources' in d) await this.sources.load(signal, params, routeParams, bounds(range));
        },
        (err) => !isAbort(err) && this.probes.replaceChildren(errorBox(`Target could not be loaded: ${(err as Error).message}`)),
      ),
      request<Series>(targetPath(this.name, `/series?${params}`), { signal }).then(
        (s) => {
          this.lastSeries = s;
          this.renderCharts();
        },
        (err) => !isAbort(err) && this.showChartError(err as Error),
      ),
      request<{ points: HopPoint[] }>(`/api/points?${hopParams(this.name, range)}`, { signal }).then(
        (p) => {
          this.lastHops = p.points;
          this.renderHops();
        },
        (err) => !isAbort(err) && this.hopsEl.replaceChildren(errorBox(`Hops could not be loaded: ${(err as Error).message}`)),
      ),
      request<Routes>(targetPath(this.name, `/routes?${routeParams}`), { signal }).then(
        (r) => {
          this.lastRoutes = r;
          this.renderRoutes();
        },
        (err) => {
          if (isAbort(err)) return;
          this.routeEl.replaceChildren(errorBox(`Routes could not be loaded: ${(err as Error).message}`));
          this.mapEl.replaceChildren();
          this.historyEl.replaceChildren();
        },
      ),
    ]);
    if (!isLive(this.range)) this.poller.stop(); // a fixed range does not change
  }

  private showChartError(err: Error): void {
    for (const c of this.charts) c.destroy();
    this.charts = [];
    this.chartsNote.replaceChildren(errorBox(`History could not be loaded: ${err.message}`));
  }

  private renderDetail(d: TargetDetail): void {
    this.detail = d;
    const cfg: string[] = [`host ${d.host}`, `every ${d.interval_s} s`, `timeout ${d.timeout_s} s`];
    if (d.owner) cfg.push(`probed by ${d.owner}`);
    const settings = new Map(d.settings.map((s) => [s.probe, s.summary]));
    // Why the state: each failing probe with its reason, or each threshold crossed with its value and limit.
    const why: HTMLElement[] = [];
    if (d.status !== 'failing') for (const c of d.crossed ?? []) why.push(h('li', { class: 'crossed', 'data-threshold': c.threshold }, `${c.probe}: ${c.text}`));
    for (const p of d.probe_status) if (p.success === false) why.push(h('li', { class: 'bad' }, h('strong', {}, `${p.probe}: ${p.reason ?? 'failed'}`), p.detail ? ` — ${p.detail}` : ''));
    const limits = Object.entries(d.thresholds ?? {})
      .filter(([, v]) => v !== null)
      .map(([k, v]) => `${k} ${k === 'cert_days' ? '≤' : '≥'} ${v}`);
    const parts: (HTMLElement | null)[] = [
      h('h1', {}, this.name, ' ', h('span', { class: `badge ${d.status}`, id: 'target-status', 'data-status': d.status }, d.status)),
      d.state_since ? h('p', { class: 'small muted' }, `${d.status} since ${dateTime(d.state_since)}`) : null,
      why.length ? h('ul', { class: 'state-why', id: 'state-why' }, ...why) : null,
      h('p', { class: 'muted' }, cfg.join(' · ')),
      limits.length ? h('p', { class: 'muted small', id: 'thresholds' }, `degraded when ${limits.join(', ')}`) : null,
    ];
    this.header.replaceChildren(...parts.filter((x): x is HTMLElement => x !== null));
    this.probes.replaceChildren(
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h('caption', { class: 'visually-hidden' }, 'State of each probe'),
          h('thead', {}, h('tr', {}, ...['Probe', 'State', 'Reason', 'Last run', 'Since', 'Settings'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, ...d.probe_status.map((p) => probeRow(p, settings.get(p.probe)))),
        ),
      ),
    );
  }

  private renderCharts(): void {
    const s = this.lastSeries;
    const panels = this.panels;
    if (!s || !panels) return;
    // SmokePing's colour key, where a chart is coloured by loss.
    if (panels.some((p) => p.charts.some((c) => c.type === 'smoke' || c.type === 'loss'))) this.renderLossKey();
    else this.lossKey.replaceChildren();
    for (const c of this.charts) c.destroy();
    this.charts = [];
    const [from, to] = [toEpochS(s.from), toEpochS(s.to)];
    const range: [number, number] = from !== null && to !== null ? [from, to] : bounds(this.range);
    const markers = (s.route_changes ?? []).map((c) => toEpochS(c.time)).filter((t): t is number => t !== null);
    this.charts = buildSeriesCharts(this.chartsEl, { series: s, panels, range, markers, onZoom: (a, b) => this.setRange({ from: a, to: b }) });
    const any = this.charts.length > 0;
    this.chartsNote.replaceChildren(
      any
        ? h('p', { class: 'muted small', id: 'charts-caption', 'data-resolution': s.resolution, 'data-step': s.step_s }, `${dateTime(range[0])} – ${dateTime(range[1])}; ${resolutionText(s)}. Drag across a chart to zoom in.`)
        : h('p', { class: 'muted' }, 'No measurement stored for this target in this range yet.'),
    );
    this.renderStats(s, panels);
  }

  /**
   * The stat row: the figures a person asks first, over the range, as the
   * target's probes declare them (PanelSpec.stats), then availability (runs
   * that succeeded over runs, every probe). A `≈` marks a percentile
   * estimated from stored buckets rather than from every run (older ranges);
   * rates and means of summed counts are exact either way (StatSpec.exact).
   */
  private renderStats(s: Series, panels: readonly PanelSpec[]): void {
    const stat = (id: string, label: string, value: string, title = '') => h('div', { class: 'stat', id: `stat-${id}`, title }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value));
    const approx = s.resolution === 'raw' && s.summary_exact !== false ? '' : '≈ ';
    const items: HTMLElement[] = [];
    for (const spec of panels.flatMap((p) => p.stats ?? [])) {
      const v = statValue(spec, s);
      if (v === undefined) continue; // the rollup has no data in the range
      const text = spec.unit === 'ms' ? ms(v) : spec.unit === '%' ? pct(v) : v === null ? '–' : String(v);
      const estimated = approx && v !== null && spec.how !== 'last' && !spec.exact;
      items.push(stat(spec.id, spec.label, `${estimated ? approx : ''}${text}`, estimated ? `${spec.title} (≈: estimated from stored buckets)` : spec.title));
    }
    let ok = 0;
    let runs = 0;
    for (const c of Object.values(s.summary?.probes ?? {})) {
      ok += c.ok ?? 0;
      runs += (c.ok ?? 0) + (c.failed ?? 0);
    }
    if (runs) items.push(stat('availability', 'Availability', availability((100 * ok) / runs), `${ok.toLocaleString()} of ${runs.toLocaleString()} probe runs succeeded`));
    this.statsEl.replaceChildren(...items);
    this.statsEl.hidden = items.length === 0;
  }

  private renderHops(): void {
    if (!this.lastHops) return;
    this.hopsEl.replaceChildren(hopHistory(this.lastHops, bounds(this.range)));
  }

  private renderRoutes(): void {
    const r = this.lastRoutes;
    if (!r || !this.panels) return;
    this.routeSection.hidden = !this.panels.some((p) => p.route);
    if (this.routeSection.hidden) return;
    this.routeEl.replaceChildren(currentRoute(r));
    this.historyEl.replaceChildren(routeHistory(r));
    void renderPathMap(this.mapEl, r);
  }

  private renderLossKey(): void {
    this.lossKey.replaceChildren(
      'Median colour by packet loss (SmokePing’s bins for 20 echoes; a rollup bucket by its worst slot): ',
      ...lossLegend().map((l) => h('span', { class: 'loss-swatch' }, h('span', { class: 'swatch', style: `background:${l.colour}` }), l.label)),
      ' · ',
      h('span', { class: 'marker-key' }, '┆'),
      ' route change',
    );
  }

  /** Canvas and SVG take their colours when drawn: draw again in the new theme. */
  private redraw(): void {
    this.renderCharts();
    this.renderHops();
    this.sources.renderCharts();
    if (this.lastRoutes && !this.routeSection.hidden) void renderPathMap(this.mapEl, this.lastRoutes);
  }

  dispose(): void {
    this.poller.stop();
    for (const c of this.charts) c.destroy();
    this.sources.dispose();
  }
}

function probeRow(p: ProbeStatus, settings: string | undefined): HTMLElement {
  const state = p.success === null ? 'unknown' : p.success ? 'ok' : 'failing';
  return h(
    'tr',
    { 'data-probe': p.probe },
    h('th', { scope: 'row' }, p.probe),
    h('td', {}, h('span', { class: `badge ${state}` }, state)),
    h('td', {}, p.reason ? h('strong', {}, p.reason) : '', p.detail ? ` — ${p.detail}` : p.reason ? '' : h('span', { class: 'muted' }, '–')),
    h('td', { title: dateTime(p.at) }, ago(p.at)),
    h('td', {}, p.since ? dateTime(p.since) : '–'),
    h('td', { class: 'small' }, settings ?? h('span', { class: 'muted' }, '–')),
  );
}

/** One stat of the row; undefined when its rollup has no data in the range. */
function statValue(spec: StatSpec, s: Series): number | null | undefined {
  const cols = s[spec.rollup] as Columns | undefined;
  if (!cols || !Array.isArray(cols.t)) return undefined;
  if (spec.how === 'range') return s.summary?.[spec.rollup]?.[spec.column] ?? null;
  const values = (cols[spec.column] ?? []) as (number | null)[];
  if (spec.how === 'last') {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i]!;
    return null;
  }
  return pctile(values, 95);
}

/** What the charts draw, in words: the caption must say the resolution. */
function resolutionText(s: Series): string {
  if (s.resolution === 'raw') return `raw points, ${stepText(s.step_s)} steps`;
  const tier = s.tier === '1h' ? 'hourly buckets' : s.tier === '5m' ? '5-minute buckets' : `${stepText(s.step_s)} buckets`;
  const bucketS = s.tier === '1h' ? 3600 : s.tier === '5m' ? 300 : s.step_s;
  return s.step_s > bucketS ? `${tier} merged into ${stepText(s.step_s)} steps` : tier;
}

/** `5 s`, `2 min`, `3 h`: a step is a whole number of seconds. */
function stepText(s: number): string {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${+(s / 60).toFixed(1)} min`;
  return `${+(s / 3600).toFixed(1)} h`;
}

function availability(v: number | null): string {
  if (v === null) return '–';
  return v >= 99.995 ? '100 %' : `${v.toFixed(v >= 99 ? 2 : 1)} %`;
}

function pctile(values: (number | null)[], p: number): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const rank = (p / 100) * (v.length - 1);
  const lo = Math.floor(rank);
  return v[lo]! + (v[Math.min(v.length - 1, lo + 1)]! - v[lo]!) * (rank - lo);
}

/** The hop points of the range (the store keeps them for the raw window). */
function hopParams(name: string, range: Range): URLSearchParams {
  const [from, to] = bounds(range);
  return new URLSearchParams({ measurement: 'hop', target: name, since: String(Math.floor(from * 1000)), until: String(Math.ceil(to * 1000)), limit: '10000' });
}
