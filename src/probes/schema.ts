/**
 * The data model's table: every measurement the daemon writes, its tags and its fields
 * with their InfluxDB types. This table is the single source of truth — the
 * line-protocol encoder takes integer-ness from it, docs/schema.md describes
 * it, and the dashboard/alert consistency tests check queries against it.
 *
 * Every point also carries the tags `target` and `source`; its timestamp is
 * the scheduled slot start (ad-hoc runs: the request time, tag mode=adhoc).
 * Beside the registry because it is built from it: the types of a point
 * (samples/) know no probe.
 */

import { PROBE_MODULES } from './registry.js';
import { CORE_MEASUREMENTS } from '../samples/core-measurements.js';
import type { FieldType, Measurements, MeasurementSchema } from '../samples/measurement.js';

export { COMMON_TAGS, type FieldType, type Measurement, type MeasurementSchema } from '../samples/measurement.js';

/** Every measurement: each probe's (from the registry) and the daemon's own. */
export const SCHEMA = Object.assign({}, ...PROBE_MODULES.map((m) => m.measurements), CORE_MEASUREMENTS) as Measurements;

/** The same table, indexable by any name (for code that reads measurement names from outside). */
export const SCHEMA_TABLE = SCHEMA as unknown as Readonly<Record<string, MeasurementSchema>>;

export function fieldType(measurement: string, field: string): FieldType | undefined {
  const m = SCHEMA_TABLE[measurement];
  return m?.fields[field];
}
