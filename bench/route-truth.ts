/**
 * Route-change truth: route changes per 100 traces on real paths in network
 * namespaces (client -> r1 -> r2 -> r3 -> server), under loss at the
 * destination, a silent router, an unreachable destination, ECMP, and a
 * router really moved every 25 traces. Each condition has its own
 * namespaces and runs side by side with the others; every trace is the real
 * trace probe (mtr -c 3 -i 0.1 -G 0.3, or UDP where said) with its route
 * memory, ROUTE_CHANGE_CONFIRM=2.
 *
 * Beside our figures, the same mtr outputs are read by the detector this
 * daemon had before confirmation (each trace against the previous one: a
 * different hop count or reachability, or disjoint addresses at a TTL, was
 * a change) — the one that reported loss as route changes.
 *
 *   node --import tsx bench/route-truth.ts [--traces=200]   (root: builds namespaces)
 */
import { randomInt } from 'node:crypto';
import { parseMtrRaw, type RawTrace } from '../src/probes/trace/mtr-raw.js';
import { addEcmpTwin, buildChain, dropEchoRequests, silenceRouter, type Chain } from '../test/helpers/netns.js';
import { traceSeries, type TracedSlot } from '../test/helpers/trace-series.js';

export interface RouteTruthRow {
  condition: string;
  traces: number;
  /** Times the path was really moved during the run. */
  moves: number;
  /** Confirmed changes we reported. */
  changes: number;
  changesPer100: number;
  /** Traces we marked route_pending (a candidate or a hint). */
  pending: number;
  /** Changes the detector without confirmation reports on the same mtr outputs. */
  previousDetectorChanges: number;
  previousDetectorPer100: number;
  /** Reroute only: moves confirmed; traces from the first that saw the new path to the confirming one, both counted (median, and the most); changes dated by the trace during which the move happened or the first after it. */
  confirmedMoves?: number;
  confirmTracesMedian?: number;
  confirmTracesMax?: number;
  datedRight?: number;
}

const per100 = (n: number, traces: number) => Math.round((n / traces) * 10_000) / 100;

/** The detector before confirmation, kept here to compare: each trace against the previous one. */
function previousDetector(raws: string[], destination: string): number {
  interface Old {
    hopCount: number;
    reached: boolean;
    sets: string[][];
  }
  const summarize = (t: RawTrace): Old => {
    const i = t.hops.findIndex((h) => h.ips.includes(destination));
    const kept = i >= 0 ? t.hops.slice(0, i + 1) : t.hops;
    const last = kept.at(-1)?.ttl ?? 0;
    const byTtl = new Map(kept.map((h) => [h.ttl, h.ips]));
    return { hopCount: last, reached: i >= 0, sets: Array.from({ length: last }, (_, k) => byTtl.get(k + 1) ?? []) };
  };
  let prev: Old | undefined;
  let changes = 0;
  for (const raw of raws) {
    const cur = summarize(parseMtrRaw(raw));
    if (prev) {
      let changed = prev.hopCount !== cur.hopCount || prev.reached !== cur.reached;
      for (let k = 0; !changed && k < cur.sets.length; k++) {
        const a = prev.sets[k] ?? [];
        const b = cur.sets[k]!;
        if (a.length && b.length && !b.some((ip) => a.includes(ip))) changed = true;
      }
      if (changed) changes++;
    }
    prev = cur;
  }
  return changes;
}

function row(condition: string, ts: TracedSlot[], destination: string, moves = 0): RouteTruthRow {
  const changes = ts.filter((t) => t.route.route_changed === true).length;
  const old = previousDetector(
    ts.map((t) => t.raw),
    destination,
  );
  return {
    condition,
    traces: ts.length,
    moves,
    changes,
    changesPer100: per100(changes, ts.length),
    pending: ts.filter((t) => t.route.route_pending === true).length,
    previousDetectorChanges: old,
    previousDetectorPer100: per100(old, ts.length),
  };
}

export async function benchRouteTruth(o: { traces: number; log?: (m: string) => void }): Promise<RouteTruthRow[]> {
  const chains: Chain[] = [];
  const chain = () => {
    const c = buildChain();
    chains.push(c);
    return c;
  };
  try {
    const loss30 = chain();
    const loss45 = chain();
    const loss60 = chain();
    const silent = chain();
    const moved = chain();
    const unreachable = chain();
    const ecmp3 = chain();
    const ecmp5 = chain();
    dropEchoRequests(loss30, loss30.server, 30);
    dropEchoRequests(loss45, loss45.server, 45);
    dropEchoRequests(loss60, loss60.server, 60);
    silenceRouter(silent, silent.r2);
    dropEchoRequests(silent, silent.server, 45);
    dropEchoRequests(moved, moved.server, 30);
    addEcmpTwin(ecmp3);
    addEcmpTwin(ecmp5);

    // The path moves every 25 traces, at a random moment of the trace (often mid-trace), r2 <-> r4.
    const every = 25;
    const toR4 = () => (moved.ns.route(moved.r1, ['replace', `${moved.prefix}.4.0/24`, 'via', `${moved.prefix}.5.2`]), `${moved.prefix}.5.2`);
    const toR2 = () => moved.ns.route(moved.r1, ['replace', `${moved.prefix}.4.0/24`, 'via', `${moved.prefix}.2.2`]);
    let r4Added = false;
    const moveAt: number[] = [];
    const during = (i: number) => {
      if (i === 0 || i % every !== 0) return undefined;
      return {
        atMs: randomInt(0, 700),
        run: () => {
          moveAt.push(i);
          if (!r4Added) {
            r4Added = true;
            moved.rerouteViaR4();
          } else if ((i / every) % 2 === 1) toR4();
          else toR2();
        },
      };
    };

    const n = o.traces;
    o.log?.(`route truth: 8 conditions x ${n} traces side by side`);
    const [a30, a45, a60, s, m, u, e3, e5] = await Promise.all([
      traceSeries(loss30.client, loss30.serverIp, n),
      traceSeries(loss45.client, loss45.serverIp, n),
      traceSeries(loss60.client, loss60.serverIp, n),
      traceSeries(silent.client, silent.serverIp, n),
      traceSeries(moved.client, moved.serverIp, n, { during }),
      traceSeries(unreachable.client, unreachable.unownedIp, n),
      traceSeries(ecmp3.client, ecmp3.serverIp, n, { protocol: 'udp', cycles: 3 }),
      traceSeries(ecmp5.client, ecmp5.serverIp, n, { protocol: 'udp', cycles: 5 }),
    ]);

    const reroute = row('router moved every 25 traces (r2 <-> r4, at a random moment of a trace), 30 % echo loss at the destination', m, moved.serverIp, moveAt.length);
    // Each move: the first confirmed change at or after the trace it happened in.
    const changesAt = m.flatMap((t, i) => (t.route.route_changed === true ? [i] : []));
    const latencies: number[] = [];
    let datedRight = 0;
    for (const at of moveAt) {
      const c = changesAt.find((i) => i >= at && i < at + every);
      if (c === undefined) continue;
      const first = m[c]!.route.route_first_seen_ms;
      const firstIdx = m.findIndex((t) => t.timeMs === first);
      // Traces from the first that saw the new path to the one that confirmed it, both counted.
      latencies.push(c - firstIdx + 1);
      if (firstIdx === at || firstIdx === at + 1) datedRight++;
    }
    latencies.sort((x, y) => x - y);
    Object.assign(reroute, { confirmedMoves: latencies.length, confirmTracesMedian: latencies[Math.floor(latencies.length / 2)], confirmTracesMax: latencies.at(-1), datedRight });

    return [
      row('path unchanged, 30 % of echo requests dropped at the destination', a30, loss30.serverIp),
      row('path unchanged, 45 % dropped at the destination', a45, loss45.serverIp),
      row('path unchanged, 60 % dropped at the destination', a60, loss60.serverIp),
      row('silent router (r2 drops its time-exceeded) + 45 % dropped at the destination', s, silent.serverIp),
      reroute,
      row('unreachable destination (an address nobody owns)', u, unreachable.unownedIp),
      row('two equal-cost next hops at TTL 2, UDP trace, 3 cycles', e3, ecmp3.serverIp),
      row('two equal-cost next hops at TTL 2, UDP trace, 5 cycles', e5, ecmp5.serverIp),
    ];
  } finally {
    for (const c of chains) c.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const traces = Number(process.argv.find((a) => a.startsWith('--traces='))?.slice(9) ?? 200);
  benchRouteTruth({ traces, log: (msg) => console.error(msg) })
    .then((rows) => console.log(JSON.stringify(rows, null, 2)))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
