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

export function dateTime(v: number | string | null | undefined): string {
  const s = toEpochS(v);
  if (s === null) return '–';
  const d = new Date(s * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
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
