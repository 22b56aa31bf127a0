/** The `ping` measurement (docs/schema.md): one point per target and slot. */
export const PING = {
  tags: ['family'],
  fields: {
    sent: 'integer',
    received: 'integer',
    loss_pct: 'float',
    rtt_min_ms: 'float',
    rtt_avg_ms: 'float',
    rtt_max_ms: 'float',
    rtt_median_ms: 'float',
    rtt_p10_ms: 'float',
    rtt_p25_ms: 'float',
    rtt_p75_ms: 'float',
    rtt_p90_ms: 'float',
    rtts_ms: 'string',
    rtt_stddev_ms: 'float',
    jitter_ms: 'float',
    r_factor: 'float',
    mos: 'float',
    ip: 'string',
    success: 'boolean',
  },
} as const;

declare module '../../samples/measurement.js' {
  interface Measurements {
    ping: typeof PING;
  }
}
