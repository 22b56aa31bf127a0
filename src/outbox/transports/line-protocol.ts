import type { StoredPoint } from '../point-shape.js';
import { toStoredPoint } from '../stored-point.js';
import type { AnySample } from '../../samples/sample.js';

/**
 * InfluxDB line protocol, nanosecond precision, written by hand.
 *
 * Why not the official client's Point: building one Point object per line
 * (a tags map, a fields map of pre-escaped strings, then two sorts and a
 * character-by-character escaper) doubled the CPU of the InfluxDB write path
 * (bench/sink.ts). This encoder produces the same bytes — the same escaping
 * rules, field and tag keys sorted the same way, the same number formatting
 * — and test/outbox/line-protocol.test.ts checks it against Point's output
 * over every measurement and a set of hostile strings. The rules (from the
 * client's util/escape.ts and the line protocol reference):
 *
 *   measurement   escape `,` space `\n` `\r` `\t`
 *   tag key/value, field key   escape `,` `=` space `\n` `\r` `\t`
 *   string field  in double quotes, escape `"` and `\`
 *   float         String(n)                 integer  floor(n) + `i`
 *   boolean       T / F                     empty tag values are left out
 *
 * A value Point would throw on (a non-finite float, an integer past int64)
 * is left out of the line instead: one bad field must not stop a batch.
 */
export function encodeLine(p: StoredPoint): string {
  const keys: string[] = [];
  for (const k in p.f) if (k !== '' && isEncodable(p.f[k]!) && !(p.i && k in p.i)) keys.push(k);
  if (p.i) for (const k in p.i) if (k !== '' && isInt64(p.i[k]!)) keys.push(k);
  if (keys.length === 0) return '';
  sortSmall(keys);
  let fields = '';
  for (const k of keys) {
    if (fields) fields += ',';
    fields += escapeKey(k);
    fields += '=';
    // A key in both maps (never written so) is an integer, as Point's last call wins.
    if (p.i && k in p.i) {
      fields += `${Math.floor(p.i[k]!)}i`;
      continue;
    }
    const v = p.f[k]!;
    if (typeof v === 'string') fields += `"${escapeString(v)}"`;
    else if (typeof v === 'boolean') fields += v ? 'T' : 'F';
    else fields += String(v);
  }
  let line = escapeMeasurement(p.m);
  const tagKeys = sortSmall(Object.keys(p.t));
  for (const k of tagKeys) {
    const v = p.t[k];
    if (!k || !v) continue;
    line += `,${escapeKey(k)}=${escapeKey(v)}`;
  }
  return `${line} ${fields} ${p.ts}000000`;
}

/**
 * One sample as a line, or null when it has no field to write (the same
 * typing as the outbox: integer-ness from the schema).
 */
export function toLineProtocol(s: AnySample): string | null {
  const p = toStoredPoint(s);
  const line = p ? encodeLine(p) : '';
  return line || null;
}

/**
 * Insertion sort, in UTF-16 code unit order like Array.prototype.sort: a
 * point has a handful of keys, where this is a third cheaper than sort().
 */
function sortSmall(a: string[]): string[] {
  for (let i = 1; i < a.length; i++) {
    const x = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > x) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = x;
  }
  return a;
}

/** Point's own range check: a line with an integer past int64 would be refused whole by the database. */
function isInt64(v: number): boolean {
  return v > -9223372036854776e3 && v < 9223372036854776e3;
}

function isEncodable(v: number | string | boolean): boolean {
  return typeof v !== 'number' || Number.isFinite(v);
}

const KEY_SPECIAL = /[,= \n\r\t]/;
const MEASUREMENT_SPECIAL = /[, \n\r\t]/;
const STRING_SPECIAL = /["\\]/;
const ESCAPES: Readonly<Record<string, string>> = { ',': '\\,', '=': '\\=', ' ': '\\ ', '\n': '\\n', '\r': '\\r', '\t': '\\t', '"': '\\"', '\\': '\\\\' };
const escapeChar = (c: string) => ESCAPES[c]!;

// The test before the replace: nearly every key and value needs no escaping,
// and a failed test allocates nothing.
function escapeKey(s: string): string {
  return KEY_SPECIAL.test(s) ? s.replace(/[,= \n\r\t]/g, escapeChar) : s;
}

function escapeMeasurement(s: string): string {
  return MEASUREMENT_SPECIAL.test(s) ? s.replace(/[, \n\r\t]/g, escapeChar) : s;
}

function escapeString(s: string): string {
  return STRING_SPECIAL.test(s) ? s.replace(/["\\]/g, escapeChar) : s;
}
