import { TIMING_SLACK_FIELDS } from '../timing/fields.js';
import type { TimedFields } from '../timing/timing-slack.js';

/** The `http` measurement: one point per exchange. */
export const HTTP = {
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
    ...TIMING_SLACK_FIELDS,
  },
} as const;

/** Its phases timed in JavaScript (timing/timing-slack.ts marks how far a late callback may have stretched them). */
export const HTTP_TIMED: TimedFields = { measurement: 'http', fields: ['dns_ms', 'connect_ms', 'tls_ms', 'ttfb_ms', 'transfer_ms', 'total_ms'] };

declare module '../../samples/measurement.js' {
  interface Measurements {
    http: typeof HTTP;
  }
}
