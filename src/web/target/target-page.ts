import { isAbort, request, targetPath } from '../api.js';
import type { PanelSpec, ProbeStatus, Routes, Series, TargetDetail } from '../api-types.js';
import { errorBox, h, section } from '../dom.js';
import { ago, dateTime, toEpochS } from '../format.js';
import { Poller } from '../poller.js';
import { THEME_EVENT } from '../theme.js';
import type { Chart } from './charts.js';
import { lossLegend } from './loss-colours.js';
import { renderPathMap } from './path-map.js';
import { ProbeNow } from './probe-now.js';
import { currentRoute, routeHistory } from './routes-panel.js';
import { buildSeriesCharts } from './series-charts.js';
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
  /** What the target's probes draw (its detail's panels): the charts wait for it. */
  private panels?: PanelSpec[];
  private readonly poller = new Poller((signal) => this.load(signal), 60_000);
  private readonly header = h('div', { class: 'target-head' });
  private readonly probes = h('div', { id: 'probe-status' });
  private readonly pickerHolder = h('div');
  private readonly chartsEl = h('div', { class: 'charts', id: 'charts' });
  private readonly chartsNote = h('div', { 'aria-live': 'polite' });
  private readonly routeEl = h('div', { id: 'route' });
  private readonly historyEl = h('div', { id: 'route-history' });
  private readonly mapEl = h('div', { class: 'map-holder' });
  private readonly probeNow: ProbeNow;
  private readonly lossKey = h('p', { class: 'loss-key small' });
  private readonly routeSection: HTMLElement;

  constructor(
    private readonly el: HTMLElement,
    private readonly name: string,
  ) {
    this.probeNow = new ProbeNow(name, () => this.poller.now());
    this.routeSection = section('Route', 'route-section', this.routeEl, this.mapEl, this.historyEl);
  }

  start(): void {
    document.title = `${this.name} · network-telemetry`;
    this.el.replaceChildren(
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/' }, '← All targets')),
      h('div', { class: 'target-top' }, this.header, h('div', { class: 'probe-now' }, this.probeNow.button, h('span', { class: 'muted small' }, 'runs every probe of this target once'))),
      this.probeNow.panel,
      section('History', 'history-section', this.pickerHolder, this.lossKey, this.chartsNote, this.chartsEl),
      this.routeSection,
      section('Probes', 'probes-section', this.probes),
    );
    this.header.append(h('h1', {}, this.name));
    this.renderPicker();
    window.addEventListener(THEME_EVENT, () => this.redraw());
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
        (d) => {
          this.renderDetail(d);
          this.panels = d.panels;
          this.renderCharts();
          this.renderRoutes();
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
    const cfg: string[] = [`host ${d.host}`, `every ${d.interval_s} s`, `timeout ${d.timeout_s} s`];
    if (d.owner) cfg.push(`probed by ${d.owner}`);
    const settings = new Map(d.settings.map((s) => [s.probe, s.summary]));
    this.header.replaceChildren(
      h('h1', {}, this.name, ' ', h('span', { class: `badge ${d.status}`, id: 'target-status', 'data-status': d.status }, d.status)),
      h('p', { class: 'muted' }, cfg.join(' · ')),
    );
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
        ? h('p', { class: 'muted small' }, `${dateTime(range[0])} – ${dateTime(range[1])}, ${s.resolution === 'raw' ? 'every stored point' : `${s.step_s} s buckets`}. Drag across a chart to zoom in.`)
        : h('p', { class: 'muted' }, 'No measurement stored for this target in this range yet.'),
    );
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
      'Median colour by packet loss (SmokePing’s scale): ',
      ...lossLegend().map((l) => h('span', { class: 'loss-swatch' }, h('span', { class: 'swatch', style: `background:${l.colour}` }), l.label)),
      ' · ',
      h('span', { class: 'marker-key' }, '┆'),
      ' route change',
    );
  }

  /** Canvas and SVG take their colours when drawn: draw again in the new theme. */
  private redraw(): void {
    this.renderCharts();
    if (this.lastRoutes && !this.routeSection.hidden) void renderPathMap(this.mapEl, this.lastRoutes);
  }

  dispose(): void {
    this.poller.stop();
    for (const c of this.charts) c.destroy();
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

