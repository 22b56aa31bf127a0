/** The `tcp` measurement: one point per connect. */
export const TCP = {
  tags: ['port'],
  fields: { connect_ms: 'float', ip: 'string', success: 'boolean' },
} as const;

declare module '../../samples/measurement.js' {
  interface Measurements {
    tcp: typeof TCP;
  }
}
