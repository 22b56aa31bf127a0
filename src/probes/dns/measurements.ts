import { TIMING_SLACK_FIELDS } from '../timing/fields.js';
import type { TimedFields } from '../timing/timing-slack.js';

/** The `dns` measurement: one point per query. */
export const DNS = {
  tags: ['record'],
  fields: { query_ms: 'float', answers: 'integer', rcode: 'string', server: 'string', success: 'boolean', ...TIMING_SLACK_FIELDS },
} as const;

/** Its phases timed in JavaScript (timing/timing-slack.ts marks how far a late callback may have stretched them). */
export const DNS_TIMED: TimedFields = { measurement: 'dns', fields: ['query_ms'] };

declare module '../../samples/measurement.js' {
  interface Measurements {
    dns: typeof DNS;
  }
}
