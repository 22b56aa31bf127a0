import type { MeasurementSchema } from './measurement.js';

/** Measurements the daemon writes itself, around the probes. */
export const CORE_MEASUREMENTS = {
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

declare module './measurement.js' {
  interface Measurements {
    probe: (typeof CORE_MEASUREMENTS)['probe'];
    geo: (typeof CORE_MEASUREMENTS)['geo'];
    collector: (typeof CORE_MEASUREMENTS)['collector'];
  }
}
