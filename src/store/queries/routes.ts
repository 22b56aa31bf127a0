import type { Db } from '../../sqlite/sqlite-db.js';
import type { FieldValue } from '../../samples/sample.js';
import type { RouteHop, RouteSummary, RoutesQuery, RoutesResult } from '../types.js';
import { iso, type Lookups } from './lookups.js';

/** Most earlier routes listed (the store keeps at most MAX_ROUTES_PER_TARGET anyway). */
const EARLIER_MAX = 100;

interface RouteRow {
  hash: string;
  first_seen: number;
  last_seen: number;
  hop_count: number | null;
  reached: number | null;
  path: string | null;
  hops: string;
}

/** routes(): the current route hop by hop, the earlier ones with when each was seen, and the changes. */
export class RoutesRunner {
  private readonly st;
  private readonly geoMid: number;

  constructor(
    db: Db,
    private readonly lookups: Lookups,
    private readonly now: () => number,
    private readonly retentionMs: number,
  ) {
    const geoMid = (this.geoMid = lookups.layouts.midOf('geo'));
    this.st = {
      newest: db.prepare('SELECT * FROM routes WHERE tid = ? AND first_seen <= ? ORDER BY last_seen DESC LIMIT 1'),
      byHash: db.prepare('SELECT * FROM routes WHERE tid = ? AND hash = ?'),
      changeBefore: db.prepare('SELECT to_hash FROM route_changes WHERE tid = ? AND ts <= ? ORDER BY ts DESC LIMIT 1').pluck(),
      changeAfter: db.prepare('SELECT from_hash FROM route_changes WHERE tid = ? AND ts > ? ORDER BY ts LIMIT 1').pluck(),
      earlier: db.prepare('SELECT hash, first_seen, last_seen, hop_count, reached, path FROM routes WHERE tid = ? AND last_seen >= ? AND first_seen <= ? AND hash <> ? ORDER BY last_seen DESC LIMIT ?'),
      changes: db.prepare('SELECT ts, from_hash, to_hash, diff FROM route_changes WHERE tid = ? AND ts >= ? AND ts <= ? ORDER BY ts'),
      geo: db.prepare(`SELECT f FROM latest WHERE tid = ? AND mid = ${geoMid} AND sub = ''`).pluck(),
    };
  }

  run(q: RoutesQuery): RoutesResult {
    const to = q.toMs ?? this.now();
    const from = q.fromMs ?? to - this.retentionMs;
    const out: RoutesResult = { current: null, earlier: [], changes: [], source: null, destination: null };
    const tid = this.lookups.tid(q.target);
    if (tid === undefined) return out;
    const cur = this.currentAt(tid, to);
    if (cur) out.current = { ...summary(cur), hops: (JSON.parse(cur.hops) as Record<string, FieldValue>[]).map(hop) };
    out.earlier = (this.st.earlier.all(tid, from, to, cur?.hash ?? '', EARLIER_MAX) as RouteRow[]).map(summary);
    out.changes = (this.st.changes.all(tid, from, to) as { ts: number; from_hash: string | null; to_hash: string; diff: string | null }[]).map((c) => ({
      time: iso(c.ts),
      from_hash: c.from_hash,
      to_hash: c.to_hash,
      diff: c.diff,
    }));
    const geoF = this.st.geo.get(tid) as string | undefined;
    if (geoF) {
      const g = this.lookups.layouts.decode(this.geoMid, geoF);
      if (typeof g.src_lat === 'number' && typeof g.src_lon === 'number') out.source = { lat: g.src_lat, lon: g.src_lon };
      out.destination = { ip: str(g.dst_ip), lat: num(g.dst_lat), lon: num(g.dst_lon) };
    }
    return out;
  }

  /**
   * The route in use at `to`. Seen at or after `to`, the newest route is
   * it. Earlier, only the change events tell which route was in use (first
   * and last seen do not: a route can come back): the one the last change
   * before `to` led to, or the one the next change left.
   */
  private currentAt(tid: number, to: number): RouteRow | undefined {
    const newest = this.st.newest.get(tid, to) as RouteRow | undefined;
    if (!newest || newest.last_seen <= to) return newest;
    const hash = (this.st.changeBefore.get(tid, to) as string | undefined) ?? (this.st.changeAfter.get(tid, to) as string | null | undefined);
    return (hash ? (this.st.byHash.get(tid, hash) as RouteRow | undefined) : undefined) ?? newest;
  }
}

function summary(r: RouteRow): RouteSummary {
  return {
    hash: r.hash,
    first_seen: iso(r.first_seen),
    last_seen: iso(r.last_seen),
    hop_count: r.hop_count,
    reached: r.reached === null ? null : r.reached === 1,
    path: r.path,
  };
}

const num = (v: FieldValue | undefined): number | null => (typeof v === 'number' ? v : null);
const str = (v: FieldValue | undefined): string | null => (typeof v === 'string' ? v : null);

function hop(h: Record<string, FieldValue>): RouteHop {
  return {
    ttl: Number(h.ttl),
    ip: str(h.ip) ?? '*',
    hostname: str(h.hostname),
    ecmp_ips: str(h.ecmp_ips),
    loss_pct: num(h.loss_pct),
    rtt_avg_ms: num(h.rtt_avg_ms),
    rtt_best_ms: num(h.rtt_best_ms),
    rtt_worst_ms: num(h.rtt_worst_ms),
    lat: num(h.lat),
    lon: num(h.lon),
    country: str(h.country),
    city: str(h.city),
    asn: num(h.asn),
    as_org: str(h.as_org),
  };
}
