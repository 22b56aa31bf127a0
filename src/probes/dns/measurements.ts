import { TIMING_SLACK_FIELDS } from '../timing/fields.js';

/** The `dns` measurement: one point per query. */
export const DNS = {
  tags: ['record'],
  fields: { query_ms: 'float', answers: 'integer', rcode: 'string', server: 'string', success: 'boolean', ...TIMING_SLACK_FIELDS },
} as const;

declare module '../../samples/measurement.js' {
  interface Measurements {
    dns: typeof DNS;
  }
}
