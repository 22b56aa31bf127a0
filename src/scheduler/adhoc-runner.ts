import { setMaxListeners } from 'node:events';
import type { Target } from '../config/targets.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { ProbeResult } from '../probes/types.js';
import { deadlineSignal } from '../util/abort.js';
import { Semaphore } from '../util/semaphore.js';
import type { Collector } from './collector.js';

/** Share of MAX_CONCURRENT_OPERATIONS ad-hoc runs may take; scheduled rounds keep the rest. */
export const ADHOC_OPERATIONS_SHARE = 0.2;

export interface AdhocLimits {
  /** MAX_ADHOC_RUNS: runs at once. */
  maxRuns: number;
  /** COLLECT_MAX_PROBES: targets x probes in one run. */
  maxProbes: number;
  /** MAX_CONCURRENT_OPERATIONS (the share is taken of it). */
  maxOperations: number;
  /** COLLECT_TIMEOUT, ms. */
  timeoutMs: number;
}

export type AdhocRejection =
  | { rejected: 'unknown_target'; message: string; unknown: string[] }
  | { rejected: 'no_matching_probe'; message: string }
  | { rejected: 'too_large'; message: string }
  | { rejected: 'busy'; message: string };

export interface AdhocRun {
  time: number;
  durationMs: number;
  results: ProbeResult[];
}

/**
 * "Probe it now" (POST /collect, the UI's button, `collect --once`), with the
 * bounds that keep it from hurting the schedule: names are deduplicated, one
 * run is capped at COLLECT_MAX_PROBES probes, at most MAX_ADHOC_RUNS run at
 * once and a run keeps its slot until every probe has really ended, and
 * ad-hoc probes take their operation permits from a share of their own
 * (ADHOC_OPERATIONS_SHARE of MAX_CONCURRENT_OPERATIONS) as well as from the
 * common bound, so scheduled rounds always keep most of it. Ad-hoc runs are
 * not scheduled runs: a scheduled target never skips a slot for them.
 */
export class AdhocRunner {
  private inFlight = 0;
  private readonly share: Semaphore;

  constructor(
    private readonly collector: Collector,
    private readonly targets: () => readonly Target[],
    private readonly limits: AdhocLimits,
    metrics?: TelemetryMetrics,
  ) {
    this.share = new Semaphore(Math.max(1, Math.floor(limits.maxOperations * ADHOC_OPERATIONS_SHARE)));
    metrics?.onCollect(() => metrics.adhocRuns.set(this.inFlight));
  }

  get runsInFlight(): number {
    return this.inFlight;
  }

  get waiting(): number {
    return this.share.waiting;
  }

  /** Which targets and probes a request means, or why it cannot run. */
  plan(names: readonly string[] | undefined, kinds: readonly string[] | undefined): { work: { target: Target; kinds: string[] }[] } | AdhocRejection {
    const all = this.targets();
    const byName = new Map(all.map((t) => [t.name, t]));
    const unique = names ? [...new Set(names)] : undefined;
    const unknown = unique?.filter((n) => !byName.has(n)) ?? [];
    if (unknown.length) return { rejected: 'unknown_target', message: `not a configured target: ${unknown.slice(0, 20).join(', ')}${unknown.length > 20 ? ` (+${unknown.length - 20} more)` : ''}`, unknown };
    const chosen = unique ? unique.map((n) => byName.get(n)!) : all;
    const work = chosen.map((target) => ({ target, kinds: target.probes.filter((k) => !kinds || kinds.includes(k)) })).filter((w) => w.kinds.length > 0);
    if (!work.length) return { rejected: 'no_matching_probe', message: `none of the selected targets has probe ${kinds?.join(', ')} configured` };
    const probes = work.reduce((n, w) => n + w.kinds.length, 0);
    if (probes > this.limits.maxProbes) {
      return { rejected: 'too_large', message: `${probes} probes in one run exceed COLLECT_MAX_PROBES=${this.limits.maxProbes}: name fewer targets or probes` };
    }
    return { work };
  }

  async run(names: readonly string[] | undefined, kinds: readonly string[] | undefined, o: { adhoc?: boolean } = {}): Promise<AdhocRun | AdhocRejection> {
    const plan = this.plan(names, kinds);
    if ('rejected' in plan) return plan;
    if (this.inFlight >= this.limits.maxRuns) {
      return { rejected: 'busy', message: `${this.inFlight} ad-hoc runs in flight (MAX_ADHOC_RUNS=${this.limits.maxRuns}): retry in a few seconds` };
    }
    this.inFlight++;
    const t0 = Date.now();
    const { signal, dispose } = deadlineSignal(this.limits.timeoutMs);
    setMaxListeners(0, signal); // one listener per probe of the run
    const settles: Promise<void>[] = [];
    try {
      const runs = await Promise.all(
        plan.work.map(async ({ target, kinds: k }) => {
          const run = await this.collector.collect(target, k, { timeMs: t0, adhoc: o.adhoc !== false, signal, share: this.share });
          settles.push(run.settled);
          return run.results;
        }),
      );
      return { time: t0, durationMs: Date.now() - t0, results: runs.flat() };
    } finally {
      // The run's slot is released only when every probe has really ended.
      void Promise.allSettled(settles).then(() => {
        dispose();
        this.inFlight--;
      });
    }
  }
}
