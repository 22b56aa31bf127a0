/** Geolocation fields a `hop` point carries when GEO is on (src/geo). */
const GEO_FIELDS = {
  lat: 'float',
  lon: 'float',
  country: 'string',
  city: 'string',
  asn: 'integer',
  as_org: 'string',
  geo_private: 'boolean',
} as const;

/** The `route` measurement: one point per trace. */
export const ROUTE = {
  tags: ['protocol'],
  fields: {
    hop_count: 'integer',
    reached: 'boolean',
    responding_hops: 'integer',
    route_hash: 'string',
    route_path: 'string',
    route_changed: 'boolean',
    route_pending: 'boolean',
    route_diff: 'string',
    route_first_seen_ms: 'integer',
    path: 'string',
    ip: 'string',
    success: 'boolean',
  },
} as const;

/** The `hop` measurement: one point per TTL of a trace. */
export const HOP = {
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
} as const;

declare module '../../samples/measurement.js' {
  interface Measurements {
    route: typeof ROUTE;
    hop: typeof HOP;
  }
}
