import type { Target } from '../config/targets.js';
import { redactUrl } from '../config/redact.js';
import { Deadline, type HealthStatus } from '../lifecycle/component.js';
import type { DataApi, PointsQuery, RangeQuery, TargetListQuery } from '../server/daemon-api.js';
import type { TargetStatusBoard, TargetStatus } from './target-status.js';

/** A stored point as /api/points returns it. */
export interface StoredPoint {
  measurement: string;
  time: string;
  timestamp_ms: number;
  tags: Record<string, string>;
  fields: Record<string, number | string | boolean>;
}

/** What the data API needs from the embedded store. */
export interface PointReader {
  query(q: PointsQuery): { points: StoredPoint[]; truncated: boolean } | Promise<{ points: StoredPoint[]; truncated: boolean }>;
}

/** What the data API needs from the cluster: who owns a target, and the members. */
export interface OwnershipView {
  ownerOf(target: string): string | undefined;
  members(): { id: string; url: string | null; self: boolean }[];
  selfId(): string;
}

/** Asking another member (src/cluster/peer-client.ts); never throws. */
export interface PeerReader {
  get(member: string, path: string, deadline: Deadline): Promise<{ status: 'ok'; body: unknown } | { status: 'unavailable'; reason: string; detail: string }>;
}

export interface DataSources {
  targets(): readonly Target[];
  status: TargetStatusBoard;
  store?: PointReader;
  ownership: OwnershipView;
  peers?: PeerReader;
  health(): { status: HealthStatus; body: Record<string, unknown> };
}

/** How long a page waits for the other members; a member that misses it is shown as unavailable. */
const PEER_DEADLINE_MS = 1500;
/** One member's list is reused this long across page loads (the overview polls). */
const PEER_CACHE_MS = 2000;

type View = ReturnType<typeof targetRow>;

const STATUS_ORDER: Record<string, number> = { failing: 0, unavailable: 1, unknown: 2, ok: 3 };
/** The overview sparkline: the last hour in one-minute buckets. */
const SPARK_BUCKETS = 60;

/** A target as this replica sees it: its own state, or (owned elsewhere) what its owner said. */
function targetRow(t: Target, d: DataSources, owner: string | null, remote?: RemoteRows | { unavailable: string }) {
  if (remote && 'rows' in remote) {
    const r = remote.rows.get(t.name);
    if (r) return { ...r, owner, available: true };
  }
  const local = owner === null || owner === d.ownership.selfId();
  if (!local) {
    return { ...localRow(t, d), owner, available: false, status: 'unavailable' as const, unavailable_reason: remote && 'unavailable' in remote ? remote.unavailable : 'the owner has not reported this target' };
  }
  return { ...localRow(t, d), owner, available: true };
}

type RemoteRows = { rows: Map<string, ReturnType<typeof localRow>> };

/** The overview's sparkline of one target: the last hour of median rtt and loss. */
interface Spark {
  from: number;
  step_s: number;
  rtt_ms: (number | null)[];
  loss_pct: (number | null)[];
}

/** This replica's own view of a target (what /api/local/targets serves to peers). */
function localRow(t: Target, d: DataSources) {
  const st = d.status.get(t.name);
  const status: TargetStatus | 'unavailable' = d.status.status(t.name);
  return {
    name: t.name,
    host: t.host,
    probes: [...t.probes],
    interval_s: t.intervalS,
    status,
    failing: st
      ? [...st.probes.values()].filter((p) => !p.success).map((p) => ({ probe: p.probe, reason: p.reason ?? null, detail: p.detail ?? null, since: new Date(p.since).toISOString() }))
      : [],
    last: st
      ? { ...st.last, time: st.last.time === null ? null : new Date(st.last.time).toISOString() }
      : { time: null, rtt_ms: null, loss_pct: null, http_total_ms: null, dns_ms: null, tcp_ms: null },
    route_changed_at: st?.routeChangedAt ? new Date(st.routeChangedAt).toISOString() : null,
  };
}

function sortKey(v: View, sort: TargetListQuery['sort']): number | string {
  switch (sort) {
    case 'name':
      return v.name;
    case 'status':
      return STATUS_ORDER[v.status] ?? 9;
    case 'rtt':
      return v.last.rtt_ms ?? Infinity;
    case 'loss':
      return v.last.loss_pct ?? -1;
    case 'http':
      return v.last.http_total_ms ?? Infinity;
    case 'route_change':
      return v.route_changed_at ?? '';
  }
}

/**
 * The data API behind the web UI and /api/*: targets with their state (from
 * the status board, so the overview of 10,000 targets is a sort of an
 * in-memory list, paged on the server), and per-target history from the
 * embedded store, bucketed on the server so a chart gets at most ~1,000
 * points per series.
 */
export function createDataApi(d: DataSources): DataApi {
  const byName = (name: string) => d.targets().find((t) => t.name === name);

  /** The other members' own rows, each asked once per PEER_CACHE_MS; a member that does not answer makes its targets unavailable. */
  const peerCache = new Map<string, { at: number; value: Promise<RemoteRows | { unavailable: string }> }>();
  async function remoteRows(owners: Set<string>): Promise<Map<string, RemoteRows | { unavailable: string }>> {
    const out = new Map<string, RemoteRows | { unavailable: string }>();
    await Promise.all(
      [...owners].map(async (owner) => {
        let c = peerCache.get(owner);
        if (!c || Date.now() - c.at > PEER_CACHE_MS) {
          const value = (async () => {
            if (!d.peers) return { unavailable: 'no peer client' };
            const a = await d.peers.get(owner, '/api/local/targets', Deadline.in(PEER_DEADLINE_MS));
            if (a.status !== 'ok') return { unavailable: `${a.reason}: ${a.detail}` };
            const rows = (a.body as { targets?: ReturnType<typeof localRow>[] }).targets ?? [];
            return { rows: new Map(rows.map((r) => [r.name, r])) };
          })();
          c = { at: Date.now(), value };
          peerCache.set(owner, c);
          if (peerCache.size > 256) peerCache.delete(peerCache.keys().next().value as string);
        }
        out.set(owner, await c.value);
      }),
    );
    return out;
  }

  /**
   * A target another member owns: its answer, or why there is none (then
   * this replica answers from what it holds itself). Undefined when we own it.
   */
  async function askOwner(name: string, path: string): Promise<{ answer: unknown } | { unavailable: string } | undefined> {
    const owner = d.ownership.ownerOf(name);
    if (!owner || owner === d.ownership.selfId() || !d.peers) return undefined;
    const a = await d.peers.get(owner, path, Deadline.in(PEER_DEADLINE_MS));
    return a.status === 'ok' ? { answer: a.body } : { unavailable: `${a.reason}: ${a.detail}` };
  }

  /**
   * Whether each member's API answers (its /health/live), asked at most once
   * per PEER_CACHE_MS: the status strip polls this for every open page.
   */
  const liveCache = new Map<string, { at: number; value: Promise<{ available: true } | { available: false; reason: string }> }>();
  function memberAnswers(id: string): Promise<{ available: true } | { available: false; reason: string }> {
    let c = liveCache.get(id);
    if (!c || Date.now() - c.at > PEER_CACHE_MS) {
      const value = (async () => {
        if (!d.peers) return { available: false as const, reason: 'no peer client' };
        const a = await d.peers.get(id, '/health/live', Deadline.in(PEER_DEADLINE_MS));
        return a.status === 'ok' ? { available: true as const } : { available: false as const, reason: `${a.reason}: ${a.detail}` };
      })();
      c = { at: Date.now(), value };
      liveCache.set(id, c);
      if (liveCache.size > 256) liveCache.delete(liveCache.keys().next().value as string);
    }
    return c.value;
  }

  async function sparklines(names: string[]): Promise<Map<string, Spark>> {
    const out = new Map<string, Spark>();
    if (!d.store) return out;
    const now = Date.now();
    const from = now - 3_600_000;
    const step = 3_600_000 / SPARK_BUCKETS;
    for (const name of names) {
      const r = await d.store.query({ measurement: 'ping', target: name, sinceMs: from, limit: 10_000 });
      const rtt: (number | null)[] = new Array(SPARK_BUCKETS).fill(null);
      const loss: (number | null)[] = new Array(SPARK_BUCKETS).fill(null);
      for (const p of r.points) {
        if (p.tags.mode) continue;
        const i = Math.min(SPARK_BUCKETS - 1, Math.floor((p.timestamp_ms - from) / step));
        if (i < 0) continue;
        const v = (p.fields.rtt_median_ms ?? p.fields.rtt_avg_ms) as number | undefined;
        if (typeof v === 'number') rtt[i] = rtt[i] === null ? v : Math.max(rtt[i]!, v);
        if (typeof p.fields.loss_pct === 'number') loss[i] = Math.max(loss[i] ?? 0, p.fields.loss_pct);
      }
      out.set(name, { from: Math.floor(from / 1000), step_s: step / 1000, rtt_ms: rtt, loss_pct: loss });
    }
    return out;
  }

  return {
    hasStore: d.store !== undefined,
    async points(q) {
      if (!d.store) return { points: [], truncated: false };
      return d.store.query(q);
    },

    async targets(q) {
      const all = d.targets();
      const self = d.ownership.selfId();
      const owners = new Map(all.map((t) => [t.name, d.ownership.ownerOf(t.name) ?? null]));
      const remote = await remoteRows(new Set([...owners.values()].filter((o): o is string => o !== null && o !== self)));
      let rows = all.map((t) => {
        const owner = owners.get(t.name)!;
        return targetRow(t, d, owner, owner && owner !== self ? remote.get(owner) : undefined);
      });
      const counts = { ok: 0, failing: 0, unknown: 0, unavailable: 0 };
      for (const r of rows) counts[r.status]++;
      if (q.q) {
        const needle = q.q.toLowerCase();
        rows = rows.filter((r) => r.name.toLowerCase().includes(needle) || r.host.toLowerCase().includes(needle));
      }
      if (q.status) rows = rows.filter((r) => r.status === q.status);
      const dir = q.order === 'desc' ? -1 : 1;
      rows.sort((a, b) => {
        const ka = sortKey(a, q.sort);
        const kb = sortKey(b, q.sort);
        return (ka < kb ? -1 : ka > kb ? 1 : a.name < b.name ? -1 : 1) * dir;
      });
      const total = rows.length;
      const page = rows.slice(q.offset, q.offset + q.limit);
      // Sparklines: our own from the store, the others' from their owners (one call per member).
      const sparks = await sparklines(page.filter((r) => r.available && (r.owner === null || r.owner === self)).map((r) => r.name));
      const byOwner = new Map<string, string[]>();
      for (const r of page) if (r.available && r.owner && r.owner !== self) byOwner.set(r.owner, [...(byOwner.get(r.owner) ?? []), r.name]);
      await Promise.all(
        [...byOwner].map(async ([owner, names]) => {
          const a = await d.peers?.get(owner, `/api/local/sparklines?${names.map((n) => `name=${encodeURIComponent(n)}`).join('&')}`, Deadline.in(PEER_DEADLINE_MS));
          if (a?.status === 'ok') for (const [n, sp] of Object.entries((a.body as { sparklines: Record<string, Spark> }).sparklines ?? {})) sparks.set(n, sp);
        }),
      );
      const members = d.ownership.members().map((m) => {
        const r = m.self ? undefined : remote.get(m.id);
        return { ...m, available: m.self || (r !== undefined && 'rows' in r), ...(r && 'unavailable' in r ? { reason: r.unavailable } : {}) };
      });
      return { total, offset: q.offset, limit: q.limit, generated_at: new Date().toISOString(), counts, members, targets: page.map((r) => ({ ...r, spark: sparks.get(r.name) ?? null })) };
    },

    async localTargets() {
      const self = d.ownership.selfId();
      const mine = d.targets().filter((t) => (d.ownership.ownerOf(t.name) ?? self) === self);
      return { member: self, targets: mine.map((t) => localRow(t, d)) };
    },

    async localSparklines(names) {
      const known = new Set(d.targets().map((t) => t.name));
      return { sparklines: Object.fromEntries(await sparklines(names.filter((n) => known.has(n)))) };
    },

    async target(name, local) {
      const t = byName(name);
      if (!t) return undefined;
      const fromOwner = local ? undefined : await askOwner(name, `/api/targets/${encodeURIComponent(name)}?local=1`);
      if (fromOwner && 'answer' in fromOwner) return fromOwner.answer as Record<string, unknown>;
      const st = d.status.get(name);
      const spec = (k: string) => t.specs[k] as Record<string, unknown> | undefined;
      const http = spec('http');
      const tcp = spec('tcp');
      const dns = spec('dns');
      const owner = d.ownership.ownerOf(name) ?? null;
      const row = targetRow(t, d, owner, fromOwner ? { unavailable: fromOwner.unavailable } : undefined);
      return {
        name: t.name,
        host: t.host,
        probes: t.probes,
        interval_s: t.intervalS,
        timeout_s: t.timeoutS,
        owner: row.owner,
        available: row.available,
        status: row.status,
        ...(fromOwner ? { unavailable_reason: fromOwner.unavailable } : {}),
        probe_status: st
          ? [...st.probes.values()].map((p) => ({ probe: p.probe, success: p.success, reason: p.reason ?? null, detail: p.detail ?? null, at: new Date(p.at).toISOString(), since: new Date(p.since).toISOString() }))
          : [],
        http: http ? { url: redactUrl(String(http.url)), method: http.method } : null,
        tcp: tcp ? { port: tcp.port } : null,
        dns: dns ? { record: dns.record, server: dns.server } : null,
      };
    },

    async series(name, q: RangeQuery, local) {
      const t = byName(name);
      if (!t || !d.store) return undefined;
      const fromOwner = local ? undefined : await askOwner(name, `/api/targets/${encodeURIComponent(name)}/series?local=1&from=${q.fromMs}&to=${q.toMs}&buckets=${q.buckets}`);
      if (fromOwner && 'answer' in fromOwner) return fromOwner.answer as Record<string, unknown>;
      const r = await d.store.query({ target: name, sinceMs: q.fromMs, untilMs: q.toMs, limit: 10_000 });
      return bucketSeries(name, r.points, q);
    },

    async routes(name, q, local) {
      const t = byName(name);
      if (!t || !d.store) return undefined;
      const fromOwner = local ? undefined : await askOwner(name, `/api/targets/${encodeURIComponent(name)}/routes?local=1&from=${q.fromMs}&to=${q.toMs}`);
      if (fromOwner && 'answer' in fromOwner) return fromOwner.answer as Record<string, unknown>;
      const pts = (await d.store.query({ target: name, sinceMs: q.fromMs, untilMs: q.toMs, limit: 10_000 })).points.filter((p) => !p.tags.mode);
      return routeHistory(pts);
    },

    async status() {
      const h = d.health();
      const comps = (h.body.components ?? {}) as Record<string, Record<string, unknown>>;
      const sched = comps.scheduler ?? {};
      const sink = comps.sink ?? comps.outbox;
      return {
        status: h.status,
        version: h.body.version,
        source: h.body.source,
        instance: h.body.instance,
        uptime_s: h.body.uptime_s,
        components: comps,
        breakers: (comps['http-client']?.open_circuits as unknown[]) ?? [],
        outbox: sink && typeof sink.outbox_points === 'number' ? { points: sink.outbox_points, pending: Object.fromEntries(((sink.endpoints as { endpoint: string; pending: number }[]) ?? []).map((e) => [e.endpoint, e.pending])) } : null,
        // Members with whether their API answers (the strip's "N of M members"), as in /api/targets.
        cluster: {
          mode: comps.cluster?.mode ?? 'standalone',
          members: await Promise.all(d.ownership.members().map(async (m) => ({ ...m, ...(m.self ? { available: true } : await memberAnswers(m.id)) }))),
        },
        last_round:
          typeof sched.last_round_age_s === 'number'
            ? { at: new Date(Date.now() - (sched.last_round_age_s as number) * 1000).toISOString(), duration_s: sched.last_round_duration_s ?? null }
            : null,
      };
    },
  };
}

/** Server-side buckets of one target's raw points (at most q.buckets per series). */
function bucketSeries(name: string, points: readonly StoredPoint[], q: RangeQuery): Record<string, unknown> {
  const step = Math.max(1, (q.toMs - q.fromMs) / q.buckets);
  type Acc = Map<number, Record<string, number[]>>;
  const acc = new Map<string, Acc>();
  const changes: { time: number; from_hash: string | null; to_hash: string }[] = [];
  let lastHash: string | null = null;
  for (const p of [...points].sort((a, b) => a.timestamp_ms - b.timestamp_ms)) {
    if (p.tags.mode) continue;
    const b = Math.floor((p.timestamp_ms - q.fromMs) / step);
    const m = acc.get(p.measurement) ?? new Map();
    acc.set(p.measurement, m);
    const slot = m.get(b) ?? {};
    m.set(b, slot);
    for (const [k, v] of Object.entries(p.fields)) {
      const n = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : undefined;
      if (n !== undefined) (slot[k] ??= []).push(n);
    }
    if (p.measurement === 'route' && typeof p.fields.route_hash === 'string') {
      if (p.fields.route_changed === true) changes.push({ time: Math.floor(p.timestamp_ms / 1000), from_hash: lastHash, to_hash: p.fields.route_hash });
      lastHash = p.fields.route_hash;
    }
  }
  const t = (m: Acc) => [...m.keys()].sort((a, b) => a - b);
  const col = (m: Acc, keys: number[], field: string, f: (v: number[]) => number) => keys.map((k) => (m.get(k)?.[field]?.length ? f(m.get(k)![field]!) : null));
  const avg = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const median = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b);
    return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const failed = (m: Acc, keys: number[]) => keys.map((k) => (m.get(k)?.success ?? []).filter((s) => s === 0).length);
  const times = (keys: number[]) => keys.map((k) => Math.floor((q.fromMs + k * step) / 1000));
  const out: Record<string, unknown> = { target: name, from: new Date(q.fromMs).toISOString(), to: new Date(q.toMs).toISOString(), step_s: step / 1000, resolution: 'raw' };
  const ping = acc.get('ping');
  if (ping) {
    const k = t(ping);
    out.ping = {
      t: times(k),
      rtt_min: col(ping, k, 'rtt_min_ms', (v) => Math.min(...v)),
      rtt_median: col(ping, k, 'rtt_median_ms', median),
      rtt_avg: col(ping, k, 'rtt_avg_ms', avg),
      rtt_max: col(ping, k, 'rtt_max_ms', (v) => Math.max(...v)),
      loss_pct: col(ping, k, 'loss_pct', avg),
      jitter_ms: col(ping, k, 'jitter_ms', avg),
      mos: col(ping, k, 'mos', avg),
    };
  }
  const http = acc.get('http');
  if (http) {
    const k = t(http);
    out.http = { t: times(k), failed: failed(http, k), ...Object.fromEntries(['dns_ms', 'connect_ms', 'tls_ms', 'ttfb_ms', 'transfer_ms', 'total_ms'].map((f) => [f, col(http, k, f, avg)])) };
  }
  const dns = acc.get('dns');
  if (dns) {
    const k = t(dns);
    out.dns = { t: times(k), query_ms: col(dns, k, 'query_ms', avg), failed: failed(dns, k) };
  }
  const tcp = acc.get('tcp');
  if (tcp) {
    const k = t(tcp);
    out.tcp = { t: times(k), connect_ms: col(tcp, k, 'connect_ms', avg), failed: failed(tcp, k) };
  }
  out.route_changes = changes;
  return out;
}

/** Current route hop by hop and the earlier routes, from raw route and hop points. */
function routeHistory(points: readonly StoredPoint[]): Record<string, unknown> {
  const routes = points.filter((p) => p.measurement === 'route' && typeof p.fields.route_hash === 'string').sort((a, b) => a.timestamp_ms - b.timestamp_ms);
  const seen = new Map<string, { hash: string; first_seen: number; last_seen: number; hop_count: unknown; reached: unknown; path: unknown }>();
  const changes: { time: string; from_hash: string | null; to_hash: string }[] = [];
  let prev: string | null = null;
  for (const r of routes) {
    const hash = r.fields.route_hash as string;
    const s = seen.get(hash) ?? { hash, first_seen: r.timestamp_ms, last_seen: r.timestamp_ms, hop_count: r.fields.hop_count, reached: r.fields.reached, path: r.fields.path };
    s.last_seen = r.timestamp_ms;
    seen.set(hash, s);
    if (r.fields.route_changed === true || (prev !== null && prev !== hash)) changes.push({ time: new Date(r.timestamp_ms).toISOString(), from_hash: prev, to_hash: hash });
    prev = hash;
  }
  const last = routes[routes.length - 1];
  const iso = (s: { first_seen: number; last_seen: number }) => ({ first_seen: new Date(s.first_seen).toISOString(), last_seen: new Date(s.last_seen).toISOString() });
  let current: Record<string, unknown> | null = null;
  if (last) {
    const hops = points
      .filter((p) => p.measurement === 'hop' && p.timestamp_ms === last.timestamp_ms)
      .map((h) => ({
        ttl: Number(h.tags.ttl),
        ip: h.fields.ip ?? '*',
        hostname: h.fields.hostname ?? null,
        loss_pct: h.fields.loss_pct ?? null,
        rtt_avg_ms: h.fields.rtt_avg_ms ?? null,
        lat: h.fields.lat ?? null,
        lon: h.fields.lon ?? null,
        country: h.fields.country ?? null,
        city: h.fields.city ?? null,
        asn: h.fields.asn ?? null,
      }))
      .sort((a, b) => a.ttl - b.ttl);
    const s = seen.get(last.fields.route_hash as string)!;
    current = { hash: s.hash, ...iso(s), reached: last.fields.reached, hop_count: last.fields.hop_count, hops };
  }
  const geo = points.filter((p) => p.measurement === 'geo').sort((a, b) => b.timestamp_ms - a.timestamp_ms)[0];
  return {
    current,
    earlier: [...seen.values()].filter((s) => s.hash !== current?.hash).sort((a, b) => b.last_seen - a.last_seen).map((s) => ({ hash: s.hash, ...iso(s), hop_count: s.hop_count, reached: s.reached, path: s.path })),
    changes,
    source: geo && typeof geo.fields.src_lat === 'number' ? { lat: geo.fields.src_lat, lon: geo.fields.src_lon } : null,
    destination: last ? { ip: last.fields.ip ?? null, lat: geo?.fields.dst_lat ?? null, lon: geo?.fields.dst_lon ?? null } : null,
  };
}
