/**
 * The data model: every measurement the daemon writes, its tags and its fields
 * with their InfluxDB types. This table is the single source of truth — the
 * line-protocol encoder takes integer-ness from it, docs/schema.md describes
 * it, and the dashboard/alert consistency tests check queries against it.
 *
 * Every point also carries the tags `target` and `source`; its timestamp is
 * the scheduled slot start (ad-hoc runs: the request time, tag mode=adhoc).
 */

export type FieldType = 'float' | 'integer' | 'string' | 'boolean';

export interface MeasurementSchema {
  /** Tags besides target/source (values are bounded). */
  tags: readonly string[];
  fields: Readonly<Record<string, FieldType>>;
}

const GEO_FIELDS = {
  lat: 'float',
  lon: 'float',
  country: 'string',
  city: 'string',
  asn: 'integer',
  as_org: 'string',
  geo_private: 'boolean',
} as const;

export const SCHEMA = {
  ping: {
    tags: ['family'],
    fields: {
      sent: 'integer',
      received: 'integer',
      loss_pct: 'float',
      rtt_min_ms: 'float',
      rtt_avg_ms: 'float',
      rtt_max_ms: 'float',
      rtt_median_ms: 'float',
      rtt_stddev_ms: 'float',
      jitter_ms: 'float',
      r_factor: 'float',
      mos: 'float',
      ip: 'string',
      success: 'boolean',
    },
  },
  route: {
    tags: ['protocol'],
    fields: {
      hop_count: 'integer',
      reached: 'boolean',
      responding_hops: 'integer',
      route_hash: 'string',
      route_changed: 'boolean',
      path: 'string',
      ip: 'string',
      success: 'boolean',
    },
  },
  hop: {
    tags: ['ttl'],
    fields: {
      ip: 'string',
      hostname: 'string',
      ecmp_ips: 'string',
      loss_pct: 'float',
      sent: 'integer',
      rtt_avg_ms: 'float',
      rtt_best_ms: 'float',
      rtt_worst_ms: 'float',
      rtt_stddev_ms: 'float',
      ...GEO_FIELDS,
    },
  },
  http: {
    tags: ['method'],
    fields: {
      status_code: 'integer',
      success: 'boolean',
      dns_ms: 'float',
      connect_ms: 'float',
      tls_ms: 'float',
      ttfb_ms: 'float',
      transfer_ms: 'float',
      total_ms: 'float',
      bytes: 'integer',
      reused: 'boolean',
      cert_expiry_days: 'float',
      http_version: 'string',
      ip: 'string',
    },
  },
  dns: {
    tags: ['record'],
    fields: { query_ms: 'float', answers: 'integer', rcode: 'string', server: 'string', success: 'boolean' },
  },
  tcp: {
    tags: ['port'],
    fields: { connect_ms: 'float', ip: 'string', success: 'boolean' },
  },
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

export type Measurement = keyof typeof SCHEMA;

/** Tags every point carries. `mode` is only present (value `adhoc`) on ad-hoc runs. */
export const COMMON_TAGS = ['target', 'source', 'mode'] as const;

export function fieldType(measurement: string, field: string): FieldType | undefined {
  const m = (SCHEMA as Record<string, MeasurementSchema>)[measurement];
  return m?.fields[field];
}
