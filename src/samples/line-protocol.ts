import { fieldType } from './schema.js';
import { fieldEntries, type AnySample } from './sample.js';

/**
 * InfluxDB line protocol, nanosecond precision. Integer-ness of a field comes
 * from the schema (JS numbers cannot tell 3 from 3.0).
 */
export function toLineProtocol(s: AnySample): string | null {
  const fields = fieldEntries(s);
  if (fields.length === 0) return null; // a point without fields is invalid line protocol
  let line = escapeMeasurement(s.measurement);
  for (const k of Object.keys(s.tags).sort()) {
    const v = s.tags[k];
    if (v === undefined || v === '') continue; // empty tag values are invalid
    line += `,${escapeKey(k)}=${escapeKey(v)}`;
  }
  line += ' ';
  line += fields.map(([k, v]) => `${escapeKey(k)}=${formatField(s.measurement, k, v)}`).join(',');
  line += ` ${Math.round(s.timeMs)}000000`;
  return line;
}

function formatField(measurement: string, key: string, v: number | string | boolean): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
  if (fieldType(measurement, key) === 'integer') return `${Math.trunc(v)}i`;
  return String(v);
}

const escapeMeasurement = (s: string) => s.replace(/\\/g, '\\\\').replace(/[, ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
const escapeKey = (s: string) => s.replace(/\\/g, '\\\\').replace(/[,= ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
