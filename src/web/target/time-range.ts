import { h } from '../dom.js';
import { parts, useUtc, zoneLabel } from '../format.js';

/** The time range of the target page: a preset age or a custom from..to, kept in the query string. */

export const PRESETS = ['1h', '6h', '24h', '7d'] as const;
export type Preset = (typeof PRESETS)[number];
export type Range = { preset: Preset } | { from: number; to: number };

const SECONDS: Record<Preset, number> = { '1h': 3600, '6h': 21600, '24h': 86400, '7d': 604800 };

export function readRange(search = location.search): Range {
  const p = new URLSearchParams(search);
  const from = Number(p.get('from'));
  const to = Number(p.get('to'));
  if (from > 0 && to > from) return { from, to };
  const preset = p.get('range') as Preset | null;
  return { preset: preset && PRESETS.includes(preset) ? preset : '6h' };
}

export function rangeQuery(r: Range): string {
  return 'preset' in r ? `range=${r.preset}` : `from=${r.from}&to=${r.to}`;
}

/** [from, to] in epoch seconds, now. */
export function bounds(r: Range, nowS = Date.now() / 1000): [number, number] {
  return 'preset' in r ? [Math.floor(nowS - SECONDS[r.preset]), Math.ceil(nowS)] : [r.from, r.to];
}

/** What the API is asked: ages for presets (the server's clock decides), epoch seconds for custom. */
export function apiParams(r: Range): URLSearchParams {
  return 'preset' in r ? new URLSearchParams({ from: r.preset }) : new URLSearchParams({ from: String(r.from), to: String(r.to) });
}

/** A live range follows the clock (refreshed); a custom one is fixed. */
export const isLive = (r: Range) => 'preset' in r;

/**
 * The range's ends as text in the page's one time format (`2026-12-07 13:05`)
 * and zone (the header's toggle): a datetime-local input would show the
 * browser's locale format (`12/07/2026, 01:05 PM`) beside it.
 */
function toInput(s: number): string {
  const p = parts(new Date(s * 1000));
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${p.y}-${pad(p.mo)}-${pad(p.d)} ${pad(p.h)}:${pad(p.mi)}`;
}

const INPUT_FORMAT = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d(?::\d\d)?)$/;

/** Epoch seconds of `YYYY-MM-DD HH:MM[:SS]` in the page's zone; NaN when it is not that. */
function fromInput(v: string): number {
  const m = INPUT_FORMAT.exec(v.trim());
  if (!m) return Number.NaN;
  // Without an offset ECMAScript reads a date-time as local time.
  return Date.parse(`${m[1]}T${m[2]}${useUtc() ? 'Z' : ''}`) / 1000;
}

export function rangePicker(current: Range, onPick: (r: Range) => void): HTMLElement {
  const [f, t] = bounds(current);
  const input = (id: string, s: number) => h('input', { type: 'text', id, value: toInput(s), placeholder: 'YYYY-MM-DD HH:MM', inputmode: 'numeric', size: 16, spellcheck: 'false' });
  const from = input('range-from', f);
  const to = input('range-to', t);
  const error = h('span', { class: 'bad', role: 'alert' });
  const custom = h(
    'form',
    { class: 'custom-range' },
    h('label', { for: 'range-from' }, 'From'),
    from,
    h('label', { for: 'range-to' }, 'to'),
    to,
    h('span', { class: 'muted small' }, zoneLabel()),
    h('button', { type: 'submit', 'aria-pressed': String(!('preset' in current)) }, 'Show range'),
    error,
  );
  custom.addEventListener('submit', (e) => {
    e.preventDefault();
    const a = fromInput(from.value);
    const b = fromInput(to.value);
    if (!Number.isFinite(a) || !Number.isFinite(b)) {
      error.textContent = `Write both times as YYYY-MM-DD HH:MM (${zoneLabel()}).`;
      return;
    }
    if (b <= a) {
      error.textContent = 'Choose a start before the end.';
      return;
    }
    error.textContent = '';
    onPick({ from: Math.floor(a), to: Math.ceil(b) });
  });
  return h(
    'div',
    { class: 'range-picker', role: 'group', 'aria-label': 'Time range' },
    ...PRESETS.map((p) => {
      const b = h('button', { type: 'button', class: 'chip', 'aria-pressed': String('preset' in current && current.preset === p), 'data-range': p }, p);
      b.addEventListener('click', () => onPick({ preset: p }));
      return b;
    }),
    custom,
  );
}
