import { TIMING_SLACK_FIELDS } from '../timing/fields.js';
import type { TimedFields } from '../timing/timing-slack.js';

/** The `tcp` measurement: one point per connect. */
export const TCP = {
  tags: ['port'],
  fields: { connect_ms: 'float', ip: 'string', success: 'boolean', ...TIMING_SLACK_FIELDS },
} as const;

/** Its phases timed in JavaScript (timing/timing-slack.ts marks how far a late callback may have stretched them). */
export const TCP_TIMED: TimedFields = { measurement: 'tcp', fields: ['connect_ms'] };

declare module '../../samples/measurement.js' {
  interface Measurements {
    tcp: typeof TCP;
  }
}
