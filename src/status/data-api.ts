import type { Target } from '../config/targets.js';
import { redactUrl } from '../config/redact.js';
import { Deadline, type HealthStatus } from '../lifecycle/component.js';
import type { DataApi, PointsQuery, RangeQuery, TargetListQuery } from '../server/daemon-api.js';
import type { RoutesQuery, RoutesResult, SeriesQuery, SeriesResult, Sparkline, SparklineOptions } from '../store/types.js';
import { describeCrossed } from './target-state.js';
import type { TargetStatusBoard, TargetStatus } from './target-status.js';

/** A stored point as /api/points returns it. */
export interface StoredPoint {
  measurement: string;
  time: string;
  timestamp_ms: number;
  tags: Record<string, string>;
  fields: Record<string, number | string | boolean>;
}

/** What the data API needs from the embedded store (src/store/README.md documents each answer). */
export interface PointReader {
  query(q: PointsQuery): { points: StoredPoint[]; truncated: boolean } | Promise<{ points: StoredPoint[]; truncated: boolean }>;
  series(q: SeriesQuery): Promise<SeriesResult>;
  routes(q: RoutesQuery): Promise<RoutesResult>;
  sparklines(targets: readonly string[], o?: SparklineOptions): Promise<Record<string, Sparkline>>;
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
  /** Circuit breakers not closed, and how many hosts have one. */
  breakers(): { open: { host: string; state: string }[]; hosts: number };
}

/** How long a page waits for the other members; a member that misses it is shown as unavailable. */
const PEER_DEADLINE_MS = 1500;
/** One member's list is reused this long across page loads (the overview polls). */
const PEER_CACHE_MS = 2000;

type View = ReturnType<typeof targetRow>;

/** Worst first: what needs a look comes first in the overview's default order. */
const STATUS_ORDER: Record<string, number> = { failing: 0, degraded: 1, unavailable: 2, unknown: 3, ok: 4 };
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
  sent?: number;
  received?: number;
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
    state_since: st && st.state.since ? new Date(st.state.since).toISOString() : null,
    failing: st
      ? [...st.probes.values()].filter((p) => !p.success).map((p) => ({ probe: p.probe, reason: p.reason ?? null, detail: p.detail ?? null, since: new Date(p.since).toISOString() }))
      : [],
    /** Thresholds crossed by the last run of each probe (why the target is degraded). */
    crossed: st ? [...st.probes.values()].flatMap((p) => p.crossed.map((c) => ({ ...c, text: describeCrossed(c) }))) : [],
    thresholds: t.thresholds.limits,
    last: st
      ? { ...st.last, time: st.last.time === null ? null : new Date(st.last.time).toISOString() }
      : { time: null, rtt_ms: null, loss_pct: null, http_total_ms: null, dns_ms: null, tcp_ms: null },
    route_changed_at: st?.routeChangedAt ? new Date(st.routeChangedAt).toISOString() : null,
  };
}

/** The value a row sorts by; null (no value) sorts last in either direction. */
function sortKey(v: View, sort: TargetListQuery['sort']): number | string | null {
  switch (sort) {
    case 'name':
      return v.name;
    case 'status':
      return STATUS_ORDER[v.status] ?? 9;
    case 'rtt':
      return v.last.rtt_ms;
    case 'loss':
      return v.last.loss_pct;
    case 'http':
      return v.last.http_total_ms;
    case 'dns':
      return v.last.dns_ms;
    case 'tcp':
      return v.last.tcp_ms;
    case 'route_change':
      return v.route_changed_at;
  }
}

/** Rows in `sort` order (`dir` 1 or -1), rows without a value last whatever the direction, then by name. */
export function compareRows(a: View, b: View, sort: TargetListQuery['sort'], dir: number): number {
  const ka = sortKey(a, sort);
  const kb = sortKey(b, sort);
  if (ka === null || kb === null) {
    if (ka !== kb) return ka === null ? 1 : -1;
  } else if (ka !== kb) return (ka < kb ? -1 : 1) * dir;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
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

  /** The overview's sparklines from the store, at most 100 targets per call (its bound). */
  async function sparklines(names: string[]): Promise<Map<string, Spark>> {
    const out = new Map<string, Spark>();
    if (!d.store) return out;
    for (let i = 0; i < names.length; i += 100) {
      for (const [n, sp] of Object.entries(await d.store.sparklines(names.slice(i, i + 100), { buckets: SPARK_BUCKETS }))) out.set(n, sp);
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
      const counts = { ok: 0, degraded: 0, failing: 0, unknown: 0, unavailable: 0 };
      for (const r of rows) counts[r.status]++;
      if (q.q) {
        const needle = q.q.toLowerCase();
        rows = rows.filter((r) => r.name.toLowerCase().includes(needle) || r.host.toLowerCase().includes(needle));
      }
      if (q.status) rows = rows.filter((r) => r.status === q.status);
      const dir = q.order === 'desc' ? -1 : 1;
      rows.sort((a, b) => compareRows(a, b, q.sort, dir));
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
      return {
        total,
        offset: q.offset,
        limit: q.limit,
        generated_at: new Date().toISOString(),
        counts,
        members,
        targets: page.map((r) => {
          const spark = sparks.get(r.name) ?? null;
          // The last hour's loss rate: echoes lost over echoes sent, not a mean of slot percentages.
          const hourLoss = spark && spark.sent ? Math.round((100_000 * (spark.sent - (spark.received ?? 0))) / spark.sent) / 1000 : null;
          return { ...r, loss_hour_pct: hourLoss, echoes_hour: spark && spark.sent ? { sent: spark.sent, received: spark.received ?? 0 } : null, spark };
        }),
      };
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
        state_since: row.state_since,
        crossed: row.crossed,
        thresholds: row.thresholds,
        hysteresis_slots: t.thresholds.hysteresisSlots,
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
      return { ...(await d.store.series({ target: name, fromMs: q.fromMs, toMs: q.toMs, maxBuckets: q.buckets })) };
    },

    async routes(name, q, local) {
      const t = byName(name);
      if (!t || !d.store) return undefined;
      const fromOwner = local ? undefined : await askOwner(name, `/api/targets/${encodeURIComponent(name)}/routes?local=1&from=${q.fromMs}&to=${q.toMs}`);
      if (fromOwner && 'answer' in fromOwner) return fromOwner.answer as Record<string, unknown>;
      return { ...(await d.store.routes({ target: name, fromMs: q.fromMs, toMs: q.toMs })) };
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
        breakers: d.breakers().open,
        breaker_hosts: d.breakers().hosts,
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
