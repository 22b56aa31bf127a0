import { groupedOffsets } from '../../src/scheduler/slots.js';
import type { Recorded } from './recording-server.js';

/**
 * What the targets saw: the requests a recording server logged, counted per
 * (target, slot). A request belongs to the slot its arrival falls in once the
 * target's offset inside the interval is taken off (the scheduler's
 * groupedOffsets with the daemon's BATCH_SIZE), so coverage, duplicates and
 * gaps are measured where they matter, at the target.
 */
export class SlotCoverage {
  private readonly offsets: Map<string, number>;

  constructor(
    /** Target names: the URLs the daemons probe. */
    readonly targets: readonly string[],
    readonly intervalMs: number,
    /** The recording server's base URL (requests are logged by path). */
    private readonly baseUrl: string,
    groupSize = 10,
  ) {
    this.offsets = groupedOffsets(targets, intervalMs, groupSize);
  }

  private target(q: Recorded): string {
    return `${this.baseUrl}${q.url}`;
  }

  /** Probes per target per slot, of the requests that arrived in [from, to]. */
  count(requests: readonly Recorded[], from: number, to: number): Map<string, Map<number, number>> {
    const out = new Map<string, Map<number, number>>();
    for (const q of requests) {
      if (q.at < from || q.at > to) continue;
      const target = this.target(q);
      const offset = this.offsets.get(target);
      if (offset === undefined) continue;
      const slot = Math.floor((q.at - offset) / this.intervalMs) * this.intervalMs;
      const m = out.get(target) ?? new Map<number, number>();
      m.set(slot, (m.get(slot) ?? 0) + 1);
      out.set(target, m);
    }
    return out;
  }

  /** Slots every target must have had probed: those fully inside [from, to]. */
  slotsBetween(from: number, to: number): number[] {
    const out: number[] = [];
    for (let s = Math.ceil(from / this.intervalMs) * this.intervalMs; s + this.intervalMs <= to; s += this.intervalMs) out.push(s);
    return out;
  }

  /** (target, slot) pairs nobody probed, as `<path>@<hh:mm:ss>`. */
  missing(cov: Map<string, Map<number, number>>, slots: readonly number[]): string[] {
    const miss: string[] = [];
    for (const t of this.targets) for (const s of slots) if (!cov.get(t)?.get(s)) miss.push(`${t.slice(this.baseUrl.length)}@${new Date(s).toISOString().slice(11, 19)}`);
    return miss;
  }

  /** Probes beyond the first per (target, slot), the most any one pair got, and which slots had any. */
  duplicates(cov: Map<string, Map<number, number>>, slots: readonly number[]): { dups: number; total: number; most: number; slots: number[] } {
    let dups = 0;
    let total = 0;
    let most = 0;
    const withDups = new Set<number>();
    for (const t of this.targets) {
      for (const s of slots) {
        const n = cov.get(t)?.get(s) ?? 0;
        total += n;
        most = Math.max(most, n);
        if (n > 1) {
          dups += n - 1;
          withDups.add(s);
        }
      }
    }
    return { dups, total, most, slots: [...withDups].sort((a, b) => a - b) };
  }

  /** Longest time between two consecutive probes of one target among the requests in [from, to]. */
  longestSilence(requests: readonly Recorded[], from: number, to: number, only?: ReadonlySet<string>): { ms: number; target?: string } {
    const last = new Map<string, number>();
    let worst = { ms: 0, target: undefined as string | undefined };
    for (const q of requests) {
      if (q.at < from || q.at > to) continue;
      const target = this.target(q);
      if (only && !only.has(target)) continue;
      const prev = last.get(target);
      if (prev !== undefined && q.at - prev > worst.ms) worst = { ms: q.at - prev, target };
      last.set(target, q.at);
    }
    return worst;
  }
}
