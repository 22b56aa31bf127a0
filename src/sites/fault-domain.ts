/**
 * Where a problem sits, from what every vantage point (source) sees of one
 * target: its state and its current route hop by hop. A pure function of
 * its input, so the rule can be tested on recorded states and hop lists.
 *
 * The rule (docs/schema.md, "Fault domain", says it for operators):
 *   - no source has data, or only one source does:  `undetermined`;
 *   - every source with data is ok:                   `none`;
 *   - no source with data is ok (two or more):        `target` — the target
 *     itself, or the hops every path shares before it (named);
 *   - some sources ok, others degraded or failing:    `path` — for each of
 *     those sources, the hops of its path no healthy source uses, where it
 *     joins them, and the hop where its loss and its added latency begin.
 *
 * Loss begins at the first responding hop from which every later hop loses
 * too (mtr's reading: loss at a middle hop that later hops do not show is a
 * router rate-limiting its own answers, not loss on the path). Latency begins
 * at the largest persistent step: the floor of a hop (the lowest RTT from it
 * onwards) minus the floor of the hop before, so a router slow to answer for
 * itself does not count, only latency every later hop carries.
 *
 * What it cannot tell: traceroute sees the forward path only. Loss or
 * latency on a return path that differs from the forward one shows at the
 * hop where the return paths part, which may be a hop the forward paths
 * share; a verdict pointing at a shared hop says so.
 */

// The verdict's shapes are the API's (the pages read them as they are built here).
import type { FaultDomain, HopRef, Onset, PathFault, SourceState, Verdict } from '../web/api-types.js';

export type { FaultDomain, HopRef, Onset, PathFault, SourceState, Verdict };

export interface HopFigures {
  ttl: number;
  /** `*` for a hop that did not answer. */
  ip: string;
  loss_pct: number | null;
  rtt_avg_ms: number | null;
}

export interface SourceEvidence {
  source: string;
  state: SourceState;
  /** Why the source sees the target so (a failure reason or the threshold crossed). */
  why?: string | null;
  /** The current route hop by hop in TTL order; null when no route is measured from this source. */
  hops: HopFigures[] | null;
  /** The target's own address (the last hop when the route reached it). */
  destination?: string | null;
}

export interface VerdictOptions {
  /** Loss at a hop from which it counts as beginning (default 5 %). */
  lossPct?: number;
  /** Smallest persistent RTT step named as where latency begins (default 5 ms). */
  latencyStepMs?: number;
}

const DEFAULTS = { lossPct: 5, latencyStepMs: 5 };

const fmtHop = (h: HopRef) => `hop ${h.ttl} (${h.ip === '*' ? 'no answer' : h.ip})`;
const list = (xs: string[]) => xs.join(', ');
const round = (x: number) => (x >= 10 ? Math.round(x) : Math.round(x * 10) / 10);

export function faultDomain(evidence: readonly SourceEvidence[], o: VerdictOptions = {}): Verdict {
  const opt = { ...DEFAULTS, ...o };
  const known = evidence.filter((e) => e.state !== 'unknown');
  const healthy = known.filter((e) => e.state === 'ok');
  const affected = known.filter((e) => e.state !== 'ok');
  const base = {
    healthy: healthy.map((e) => e.source),
    affected: affected.map((e) => e.source),
    no_data: evidence.filter((e) => e.state === 'unknown').map((e) => e.source),
  };
  if (known.length === 0) return { domain: 'undetermined', summary: 'No source has data for this target yet.', ...base };
  if (affected.length === 0) return { domain: 'none', summary: `Ok from every source with data (${list(base.healthy)}).`, ...base };
  if (known.length === 1) {
    return { domain: 'undetermined', summary: `Only ${known[0]!.source} has data: one vantage point cannot tell its path from the target.`, ...base };
  }
  if (healthy.length === 0) {
    const common = commonHops(affected);
    const where = common.length
      ? `the target, or the hops every path shares before it: ${common.map((h) => (h.ip === '*' ? '*' : h.ip)).join(', ')}`
      : 'the target (the paths share no hop before it)';
    return { domain: 'target', summary: `Not ok from any source (${list(base.affected)}): ${where}.`, ...base, common_hops: common };
  }
  const healthyIps = new Set<string>();
  for (const e of healthy) for (const h of e.hops ?? []) if (h.ip !== '*') healthyIps.add(h.ip);
  const paths = affected.map((e) => pathFault(e, healthyIps, opt));
  return {
    domain: 'path',
    summary: `The path from ${list(base.affected)} (ok from ${list(base.healthy)}). ${paths.map((p) => p.summary).join(' ')}`,
    ...base,
    paths,
  };
}

/** Responding hops present on every path (the target's own address left out), in the first path's order. */
function commonHops(sources: readonly SourceEvidence[]): HopRef[] {
  const withHops = sources.filter((s) => s.hops && s.hops.length);
  if (withHops.length < 2) return [];
  const destinations = new Set(sources.map((s) => s.destination).filter((d): d is string => !!d));
  const sets = withHops.map((s) => new Set(s.hops!.filter((h) => h.ip !== '*').map((h) => h.ip)));
  return withHops[0]!.hops!.filter((h) => h.ip !== '*' && !destinations.has(h.ip) && sets.every((set) => set.has(h.ip))).map((h) => ({ ttl: h.ttl, ip: h.ip }));
}

function pathFault(e: SourceEvidence, healthyIps: ReadonlySet<string>, opt: typeof DEFAULTS): PathFault {
  const hops = [...(e.hops ?? [])].sort((a, b) => a.ttl - b.ttl);
  const head = `${e.source} (${e.state}${e.why ? `: ${e.why}` : ''}):`;
  if (!hops.length) {
    return { source: e.source, state: e.state, why: e.why ?? null, own_hops: [], joins_at: null, loss_begins: null, latency_begins: null, summary: `${head} no route measured from it, so no hop can be named.` };
  }
  const isTarget = (ip: string) => ip === e.destination;
  const own = hops.filter((h) => h.ip !== '*' && !isTarget(h.ip) && !healthyIps.has(h.ip));
  const lastOwnTtl = own.length ? own[own.length - 1]!.ttl : 0;
  const join = hops.find((h) => h.ttl > lastOwnTtl && h.ip !== '*' && healthyIps.has(h.ip));
  const ownSet = new Set(own.map((h) => h.ip));
  // A silent hop has no address to compare: it is on the path's own part when it comes before the join.
  const mark = (x: Onset | null): Onset | null => x && { ...x, own: x.ip === '*' ? !join || x.ttl < join.ttl : ownSet.has(x.ip) };
  const loss = mark(lossOnset(hops, opt.lossPct));
  const latency = mark(latencyOnset(hops, opt.latencyStepMs));
  const parts: string[] = [];
  const onsetText = (x: Onset) => {
    const what = x.kind === 'loss' ? `loss begins at ${fmtHop(x)}, ${round(x.value)} %` : `latency begins at ${fmtHop(x)}, +${round(x.value)} ms`;
    return x.own ? `${what}, on the part of its path no healthy source uses` : `${what}, a hop healthy paths share (the link into it, or a return path that differs)`;
  };
  // The kind that made the state first: a latency threshold names latency first.
  const latencyFirst = /rtt|latency/i.test(e.why ?? '');
  for (const x of latencyFirst ? [latency, loss] : [loss, latency]) if (x) parts.push(onsetText(x));
  if (!parts.length) parts.push(e.state === 'failing' && hops.every((h) => h.ip === '*') ? 'no hop answers' : 'no hop shows where its loss or latency begins');
  const segment = own.length
    ? `its own hops ${own.map((h) => h.ttl).join(', ')}${join ? `, joining the healthy paths at ${fmtHop(join)}` : ''}`
    : 'every hop it has is on a healthy path too (a problem on the return path, or at the source)';
  return {
    source: e.source,
    state: e.state,
    why: e.why ?? null,
    own_hops: own.map((h) => ({ ttl: h.ttl, ip: h.ip })),
    joins_at: join ? { ttl: join.ttl, ip: join.ip } : null,
    loss_begins: loss,
    latency_begins: latency,
    summary: `${head} ${parts.join('; ')} (${segment}).`,
  };
}

/**
 * The first responding hop with at least `minPct` loss from which every
 * later responding hop keeps losing (at least half of it): loss that later
 * hops do not show is a router rate-limiting its own answers. When the path
 * stops answering altogether, the first silent hop of that tail, at 100 %.
 * (`own` is left false: the caller knows which hops are the path's own.)
 */
export function lossOnset(hops: readonly HopFigures[], minPct: number): Onset | null {
  const lossOf = (h: HopFigures) => (h.ip === '*' ? 100 : (h.loss_pct ?? 0));
  let onset: HopFigures | undefined;
  for (let i = hops.length - 1; i >= 0; i--) {
    const h = hops[i]!;
    const l = lossOf(h);
    if (h.ip === '*') {
      // Silence in the middle says nothing; a silent tail is the path dying here.
      if (!onset || onset.ip === '*') onset = h;
      continue;
    }
    if (l >= minPct) onset = h;
    else if (l < minPct / 2) break;
  }
  if (!onset) return null;
  return { kind: 'loss', ttl: onset.ttl, ip: onset.ip, value: lossOf(onset), own: false };
}

/**
 * The largest persistent RTT step: a hop's floor is the lowest average RTT
 * from it to the end of the path; the step of a hop is its floor minus the
 * floor of the responding hop before it (0 before the first). Null when no
 * step reaches `minMs`.
 */
export function latencyOnset(hops: readonly HopFigures[], minMs: number): Onset | null {
  const timed = hops.filter((h): h is HopFigures & { rtt_avg_ms: number } => h.ip !== '*' && typeof h.rtt_avg_ms === 'number' && Number.isFinite(h.rtt_avg_ms));
  const floors: number[] = new Array(timed.length);
  let min = Number.POSITIVE_INFINITY;
  for (let i = timed.length - 1; i >= 0; i--) floors[i] = min = Math.min(min, timed[i]!.rtt_avg_ms);
  let best: { i: number; step: number } | undefined;
  for (let i = 0; i < timed.length; i++) {
    const step = floors[i]! - (i ? floors[i - 1]! : 0);
    if (step >= minMs && (!best || step > best.step)) best = { i, step };
  }
  if (!best) return null;
  const h = timed[best.i]!;
  return { kind: 'latency', ttl: h.ttl, ip: h.ip, value: Math.round(best.step * 1000) / 1000, own: false };
}
