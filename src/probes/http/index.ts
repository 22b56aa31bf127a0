import { isIP } from 'node:net';
import { z } from 'zod';
import { redactUrl } from '../../env/redact.js';
import { bool, httpUrl, threshold } from '../../env/zod-env.js';
import { SpecError, type ProbeModule } from '../module.js';
import { createHttpProbe, type HttpSpec } from './http-probe.js';
import { timingSlackEnv, withTimingSlack } from '../timing/timing-slack.js';
import { HTTP, HTTP_TIMED } from './measurements.js';
import { HTTP_FIGURES, HTTP_METRICS, HTTP_PANEL, HTTP_ROLLUP } from './view.js';

const status = z.number().int().min(100).max(599);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Environment variables of the http probe (docs/configuration.md). */
const env = {
  /** http probes keep their connection for the next probe (false: DNS + connect + TLS measured every time). */
  HTTP_REUSE_CONNECTIONS: bool(true),
  ...timingSlackEnv,
  /** Total request time (ms) at or above which a target is degraded; none by default. */
  THRESHOLD_HTTP_TOTAL_MS: threshold(),
  /** Days of certificate validity left at or below which a target is degraded. */
  THRESHOLD_CERT_DAYS: threshold(14),
};

/** HTTP(S) exchange with phase timings — see README.md in this folder. */
export const httpModule = {
  kind: 'http',
  describe: 'HTTP(S) request: status, DNS / connect / TLS / first byte / transfer timings, certificate expiry',
  env,
  block: z.strictObject({
    url: httpUrl(),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS', 'DELETE', 'PATCH']).default('GET'),
    expect_status: z.union([status, z.array(status).min(1)]).optional(),
    insecure_tls: z.boolean().default(false),
    headers: z.record(z.string().regex(HEADER_NAME, 'is not a header name'), z.string()).default({}),
    reuse_connection: z.boolean().optional(),
  }),
  defaultFor: ['name'],
  measurements: { http: HTTP },
  rollups: [HTTP_ROLLUP],
  figures: HTTP_FIGURES,
  panel: HTTP_PANEL,
  targetMetrics: HTTP_METRICS,
  origins: (s: HttpSpec) => [new URL(s.url).origin],
  spec(raw, ctx): HttpSpec {
    type Block = { url: string; method: string; expect_status?: number | number[]; insecure_tls: boolean; headers: Record<string, string>; reuse_connection?: boolean };
    const b = raw as Block | undefined;
    const host = isIP(ctx.host) === 6 ? `[${ctx.host}]` : ctx.host;
    const url = b?.url ?? `https://${host}/`;
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      throw new SpecError(
        'http.url: credentials in the URL (user:password@) would end up in the target tag and in logs: remove them and send a header instead, ' +
          'e.g. headers: { Authorization: "Basic ${MY_API_AUTH}" } with MY_API_AUTH in the environment',
      );
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(b?.headers ?? {})) {
      headers[name] = value.replace(ENV_REF, (_m, ref: string) => {
        const v = ctx.lookupEnv(ref);
        if (v === undefined) throw new SpecError(`http.headers.${name}: refers to \${${ref}}, which is not set in the environment`);
        return v;
      });
    }
    const es = b?.expect_status;
    return {
      url: parsed.toString(),
      method: b?.method ?? 'GET',
      expectStatus: es === undefined ? null : Array.isArray(es) ? es : [es],
      insecureTls: b?.insecure_tls ?? false,
      headers,
      reuseConnection: b?.reuse_connection ?? ctx.env.HTTP_REUSE_CONNECTIONS,
    };
  },
  summary: (s: HttpSpec) =>
    `${s.method} ${redactUrl(s.url)}${s.expectStatus ? ` expecting ${s.expectStatus.join('|')}` : ''}${Object.keys(s.headers).length ? ` with headers ${Object.keys(s.headers).join(', ')}` : ''}${s.reuseConnection ? '' : ', new connection each time'}`,
  // On the main loop (the shared pool and breakers live there): its slack says how busy that was.
  timed: HTTP_TIMED,
  // On the main loop, where its connection pool and circuit breakers live; its points carry that loop's slack.
  create: (deps) => withTimingSlack(createHttpProbe(deps.http), HTTP_TIMED, deps.env.TIMING_SLACK_MAX_MS, deps.loopDelay),
} satisfies ProbeModule<HttpSpec, typeof env>;

export type { HttpSpec };
