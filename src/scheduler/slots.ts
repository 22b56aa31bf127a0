import type { ProbeKind, Target } from '../config/targets.js';
import type { ProbeModule } from '../probes/module.js';
import { moduleOf } from '../probes/registry.js';
import { hash64 } from '../util/hash.js';
import { runAtOnce, STEP } from '../util/turn.js';

/** Start of the slot containing `nowMs` (slots are aligned to the epoch, so replicas agree). */
export function slotStart(nowMs: number, intervalMs: number): number {
  return Math.floor(nowMs / intervalMs) * intervalMs;
}

/**
 * Offsets for a set of targets sharing one interval, in whole milliseconds.
 * Targets are ordered by a hash of their name and cut into groups of
 * `groupSize` (BATCH_SIZE); each group gets its own evenly spaced offset. Load
 * is spread over the interval, and the members of a group start together, so
 * their echo requests share one fping process: at most ceil(N / BATCH_SIZE)
 * fping runs per slot. Deterministic from the configuration: every replica
 * computes the same offsets.
 */
export function groupedOffsets(names: readonly string[], intervalMs: number, groupSize: number): Map<string, number> {
  const out = new Map<string, number>();
  runAtOnce(offsetSteps(names, intervalMs, groupSize, out));
  return out;
}

/**
 * groupedOffsets into `out`, yielding every STEP targets. The order by hash is
 * a bucket sort on the hash's top 16 bits, each bucket sorted on its own
 * (the same order as one sort of every hash): one sort of 100,000 bigints,
 * and their hashing, held the event loop for about a second at start-up.
 */
export function* offsetSteps(names: readonly string[], intervalMs: number, groupSize: number, out: Map<string, number>): Generator<void, void> {
  const buckets: { n: string; h: bigint }[][] = [];
  let k = 0;
  for (const n of names) {
    const h = hash64(n);
    (buckets[Number(h >> 48n)] ??= []).push({ n, h });
    if (++k % STEP === 0) yield;
  }
  const groups = Math.max(1, Math.ceil(names.length / groupSize));
  let rank = 0;
  for (const bucket of buckets) {
    if (!bucket) continue;
    bucket.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : a.n < b.n ? -1 : 1));
    for (const { n } of bucket) {
      out.set(n, Math.floor((Math.floor(rank / groupSize) * intervalMs) / groups));
      if (++rank % STEP === 0) yield;
    }
  }
}

/**
 * Probes due in this slot. A probe that runs less often than every slot (the
 * trace, once per TRACE_INTERVAL) runs in the slots given by a hash of the
 * target, so 10,000 targets with a 10-minute trace interval trace 1/10 of
 * them per minute instead of all at once.
 */
export function kindsForSlot(target: Target, slotMs: number, modules?: readonly ProbeModule[]): ProbeKind[] {
  const intervalMs = target.intervalS * 1000;
  const slotIndex = Math.round(slotMs / intervalMs);
  return target.probes.filter((k) => {
    const m = moduleOf(k, modules);
    const everyS = m?.everyS?.(target.specs[k]);
    if (everyS === undefined) return true;
    const every = Math.max(1, Math.round(everyS / target.intervalS));
    const phase = Number(hash64(`${k}|${target.name}`) % BigInt(every));
    return (slotIndex + phase) % every === 0;
  });
}
