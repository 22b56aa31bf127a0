import type { Target } from '../config/targets.js';
import type { ProbeModule } from '../probes/module.js';
import { PROBE_MODULES } from '../probes/registry.js';
import { runAtOnce, runInSteps, STEP } from '../util/turn.js';

/** The bounds a round has to fit in (docs/sizing.md). */
export interface CapacityLimits {
  maxConcurrentTargets: number;
  maxConcurrentOperations: number;
  batchSize: number;
  workerPoolSize: number;
}

/** What the targets need on average, in slots held at once, against each bound. */
export interface CapacityNeed {
  /** Variable name -> [needed at the least, configured]. */
  bounds: Record<'MAX_CONCURRENT_TARGETS' | 'MAX_CONCURRENT_OPERATIONS' | 'WORKER_POOL_SIZE' | 'fping pool', { need: number; have: number }>;
  /** One line naming what to raise, when a bound is too small even if every reply came on time. */
  warning?: string;
}

/**
 * Little's law per bound: slots held at once = runs started per second x
 * seconds each run holds its slot. Durations are the floors the settings
 * imply (module.minDurationS: icmp's echo spacing, mtr's cycles and grace;
 * 0 for HTTP, TCP and DNS, whose time is the network's), so a bound below
 * the need cannot fit the targets into their interval however fast the
 * network is: rounds overrun and slots are skipped. A probe that runs every
 * N slots (trace) counts 1/N of its runs. The warning names the variables to
 * raise with twice the need (rounds should end within half the interval).
 * See docs/sizing.md.
 */
export function capacityNeed(targets: readonly Target[], limits: CapacityLimits, modules: readonly ProbeModule[] = PROBE_MODULES as readonly ProbeModule[]): CapacityNeed {
  return runAtOnce(needSteps(targets, limits, modules));
}

/** capacityNeed with a turn of the event loop every STEP targets (the daemon at start and at each reload). */
export function capacityNeedInSteps(targets: readonly Target[], limits: CapacityLimits, modules: readonly ProbeModule[] = PROBE_MODULES as readonly ProbeModule[]): Promise<CapacityNeed> {
  return runInSteps(needSteps(targets, limits, modules));
}

function* needSteps(targets: readonly Target[], limits: CapacityLimits, modules: readonly ProbeModule[]): Generator<void, CapacityNeed> {
  let targetSlots = 0;
  let operations = 0;
  let mtr = 0;
  /** Per (interval, echo duration): how many targets, for the fping batches. */
  const icmpGroups = new Map<string, { intervalS: number; durationS: number; targets: number }>();
  let n = 0;
  for (const t of targets) {
    if (++n % STEP === 0) yield;
    let always = 0; // longest probe run every slot
    let expected = 0; // expected time the target's slot is held, per slot
    const sometimes: { share: number; durationS: number }[] = [];
    for (const kind of t.probes) {
      const m = modules.find((x) => x.kind === kind);
      if (!m) continue;
      const spec = t.specs[kind];
      const d = m.minDurationS?.(spec) ?? 0;
      const everyS = m.everyS?.(spec);
      const share = everyS === undefined ? 1 : 1 / Math.max(1, Math.round(everyS / t.intervalS));
      operations += (share * d) / t.intervalS;
      if (m.pool === 'traceRunner') mtr += (share * d) / t.intervalS;
      if (m.pool === 'pingRunner') {
        const key = `${t.intervalS}|${d}`;
        const g = icmpGroups.get(key) ?? { intervalS: t.intervalS, durationS: d, targets: 0 };
        g.targets++;
        icmpGroups.set(key, g);
      }
      if (share === 1) always = Math.max(always, d);
      else sometimes.push({ share, durationS: d });
    }
    expected = always;
    for (const s of sometimes) expected += s.share * Math.max(0, s.durationS - always);
    targetSlots += expected / t.intervalS;
  }
  let fping = 0;
  for (const g of icmpGroups.values()) fping += (Math.ceil(g.targets / limits.batchSize) * g.durationS) / g.intervalS;
  const fpingPool = Math.max(2, Math.ceil(limits.maxConcurrentOperations / limits.batchSize));
  const bounds: CapacityNeed['bounds'] = {
    MAX_CONCURRENT_TARGETS: { need: targetSlots, have: limits.maxConcurrentTargets },
    MAX_CONCURRENT_OPERATIONS: { need: operations, have: limits.maxConcurrentOperations },
    WORKER_POOL_SIZE: { need: mtr, have: limits.workerPoolSize },
    'fping pool': { need: fping, have: fpingPool },
  };
  const raise: string[] = [];
  const ask = (name: string, need: number, have: number) => {
    if (need > have) raise.push(`${name} to ${Math.ceil(need * 2)} (now ${have}, needs at least ${Math.ceil(need)})`);
  };
  ask('MAX_CONCURRENT_TARGETS', targetSlots, limits.maxConcurrentTargets);
  // The fping pool is MAX_CONCURRENT_OPERATIONS / BATCH_SIZE processes of BATCH_SIZE addresses each:
  // only MAX_CONCURRENT_OPERATIONS (or the interval) changes how many echo runs fit.
  ask('MAX_CONCURRENT_OPERATIONS', Math.max(operations, fping > fpingPool ? fping * limits.batchSize : 0), limits.maxConcurrentOperations);
  ask('WORKER_POOL_SIZE', mtr, limits.workerPoolSize);
  if (raise.length === 0) return { bounds };
  return {
    bounds,
    warning: `capacity: ${targets.length} targets cannot finish their rounds within the interval even when every reply comes at once (slots would be skipped): raise ${raise.join('; ')}, or lengthen the interval (docs/sizing.md)`,
  };
}
