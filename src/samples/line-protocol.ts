import { Point } from '@influxdata/influxdb-client';
import { fieldType } from './schema.js';
import { fieldEntries, type AnySample } from './sample.js';

/**
 * InfluxDB line protocol, nanosecond precision, through the official
 * client's Point (its escaping is the reference). Integer-ness of a field
 * comes from the schema: a JS number cannot tell 3 from 3.0.
 */
export function toLineProtocol(s: AnySample): string | null {
  const fields = fieldEntries(s);
  if (fields.length === 0) return null; // a point without fields is not a line
  const p = new Point(s.measurement);
  for (const [k, v] of Object.entries(s.tags)) {
    if (v !== undefined && v !== '') p.tag(k, v); // empty tag values are invalid
  }
  for (const [k, v] of fields) {
    if (typeof v === 'boolean') p.booleanField(k, v);
    else if (typeof v === 'string') p.stringField(k, v);
    else if (fieldType(s.measurement, k) === 'integer') p.intField(k, Math.trunc(v));
    else p.floatField(k, v);
  }
  p.timestamp(`${Math.round(s.timeMs)}000000`);
  return p.toLineProtocol() ?? null;
}
