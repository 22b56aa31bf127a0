import { fieldType } from '../probes/schema.js';
import { fieldEntries, type AnySample } from '../samples/sample.js';
import type { StoredPoint } from './point-shape.js';

export type { StoredPoint } from './point-shape.js';

/**
 * How a row's body is encoded (outbox.enc): JSON of a StoredPoint, the one
 * format: JSON.parse/stringify are native and the fastest codec Node has
 * (see bench/sink.ts for CPU and bytes against line protocol). The column
 * leaves room for another format without a new table.
 */
export const Encoding = { JSON: 1 } as const;
export type Encoding = (typeof Encoding)[keyof typeof Encoding];

/** A sample as the outbox stores it; null when it has no field to store. */
export function toStoredPoint(s: AnySample): StoredPoint | null {
  const fields = fieldEntries(s);
  if (fields.length === 0) return null;
  const f: StoredPoint['f'] = {};
  let i: Record<string, number> | undefined;
  for (const [k, v] of fields) {
    if (typeof v === 'number' && fieldType(s.measurement, k) === 'integer') (i ??= {})[k] = Math.trunc(v);
    else f[k] = v;
  }
  const t: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.tags)) if (v !== undefined && v !== '') t[k] = v; // empty tag values are invalid everywhere
  const p: StoredPoint = { m: s.measurement, t, f, ts: Math.round(s.timeMs) };
  if (i) p.i = i;
  return p;
}

export function encodePoint(p: StoredPoint): string {
  return JSON.stringify(p);
}

export class UndecodableRowError extends Error {
  readonly code = 'OUTBOX_UNDECODABLE';
}

/** Decode one row's body; throws UndecodableRowError for a body we did not write. */
export function decodePoint(enc: number, body: string): StoredPoint {
  try {
    if (enc === Encoding.JSON) {
      const p = JSON.parse(body) as StoredPoint;
      if (typeof p?.m !== 'string' || typeof p.ts !== 'number' || typeof p.f !== 'object' || typeof p.t !== 'object') throw new Error('not a stored point');
      return p;
    }
    throw new Error(`unknown encoding ${enc}`);
  } catch (err) {
    throw new UndecodableRowError(`undecodable outbox row (encoding ${enc}): ${(err as Error).message}`);
  }
}
