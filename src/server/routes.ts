import { z } from 'zod';
import type { App } from '../app.js';
import { PROBE_KINDS } from '../config/targets.js';
import { Deadline } from '../lifecycle/component.js';
import { HttpError, readJson, type Route } from './http-server.js';

const collectBody = z.strictObject({
  targets: z.array(z.string().min(1)).min(1).max(10_000).optional(),
  probes: z.array(z.enum(PROBE_KINDS)).min(1).optional(),
});

const resetBody = z.strictObject({ host: z.string().min(1).optional() });

/** Since/until: epoch ms, an ISO date, or a relative age like `15m`, `2h`, `7d`. */
function parseTime(name: string, v: string | null, now = Date.now()): number | undefined {
  if (v === null || v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const rel = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(v);
  if (rel) return now - Number(rel[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new HttpError(400, `${name}: "${v}" is not epoch milliseconds, an ISO time or an age like 15m`);
  return t;
}

function zodMessage(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}

export function apiRoutes(app: App): Route[] {
  const env = app.cfg.env;
  const byName = new Map(app.cfg.targets.map((t) => [t.name, t]));
  return [
    {
      method: 'GET',
      path: '/health/live',
      handler: () => ({ json: { status: 'alive' } }),
    },
    {
      method: 'GET',
      path: '/health/ready',
      handler: () => {
        const r = app.ready();
        return { status: r.ready ? 200 : 503, json: { ready: r.ready, reasons: r.reasons } };
      },
    },
    {
      method: 'GET',
      path: '/health',
      handler: () => {
        const h = app.health();
        return { status: h.status === 'failing' ? 503 : 200, json: h.body };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: async () => ({ text: await app.metrics.render(), contentType: app.metrics.registry.contentType }),
    },
    {
      method: 'GET',
      path: '/api/points',
      handler: (_req, url) => {
        if (!app.store) throw new HttpError(404, 'points are in InfluxDB (INFLUXDB_URL is set); /api/points serves the embedded store only');
        const q = url.searchParams;
        const limitRaw = q.get('limit');
        const limit = limitRaw === null ? 1000 : Number(limitRaw);
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new HttpError(400, 'limit: an integer 1..10000');
        const known = new Set(['measurement', 'target', 'since', 'until', 'limit']);
        const unknown = [...q.keys()].filter((k) => !known.has(k));
        if (unknown.length) throw new HttpError(400, `unknown query parameter ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
        const result = app.store.query({
          measurement: q.get('measurement') ?? undefined,
          target: q.get('target') ?? undefined,
          sinceMs: parseTime('since', q.get('since')),
          untilMs: parseTime('until', q.get('until')),
          limit,
        });
        return { json: { count: result.points.length, truncated: result.truncated, points: result.points } };
      },
    },
    {
      method: 'GET',
      path: '/api/cluster',
      handler: () => {
        const h = app.coordinator.health();
        return { json: { ...h, peers: app.coordinator.members(), owned_targets: app.coordinator.ownedTargets() } };
      },
    },
    {
      // Whether this replica reaches each other member's API (what the web UI relies on).
      method: 'GET',
      path: '/api/cluster/peers',
      handler: async () => ({ json: { member: app.coordinator.memberId, peers: await app.peers.fanOut('/health/live', Deadline.in(2000)) } }),
    },
    {
      method: 'POST',
      path: '/collect',
      auth: true,
      handler: async (req) => {
        const parsed = collectBody.safeParse((await readJson(req)) ?? {});
        if (!parsed.success) throw new HttpError(400, zodMessage(parsed.error));
        const names = parsed.data.targets;
        const unknown = names?.filter((n) => !byName.has(n)) ?? [];
        if (unknown.length) throw new HttpError(404, `not a configured target: ${unknown.join(', ')}`, { unknown });
        const targets = names ? names.map((n) => byName.get(n)!) : app.cfg.targets;
        const kinds = parsed.data.probes;
        if (kinds && !targets.some((t) => t.probes.some((k) => kinds.includes(k)))) {
          throw new HttpError(400, `none of the selected targets has probe ${kinds.join(', ')} configured`);
        }
        if (app.adhocInFlight >= env.MAX_ADHOC_RUNS) {
          throw new HttpError(429, `${app.adhocInFlight} ad-hoc runs in flight (MAX_ADHOC_RUNS=${env.MAX_ADHOC_RUNS}); retry later`, {}, { 'retry-after': '5' });
        }
        app.adhocInFlight++;
        const t0 = Date.now();
        try {
          const results = await app.collectNow(targets, kinds, env.COLLECT_TIMEOUT * 1000);
          return {
            json: {
              time: new Date(t0).toISOString(),
              duration_ms: Date.now() - t0,
              ok: results.filter((r) => r.success).length,
              failed: results.filter((r) => !r.success).length,
              results: results.map((r) => ({
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
        } finally {
          app.adhocInFlight--;
        }
      },
    },
    {
      method: 'POST',
      path: '/circuits/reset',
      auth: true,
      handler: async (req) => {
        const parsed = resetBody.safeParse((await readJson(req)) ?? {});
        if (!parsed.success) throw new HttpError(400, zodMessage(parsed.error));
        const reset = app.http.breakers.reset(parsed.data.host);
        return { json: { reset } };
      },
    },
  ];
}
