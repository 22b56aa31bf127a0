import { TIMING_SLACK_FIELDS } from '../timing/fields.js';

/** The `tcp` measurement: one point per connect. */
export const TCP = {
  tags: ['port'],
  fields: { connect_ms: 'float', ip: 'string', success: 'boolean', ...TIMING_SLACK_FIELDS },
} as const;

declare module '../../samples/measurement.js' {
  interface Measurements {
    tcp: typeof TCP;
  }
}
