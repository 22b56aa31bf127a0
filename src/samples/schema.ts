/**
 * The data model: every measurement the daemon writes, its tags and its fields
 * with their InfluxDB types. This table is the single source of truth — the
 * line-protocol encoder takes integer-ness from it, docs/schema.md describes
 * it, and the dashboard/alert consistency tests check queries against it.
 *
 * Every point also carries the tags `target` and `source`; its timestamp is
 * the scheduled slot start (ad-hoc runs: the request time, tag mode=adhoc).
 */

import { PROBE_MODULES } from '../probes/registry.js';

export type FieldType = 'float' | 'integer' | 'string' | 'boolean';

export interface MeasurementSchema {
  /** Tags besides target/source (values are bounded). */
  tags: readonly string[];
  fields: Readonly<Record<string, FieldType>>;
}

/** The measurements of the probe kinds, each declared in its folder (src/probes/<kind>/measurements.ts). */
type ProbeSchemas = UnionToIntersection<(typeof PROBE_MODULES)[number]['measurements']>;
type UnionToIntersection<U> = (U extends unknown ? (k: U) => void : never) extends (k: infer I) => void ? I : never;
const probeSchemas = Object.assign({}, ...PROBE_MODULES.map((m) => m.measurements)) as ProbeSchemas;

/** Measurements the daemon writes itself, around the probes. */
const CORE = {
  probe: {
    tags: ['probe'],
    fields: { success: 'boolean', duration_ms: 'float', reason: 'string', detail: 'string' },
  },
  geo: {
    tags: ['dst_country'],
    fields: {
      src_lat: 'float',
      src_lon: 'float',
      dst_lat: 'float',
      dst_lon: 'float',
      distance_km: 'float',
      dst_asn: 'integer',
      dst_city: 'string',
      dst_ip: 'string',
    },
  },
  /**
   * The collector's own health, one point per completed round per replica
   * (tags `source` and `instance` — the host name; no `target`), so the
   * dashboards can show rounds, overruns, outbox and circuits from InfluxDB
   * alone, also where no Prometheus runs.
   */
  collector: {
    tags: ['instance'],
    fields: {
      round_duration_s: 'float',
      targets_run: 'integer',
      probes_ok: 'integer',
      probes_failed: 'integer',
      skipped_overrun: 'integer',
      not_owned: 'integer',
      targets_owned: 'integer',
      cluster_members: 'integer',
      outbox_points: 'integer',
      open_circuits: 'integer',
    },
  },
} as const satisfies Record<string, MeasurementSchema>;

export const SCHEMA = { ...probeSchemas, ...CORE } as ProbeSchemas & typeof CORE;

export type Measurement = keyof typeof SCHEMA;

/** Tags every point carries. `mode` is only present (value `adhoc`) on ad-hoc runs. */
export const COMMON_TAGS = ['target', 'source', 'mode'] as const;

export function fieldType(measurement: string, field: string): FieldType | undefined {
  const m = (SCHEMA as Record<string, MeasurementSchema>)[measurement];
  return m?.fields[field];
}
