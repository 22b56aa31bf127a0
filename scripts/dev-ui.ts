/**
 * DEVELOPMENT AID, NOT A TEST AND NOT SHIPPED: serves the web UI with the
 * JSON API contract (docs/api.md) answered from GENERATED data, so the pages
 * can be worked on without a daemon, probes or a network. Every number here
 * is made up (a seeded pseudo-random walk). The browser tests run against a
 * live daemon (test/web/); bench/ui.ts --dev uses this only to time the
 * browser's side of the overview.
 *
 *   node --import tsx scripts/dev-ui.ts [--targets 10000] [--port 8099] [--token secret]
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { ProbeModule } from '../src/probes/module.js';
import { figuresOf, PROBE_MODULES } from '../src/probes/registry.js';
import { StaticUi } from '../src/server/static-ui.js';
import { figureColumns, panelOf } from '../src/status/probe-views.js';

type Status = 'ok' | 'failing' | 'unknown' | 'unavailable';

/** mulberry32: a deterministic generator, so a reload shows the same made-up data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FakeTarget {
  name: string;
  host: string;
  probes: string[];
  status: Status;
  base: number;
  seed: number;
  owner: string;
  routeChangedAt: number | null;
}

const CITIES: [string, string, number, number][] = [
  ['London', 'GB', 51.5, -0.13],
  ['Amsterdam', 'NL', 52.37, 4.9],
  ['Frankfurt', 'DE', 50.11, 8.68],
  ['Paris', 'FR', 48.86, 2.35],
  ['New York', 'US', 40.71, -74.0],
  ['Ashburn', 'US', 39.04, -77.49],
];

function makeTargets(n: number, nowS: number): FakeTarget[] {
  const r = rng(42);
  const out: FakeTarget[] = [];
  const kinds = [['icmp', 'trace'], ['icmp', 'trace', 'http'], ['icmp', 'dns'], ['icmp', 'tcp'], ['http']];
  for (let i = 0; i < n; i++) {
    const roll = r();
    const status: Status = roll < 0.86 ? 'ok' : roll < 0.94 ? 'failing' : roll < 0.98 ? 'unknown' : 'unavailable';
    const probes = kinds[i % kinds.length]!;
    const host = i === 3 ? 'https://example.com/x?y' : `host-${i}.example.net`;
    out.push({
      name: i === 3 ? 'https://example.com/x?y' : i < 10 ? ['edge-lon', 'edge-ams', 'api', 'web-url', 'dns-primary', 'db-tcp', 'cdn', 'vpn-gw', 'mail', 'git'][i]! : `target-${String(i).padStart(5, '0')}`,
      host,
      probes,
      status,
      base: 2 + r() * 80,
      seed: i + 1,
      owner: `pod-${i % 3}`,
      routeChangedAt: r() < 0.3 ? nowS - Math.floor(r() * 7 * 86400) : null,
    });
  }
  return out;
}

function series(t: FakeTarget, fromS: number, toS: number, step: number) {
  const r = rng(t.seed * 7919 + Math.floor(fromS / step));
  const ts: number[] = [];
  const min: (number | null)[] = [];
  const med: (number | null)[] = [];
  const avg: (number | null)[] = [];
  const max: (number | null)[] = [];
  const loss: (number | null)[] = [];
  const jitter: (number | null)[] = [];
  const mos: (number | null)[] = [];
  for (let s = Math.ceil(fromS / step) * step; s <= toS; s += step) {
    ts.push(s);
    const wave = t.base * (1 + 0.25 * Math.sin(s / 5400 + t.seed));
    const spread = t.base * (0.05 + r() * 0.3);
    const l = r() < 0.08 ? Math.round(r() * (r() < 0.2 ? 100 : 30)) : 0;
    if (r() < 0.01) {
      [min, med, avg, max, jitter, mos].forEach((a) => a.push(null));
      loss.push(null);
      continue;
    }
    min.push(l >= 100 ? null : +(wave - spread * 0.4).toFixed(3));
    med.push(l >= 100 ? null : +wave.toFixed(3));
    avg.push(l >= 100 ? null : +(wave + spread * 0.1).toFixed(3));
    max.push(l >= 100 ? null : +(wave + spread).toFixed(3));
    loss.push(l);
    jitter.push(+(spread / 4).toFixed(3));
    mos.push(+Math.max(1, 4.4 - l / 25 - wave / 400).toFixed(2));
  }
  return { t: ts, rtt_min: min, rtt_median: med, rtt_avg: avg, rtt_max: max, loss_pct: loss, jitter_ms: jitter, mos };
}

function parseAge(v: string | null, nowS: number, dflt: number): number {
  if (!v) return dflt;
  const m = /^(\d+)(h|d|m)$/.exec(v);
  if (m) return nowS - Number(m[1]) * { m: 60, h: 3600, d: 86400 }[m[2] as 'm' | 'h' | 'd'];
  if (/^\d+$/.test(v)) return Number(v);
  return Date.parse(v) / 1000;
}

function iso(s: number | null): string | null {
  return s === null ? null : new Date(s * 1000).toISOString();
}

export interface DevUi {
  url: string;
  close(): Promise<void>;
}

export async function startDevUi(opts: { targets?: number; port?: number; token?: string } = {}): Promise<DevUi> {
  const nowS = () => Math.floor(Date.now() / 1000);
  const targets = makeTargets(opts.targets ?? 60, nowS());
  const byName = new Map(targets.map((t) => [t.name, t]));
  const ui = new StaticUi();
  await ui.start();
  const members = [0, 1, 2].map((i) => ({ id: `pod-${i}`, url: `http://10.0.0.${i + 1}:8080`, self: i === 0, available: i !== 2, ...(i === 2 ? { reason: 'no answer within 2 s' } : {}) }));

  const row = (t: FakeTarget) => {
    const now = nowS();
    const sp = series(t, now - 3600, now, 60);
    const lastI = sp.t.length - 1;
    return {
      name: t.name,
      host: t.host,
      probes: t.probes,
      interval_s: 60,
      owner: t.owner,
      available: t.status !== 'unavailable',
      status: t.status,
      failing: t.status === 'failing' ? [{ probe: t.probes.at(-1)!, reason: t.probes.includes('http') ? 'http_status' : 'timeout', detail: t.probes.includes('http') ? 'HTTP 503 from 192.0.2.10' : 'no reply within 5 s', since: iso(now - 1800) }] : [],
      last:
        t.status === 'unknown' || t.status === 'unavailable'
          ? null
          : { time: iso(now - 30), rtt_ms: sp.rtt_avg[lastI] ?? null, loss_pct: sp.loss_pct[lastI] ?? null, http_total_ms: t.probes.includes('http') ? +(t.base * 3).toFixed(1) : null, dns_ms: null, tcp_ms: null, route_changed_at: iso(t.routeChangedAt) },
      spark: t.status === 'unknown' || t.status === 'unavailable' ? null : { from: sp.t[0]!, step_s: 60, rtt_ms: sp.rtt_avg, loss_pct: sp.loss_pct },
    };
  };

  const routes = (t: FakeTarget) => {
    const hops = [0, 1, 2, 3, 4, 5].map((i) => {
      const c = CITIES[(t.seed + i) % CITIES.length]!;
      return { ttl: i + 1, ip: i === 2 ? '*' : `198.51.100.${i + 10}`, hostname: i === 2 ? null : `r${i + 1}.${c[0].toLowerCase().replace(' ', '')}.example.net`, loss_pct: i === 2 ? 100 : 0, rtt_avg_ms: i === 2 ? null : +(t.base * (i + 1) / 6).toFixed(2), lat: i === 2 ? null : c[2], lon: i === 2 ? null : c[3], country: i === 2 ? null : c[1], city: i === 2 ? null : c[0], asn: i === 2 ? null : 64500 + i };
    });
    const changed = t.routeChangedAt ?? nowS() - 3 * 3600;
    return {
      current: { hash: 'a1b2c3d4e5f6', first_seen: iso(changed), last_seen: iso(nowS() - 40), reached: true, hop_count: hops.length, hops },
      earlier: [{ hash: '0f9e8d7c6b5a', first_seen: iso(changed - 86400), last_seen: iso(changed - 60), hop_count: 5, reached: true, path: '198.51.100.10 198.51.100.11 198.51.100.99 198.51.100.14 198.51.100.15' }],
      changes: [{ time: iso(changed), from_hash: '0f9e8d7c6b5a', to_hash: 'a1b2c3d4e5f6' }],
      source: { lat: 51.5, lon: -0.13 },
      destination: { ip: '198.51.100.15', lat: 39.04, lon: -77.49 },
    };
  };

  const api = (req: IncomingMessage, url: URL): [number, unknown] => {
    const p = url.pathname;
    const q = url.searchParams;
    if (p === '/api/status') {
      return [200, { status: 'degraded', version: '0.1.0-dev', source: 'dev-ui', instance: 'pod-0', uptime_s: 7384, components: { scheduler: { status: 'ok' }, sink: { status: 'degraded' } }, breakers: [{ host: 'api.example.net', state: 'open' }, { host: 'cdn.example.net', state: 'closed' }], outbox: { points: 1234, pending: { 'influx-a': 1234, 'influx-b': 0 } }, cluster: { mode: 'cluster', members }, last_round: { at: iso(nowS() - 20), duration_s: 3.4 } }];
    }
    if (p === '/api/targets') {
      const offset = Number(q.get('offset') ?? 0);
      const limit = Math.min(500, Number(q.get('limit') ?? 100));
      const needle = (q.get('q') ?? '').toLowerCase();
      const st = q.get('status');
      let list = targets.filter((t) => (!needle || t.name.toLowerCase().includes(needle) || t.host.toLowerCase().includes(needle)) && (!st || t.status === st));
      const counts = { ok: 0, failing: 0, unknown: 0, unavailable: 0 };
      for (const t of targets.filter((t) => !needle || t.name.toLowerCase().includes(needle))) counts[t.status]++;
      const order = q.get('order') === 'desc' ? -1 : 1;
      const rank: Record<Status, number> = { failing: 3, unavailable: 2, unknown: 1, ok: 0 };
      const key = q.get('sort') ?? 'name';
      const val = (t: FakeTarget): number | string => (key === 'status' ? rank[t.status] : key === 'rtt' || key === 'http' ? t.base : key === 'route_change' ? (t.routeChangedAt ?? 0) : key === 'loss' ? t.seed % 7 : t.name);
      list = [...list].sort((a, b) => (val(a) < val(b) ? -order : val(a) > val(b) ? order : a.name.localeCompare(b.name)));
      return [200, { total: list.length, offset, limit, generated_at: iso(nowS()), counts, members, columns: figureColumns(figuresOf()), targets: list.slice(offset, offset + limit).map(row) }];
    }
    const m = /^\/api\/targets\/([^/]+)(\/series|\/routes)?$/.exec(p);
    if (m) {
      const t = byName.get(decodeURIComponent(m[1]!));
      if (!t) return [404, { error: `not a configured target: ${decodeURIComponent(m[1]!)}` }];
      if (t.status === 'unavailable') return [503, { error: `owner ${t.owner} did not answer within 2 s` }];
      const now = nowS();
      const from = parseAge(q.get('from'), now, now - 6 * 3600);
      const to = parseAge(q.get('to'), now, now);
      if (m[2] === '/routes') return [200, routes(t)];
      if (m[2] === '/series') {
        const buckets = Math.min(1000, Number(q.get('buckets') ?? 1000));
        const step = Math.max(60, Math.ceil((to - from) / buckets / 60) * 60);
        const ping = series(t, from, to, step);
        const http = t.probes.includes('http') ? { t: ping.t, dns_ms: ping.t.map(() => 1.2), connect_ms: ping.rtt_median, tls_ms: ping.rtt_median.map((v) => (v === null ? null : v * 2)), ttfb_ms: ping.rtt_avg.map((v) => (v === null ? null : v * 1.5)), transfer_ms: ping.t.map(() => 0.8), total_ms: ping.rtt_max.map((v) => (v === null ? null : v * 5)), failed: ping.loss_pct.map((l) => (l && l > 50 ? 1 : 0)) } : undefined;
        const changed = t.routeChangedAt ?? now - 3 * 3600;
        return [200, { target: t.name, from, to, step_s: step, resolution: step > 60 ? 'rollup' : 'raw', ...(t.probes.includes('icmp') ? { ping } : {}), ...(http ? { http } : {}), ...(t.probes.includes('dns') ? { dns: { t: ping.t, query_ms: ping.rtt_min, failed: ping.t.map(() => 0) } } : {}), ...(t.probes.includes('tcp') ? { tcp: { t: ping.t, connect_ms: ping.rtt_median, failed: ping.t.map(() => 0), unsure: ping.t.map((_, i) => (i % 9 === 4 ? 1 : 0)) } } : {}), route_changes: changed >= from ? [{ time: changed, from_hash: '0f9e8d7c6b5a', to_hash: 'a1b2c3d4e5f6' }] : [] }];
      }
      return [200, { name: t.name, host: t.host, probes: t.probes, interval_s: 60, timeout_s: 5, owner: t.owner, available: true, status: t.status, probe_status: t.probes.map((pr) => ({ probe: pr, success: t.status !== 'failing', reason: t.status === 'failing' ? 'timeout' : null, detail: t.status === 'failing' ? 'no reply within 5 s' : null, at: iso(now - 30), since: iso(now - 3600) })), settings: t.probes.map((pr) => ({ probe: pr, summary: pr === 'http' ? `GET ${t.host.startsWith('http') ? t.host : `https://${t.host}/`}` : `made-up settings of ${pr}` })), panels: t.probes.flatMap((pr) => { const m = PROBE_MODULES.find((x) => x.kind === pr); return m ? [{ probe: pr, ...panelOf(m as ProbeModule) }] : []; }) }];
    }
    void req;
    return [404, { error: `no route ${p}` }];
  };

  const collect = async (req: IncomingMessage, res: ServerResponse) => {
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' }).end(JSON.stringify({ error: 'missing or wrong bearer token (COLLECT_TOKEN)' }));
      return;
    }
    let body = '';
    for await (const c of req) body += c;
    const names = (JSON.parse(body || '{}') as { targets?: string[] }).targets ?? [];
    const results = names.flatMap((n) => (byName.get(n)?.probes ?? []).map((probe) => ({ target: n, probe, success: true, reason: null, detail: null, duration_ms: 12.3, rtt_avg_ms: 4.2 })));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ time: new Date().toISOString(), duration_ms: 45, ok: results.length, failed: 0, results }));
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'POST' && url.pathname === '/collect') return collect(req, res);
      const s = await ui.serve(url.pathname, { 'accept-encoding': req.headers['accept-encoding'], 'if-none-match': req.headers['if-none-match'] });
      if (s) {
        res.writeHead(s.status, s.headers).end(s.body);
        return;
      }
      const [status, body] = api(req, url);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    })().catch((err: Error) => res.writeHead(500).end(JSON.stringify({ error: err.message })));
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { targets: { type: 'string', default: '60' }, port: { type: 'string', default: '8099' }, token: { type: 'string' } } });
  const d = await startDevUi({ targets: Number(values.targets), port: Number(values.port), token: values.token });
  console.log(`dev UI with GENERATED data (not a daemon): ${d.url}/`);
}
