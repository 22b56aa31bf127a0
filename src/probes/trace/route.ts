import type { RawHop, RawTrace } from './mtr-raw.js';
import { observedModel, routeLength, type RouteModel } from './route-change.js';

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

/** What one trace saw, hop by hop, up to the destination's TTL. */
export interface TraceSummary {
  hops: HopSummary[];
  /** The destination's TTL; when it did not answer, the route's known length. */
  hopCount: number;
  /** The destination answered (at any TTL). */
  reached: boolean;
  respondingHops: number;
  /** `ip>ip>*>ip`, ECMP sets as `a|b`. */
  path: string;
}

const r3 = (n: number) => Math.round(n * 1000) / 1000;

/** The trace as a route model (every TTL that is the route; the destination's TTL the lowest it answered at). */
export function traceModel(trace: RawTrace, destination: string): RouteModel {
  return observedModel(routeHops(trace, destination), destination);
}

/**
 * The TTLs of a trace that are the route. When the destination never
 * answered, the last router often answers every probe sent beyond it (ICMP
 * host or network unreachable: it has no way on, e.g. nobody owns the
 * address), so mtr lists it at TTL 4, 5, ... 16. One address at two TTLs is
 * never two hops (each router takes one off the TTL): from the first TTL of
 * that trailing run on, it is one hop where the route ends, and its later
 * answers — late by an ARP timeout — are not its latency.
 */
export function routeHops(trace: RawTrace, destination: string): RawHop[] {
  const hops = [...trace.hops].sort((a, b) => a.ttl - b.ttl);
  if (hops.some((h) => h.ips.includes(destination))) return hops;
  const last = hops.filter((h) => h.ips.length > 0).at(-1);
  if (!last || last.ips.length !== 1) return hops;
  const x = last.ips[0]!;
  let end = last.ttl;
  for (let i = hops.indexOf(last); i >= 0; i--) {
    const h = hops[i]!;
    if (h.ips.length === 0) continue;
    if (!h.ips.every((ip) => ip === x)) break;
    end = h.ttl;
  }
  return hops.filter((h) => h.ttl <= end);
}

/**
 * The trace's hops, read against the route it belongs to (`ref`, from
 * route-change.ts): the destination's TTL is the lowest at which it answered
 * in this trace or in `ref`. Its hop gathers every probe sent at that TTL or
 * beyond — they all reached the destination, so silent TTLs before its late
 * answers are its own loss, not hops. Without an answer from the
 * destination, the trace runs to the last TTL that answered here or in
 * `ref`: the silent TTLs mtr tried after it are not hops either.
 */
export function summarizeTrace(whole: RawTrace, destination: string, ref?: RouteModel): TraceSummary {
  const trace = { ...whole, hops: routeHops(whole, destination) };
  const obs = traceModel(trace, destination);
  const d = Math.min(obs.destTtl ?? Infinity, ref?.destTtl ?? Infinity);
  const len = Number.isFinite(d) ? d : Math.max(routeLength(obs), ref ? routeLength(ref) : 0);
  const byTtl = new Map(trace.hops.map((h) => [h.ttl, h]));
  const empty = (ttl: number): RawHop => ({ ttl, ips: [], sent: 0, rtts: [] });
  const hops: HopSummary[] = [];
  for (let ttl = 1; ttl <= len; ttl++) {
    if (ttl < d) {
      hops.push(summarizeHop(byTtl.get(ttl) ?? empty(ttl)));
      continue;
    }
    // The destination's TTL: every probe from here on reached the destination.
    const beyond = trace.hops.filter((h) => h.ttl === ttl || (h.ttl > ttl && h.ips.every((ip) => ip === destination)));
    const others = (byTtl.get(ttl)?.ips ?? []).filter((ip) => ip !== destination);
    hops.push(
      summarizeHop({
        ttl,
        ips: beyond.some((h) => h.ips.includes(destination)) ? [destination, ...others] : others,
        sent: beyond.reduce((a, h) => a + Math.max(h.sent, h.rtts.length), 0),
        rtts: beyond.flatMap((h) => h.rtts),
      }),
    );
  }
  return {
    hops,
    hopCount: len,
    reached: obs.destTtl !== null,
    respondingHops: hops.filter((h) => h.ip !== '*').length,
    path: hops.map((h) => (h.ip === '*' ? '*' : [h.ip, ...h.others].join('|'))).join('>'),
  };
}

function summarizeHop(h: RawHop): HopSummary {
  const sent = Math.max(h.sent, h.rtts.length);
  const out: HopSummary = {
    ttl: h.ttl,
    ip: h.ips[0] ?? '*',
    others: h.ips.slice(1),
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
