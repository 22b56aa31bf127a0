import { shortSha } from '../../util/hash.js';
import type { RawHop, RawTrace } from './mtr-raw.js';

export interface HopSummary {
  ttl: number;
  /** First responding address, or `*` for a silent hop. */
  ip: string;
  /** Other addresses seen at this TTL (ECMP), in order of appearance. */
  others: string[];
  sent: number;
  lossPct: number;
  rttAvgMs?: number;
  rttBestMs?: number;
  rttWorstMs?: number;
  rttStddevMs?: number;
}

export interface RouteSummary {
  hops: HopSummary[];
  /** TTL at which the destination answered, or the last TTL tried. */
  hopCount: number;
  reached: boolean;
  respondingHops: number;
  /** `ip>ip>*>ip`, ECMP sets as `a|b`. */
  path: string;
  routeHash: string;
}

const r3 = (n: number) => Math.round(n * 1000) / 1000;

/** Cut the trace at the destination (mtr keeps probing one TTL past it) and summarize each hop. */
export function summarizeRoute(trace: RawTrace, destination: string): RouteSummary {
  const destIdx = trace.hops.findIndex((h) => h.ips.includes(destination));
  const reached = destIdx >= 0;
  const kept = reached ? trace.hops.slice(0, destIdx + 1) : trace.hops;
  const lastTtl = kept.length ? kept[kept.length - 1]!.ttl : 0;
  // Fill TTLs mtr never reported (no line at all) as silent hops.
  const byTtl = new Map(kept.map((h) => [h.ttl, h]));
  const hops: HopSummary[] = [];
  for (let ttl = 1; ttl <= lastTtl; ttl++) hops.push(summarizeHop(byTtl.get(ttl) ?? { ttl, ips: [], sent: 0, rtts: [] }, reached && ttl === lastTtl ? destination : undefined));
  const path = hops.map((h) => (h.ip === '*' ? '*' : [h.ip, ...h.others].join('|'))).join('>');
  return {
    hops,
    hopCount: lastTtl,
    reached,
    respondingHops: hops.filter((h) => h.ip !== '*').length,
    path,
    routeHash: shortSha(hops.map((h) => `${h.ttl}:${h.ip === '*' ? '*' : [h.ip, ...h.others].sort().join('|')}`).join(';')),
  };
}

function summarizeHop(h: RawHop, destination?: string): HopSummary {
  // At the destination TTL, put the destination first even if another address was seen first.
  const ips = destination ? [destination, ...h.ips.filter((ip) => ip !== destination)] : h.ips;
  const sent = Math.max(h.sent, h.rtts.length);
  const out: HopSummary = {
    ttl: h.ttl,
    ip: ips[0] ?? '*',
    others: ips.slice(1),
    sent,
    lossPct: sent === 0 ? 100 : r3((100 * (sent - h.rtts.length)) / sent),
  };
  if (h.rtts.length) {
    const avg = h.rtts.reduce((a, b) => a + b, 0) / h.rtts.length;
    out.rttAvgMs = r3(avg);
    out.rttBestMs = r3(Math.min(...h.rtts));
    out.rttWorstMs = r3(Math.max(...h.rtts));
    out.rttStddevMs = r3(Math.sqrt(h.rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / h.rtts.length));
  }
  return out;
}

/**
 * Did the route change since the previous trace? Yes when the length or
 * reachability differs, or when at some TTL both traces heard answers and
 * the address sets share nothing. A hop that was silent in one trace only
 * (ICMP rate limiting) is not a change.
 */
export function routeChanged(prev: Pick<RouteSummary, 'hopCount' | 'reached' | 'hops'>, cur: RouteSummary): boolean {
  if (prev.hopCount !== cur.hopCount || prev.reached !== cur.reached) return true;
  for (let i = 0; i < cur.hops.length; i++) {
    const a = prev.hops[i];
    const b = cur.hops[i]!;
    if (!a || a.ip === '*' || b.ip === '*') continue;
    const as = new Set([a.ip, ...a.others]);
    if (![b.ip, ...b.others].some((ip) => as.has(ip))) return true;
  }
  return false;
}
