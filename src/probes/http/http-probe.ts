import type { HttpClient } from '../../http-client/http-client.js';
import { probeBreakerPolicy } from '../../http-client/http-client.js';
import { round3 } from '../../util/numbers.js';
import type { Sample } from '../../samples/sample.js';
import { reasonForError } from '../reasons.js';
import type { Probe, ProbeOutcome } from '../types.js';

export interface HttpSpec {
  url: string;
  method: string;
  /** Statuses that count as success. Default: any 2xx or 3xx. */
  expectStatus: number[] | null;
  /** Skip certificate verification (the expiry is still reported). */
  insecureTls: boolean;
  /** Sent with every request; values may be secrets (never printed). */
  headers: Record<string, string>;
  /** Keep the connection for the next probe (false: a fresh connection, DNS + connect + TLS, every time). */
  reuseConnection: boolean;
}

/**
 * HTTP(S) exchange with phase timings, through the shared client (pool +
 * breaker). Success = the status is in `expect_status` (default: 2xx/3xx).
 * Redirects are not followed: the first answer is what is measured.
 */
export function createHttpProbe(client: HttpClient): Probe<HttpSpec> {
  return async ({ timeMs, tags, signal }, spec): Promise<ProbeOutcome> => {
    const o = await client.request(spec.url, {
      method: spec.method,
      headers: spec.headers,
      insecureTls: spec.insecureTls,
      reuseConnection: spec.reuseConnection,
      signal,
      policy: probeBreakerPolicy,
    });
    const t = o.timings;
    const sample: Sample<'http'> = {
      measurement: 'http',
      tags: { ...tags, method: spec.method },
      fields: {
        success: false,
        total_ms: round3(t.totalMs),
        dns_ms: opt(t.dnsMs),
        connect_ms: opt(t.connectMs),
        tls_ms: opt(t.tlsMs),
        ttfb_ms: opt(t.ttfbMs),
        ip: o.remoteAddress,
        reused: o.reused,
      },
      timeMs,
    };
    if (!o.ok) {
      const { reason, detail } = o.circuitOpen ? { reason: 'circuit_open' as const, detail: o.error.message } : reasonForError(o.error, signal);
      return { success: false, reason, detail, samples: [sample], summary: { total_ms: sample.fields.total_ms ?? null } };
    }
    const okStatus = spec.expectStatus ? spec.expectStatus.includes(o.statusCode) : o.statusCode >= 200 && o.statusCode < 400;
    Object.assign(sample.fields, {
      success: okStatus,
      status_code: o.statusCode,
      transfer_ms: opt(t.transferMs),
      bytes: o.bytes,
      http_version: o.httpVersion,
      cert_expiry_days: o.certExpiryDays !== undefined ? round3(o.certExpiryDays) : undefined,
    });
    const summary = {
      status_code: o.statusCode,
      ttfb_ms: sample.fields.ttfb_ms ?? null,
      total_ms: sample.fields.total_ms ?? null,
      reused: o.reused,
      bytes: o.bytes,
    };
    if (!okStatus) {
      const expected = spec.expectStatus ? spec.expectStatus.join('|') : '2xx/3xx';
      return { success: false, reason: 'bad_status', detail: `status ${o.statusCode}, expected ${expected}`, samples: [sample], summary };
    }
    return { success: true, samples: [sample], summary };
  };
}

const opt = (n: number | undefined) => (n === undefined ? undefined : round3(n));
