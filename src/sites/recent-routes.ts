import type { AnySample } from '../samples/sample.js';
import type { HopFigures } from './fault-domain.js';

/** A target's current route as the verdict and the other sites read it. */
export interface CurrentRoute {
  /** Time of the last trace, epoch ms. */
  at: number;
  reached: boolean;
  /** Traces whose figures are summed into each hop (same address at that TTL). */
  traces: number;
  /** The last trace's hops, each with loss and RTT over the recent traces that saw the same address at its TTL. */
  hops: (HopFigures & { sent: number })[];
}

interface Trace {
  at: number;
  reached: boolean;
  hops: { ttl: number; ip: string; sent: number; lossPct: number; rttMs: number | null }[];
}

/**
 * The last few traces of every target (scheduled runs only), so per-hop loss
 * and RTT rest on more echoes than one trace sends: TRACE_CYCLES (3 by
 * default) probes per hop read 20 % loss as 0 or 33 %, and the verdict
 * compares hops. A hop's loss is lost / sent summed over the recent traces
 * that saw the same address at the same TTL; its RTT is the mean of their
 * averages weighted by the echoes answered. Bounded: `keep` traces per
 * configured target; a target that leaves the configuration is forgotten.
 */
export class RecentRoutes {
  private readonly traces = new Map<string, Trace[]>();

  constructor(private readonly keep = 5) {}

  /** One probe run's points (anything else than `route` and `hop` is ignored). */
  record(target: string, samples: readonly AnySample[], timeMs: number): void {
    let reached: boolean | undefined;
    const hops: Trace['hops'] = [];
    for (const s of samples) {
      if (s.measurement === 'route') reached = s.fields.reached === true;
      else if (s.measurement === 'hop') {
        const f = s.fields;
        const ttl = Number(s.tags.ttl);
        if (!Number.isInteger(ttl)) continue;
        hops.push({ ttl, ip: f.ip ?? '*', sent: f.sent ?? 0, lossPct: f.loss_pct ?? (f.ip && f.ip !== '*' ? 0 : 100), rttMs: f.rtt_avg_ms ?? null });
      }
    }
    if (reached === undefined) return;
    hops.sort((a, b) => a.ttl - b.ttl);
    const list = this.traces.get(target) ?? [];
    list.push({ at: timeMs, reached, hops });
    if (list.length > this.keep) list.shift();
    this.traces.set(target, list);
  }

  current(target: string): CurrentRoute | null {
    const list = this.traces.get(target);
    const last = list?.[list.length - 1];
    if (!list || !last) return null;
    const hops = last.hops.map((h) => {
      let sent = 0;
      let lost = 0;
      let answered = 0;
      let rttSum = 0;
      for (const t of list) {
        const same = t.hops.find((x) => x.ttl === h.ttl && x.ip === h.ip);
        if (!same || same.sent <= 0) continue;
        const l = Math.round((same.sent * same.lossPct) / 100);
        sent += same.sent;
        lost += l;
        if (same.rttMs !== null && same.sent > l) {
          answered += same.sent - l;
          rttSum += same.rttMs * (same.sent - l);
        }
      }
      return {
        ttl: h.ttl,
        ip: h.ip,
        sent,
        loss_pct: sent ? Math.round((1000 * 100 * lost) / sent) / 1000 : null,
        rtt_avg_ms: answered ? Math.round((1000 * rttSum) / answered) / 1000 : null,
      };
    });
    return { at: last.at, reached: last.reached, traces: list.length, hops };
  }

  /** Keep only these targets (a reload removed the others). */
  retain(targets: Iterable<string>): void {
    const keep = new Set(targets);
    for (const name of this.traces.keys()) if (!keep.has(name)) this.traces.delete(name);
  }
}
