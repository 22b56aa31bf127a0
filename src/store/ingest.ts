import type { Db } from '../sqlite/sqlite-db.js';
import { fieldEntries, seriesKey, type AnySample, type FieldValue } from '../samples/sample.js';
import type { FieldLayouts } from './field-layouts.js';
import { ROUTE_CHANGE_SUB } from './queries/latest.js';
import type { RollupSpec } from '../samples/rollup.js';
import { TIERS, type Tier } from './rollup-spec.js';

/** Most distinct routes remembered per target; the least recently seen go first. */
export const MAX_ROUTES_PER_TARGET = 100;
/** Bound of the in-memory id caches (entries); past it a cache starts over from the database. */
const ID_CACHE_MAX = 100_000;
/** series.last_ts is refreshed at most this often per series (it only serves pruning). */
const LAST_TS_REFRESH_MS = 3_600_000;

interface SeriesEntry {
  sid: number;
  lastTs: number;
}

/** The hop fields kept in a route's hop list (routes.hops). */
const HOP_FIELDS = ['ip', 'hostname', 'ecmp_ips', 'loss_pct', 'sent', 'rtt_avg_ms', 'rtt_best_ms', 'rtt_worst_ms', 'rtt_stddev_ms', 'lat', 'lon', 'country', 'city', 'asn', 'as_org', 'geo_private'];

/**
 * The write path: one transaction per batch of samples. Each point becomes a
 * raw row; on the way it refreshes the target's `latest` state, the route
 * history (route + hop points of one trace arrive in the same batch: the
 * collector commits a target run at once) and marks already rolled-up
 * buckets dirty when a late or repeated slot lands in them.
 */
export class Ingest {
  private readonly tids = new Map<string, number>();
  private readonly sids = new Map<string, SeriesEntry>();
  private readonly st;
  private readonly rolled: Map<number, readonly Tier[]>;
  readonly writeBatch: (samples: readonly AnySample[]) => number;

  constructor(
    private readonly db: Db,
    private readonly layouts: FieldLayouts,
    /** Rolled up until (exclusive), per tier: a scheduled point older than this makes its bucket dirty. */
    private readonly watermark: (tier: Tier) => number,
    kinds: readonly RollupSpec[],
  ) {
    this.st = {
      tid: db.prepare('SELECT tid FROM targets WHERE name = ?').pluck(),
      newTid: db.prepare('INSERT INTO targets (name) VALUES (?) RETURNING tid').pluck(),
      sid: db.prepare('SELECT sid, last_ts AS lastTs FROM series WHERE key = ?'),
      newSid: db.prepare('INSERT INTO series (key, mid, tid, sub, adhoc, tags, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING sid').pluck(),
      touch: db.prepare('UPDATE series SET last_ts = max(last_ts, ?) WHERE sid = ?'),
      raw: db.prepare('INSERT OR REPLACE INTO raw (mid, ts, tid, sid, f) VALUES (?, ?, ?, ?, ?)'),
      time: db.prepare('INSERT OR IGNORE INTO times (ts) VALUES (?)'),
      latest: db.prepare(`INSERT INTO latest (tid, mid, sub, ts, f, ok, since) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (tid, mid, sub) DO UPDATE SET
          since = CASE WHEN latest.ok IS excluded.ok THEN latest.since ELSE excluded.ts END,
          ts = excluded.ts, f = excluded.f, ok = excluded.ok
        WHERE excluded.ts >= latest.ts`),
      dirty: db.prepare('INSERT OR IGNORE INTO dirty (tier, tid, b) VALUES (?, ?, ?)'),
      prevRoute: db.prepare('SELECT hash FROM routes WHERE tid = ? AND last_seen < ? AND hash <> ? ORDER BY last_seen DESC LIMIT 1').pluck(),
      route: db.prepare(`INSERT INTO routes (tid, hash, first_seen, last_seen, hop_count, reached, path, hops) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (tid, hash) DO UPDATE SET
          first_seen = min(routes.first_seen, excluded.first_seen),
          hop_count = iif(excluded.last_seen >= routes.last_seen, excluded.hop_count, routes.hop_count),
          reached = iif(excluded.last_seen >= routes.last_seen, excluded.reached, routes.reached),
          path = iif(excluded.last_seen >= routes.last_seen, excluded.path, routes.path),
          hops = iif(excluded.last_seen >= routes.last_seen, excluded.hops, routes.hops),
          last_seen = max(routes.last_seen, excluded.last_seen)`),
      routeCount: db.prepare('SELECT count(*) FROM routes WHERE tid = ?').pluck(),
      trimRoutes: db.prepare(`DELETE FROM routes WHERE tid = ? AND hash IN (SELECT hash FROM routes WHERE tid = ? ORDER BY last_seen LIMIT ?)`),
      change: db.prepare('INSERT OR REPLACE INTO route_changes (tid, ts, from_hash, to_hash, diff) VALUES (?, ?, ?, ?, ?)'),
    };
    // The tiers rolled up from raw points; a tier from another is re-rolled through it (Rollups.stepDirty).
    this.rolled = new Map(kinds.map((k) => [layouts.midOf(k.measurement), TIERS.filter((t) => !t.from)]));
    this.writeBatch = db.transaction((samples: readonly AnySample[]) => this.writeAll(samples));
  }

  tidOf(target: string): number {
    let tid = this.tids.get(target);
    if (tid === undefined) {
      tid = (this.st.tid.get(target) as number | undefined) ?? (this.st.newTid.get(target) as number);
      if (this.tids.size >= ID_CACHE_MAX) this.tids.clear();
      this.tids.set(target, tid);
    }
    return tid;
  }

  /** Forget cached ids (after pruning removed rows they point to). */
  forgetIds(): void {
    this.tids.clear();
    this.sids.clear();
  }

  private writeAll(samples: readonly AnySample[]): number {
    let written = 0;
    let lastTs = Number.NaN;
    const hopsByRun = groupHops(samples);
    for (const s of samples) {
      const fields = fieldEntries(s);
      if (fields.length === 0) continue;
      const ts = Math.round(s.timeMs);
      const target = s.tags.target ?? '';
      const adhoc = s.tags.mode === 'adhoc';
      const tid = this.tidOf(target);
      const f = this.layouts.encode(s.measurement, fields);
      const mid = this.layouts.midOf(s.measurement);
      const sub = s.measurement === 'probe' ? (s.tags.probe ?? '') : '';
      const sid = this.sidOf(seriesKey(s), mid, tid, sub, adhoc, s.tags, ts);
      this.st.raw.run(mid, ts, tid, sid, f);
      // A batch is mostly one or a few slot times: skip the repeats cheaply.
      if (ts !== lastTs) this.st.time.run(ts);
      lastTs = ts;
      written++;
      if (s.measurement === 'hop') continue;
      const ok = fields.find(([k]) => k === 'success')?.[1];
      this.st.latest.run(tid, mid, sub, ts, f, ok === undefined ? null : ok ? 1 : 0, ts);
      if (!adhoc) this.markDirty(mid, tid, ts);
      if (s.measurement === 'route') this.route(tid, ts, Object.fromEntries(fields), hopsByRun.get(runKey(target, ts, adhoc)) ?? []);
    }
    return written;
  }

  private sidOf(key: string, mid: number, tid: number, sub: string, adhoc: boolean, tags: Record<string, string>, ts: number): number {
    let e = this.sids.get(key);
    if (!e) {
      e = this.st.sid.get(key) as SeriesEntry | undefined;
      if (!e) e = { sid: this.st.newSid.get(key, mid, tid, sub, adhoc ? 1 : 0, JSON.stringify(tags), ts) as number, lastTs: ts };
      if (this.sids.size >= ID_CACHE_MAX) this.sids.clear();
      this.sids.set(key, e);
    }
    if (ts > e.lastTs + LAST_TS_REFRESH_MS) {
      this.st.touch.run(ts, e.sid);
      e.lastTs = ts;
    }
    return e.sid;
  }

  private markDirty(mid: number, tid: number, ts: number): void {
    const tiers = this.rolled.get(mid);
    if (!tiers) return;
    for (const t of tiers) {
      if (ts < this.watermark(t)) this.st.dirty.run(t.name, tid, Math.floor(ts / t.bucketMs) * t.bucketMs);
    }
  }

  private route(tid: number, ts: number, f: Record<string, FieldValue>, hops: readonly AnySample[]): void {
    const hash = f.route_hash;
    if (typeof hash !== 'string') return; // a trace that failed before mtr ran: no route to remember
    // A trace that saw a route not confirmed yet: its hops are not the confirmed
    // route's, and that route was not seen (its last_seen must stay before the change).
    if (f.route_pending === true) return;
    const hopList = [...hops]
      .sort((a, b) => Number(a.tags.ttl) - Number(b.tags.ttl))
      .map((h) => {
        const fields = h.fields as Record<string, FieldValue | undefined>;
        const hop: Record<string, FieldValue> = { ttl: Number(h.tags.ttl) };
        for (const k of HOP_FIELDS) if (fields[k] !== undefined) hop[k] = fields[k]!;
        return hop;
      });
    let firstSeen = ts;
    if (f.route_changed === true) {
      // A change is dated by the first trace that saw the new route (the confirming one came later).
      const at = typeof f.route_first_seen_ms === 'number' && f.route_first_seen_ms <= ts ? f.route_first_seen_ms : ts;
      const from = this.st.prevRoute.get(tid, at, hash) as string | undefined;
      this.st.change.run(tid, at, from ?? null, hash, typeof f.route_diff === 'string' ? f.route_diff : null);
      // The overview shows each target's last change: kept beside its latest state.
      this.st.latest.run(tid, this.layouts.midOf('route'), ROUTE_CHANGE_SUB, at, '[]', null, at);
      firstSeen = at;
    }
    const reached = f.reached === undefined ? null : f.reached ? 1 : 0;
    // The confirmed route's path (ECMP sets, never a TTL silent by loss); the trace's own before it existed.
    const path = f.route_path ?? f.path ?? null;
    this.st.route.run(tid, hash, firstSeen, ts, f.hop_count ?? null, reached, path, JSON.stringify(hopList));
    const n = this.st.routeCount.get(tid) as number;
    if (n > MAX_ROUTES_PER_TARGET) this.st.trimRoutes.run(tid, tid, n - MAX_ROUTES_PER_TARGET);
  }
}

const runKey = (target: string, ts: number, adhoc: boolean) => `${target}\u0000${ts}\u0000${adhoc ? 1 : 0}`;

/** Hop points by the run they belong to (target, time, ad-hoc or not). */
function groupHops(samples: readonly AnySample[]): Map<string, AnySample[]> {
  const out = new Map<string, AnySample[]>();
  for (const s of samples) {
    if (s.measurement !== 'hop') continue;
    const k = runKey(s.tags.target ?? '', Math.round(s.timeMs), s.tags.mode === 'adhoc');
    const list = out.get(k);
    if (list) list.push(s);
    else out.set(k, [s]);
  }
  return out;
}
