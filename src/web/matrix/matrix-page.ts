import { isAbort, pagePath, request } from '../api.js';
import type { Matrix, MatrixCell, SourceState } from '../api-types.js';
import { errorBox, h } from '../dom.js';
import { ago, ms, pct } from '../format.js';
import { Poller } from '../poller.js';

/**
 * Targets x sources: every target as each site sees it, a cell per source
 * coloured by its state with the last RTT and loss. The daemon counts,
 * filters, sorts and pages (GET /api/matrix), so 1,000 targets from 10
 * sites cost the browser one page of rows. The view lives in the query
 * string: reload, back and a shared link show the same rows.
 */

type Sort = 'name' | 'worst' | 'rtt' | 'loss' | 'state';
const STATES: SourceState[] = ['failing', 'degraded', 'ok', 'unknown'];
const PAGE_SIZES = [100, 250, 500, 1000];

interface View {
  q: string;
  state: SourceState | '';
  sort: Sort;
  /** The column rtt/loss/state sort on. */
  source: string;
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
}

function readView(): View {
  const p = new URLSearchParams(location.search);
  const sort = p.get('sort') as Sort | null;
  const state = p.get('state') as SourceState | null;
  const limit = Number(p.get('limit'));
  return {
    q: p.get('q') ?? '',
    state: state && STATES.includes(state) ? state : '',
    sort: sort && ['name', 'worst', 'rtt', 'loss', 'state'].includes(sort) ? sort : 'worst',
    source: p.get('source') ?? '',
    order: p.get('order') === 'desc' ? 'desc' : 'asc',
    offset: Math.max(0, Math.floor(Number(p.get('offset')) || 0)),
    limit: PAGE_SIZES.includes(limit) ? limit : 250,
  };
}

export class MatrixPage {
  private view = readView();
  private readonly poller = new Poller((signal) => this.load(signal), 15_000);
  private readonly counts = h('div', { class: 'status-filter', role: 'group', 'aria-label': 'Show targets with a cell in state' });
  private readonly pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  private readonly table = h('table', { class: 'matrix', id: 'matrix' });
  private readonly message = h('div', { class: 'table-message', 'aria-live': 'polite' });
  private readonly note = h('p', { class: 'muted small' });
  private searchTimer?: ReturnType<typeof setTimeout>;

  constructor(private readonly el: HTMLElement) {}

  start(): void {
    document.title = 'Matrix · network-telemetry';
    const search = h('input', { type: 'search', id: 'matrix-q', value: this.view.q, placeholder: 'target name', autocomplete: 'off', spellcheck: 'false' });
    search.addEventListener('input', () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.update({ q: search.value.trim(), offset: 0 }), 250);
    });
    const size = h('select', { id: 'matrix-size' }, ...PAGE_SIZES.map((n) => h('option', { value: n, selected: n === this.view.limit }, `${n} a page`)));
    size.addEventListener('change', () => this.update({ limit: Number(size.value), offset: 0 }));
    this.el.replaceChildren(
      h('h1', {}, 'Targets from every site'),
      h('p', { class: 'muted' }, 'Each cell is one site’s view of a target: its state, last RTT and loss. Click a target for every source on one page; click a site’s header to sort by its RTT.'),
      h('div', { class: 'toolbar' }, h('label', { for: 'matrix-q' }, 'Filter'), search, this.counts, h('label', { for: 'matrix-size', class: 'visually-hidden' }, 'Rows a page'), size),
      this.pager,
      h('div', { class: 'table-wrap matrix-wrap' }, this.table),
      this.message,
      this.note,
    );
    window.addEventListener('popstate', () => {
      this.view = readView();
      search.value = this.view.q;
      this.poller.now();
    });
    this.poller.start();
  }

  dispose(): void {
    this.poller.stop();
  }

  private update(change: Partial<View>): void {
    this.view = { ...this.view, ...change };
    history.pushState(null, '', `/matrix?${this.params()}`);
    this.poller.now();
  }

  private params(): URLSearchParams {
    const v = this.view;
    const p = new URLSearchParams({ sort: v.sort, order: v.order, limit: String(v.limit) });
    if (v.q) p.set('q', v.q);
    if (v.state) p.set('state', v.state);
    if (v.source && v.sort !== 'name' && v.sort !== 'worst') p.set('source', v.source);
    if (v.offset) p.set('offset', String(v.offset));
    return p;
  }

  private async load(signal: AbortSignal): Promise<void> {
    const t0 = performance.now();
    let m: Matrix;
    try {
      m = await request<Matrix>(`/api/matrix?${this.params()}`, { signal });
    } catch (err) {
      if (!isAbort(err)) this.message.replaceChildren(errorBox(`The matrix could not be loaded: ${(err as Error).message}`));
      return;
    }
    const t1 = performance.now();
    this.render(m);
    const drawMs = performance.now() - t1;
    // Read by the benchmark (bench/matrix.ts) and the tests: which render this is and what it cost.
    this.table.dataset.rows = String(m.targets.length);
    this.table.dataset.drawMs = drawMs.toFixed(1);
    this.table.dataset.answerMs = (t1 - t0).toFixed(1);
    this.table.dataset.gen = String(Number(this.table.dataset.gen ?? 0) + 1);
    this.note.textContent = `${m.total} targets × ${m.sources.length} sources; answered in ${Math.round(t1 - t0)} ms, drawn in ${Math.round(drawMs)} ms.`;
  }

  private render(m: Matrix): void {
    const v = this.view;
    this.message.replaceChildren();
    this.counts.replaceChildren(
      ...STATES.map((s) =>
        h(
          'button',
          {
            class: `chip st-${s}`,
            'data-state-filter': s,
            'aria-pressed': v.state === s ? 'true' : 'false',
            title: `Targets with a cell ${s}`,
            onclick: () => this.update({ state: v.state === s ? '' : s, offset: 0 }),
          },
          s,
          ' ',
          h('span', { class: 'count' }, m.counts[s]),
        ),
      ),
    );
    const sortButton = (label: string, sort: Sort, source = '') => {
      const active = v.sort === sort && (source === '' || v.source === source);
      const next: Partial<View> = { sort, source, offset: 0, order: active && v.order === 'asc' ? 'desc' : 'asc' };
      return h('button', { class: 'sort', onclick: () => this.update(next), 'aria-label': `Sort by ${label}` }, label, active ? (v.order === 'asc' ? ' ▲' : ' ▼') : '');
    };
    const head = h(
      'tr',
      {},
      h('th', { scope: 'col', 'aria-sort': v.sort === 'name' ? (v.order === 'asc' ? 'ascending' : 'descending') : null }, sortButton('Target', 'name')),
      h('th', { scope: 'col', 'aria-sort': v.sort === 'worst' ? (v.order === 'asc' ? 'ascending' : 'descending') : null }, sortButton('Worst / fault', 'worst')),
      ...m.sources.map((s) =>
        h(
          'th',
          { scope: 'col', class: 'src', 'data-source': s.name, 'data-available': s.available ? '1' : '0', title: s.available ? (s.age_s !== undefined ? `states ${s.age_s} s old` : 'this site') : `unavailable: ${s.reason ?? ''}` },
          sortButton(s.name, 'rtt', s.name),
          s.self ? h('span', { class: 'muted small' }, ' (here)') : null,
          s.available ? null : h('div', {}, h('span', { class: 'badge unavailable' }, 'unavailable')),
        ),
      ),
    );
    const body = h('tbody', {
      onclick: (e: Event) => {
        const row = (e.target as HTMLElement).closest('tr[data-target]');
        if (row && !(e.target as HTMLElement).closest('a')) location.href = pagePath(row.getAttribute('data-target')!);
      },
    });
    if (!m.targets.length) body.append(h('tr', {}, h('td', { class: 'empty', colspan: m.sources.length + 2 }, v.q || v.state ? 'No target matches the filter.' : 'No targets configured.')));
    for (const t of m.targets) {
      const href = pagePath(t.name);
      body.append(
        h(
          'tr',
          { 'data-target': t.name, 'data-worst': t.worst },
          h('th', { scope: 'row', class: 'name' }, h('a', { href }, t.name)),
          h('td', { class: 'fault' }, t.fault ? h('span', { class: `badge ${t.worst}`, title: t.fault.summary, 'data-domain': t.fault.domain }, faultLabel(t.fault.domain, t.fault.affected)) : h('span', { class: `badge ${t.worst}` }, t.worst)),
          ...t.cells.map((c, i) => matrixCell(c, m.sources[i]!.name)),
        ),
      );
    }
    this.table.replaceChildren(h('caption', { class: 'visually-hidden' }, 'Targets by source: state, last RTT and loss'), h('thead', {}, head), body);
    const last = Math.min(m.total, m.offset + m.targets.length);
    this.pager.replaceChildren(
      h('button', { disabled: m.offset === 0, onclick: () => this.update({ offset: Math.max(0, m.offset - m.limit) }) }, '‹ Previous'),
      h('span', { class: 'range' }, m.total ? `${m.offset + 1}–${last} of ${m.total}` : '0 of 0'),
      h('button', { disabled: last >= m.total, onclick: () => this.update({ offset: m.offset + m.limit }) }, 'Next ›'),
    );
  }
}

function faultLabel(domain: string, affected: string[]): string {
  if (domain === 'path') return `path from ${affected.join(', ')}`;
  if (domain === 'target') return 'target';
  return domain;
}

/**
 * One cell: plain text in a coloured td, the details in its title (12,000
 * cells at 1,000 rows: an element each, not four). A click anywhere on a
 * row opens the target (the target's name is the row's link for keyboards).
 */
function matrixCell(c: MatrixCell, source: string): HTMLElement {
  const title = [`${source}: ${c.state}`, c.why, c.time ? `last run ${ago(c.time)}` : null].filter(Boolean).join(' — ');
  const text = c.state === 'unknown' ? 'no data' : c.rtt_ms === null && c.loss_pct === null ? (c.why ?? c.state) : `${ms(c.rtt_ms)} · ${pct(c.loss_pct)}`;
  return h('td', { class: `cell st-${c.state}`, 'data-source': source, 'data-state': c.state, title }, text);
}
