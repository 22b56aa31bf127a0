import { z } from 'zod';
import type { AdhocRejection } from '../scheduler/adhoc-runner.js';
import type { TargetListQuery } from '../status/data-api.js';
import type { DaemonApi } from './daemon-api.js';
import { HttpError, readJson, type Route } from './http-server.js';

/** HTTP status of each way a /collect request can be refused. */
const REJECTION_STATUS: Record<AdhocRejection['rejected'], number> = {
  unknown_target: 404,
  no_matching_probe: 400,
  too_large: 400,
  busy: 429,
};

const collectBody = z.strictObject({
  targets: z.array(z.string().min(1).max(2000)).min(1).max(10_000).optional(),
  probes: z.array(z.string().min(1).max(50)).min(1).max(50).optional(),
});
const resetBody = z.strictObject({ host: z.string().min(1).max(2000).optional() });

/** Since/until: epoch ms, epoch s (10 digits), an ISO date, or an age like `15m`, `2h`, `7d`. */
export function parseTime(name: string, v: string | null, now = Date.now()): number | undefined {
  if (v === null || v === '') return undefined;
  if (/^\d{1,10}(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  if (/^\d{11,}$/.test(v)) return Number(v);
  const rel = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(v);
  if (rel) return now - Number(rel[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new HttpError(400, `${name}: "${v.slice(0, 50)}" is not epoch seconds or milliseconds, an ISO time or an age like 15m`);
  return t;
}

function zodMessage(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}

export function onlyParams(url: URL, known: readonly string[]): void {
  const unknown = [...url.searchParams.keys()].filter((k) => !known.includes(k));
  if (unknown.length) throw new HttpError(400, `unknown query parameter ${unknown.join(', ')} (known: ${known.join(', ')})`);
}

export function intParam(url: URL, name: string, def: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name}: an integer ${min}..${max}`);
  return n;
}

export function oneOf<T extends string>(url: URL, name: string, allowed: readonly T[], def?: T): T | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return def;
  if (!(allowed as readonly string[]).includes(raw)) throw new HttpError(400, `${name}: one of ${allowed.join(', ')}`);
  return raw as T;
}

/** `from` and `to` of a history request (default: the last `defaultAgeMs`). */
export function timeRange(url: URL, defaultAgeMs: number): { fromMs: number; toMs: number } {
  const now = Date.now();
  const toMs = parseTime('to', url.searchParams.get('to'), now) ?? now;
  const fromMs = parseTime('from', url.searchParams.get('from'), now) ?? toMs - defaultAgeMs;
  if (fromMs >= toMs) throw new HttpError(400, 'from: must be before to');
  if (toMs - fromMs > 400 * 86_400_000) throw new HttpError(400, 'from/to: at most 400 days at once');
  return { fromMs, toMs };
}

/** Default window of /api/points when `since` is not given (a query never scans the whole store). */
export const POINTS_DEFAULT_WINDOW_MS = 3_600_000;

/** The daemon's routes: health, metrics, probe-now, reload, and the data API behind the web UI. */
export function daemonRoutes(api: DaemonApi): Route[] {
  const data = api.data;
  const noStore = () => new HttpError(404, 'the embedded store is off (EMBEDDED_STORE=false): points are only in the configured databases');
  const targetOr404 = <T>(name: string, v: T | undefined): T => {
    if (v === undefined) throw new HttpError(404, `not a configured target: ${name}`);
    return v;
  };
  const range = timeRange;

  return [
    {
      method: 'GET',
      path: '/health/live',
      access: 'open',
      handler: () => {
        const l = api.live();
        return l.live ? { json: { status: 'alive' } } : { status: 503, json: { status: 'stalled', problem: l.problem } };
      },
    },
    {
      method: 'GET',
      path: '/health/ready',
      access: 'open',
      handler: () => {
        const r = api.ready();
        return { status: r.ready ? 200 : 503, json: { ready: r.ready, reasons: r.reasons } };
      },
    },
    {
      method: 'GET',
      path: '/health',
      access: 'read',
      handler: () => {
        const h = api.health();
        return { status: h.status === 'failing' ? 503 : 200, json: h.body };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      access: 'read',
      handler: async () => {
        const m = await api.metrics();
        return { text: m.text, contentType: m.contentType };
      },
    },
    {
      method: 'POST',
      path: '/collect',
      access: 'write',
      handler: async (req) => {
        const parsed = collectBody.safeParse((await readJson(req)) ?? {});
        if (!parsed.success) throw new HttpError(400, zodMessage(parsed.error));
        const run = await api.collect(parsed.data.targets, parsed.data.probes);
        if ('rejected' in run) {
          const { rejected, message, ...extra } = run;
          throw new HttpError(REJECTION_STATUS[rejected], message, extra, rejected === 'busy' ? { 'retry-after': '5' } : {});
        }
        return {
          json: {
            time: new Date(run.time).toISOString(),
            duration_ms: run.durationMs,
            ok: run.results.filter((r) => r.success).length,
            failed: run.results.filter((r) => !r.success).length,
            results: run.results.map((r) => ({
              target: r.target,
              probe: r.probe,
              success: r.success,
              reason: r.reason ?? null,
              detail: r.detail ?? null,
              duration_ms: Math.round(r.durationMs * 1000) / 1000,
              ...r.summary,
            })),
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/-/reload',
      access: 'write',
      handler: async (req, url) => {
        await readJson(req); // no body expected; drain it
        const force = url.searchParams.get('force');
        const r = await api.reload('POST /-/reload', { force: force === '1' || force === 'true' });
        return { status: r.ok ? 200 : 400, json: r.ok ? r : { error: 'the new configuration was rejected; the running one is kept', ...r } };
      },
    },
    {
      method: 'POST',
      path: '/circuits/reset',
      access: 'write',
      handler: async (req) => {
        const parsed = resetBody.safeParse((await readJson(req)) ?? {});
        if (!parsed.success) throw new HttpError(400, zodMessage(parsed.error));
        return { json: { reset: api.resetCircuits(parsed.data.host) } };
      },
    },
    { method: 'GET', path: '/api/cluster', access: 'read', handler: () => ({ json: api.cluster() }) },
    // Whether this replica reaches each other member's API (what the web UI relies on).
    { method: 'GET', path: '/api/cluster/peers', access: 'read', handler: async () => ({ json: { peers: await api.peers() } }) },
    { method: 'GET', path: '/api/status', access: 'read', handler: async () => ({ json: await data.status() }) },
    {
      method: 'GET',
      path: '/api/points',
      access: 'read',
      handler: async (_req, url) => {
        if (!data.hasStore) throw noStore();
        onlyParams(url, ['measurement', 'target', 'since', 'until', 'limit']);
        const q = url.searchParams;
        const now = Date.now();
        const result = await data.points({
          measurement: q.get('measurement') ?? undefined,
          target: q.get('target') ?? undefined,
          sinceMs: parseTime('since', q.get('since'), now) ?? now - POINTS_DEFAULT_WINDOW_MS,
          untilMs: parseTime('until', q.get('until'), now),
          limit: intParam(url, 'limit', 1000, 1, 10_000),
        });
        return { json: { count: result.points.length, truncated: result.truncated, points: result.points } };
      },
    },
    {
      method: 'GET',
      path: '/api/targets',
      access: 'read',
      handler: async (_req, url) => {
        onlyParams(url, ['offset', 'limit', 'sort', 'order', 'q', 'status']);
        const q: TargetListQuery = {
          offset: intParam(url, 'offset', 0, 0, 10_000_000),
          limit: intParam(url, 'limit', 100, 1, 1000),
          sort: oneOf(url, 'sort', data.sortKeys, 'name')!,
          order: oneOf(url, 'order', ['asc', 'desc'] as const, 'asc')!,
          q: url.searchParams.get('q')?.slice(0, 200) || undefined,
          status: oneOf(url, 'status', ['ok', 'degraded', 'failing', 'unknown', 'unavailable'] as const),
        };
        return { json: await data.targets(q) };
      },
    },
    // What other members of a cluster ask for: this replica's own targets, never fanned out again.
    { method: 'GET', path: '/api/local/targets', access: 'read', handler: async () => ({ json: await data.localTargets() }) },
    {
      method: 'GET',
      path: '/api/local/sparklines',
      access: 'read',
      handler: async (_req, url) => {
        onlyParams(url, ['name']);
        const names = url.searchParams.getAll('name').slice(0, 1000);
        return { json: await data.localSparklines(names) };
      },
    },
    {
      method: 'GET',
      path: /^\/api\/targets\/([^/]+)\/series$/,
      label: '/api/targets/:name/series',
      access: 'read',
      handler: async (_req, url, [name]) => {
        if (!data.hasStore) throw noStore();
        onlyParams(url, ['from', 'to', 'buckets', 'local']);
        const r = range(url, 3_600_000);
        return { json: targetOr404(name!, await data.series(name!, { ...r, buckets: intParam(url, 'buckets', 600, 1, 1000) }, url.searchParams.has('local'))) };
      },
    },
    {
      method: 'GET',
      path: /^\/api\/targets\/([^/]+)\/routes$/,
      label: '/api/targets/:name/routes',
      access: 'read',
      handler: async (_req, url, [name]) => {
        if (!data.hasStore) throw noStore();
        onlyParams(url, ['from', 'to', 'local']);
        return { json: targetOr404(name!, await data.routes(name!, range(url, 7 * 86_400_000), url.searchParams.has('local'))) };
      },
    },
    {
      method: 'GET',
      path: /^\/api\/targets\/([^/]+)$/,
      label: '/api/targets/:name',
      access: 'read',
      handler: async (_req, url, [name]) => {
        onlyParams(url, ['local']);
        const local = url.searchParams.has('local');
        const t = targetOr404(name!, await data.target(name!, local));
        // With SITES: every source's state and the fault-domain verdict (src/sites).
        const vantage = !local && api.sites?.sites.length ? await api.sites.target(name!) : undefined;
        return { json: vantage ? { ...t, sources: vantage.sources, verdict: vantage.verdict } : t };
      },
    },
  ];
}
