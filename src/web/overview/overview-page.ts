import { isAbort, pagePath, request } from '../api.js';
import type { FigureColumn, Status, TargetList, TargetRow } from '../api-types.js';
import { errorBox, h } from '../dom.js';
import { ago, dateTime, ms, num, pct, TIME_ZONE_EVENT } from '../format.js';
import { Poller } from '../poller.js';
import { THEME_EVENT } from '../theme.js';
import { drawSparkline } from './sparkline.js';

/**
 * Every target, a page at a time: the daemon sorts, filters and pages
 * (GET /api/targets), so 10,000 targets cost the browser one page of rows.
 * The view's state lives in the query string: reload, back and a shared
 * link show the same rows.
 */

/** `name`, `status`, or a figure column's sort name (the daemon lists them with each answer). */
type SortKey = string;
/** Worst first, as the default order. */
const STATUSES: Status[] = ['failing', 'degraded', 'unavailable', 'unknown', 'ok'];
const PAGE_SIZES = [50, 100, 250, 500];

interface View {
  q: string;
  status: Status | '';
  sort: SortKey;
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
}

interface Column {
  key: SortKey | null;
  label: string;
  numeric?: boolean;
  title?: string;
  /** The probe figure it shows (a column the probes declare). */
  figure?: FigureColumn;
  /** The last hour's loss rate (echoes lost over sent, from the sparkline's sums). */
  hourLoss?: boolean;
}

/**
 * Target, status and probes, then the figures the probes declare (RTT, loss,
 * HTTP total, when the route changed... as the daemon lists them), then the
 * last hour.
 */
function columnsOf(figures: readonly FigureColumn[]): Column[] {
  return [
    { key: 'name', label: 'Target' },
    { key: 'status', label: 'Status' },
    { key: null, label: 'Probes' },
    ...figures.map((f) => ({ key: f.sort, label: f.label, numeric: f.unit !== 'time', figure: f })),
    { key: null, label: 'Loss 1 h', numeric: true, title: 'echoes lost over echoes sent in the last hour', hourLoss: true },
    { key: null, label: 'Last hour' },
  ];
}

/**
 * The columns worth showing for a page of rows: a figure no row of the page
 * has (DNS on a page of ICMP targets) is left out, so each target's own
 * figures fit on a narrow screen.
 */
function shownColumns(all: readonly Column[], rows: readonly TargetRow[]): Column[] {
  return all.filter((c) => {
    if (c.hourLoss) return rows.some((t) => t.loss_hour_pct !== null && t.loss_hour_pct !== undefined);
    if (!c.figure || c.figure.unit === 'time') return true;
    return rows.some((t) => typeof t.last?.[c.figure!.key] === 'number');
  });
}

/** A figure's cell: a number in its unit, a time as "3 min ago". */
function figureCell(f: FigureColumn, t: TargetRow): HTMLElement {
  const v = t.last?.[f.key] ?? null;
  if (f.unit === 'time') {
    return typeof v === 'string' ? h('td', { title: dateTime(v) }, ago(v)) : h('td', {}, h('span', { class: 'muted' }, 'never'));
  }
  const n = typeof v === 'number' ? v : null;
  return h('td', { class: 'num', 'data-figure': f.key }, f.unit === 'ms' ? ms(n) : f.unit === '%' ? pct(n) : f.unit === 'days' ? (n === null ? '–' : `${num(n, 0)} d`) : num(n, 0));
}

function readView(): View {
  const p = new URLSearchParams(location.search);
  const sort = p.get('sort') as SortKey | null;
  const status = p.get('status') as Status | null;
  const limit = Number(p.get('limit'));
  return {
    q: p.get('q') ?? '',
    status: status && STATUSES.includes(status) ? status : '',
    sort: sort || 'status',
    // Ascending status is worst first: failing, degraded, unavailable, unknown, ok.
    order: p.get('order') === 'desc' ? 'desc' : 'asc',
    offset: Math.max(0, Math.floor(Number(p.get('offset')) || 0)),
    limit: PAGE_SIZES.includes(limit) ? limit : 100,
  };
}

export class OverviewPage {
  private view = readView();
  private last?: TargetList;
  private readonly poller = new Poller((signal) => this.load(signal), 30_000);
  private readonly countsEl = h('div', { class: 'status-filter', role: 'group', 'aria-label': 'Show status' });
  private readonly pagerEls = [h('nav', { class: 'pager', 'aria-label': 'Pages (top)' }), h('nav', { class: 'pager', 'aria-label': 'Pages (bottom)' })];
  private readonly tbody = h('tbody');
  private readonly theadRow = h('tr');
  private readonly message = h('div', { class: 'table-message', 'aria-live': 'polite' });
  private readonly table = h('table', { class: 'targets', id: 'targets' }, h('caption', { class: 'visually-hidden' }, 'Targets, their status and last measurements'), h('thead', {}, this.theadRow), this.tbody);
  private searchTimer?: ReturnType<typeof setTimeout>;
  /** The columns of the last answer (the figures come with it). */
  private columns: Column[] = columnsOf([]);

  constructor(private readonly el: HTMLElement) {}

  start(): void {
    document.title = 'Targets · network-telemetry';
    const search = h('input', { type: 'search', id: 'filter-q', value: this.view.q, placeholder: 'name or host', autocomplete: 'off', spellcheck: 'false' });
    search.addEventListener('input', () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.update({ q: search.value.trim(), offset: 0 }), 250);
    });
    const size = h('select', { id: 'page-size' }, ...PAGE_SIZES.map((n) => h('option', { value: n, selected: n === this.view.limit }, `${n} a page`)));
    size.addEventListener('change', () => this.update({ limit: Number(size.value), offset: 0 }));
    this.el.replaceChildren(
      h('h1', {}, 'Targets'),
      h(
        'div',
        { class: 'toolbar' },
        h('label', { for: 'filter-q' }, 'Filter'),
        search,
        this.countsEl,
        h('label', { for: 'page-size', class: 'visually-hidden' }, 'Rows a page'),
        size,
      ),
      this.pagerEls[0]!,
      h('div', { class: 'table-wrap' }, this.table),
      this.message,
      this.pagerEls[1]!,
    );
    this.renderHead();
    window.addEventListener('popstate', () => {
      this.view = readView();
      search.value = this.view.q;
      this.renderHead();
      this.poller.now();
    });
    window.addEventListener(THEME_EVENT, () => this.last && this.renderRows(this.last));
    window.addEventListener(TIME_ZONE_EVENT, () => this.last && this.renderRows(this.last));
    this.poller.start();
  }

  private update(change: Partial<View>): void {
    this.view = { ...this.view, ...change };
    const p = new URLSearchParams();
    if (this.view.q) p.set('q', this.view.q);
    if (this.view.status) p.set('status', this.view.status);
    p.set('sort', this.view.sort);
    p.set('order', this.view.order);
    if (this.view.offset) p.set('offset', String(this.view.offset));
    if (this.view.limit !== 100) p.set('limit', String(this.view.limit));
    history.pushState(null, '', `/?${p}`);
    this.renderHead();
    this.poller.now();
  }

  private async load(signal: AbortSignal): Promise<void> {
    const v = this.view;
    const p = new URLSearchParams({ offset: String(v.offset), limit: String(v.limit), sort: v.sort, order: v.order });
    if (v.q) p.set('q', v.q);
    if (v.status) p.set('status', v.status);
    this.table.setAttribute('aria-busy', 'true');
    try {
      const list = await request<TargetList>(`/api/targets?${p}`, { signal });
      // Paged past the end (targets removed, filter narrowed): show the last page.
      if (list.total > 0 && list.targets.length === 0 && v.offset > 0) {
        this.view.offset = Math.max(0, Math.floor((list.total - 1) / v.limit) * v.limit);
        return this.load(signal);
      }
      this.last = list;
      const columns = shownColumns(columnsOf(list.columns ?? []), list.targets);
      if (columns.map((c) => c.label).join('|') !== this.columns.map((c) => c.label).join('|')) {
        this.columns = columns;
        this.renderHead();
      }
      this.message.replaceChildren();
      this.renderCounts(list);
      this.renderRows(list);
      this.renderPager(list);
    } catch (err) {
      if (isAbort(err)) return;
      this.message.replaceChildren(errorBox(`Targets could not be loaded: ${(err as Error).message}`));
      throw err;
    } finally {
      this.table.removeAttribute('aria-busy');
    }
  }

  private renderHead(): void {
    this.theadRow.replaceChildren(
      ...this.columns.map((c) => {
        if (!c.key) return h('th', { scope: 'col', class: c.numeric ? 'num' : null, title: c.title ?? null }, c.label);
        const active = this.view.sort === c.key;
        const key = c.key;
        const btn = h('button', { type: 'button', class: 'sort', 'data-sort': key }, c.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (this.view.order === 'asc' ? ' ▲' : ' ▼') : ''));
        btn.addEventListener('click', () => this.update({ sort: key, order: active && this.view.order === 'asc' ? 'desc' : 'asc', offset: 0 }));
        return h('th', { scope: 'col', class: c.numeric ? 'num' : null, title: c.title ?? null, 'aria-sort': active ? (this.view.order === 'asc' ? 'ascending' : 'descending') : null }, btn);
      }),
    );
  }

  private renderCounts(list: TargetList): void {
    const all = STATUSES.reduce((n, s) => n + (list.counts[s] ?? 0), 0);
    const chip = (s: Status | '', label: string, n: number) => {
      const b = h('button', { type: 'button', class: `chip ${s}`, 'aria-pressed': String(this.view.status === s), 'data-status-filter': s || 'all' }, label, ' ', h('span', { class: 'count' }, n.toLocaleString()));
      b.addEventListener('click', () => this.update({ status: s, offset: 0 }));
      return b;
    };
    this.countsEl.replaceChildren(chip('', 'All', all), ...STATUSES.map((s) => chip(s, s[0]!.toUpperCase() + s.slice(1), list.counts[s] ?? 0)));
  }

  private renderRows(list: TargetList): void {
    if (list.targets.length === 0) {
      this.tbody.replaceChildren(h('tr', {}, h('td', { colspan: this.columns.length, class: 'empty' }, list.total === 0 && !this.view.q && !this.view.status ? 'No targets are configured.' : 'No target matches the filter.')));
      return;
    }
    const members = new Map(list.members.map((m) => [m.id, m]));
    const sparks: [HTMLCanvasElement, NonNullable<TargetRow['spark']>][] = [];
    this.tbody.replaceChildren(
      ...list.targets.map((t) => {
        const canvas = h('canvas', { class: 'spark', width: 120, height: 28, role: 'img', 'aria-label': sparkLabel(t) });
        if (t.spark) sparks.push([canvas, t.spark]);
        return h(
          'tr',
          { 'data-target': t.name, 'data-status': t.status, 'data-owner': t.owner ?? '' },
          h('th', { scope: 'row', class: 'name' }, h('a', { href: pagePath(t.name) }, t.name), t.host !== t.name ? h('div', { class: 'muted small' }, t.host) : null),
          h('td', { class: 'status-cell' }, statusCell(t, members)),
          h('td', { class: 'probes' }, t.probes.join(' ')),
          ...this.columns.flatMap((c) => (c.figure ? [figureCell(c.figure, t)] : [])),
          this.columns.some((c) => c.hourLoss)
            ? h(
                'td',
                { class: 'num loss-hour', title: t.echoes_hour ? `${(t.echoes_hour.sent - t.echoes_hour.received).toLocaleString()} of ${t.echoes_hour.sent.toLocaleString()} echoes lost in the last hour` : '' },
                pct(t.loss_hour_pct ?? null),
              )
            : null,
          h('td', {}, t.spark ? canvas : h('span', { class: 'muted' }, '–')),
        );
      }),
    );
    // Canvas sizes are known once the rows are in the document.
    for (const [c, s] of sparks) c.dataset.points = String(drawSparkline(c, s));
    // For bench/ui.ts: when the first page of rows reached the screen (the frame after they were added).
    if (!performance.getEntriesByName('nt-rows-painted').length) requestAnimationFrame(() => setTimeout(() => performance.mark('nt-rows-painted')));
  }

  private renderPager(list: TargetList): void {
    const { offset, limit, total } = list;
    const first = total === 0 ? 0 : offset + 1;
    const lastRow = Math.min(total, offset + list.targets.length);
    const lastOffset = Math.max(0, Math.floor((total - 1) / limit) * limit);
    for (const nav of this.pagerEls) {
      const btn = (label: string, to: number, disabled: boolean) => {
        const b = h('button', { type: 'button', disabled }, label);
        b.addEventListener('click', () => this.update({ offset: to }));
        return b;
      };
      nav.replaceChildren(
        btn('« First', 0, offset === 0),
        btn('‹ Previous', Math.max(0, offset - limit), offset === 0),
        h('span', { class: 'range', 'aria-live': 'polite' }, `${first.toLocaleString()}–${lastRow.toLocaleString()} of ${total.toLocaleString()}`),
        btn('Next ›', offset + limit, offset + limit >= total),
        btn('Last »', lastOffset, offset >= lastOffset),
      );
    }
  }

  dispose(): void {
    this.poller.stop();
  }
}

function statusCell(t: TargetRow, members: Map<string, { id: string; reason?: string; url: string }>): (Node | string)[] {
  const out: (Node | string)[] = [h('span', { class: `badge ${t.status}` }, t.status)];
  if (t.status === 'unavailable') {
    const m = t.owner ? members.get(t.owner) : undefined;
    out.push(h('div', { class: 'why' }, `owner ${t.owner ?? '?'}${m?.reason ? `: ${m.reason}` : ' not answering'}`));
  } else if (t.owner && members.size > 1) {
    // In a cluster, which replica probes it (where to look when it fails).
    out.push(h('div', { class: 'why muted owner' }, `probed by ${t.owner}`));
  }
  for (const f of t.failing) {
    out.push(h('div', { class: 'why', title: f.since ? `failing since ${dateTime(f.since)}` : '' }, h('strong', {}, `${f.probe}: ${f.reason}`), f.detail ? ` — ${f.detail}` : ''));
  }
  // Why it is degraded: each threshold crossed, with its value and limit.
  if (t.status !== 'failing') for (const c of t.crossed ?? []) out.push(h('div', { class: 'why crossed', 'data-threshold': c.threshold }, c.text));
  return out;
}

function sparkLabel(t: TargetRow): string {
  const v = (t.spark?.rtt_ms ?? []).filter((x): x is number => x !== null);
  if (!v.length) return 'no rtt in the last hour';
  const lost = (t.spark?.loss_pct ?? []).filter((x) => x !== null && x > 0).length;
  return `rtt ${Math.min(...v).toFixed(1)} to ${Math.max(...v).toFixed(1)} ms in the last hour, ${lost} slots with loss`;
}
