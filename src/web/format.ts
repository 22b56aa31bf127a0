import type { Num } from './api-types.js';

export function ms(v: Num | undefined, digits?: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const d = digits ?? (v < 10 ? 2 : v < 100 ? 1 : 0);
  return `${v.toFixed(d)} ms`;
}

export function pct(v: Num | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return `${v < 10 && v > 0 ? v.toFixed(1) : Math.round(v)} %`;
}

export function num(v: Num | undefined, digits = 2): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toFixed(digits);
}

/** Epoch seconds from an epoch-seconds number or an ISO string. */
export function toEpochS(v: number | string | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t / 1000;
}

/**
 * One time format everywhere: `2026-12-07 14:05:09 UTC+01:00` (ISO order,
 * 24 h, the zone always written), in the browser's zone or in UTC by the
 * header's toggle (kept in localStorage). Charts read the same setting.
 */
export const TIME_ZONE_EVENT = 'nt-time-zone-change';

export function useUtc(): boolean {
  try {
    return localStorage.getItem('nt-time-zone') === 'utc';
  } catch {
    return false;
  }
}

/** The zone label: `UTC`, or the browser's offset at that moment (`UTC+01:00`). */
export function zoneLabel(d = new Date()): string {
  if (useUtc()) return 'UTC';
  const off = -d.getTimezoneOffset();
  if (off === 0) return 'UTC';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `UTC${off > 0 ? '+' : '−'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

/** Fields of a moment in the chosen zone. */
export function parts(d: Date): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  return useUtc()
    ? { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds() }
    : { y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), h: d.getHours(), mi: d.getMinutes(), s: d.getSeconds() };
}

const pad2 = (n: number) => String(n).padStart(2, '0');

export function dateTime(v: number | string | null | undefined, o: { zone?: boolean } = {}): string {
  const s = toEpochS(v);
  if (s === null) return '–';
  const d = new Date(s * 1000);
  const p = parts(d);
  const text = `${p.y}-${pad2(p.mo)}-${pad2(p.d)} ${pad2(p.h)}:${pad2(p.mi)}:${pad2(p.s)}`;
  return o.zone === false ? text : `${text} ${zoneLabel(d)}`;
}

/** A chart axis label: `14:05`, with the date where the day changes or the span is long. */
export function axisTime(s: number, spanS: number, withDate: boolean): string {
  const p = parts(new Date(s * 1000));
  // Under half an hour the ticks fall inside one minute: seconds too.
  const hm = spanS <= 1800 ? `${pad2(p.h)}:${pad2(p.mi)}:${pad2(p.s)}` : `${pad2(p.h)}:${pad2(p.mi)}`;
  if (spanS > 3 * 86400) return `${pad2(p.mo)}-${pad2(p.d)}${p.h || p.mi ? ` ${hm}` : ''}`;
  return withDate ? `${pad2(p.mo)}-${pad2(p.d)} ${hm}` : hm;
}

/** Header toggle between the browser's zone and UTC; pages redraw on TIME_ZONE_EVENT. */
export function timeZoneToggle(): HTMLButtonElement {
  const btn = document.createElement('button');
  btn.type = 'button';
  btn.className = 'tz-toggle';
  btn.id = 'tz-toggle';
  const label = () => {
    btn.textContent = useUtc() ? 'Times: UTC' : `Times: ${zoneLabel()}`;
    btn.setAttribute('aria-pressed', String(useUtc()));
    btn.title = useUtc() ? 'Show times in this browser\'s zone' : 'Show times in UTC';
  };
  label();
  btn.addEventListener('click', () => {
    try {
      localStorage.setItem('nt-time-zone', useUtc() ? 'local' : 'utc');
    } catch {
      // not persisted
    }
    label();
    window.dispatchEvent(new Event(TIME_ZONE_EVENT));
  });
  return btn;
}

/** "3 min ago", "2 h ago", "5 d ago". */
export function ago(v: number | string | null | undefined, nowS = Date.now() / 1000): string {
  const s = toEpochS(v);
  if (s === null) return '–';
  const d = Math.max(0, nowS - s);
  if (d < 60) return `${Math.round(d)} s ago`;
  if (d < 3600) return `${Math.round(d / 60)} min ago`;
  if (d < 86400 * 2) return `${Math.round(d / 3600)} h ago`;
  return `${Math.round(d / 86400)} d ago`;
}

export function duration(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
