import type { Target } from '../config/targets.js';
import type { HealthStatus } from '../lifecycle/component.js';
import type { ProbeModule } from '../probes/module.js';
import { figuresOf, PROBE_MODULES } from '../probes/registry.js';
import type { Backlog } from '../sinks/sink.js';
import type { PointQuery, PointsResult, RoutesQuery, RoutesResult, SeriesQuery, SeriesResult } from '../store/types.js';
import { FanOut, unavailableReason, type RemoteReader } from './fan-out.js';
import { figureColumns, probePanels, probeSettings } from './probe-views.js';
import { localSparklines, remoteSparklines, type SparklineReader } from './sparklines.js';
import { listSortKeys, listTargets, type TargetListQuery } from './target-list.js';
import { listedRow, localRow, type RemoteRows, type TargetRow } from './target-rows.js';
import type { TargetStatusBoard } from './target-status.js';

export type { TargetListQuery } from './target-list.js';

/** What the data API reads from the embedded store (src/store/README.md documents each answer). */
export interface PointReader extends SparklineReader {
  query(q: PointQuery): Promise<Pick<PointsResult, 'points' | 'truncated'>>;
  series(q: SeriesQuery): Promise<SeriesResult>;
  routes(q: RoutesQuery): Promise<RoutesResult>;
}

/** What the data API needs from the cluster: who owns a target, and the members. */
export interface OwnershipView {
  ownerOf(target: string): string | undefined;
  members(): { id: string; url: string | null; self: boolean }[];
  selfId(): string;
  mode(): 'standalone' | 'cluster';
}

export interface DataSources {
  targets(): readonly Target[];
  status: TargetStatusBoard;
  store?: PointReader;
  ownership: OwnershipView;
  /** Reads the other members' API (cluster/peer-client.ts). */
  peers?: RemoteReader;
  /** The probe kinds (default: the registry). */
  modules?: readonly ProbeModule[];
  health(): { status: HealthStatus; components: Record<string, unknown> };
  about(): { version: string; source: string; instance: string; uptimeS: number };
  /** Circuit breakers not closed, and how many hosts have one. */
  breakers(): { open: { host: string; state: string }[]; hosts: number };
  /** The scheduler's last completed round. */
  lastRound(): { atMs: number; durationS: number } | null;
  /** Points kept for the databases (the outbox), if any. */
  backlog(): Backlog | undefined;
}

export interface RangeQuery {
  fromMs: number;
  toMs: number;
  buckets: number;
}

/** Answers of the data API: plain JSON objects (shapes in docs/api.md). */
export interface DataApi {
  /** False when the embedded store is off (EMBEDDED_STORE=false): the point and series routes answer 404. */
  readonly hasStore: boolean;
  /** Every sort= that targets() accepts. */
  readonly sortKeys: readonly string[];
  points(q: PointQuery): Promise<{ points: unknown[]; truncated: boolean }>;
  targets(q: TargetListQuery): Promise<Record<string, unknown>>;
  /** The targets this replica owns, as it sees them (what other members ask for; never fans out). */
  localTargets(): Promise<Record<string, unknown>>;
  localSparklines(names: string[]): Promise<Record<string, unknown>>;
  /**
   * One target's settings, state and what its page draws; undefined when no
   * such target is configured. For a target another member owns, the owner
   * answers unless `local` (the owner's own call) is set.
   */
  target(name: string, local?: boolean): Promise<Record<string, unknown> | undefined>;
  series(name: string, q: RangeQuery, local?: boolean): Promise<Record<string, unknown> | undefined>;
  routes(name: string, q: Omit<RangeQuery, 'buckets'>, local?: boolean): Promise<Record<string, unknown> | undefined>;
  status(): Promise<Record<string, unknown>>;
}

/** How long a page waits for the other members; a member that misses it is shown as unavailable. */
const PEER_DEADLINE_MS = 1500;
/** One member's list (and whether it answers) is reused this long across page loads: the pages poll. */
const PEER_CACHE_MS = 2000;
/** Members x paths remembered. */
const PEER_CACHE_ENTRIES = 512;

/**
 * The data API behind the web UI and /api/*, composed of one part per
 * concern: the target rows (target-rows.ts, from the status board), the
 * list's filter, sort and pages (target-list.ts), asking the other members
 * (fan-out.ts), what each probe draws (probe-views.ts, from the registry),
 * and the store's history, bucketed there so a chart gets at most ~1,000
 * points per series. A target another member probes is answered by that
 * member; when it does not answer, by what this replica holds, marked so.
 */
export function createDataApi(d: DataSources): DataApi {
  const modules = d.modules ?? (PROBE_MODULES as readonly ProbeModule[]);
  const figures = figuresOf(modules);
  const fanOut = new FanOut(d.peers, { deadlineMs: PEER_DEADLINE_MS, maxAgeMs: PEER_CACHE_MS, maxEntries: PEER_CACHE_ENTRIES });
  const byName = (name: string) => d.targets().find((t) => t.name === name);
  const self = () => d.ownership.selfId();
  const ownerOf = (name: string) => d.ownership.ownerOf(name) ?? null;
  const isRemote = (owner: string | null): owner is string => owner !== null && owner !== self();

  /** The other members' own rows: each asked at most once per PEER_CACHE_MS. */
  async function remoteRows(owners: Iterable<string>): Promise<Map<string, RemoteRows>> {
    const out = new Map<string, RemoteRows>();
    for (const [owner, a] of await fanOut.all(owners, '/api/local/targets', { cached: true })) {
      if (a.status !== 'ok') out.set(owner, { unavailable: unavailableReason(a) });
      else out.set(owner, { rows: new Map(((a.body as { targets?: TargetRow[] }).targets ?? []).map((r) => [r.name, r])) });
    }
    return out;
  }

  /** A target another member owns: its answer, or why there is none. Undefined when this replica answers. */
  async function askOwner(name: string, path: string, local?: boolean): Promise<{ answer: unknown } | { unavailable: string } | undefined> {
    const owner = ownerOf(name);
    if (local || !isRemote(owner) || !d.peers) return undefined;
    const a = await fanOut.ask(owner, path);
    return a.status === 'ok' ? { answer: a.body } : { unavailable: unavailableReason(a) };
  }

  return {
    hasStore: d.store !== undefined,
    sortKeys: listSortKeys(figures),

    async points(q) {
      if (!d.store) return { points: [], truncated: false };
      const r = await d.store.query(q);
      return { points: r.points, truncated: r.truncated };
    },

    async targets(q) {
      const all = d.targets();
      const owners = new Map(all.map((t) => [t.name, ownerOf(t.name)]));
      const remote = await remoteRows([...owners.values()].filter(isRemote));
      const rows = all.map((t) => {
        const owner = owners.get(t.name)!;
        return listedRow(t, d.status, owner, self(), isRemote(owner) ? remote.get(owner) : undefined);
      });
      const { total, counts, page } = listTargets(rows, q, figures);
      // Sparklines: this replica's from its store, the others' from their owners (one call per member).
      const sparks = await localSparklines(d.store, page.filter((r) => r.available && !isRemote(r.owner)).map((r) => r.name));
      const byOwner = new Map<string, string[]>();
      for (const r of page) if (r.available && isRemote(r.owner)) byOwner.set(r.owner, [...(byOwner.get(r.owner) ?? []), r.name]);
      for (const [n, sp] of await remoteSparklines(fanOut, byOwner)) sparks.set(n, sp);
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
        columns: figureColumns(figures),
        targets: page.map((r) => {
          const spark = sparks.get(r.name) ?? null;
          // The last hour's loss rate: echoes lost over echoes sent, not a mean of slot percentages.
          const lost = spark && spark.sent ? Math.round((100_000 * (spark.sent - spark.received)) / spark.sent) / 1000 : null;
          return { ...r, loss_hour_pct: lost, echoes_hour: spark && spark.sent ? { sent: spark.sent, received: spark.received } : null, spark };
        }),
      };
    },

    async localTargets() {
      const mine = d.targets().filter((t) => (ownerOf(t.name) ?? self()) === self());
      return { member: self(), targets: mine.map((t) => localRow(t, d.status)) };
    },

    async localSparklines(names) {
      const known = new Set(d.targets().map((t) => t.name));
      return { sparklines: Object.fromEntries(await localSparklines(d.store, names.filter((n) => known.has(n)))) };
    },

    async target(name, local) {
      const t = byName(name);
      if (!t) return undefined;
      const fromOwner = await askOwner(name, `/api/targets/${encodeURIComponent(name)}?local=1`, local);
      if (fromOwner && 'answer' in fromOwner) return fromOwner.answer as Record<string, unknown>;
      const st = d.status.get(name);
      const row = listedRow(t, d.status, ownerOf(name), self(), fromOwner);
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
        last: row.last,
        settings: probeSettings(t, modules),
        panels: probePanels(t, modules),
      };
    },

    async series(name, q, local) {
      if (!byName(name) || !d.store) return undefined;
      const fromOwner = await askOwner(name, `/api/targets/${encodeURIComponent(name)}/series?local=1&from=${q.fromMs}&to=${q.toMs}&buckets=${q.buckets}`, local);
      if (fromOwner && 'answer' in fromOwner) return fromOwner.answer as Record<string, unknown>;
      return { ...(await d.store.series({ target: name, fromMs: q.fromMs, toMs: q.toMs, maxBuckets: q.buckets })) };
    },

    async routes(name, q, local) {
      if (!byName(name) || !d.store) return undefined;
      const fromOwner = await askOwner(name, `/api/targets/${encodeURIComponent(name)}/routes?local=1&from=${q.fromMs}&to=${q.toMs}`, local);
      if (fromOwner && 'answer' in fromOwner) return fromOwner.answer as Record<string, unknown>;
      return { ...(await d.store.routes({ target: name, fromMs: q.fromMs, toMs: q.toMs })) };
    },

    async status() {
      const h = d.health();
      const about = d.about();
      const breakers = d.breakers();
      const backlog = d.backlog();
      const round = d.lastRound();
      const members = d.ownership.members();
      // Whether each other member's API answers (the strip's "N of M members"), as in /api/targets.
      const live = await fanOut.all(members.filter((m) => !m.self).map((m) => m.id), '/health/live', { cached: true });
      return {
        status: h.status,
        version: about.version,
        source: about.source,
        instance: about.instance,
        uptime_s: about.uptimeS,
        components: h.components,
        breakers: breakers.open,
        breaker_hosts: breakers.hosts,
        outbox: backlog ?? null,
        cluster: {
          mode: d.ownership.mode(),
          members: members.map((m) => {
            const a = live.get(m.id);
            return { ...m, ...(m.self || a?.status === 'ok' ? { available: true } : { available: false, reason: a ? unavailableReason(a as Extract<typeof a, { status: 'unavailable' }>) : 'not asked' }) };
          }),
        },
        last_round: round ? { at: new Date(round.atMs).toISOString(), duration_s: round.durationS } : null,
      };
    },
  };
}
