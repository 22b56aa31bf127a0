import { shortSha } from '../../util/hash.js';

/**
 * Route-change detection that tells a changed path from a lossy one.
 *
 *   trace ──compare with the confirmed route──▶ compatible ─▶ refine it (fill silent TTLs, lower the destination's TTL)
 *                                          ├──▶ new addresses beside the old ones ─▶ hint (ECMP or a change mid-trace)
 *                                          └──▶ conclusively different ─▶ candidate ── CONFIRM traces agree ──▶ change
 *
 * Evidence, and what is not evidence:
 *   - a silent TTL or a missing answer is a wildcard: it never makes a
 *     change (loss, ICMP rate limits and silent routers look alike);
 *   - the destination's TTL is the lowest TTL at which it answered, in this
 *     trace or in the confirmed route: when its echoes at TTL d are lost,
 *     mtr hears it at d+1, d+2 ... and those answers never add hops;
 *   - a difference is a responding address (set) at one TTL sharing nothing
 *     with the other route's, a router answering at or past the TTL where
 *     the other route has the destination, or the destination answering
 *     where the other route has a router. Every one of them needs an answer
 *     on both sides, so loss alone can never produce one;
 *   - a change is confirmed when `confirm` consecutive traces differ from
 *     the confirmed route and agree with each other; a trace that agrees
 *     with both (its deciding TTLs were silent) neither counts nor resets;
 *     its time is the first trace that saw the new route;
 *   - ECMP: addresses that alternate at one TTL (old and new seen together
 *     in one trace, or the old one back after the new one) are one hop with
 *     an address set, learned into the confirmed route without a change.
 *     An address not heard at its TTL for ECMP_FORGET_TRACES answered traces
 *     is forgotten, so a later move to it is a change again.
 *
 * Pure functions over plain JSON state: route-memory.ts keeps the state per
 * target on disk.
 */

/** A route: the address set answering at each TTL, and where the destination is. */
export interface RouteModel {
  /** Index = TTL - 1. An empty set = no answer (a wildcard). */
  hops: string[][];
  /** TTL of the destination (its set is `[destination]`), null when it never answered. */
  destTtl: number | null;
}

/** The route believed in use, with when each address was last heard (trace number). */
export interface ConfirmedRoute extends RouteModel {
  id: string;
  /** `ttl ip` -> number of the last trace that heard it there. */
  seen: Record<string, number>;
}

/** A route seen by recent traces, not confirmed yet. */
export interface CandidateRoute extends RouteModel {
  /** Slot time of the first trace that saw it (ms). */
  firstMs: number;
  /** Slot time of the last trace read against it (ms). */
  lastMs: number;
  /** Traces that conclusively differed from the confirmed route and agreed with this one. 0 = a hint only. */
  count: number;
}

export interface RouteState {
  v: 2;
  /** Traces read so far (the clock of ECMP forgetting). */
  n: number;
  confirmed: ConfirmedRoute;
  pending: CandidateRoute | null;
  /** Earlier confirmed routes, newest first: a route coming back keeps its id. */
  known: (RouteModel & { id: string })[];
}

export interface TrackOptions {
  /** Slot time of this trace (ms). */
  timeMs: number;
  /** Consecutive agreeing traces that confirm a change (ROUTE_CHANGE_CONFIRM). */
  confirm: number;
  /** A candidate not read against for longer than this is dropped: traces in between were missed. */
  staleMs: number;
}

export interface Verdict {
  /** Id (route_hash) of the confirmed route after this trace. */
  id: string;
  /** This trace confirmed a change. */
  changed: boolean;
  /** On a change: what changed, `2:a>b;4:+c` (see diffRoutes). */
  diff?: string;
  /** On a change: slot time of the first trace that saw the new route. */
  firstSeenMs?: number;
  /** This trace saw something the confirmed route does not explain yet (a candidate or a hint). */
  pending: boolean;
  /** The route this trace is read against: its destination TTL shapes the trace's hops. */
  ref: RouteModel;
  /** Addresses learned as ECMP siblings on this trace (`ttl:ip`), for the log. */
  learned: string[];
}

/** ROUTE_CHANGE_CONFIRM's default: one trace to see a new route, one more to confirm it. */
export const DEFAULT_ROUTE_CHANGE_CONFIRM = 2;
/** Traces (in which the TTL answered) after which an ECMP address not heard again is forgotten. */
export const ECMP_FORGET_TRACES = 50;
/** Most addresses kept per TTL; the least recently heard go first. */
export const MAX_ADDRESSES_PER_TTL = 16;
/** Earlier routes remembered for their ids. */
export const MAX_KNOWN_ROUTES = 8;

/** How far a route's TTLs count: to the destination, else to its last answering TTL. */
export function routeLength(m: RouteModel): number {
  if (m.destTtl !== null) return m.destTtl;
  let n = m.hops.length;
  while (n > 0 && m.hops[n - 1]!.length === 0) n--;
  return n;
}

/** The route one trace saw: every TTL it reported, the destination's TTL the lowest it answered at. */
export function observedModel(hops: readonly { ttl: number; ips: readonly string[] }[], destination: string): RouteModel {
  const out: string[][] = [];
  for (const h of hops) out[h.ttl - 1] = [...h.ips];
  for (let i = 0; i < out.length; i++) out[i] ??= [];
  const i = out.findIndex((s) => s.includes(destination));
  return { hops: out, destTtl: i >= 0 ? i + 1 : null };
}

export interface Comparison {
  /** TTLs where the two routes conclusively differ. */
  differs: number[];
  /** TTLs where `a` heard addresses `b` lacks, beside ones `b` has. */
  mixed: number[];
}

/** Where route `a` (usually one trace) conflicts with route `b`; silence is never a conflict. */
export function compare(a: RouteModel, b: RouteModel, destination: string): Comparison {
  const d = Math.min(a.destTtl ?? Infinity, b.destTtl ?? Infinity);
  const lenA = a.destTtl ?? a.hops.length;
  const lenB = b.destTtl ?? b.hops.length;
  const out: Comparison = { differs: [], mixed: [] };
  for (let t = 1; t <= Math.max(lenA, lenB); t++) {
    const A = t <= lenA ? (a.hops[t - 1] ?? []) : [];
    const B = t <= lenB ? (b.hops[t - 1] ?? []) : [];
    if (t > d) {
      // Past the destination's TTL: the destination again is its own loss
      // showing late; any other address is a hop the other route lacks.
      if (A.some((ip) => ip !== destination) || B.some((ip) => ip !== destination)) out.differs.push(t);
      continue;
    }
    if (A.length === 0 || B.length === 0) continue;
    const inB = new Set(B);
    const shared = A.filter((ip) => inB.has(ip)).length;
    if (shared === 0) out.differs.push(t);
    else if (shared < A.length) out.mixed.push(t);
  }
  return out;
}

/**
 * `b` with what `a` adds when they do not conflict: the destination's TTL
 * lowered, TTLs silent in `b` filled from `a`, and (with `union`) `a`'s
 * extra addresses added to `b`'s sets.
 */
export function absorb(b: RouteModel, a: RouteModel, destination: string, union: boolean): RouteModel {
  const d = Math.min(a.destTtl ?? Infinity, b.destTtl ?? Infinity);
  const len = Number.isFinite(d) ? d : Math.max(routeLength(a), routeLength(b));
  const hops: string[][] = [];
  for (let t = 1; t <= len; t++) {
    if (t === d) {
      hops.push([destination]);
      continue;
    }
    const B = b.hops[t - 1] ?? [];
    const A = (a.hops[t - 1] ?? []).filter((ip) => ip !== destination);
    hops.push(B.length === 0 ? [...A] : union ? [...B, ...A.filter((ip) => !B.includes(ip))] : [...B]);
  }
  return { hops, destTtl: Number.isFinite(d) ? d : null };
}

/** 16 hex chars of SHA-256 over `ttl:sorted addresses` of every TTL (`*` when silent), as route hashes always were. */
export function routeId(m: RouteModel): string {
  const len = routeLength(m);
  return shortSha(
    m.hops
      .slice(0, len)
      .map((s, i) => `${i + 1}:${s.length ? [...s].sort().join('|') : '*'}`)
      .join(';'),
  );
}

/** `a>b|c>*>d`: the route's TTLs in order, ECMP sets as `b|c`, `*` where no answer was ever heard. */
export function routePath(m: RouteModel): string {
  return m.hops
    .slice(0, routeLength(m))
    .map((s) => (s.length ? s.join('|') : '*'))
    .join('>');
}

/**
 * What changed from `from` to `to`, TTL by TTL, `;`-separated:
 * `2:10.77.2.2>10.77.5.2` a different hop at TTL 2, `4:+10.77.9.1` a TTL
 * the old route did not reach, `4:-10.77.4.2` one the new route does not.
 * ECMP sets are `a|b`; TTLs silent on either side are left out.
 */
export function diffRoutes(from: RouteModel, to: RouteModel): string {
  const lf = routeLength(from);
  const lt = routeLength(to);
  const set = (s: readonly string[]) => (s.length ? s.join('|') : '*');
  const parts: string[] = [];
  for (let t = 1; t <= Math.max(lf, lt); t++) {
    const A = from.hops[t - 1] ?? [];
    const B = to.hops[t - 1] ?? [];
    if (t > lf) parts.push(`${t}:+${set(B)}`);
    else if (t > lt) parts.push(`${t}:-${set(A)}`);
    else if (A.length && B.length && !A.some((ip) => B.includes(ip))) parts.push(`${t}:${set(A)}>${set(B)}`);
  }
  return parts.join(';');
}

const trimmed = (m: RouteModel): RouteModel => {
  const len = routeLength(m);
  return { hops: m.hops.slice(0, len).map((s) => [...s]), destTtl: m.destTtl };
};

/** Mark every address of `m` as heard on trace `n`, forget ECMP siblings silent too long, bound each set. */
function hear(c: RouteModel, seen: Record<string, number>, heard: RouteModel, n: number): Record<string, number> {
  const next: Record<string, number> = {};
  const len = routeLength(c);
  for (let t = 1; t <= len; t++) {
    const heardHere = new Set(heard.hops[t - 1] ?? []);
    let set = c.hops[t - 1]!;
    for (const ip of set) next[`${t} ${ip}`] = heardHere.has(ip) ? n : (seen[`${t} ${ip}`] ?? n);
    if (heardHere.size && set.length > 1) {
      // Only a TTL that answered can age its other addresses out.
      set = set.filter((ip) => n - next[`${t} ${ip}`]! <= ECMP_FORGET_TRACES);
      if (set.length > MAX_ADDRESSES_PER_TTL) set = [...set].sort((x, y) => next[`${t} ${y}`]! - next[`${t} ${x}`]!).slice(0, MAX_ADDRESSES_PER_TTL);
      c.hops[t - 1] = set;
    }
  }
  for (const k of Object.keys(next)) {
    const [t, ip] = k.split(' ') as [string, string];
    if (!c.hops[Number(t) - 1]?.includes(ip)) delete next[k];
  }
  return next;
}

/** The first route of a target: what its first trace saw. */
function initialState(obs: RouteModel): RouteState {
  const c = trimmed(obs);
  const confirmed: ConfirmedRoute = { ...c, id: routeId(c), seen: {} };
  confirmed.seen = hear(confirmed, {}, c, 1);
  return { v: 2, n: 1, confirmed, pending: null, known: [] };
}

/** Read one trace against the state: the next state and what to report. */
export function track(prev: RouteState | undefined, obs: RouteModel, destination: string, o: TrackOptions): { state: RouteState; verdict: Verdict } {
  if (!prev) {
    const state = initialState(obs);
    return { state, verdict: { id: state.confirmed.id, changed: false, pending: false, ref: state.confirmed, learned: [] } };
  }
  const n = prev.n + 1;
  const c: ConfirmedRoute = { ...prev.confirmed, hops: prev.confirmed.hops.map((s) => [...s]) };
  let pending = prev.pending && o.timeMs - prev.pending.lastMs <= o.staleMs ? prev.pending : null;
  const learned: string[] = [];
  const vsC = compare(obs, c, destination);
  const done = (state: Omit<RouteState, 'v' | 'n' | 'known'> & { known?: RouteState['known'] }, v: Omit<Verdict, 'learned'>) => ({
    state: { v: 2 as const, n, known: prev.known, ...state },
    verdict: { ...v, learned },
  });

  // ECMP: at these TTLs the confirmed addresses and `extra` were both heard; one hop with a set.
  const learn = (ttls: readonly number[], extra: RouteModel) => {
    for (const t of ttls) {
      const set = c.hops[t - 1];
      if (!set || t === c.destTtl) continue;
      for (const ip of extra.hops[t - 1] ?? []) {
        if (ip === destination || set.includes(ip)) continue;
        set.push(ip);
        learned.push(`${t}:${ip}`);
      }
    }
  };

  if (vsC.differs.length > 0) {
    // Conclusively not the confirmed route: a candidate, or more evidence for the open one.
    // (`differs` is symmetric.) A hint's own route still holds the old addresses:
    // the first conclusive trace after it starts the candidate, from the hint's time.
    const agrees = pending !== null && compare(obs, pending, destination).differs.length === 0;
    const base = agrees && pending!.count > 0 ? absorb(pending!, obs, destination, true) : trimmed(obs);
    pending = { ...base, firstMs: agrees ? pending!.firstMs : o.timeMs, lastMs: o.timeMs, count: agrees ? pending!.count + 1 : 1 };
    if (pending.count < o.confirm) {
      return done({ confirmed: prev.confirmed, pending }, { id: c.id, changed: false, pending: true, ref: pending });
    }
    const route = trimmed(pending);
    const back = prev.known.find((k) => k.destTtl === route.destTtl && compare(route, k, destination).differs.length === 0 && compare(k, route, destination).differs.length === 0);
    const id = back?.id ?? routeId(route);
    const confirmed: ConfirmedRoute = { ...route, id, seen: {} };
    confirmed.seen = hear(confirmed, {}, route, n);
    const old = { hops: prev.confirmed.hops, destTtl: prev.confirmed.destTtl, id: prev.confirmed.id };
    const known = [old, ...prev.known.filter((k) => k.id !== id && k.id !== old.id)].slice(0, MAX_KNOWN_ROUTES);
    return done(
      { confirmed, pending: null, known },
      { id, changed: true, diff: diffRoutes(prev.confirmed, route), firstSeenMs: pending.firstMs, pending: false, ref: confirmed },
    );
  }

  if (vsC.mixed.length > 0) {
    // New addresses beside the confirmed ones. Seen before (a hint, or a candidate
    // the old addresses now answer beside): both are in use, ECMP. Else a hint:
    // the next traces tell ECMP from a change that happened during this trace.
    const seenBefore = pending !== null && vsC.mixed.some((t) => (obs.hops[t - 1] ?? []).some((ip) => !c.hops[t - 1]!.includes(ip) && pending!.hops[t - 1]?.includes(ip)));
    if (seenBefore) {
      learn(vsC.mixed, obs);
      pending = null;
    } else {
      pending = { ...trimmed(obs), firstMs: o.timeMs, lastMs: o.timeMs, count: 0 };
      return done({ confirmed: prev.confirmed, pending }, { id: c.id, changed: false, pending: true, ref: c });
    }
  } else if (pending) {
    if (compare(obs, pending, destination).differs.length === 0) {
      // Silent where it matters: agrees with both. Keeps the candidate open, adds nothing.
      pending = { ...pending, lastMs: o.timeMs };
    } else {
      // The confirmed route answered where the candidate differed: the old
      // addresses are back, so where the two alternated it is ECMP.
      const pc = compare(pending, c, destination);
      const d = Math.min(pending.destTtl ?? Infinity, c.destTtl ?? Infinity);
      const alternated = [...pc.differs, ...pc.mixed].filter((t) => t < d && (obs.hops[t - 1] ?? []).some((ip) => c.hops[t - 1]!.includes(ip)));
      learn(alternated, pending);
      pending = null;
    }
  }

  // Compatible: the trace refines the confirmed route (never changes its id).
  const refined: ConfirmedRoute = { ...absorb(c, obs, destination, false), id: c.id, seen: {} };
  refined.seen = hear(refined, c.seen, obs, n);
  return done({ confirmed: refined, pending }, { id: c.id, changed: false, pending: false, ref: refined });
}
