import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Coordinator } from '../cluster/coordinator.js';
import type { ProbeKind, Target } from '../config/targets.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { ComponentHealth } from '../lifecycle/component.js';
import { Semaphore } from '../util/semaphore.js';
import type { Collector } from './collector.js';
import { MinHeap } from './min-heap.js';
import { groupedOffsets, kindsForSlot, slotStart } from './slots.js';

/** What one completed round did (the round summary log line, and the `collector` point). */
export interface RoundSummary {
  slotMs: number;
  intervalS: number;
  durationS: number;
  targetsRun: number;
  probesOk: number;
  probesFailed: number;
  skippedOverrun: number;
  notOwned: number;
}

export interface SchedulerOptions {
  maxConcurrentTargets: number;
  /** Called once per completed round (after the metrics and the log line). */
  onRound?: (r: RoundSummary) => void;
  /** BATCH_SIZE: targets that start together (see groupedOffsets). */
  groupSize: number;
  /** Clock in epoch milliseconds (injectable for tests). */
  now?: () => number;
}

interface Due {
  at: number;
  slotMs: number;
  target: Target;
}

/** Book-keeping of one round: all targets of one interval for one slot. */
interface Round {
  key: string;
  slotMs: number;
  expected: number;
  settled: number;
  ran: number;
  probesOk: number;
  probesFailed: number;
  skippedOverrun: number;
  notOwned: number;
  /** Longest (finish - scheduled start) of the round's targets, queueing included. */
  longestMs: number;
}

/**
 * Slot-aligned rounds. Slot = floor(now / interval) * interval; each target
 * starts at slot + offset, offsets spread evenly over the interval in groups
 * of BATCH_SIZE (see groupedOffsets), so 10,000 targets do not all fire at :00. One timer serves
 * all targets (a min-heap of due times). A target whose previous run is still
 * going is skipped for that slot and counted, never stacked. At most
 * MAX_CONCURRENT_TARGETS targets run at once; their probes share
 * MAX_CONCURRENT_OPERATIONS (in the Collector).
 */
export class Scheduler {
  private readonly heap = new MinHeap<Due>((a, b) => a.at - b.at);
  private readonly running = new Map<string, Promise<void>>();
  private readonly rounds = new Map<string, Round>();
  private readonly targetSlots: Semaphore;
  private readonly perInterval = new Map<number, number>();
  private readonly offsets = new Map<string, number>();
  private readonly now: () => number;
  private readonly onRound?: (r: RoundSummary) => void;
  private timer?: NodeJS.Timeout;
  private readonly shutdown = new AbortController();
  private started = false;
  private stopped = false;
  lastRoundAt?: number;
  lastRoundMs?: number;

  constructor(
    private readonly targets: readonly Target[],
    private readonly collector: Collector,
    private readonly coordinator: Coordinator,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
    opts: SchedulerOptions,
  ) {
    this.now = opts.now ?? Date.now;
    // Every waiting run and running probe listens on the shutdown signal:
    // thousands of listeners are expected, not a leak.
    setMaxListeners(0, this.shutdown.signal);
    this.onRound = opts.onRound;
    this.targetSlots = new Semaphore(opts.maxConcurrentTargets);
    for (const t of targets) this.perInterval.set(t.intervalS, (this.perInterval.get(t.intervalS) ?? 0) + 1);
    for (const intervalS of this.perInterval.keys()) {
      const names = targets.filter((t) => t.intervalS === intervalS).map((t) => t.name);
      for (const [n, o] of groupedOffsets(names, intervalS * 1000, opts.groupSize)) this.offsets.set(n, o);
    }
    metrics.targetsInFlightMax.set(opts.maxConcurrentTargets);
    metrics.targetsConfigured.set(targets.length);
    metrics.onCollect(() => {
      metrics.targetsInFlight.set(this.targetSlots.active);
    });
  }

  get isRunning(): boolean {
    return this.started && !this.stopped;
  }

  /** Target runs waiting for a MAX_CONCURRENT_TARGETS slot. */
  get waiting(): number {
    return this.targetSlots.waiting;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const now = this.now();
    // First points within one interval: a target whose offset in the current
    // slot is already past starts with the next slot.
    for (const target of this.targets) {
      const intervalMs = target.intervalS * 1000;
      const offset = this.offsets.get(target.name) ?? 0;
      let slot = slotStart(now, intervalMs);
      if (slot + offset < now) {
        this.settle(this.round(target, slot)); // settles its share of the partial first round
        slot += intervalMs;
      }
      this.heap.push({ at: slot + offset, slotMs: slot, target });
    }
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const next = this.heap.peek();
    if (!next) return;
    // Timers are capped so a clock jump cannot park us for hours.
    const wait = Math.min(Math.max(0, next.at - this.now()), 60_000);
    this.timer = setTimeout(() => this.fire(), wait);
  }

  private fire(): void {
    const now = this.now();
    for (let due = this.heap.peek(); due && due.at <= now; due = this.heap.peek()) {
      this.heap.pop();
      const intervalMs = due.target.intervalS * 1000;
      this.heap.push({ at: due.at + intervalMs, slotMs: due.slotMs + intervalMs, target: due.target });
      this.dispatch(due);
    }
    this.arm();
  }

  private round(target: Target, slotMs: number): Round {
    const key = `${target.intervalS}:${slotMs}`;
    let r = this.rounds.get(key);
    if (!r) {
      r = { key, slotMs, expected: this.perInterval.get(target.intervalS) ?? 1, settled: 0, ran: 0, probesOk: 0, probesFailed: 0, skippedOverrun: 0, notOwned: 0, longestMs: 0 };
      this.rounds.set(key, r);
    }
    return r;
  }

  private dispatch(due: Due): void {
    const { target, slotMs } = due;
    const round = this.round(target, slotMs);
    if (this.running.has(target.name)) {
      round.skippedOverrun++;
      this.metrics.targetsSkipped.inc();
      this.log.warn({ target: target.name, slot: new Date(slotMs).toISOString() }, 'previous run still going: slot skipped');
      this.settle(round);
      return;
    }
    if (!this.coordinator.owns(target.name)) {
      round.notOwned++;
      this.settle(round);
      return;
    }
    const run = this.runTarget(due, round).finally(() => {
      this.running.delete(target.name);
      this.settle(round);
    });
    this.running.set(target.name, run);
  }

  private async runTarget(due: Due, round: Round): Promise<void> {
    const { target, slotMs } = due;
    const signal = this.shutdown.signal;
    try {
      await this.targetSlots.acquire(signal);
    } catch {
      return; // shutting down
    }
    try {
      if (!(await this.coordinator.claim(target.name, slotMs, target.intervalS * 1000))) {
        round.notOwned++;
        return;
      }
      const kinds: ProbeKind[] = kindsForSlot(target, slotMs);
      const results = await this.collector.collect(target, kinds, { timeMs: slotMs, signal });
      round.ran++;
      for (const r of results) {
        if (r.reason === 'aborted') continue;
        if (r.success) round.probesOk++;
        else round.probesFailed++;
      }
      round.longestMs = Math.max(round.longestMs, this.now() - due.at);
    } catch (err) {
      this.metrics.errors.inc({ component: 'scheduler' });
      this.log.error({ err, target: target.name }, 'target run failed');
    } finally {
      this.targetSlots.release();
    }
  }

  private settle(round: Round): void {
    round.settled++;
    if (round.settled < round.expected) return;
    this.rounds.delete(round.key);
    if (round.ran === 0 && round.skippedOverrun === 0) return; // nothing of ours in this round
    const seconds = round.longestMs / 1000;
    this.lastRoundAt = this.now();
    this.lastRoundMs = round.longestMs;
    this.metrics.collectionDuration.set(seconds);
    this.metrics.roundDuration.observe(seconds);
    this.metrics.rounds.inc();
    this.metrics.lastRoundTimestamp.set(this.lastRoundAt / 1000);
    this.log.info(
      {
        slot: new Date(round.slotMs).toISOString(),
        targets: round.ran,
        probes_ok: round.probesOk,
        probes_failed: round.probesFailed,
        skipped_overrun: round.skippedOverrun,
        not_owned: round.notOwned,
        duration_s: Math.round(seconds * 1000) / 1000,
      },
      'round complete',
    );
    const intervalS = Number(round.key.split(':')[0]);
    try {
      this.onRound?.({
        slotMs: round.slotMs,
        intervalS,
        durationS: seconds,
        targetsRun: round.ran,
        probesOk: round.probesOk,
        probesFailed: round.probesFailed,
        skippedOverrun: round.skippedOverrun,
        notOwned: round.notOwned,
      });
    } catch (err) {
      this.metrics.errors.inc({ component: 'scheduler' });
      this.log.error({ err }, 'round report failed');
    }
  }

  health(intervalS: number): ComponentHealth {
    const age = this.lastRoundAt === undefined ? null : (this.now() - this.lastRoundAt) / 1000;
    // A round completes once per interval; three intervals without one is a stall.
    const stalled = age !== null && age > 3 * intervalS + 30;
    return {
      status: !this.isRunning ? 'failing' : stalled ? 'degraded' : 'ok',
      running: this.isRunning,
      targets: this.targets.length,
      in_flight: this.running.size,
      last_round_age_s: age === null ? null : Math.round(age * 10) / 10,
      last_round_duration_s: this.lastRoundMs === undefined ? null : this.lastRoundMs / 1000,
    };
  }

  /**
   * Stop scheduling, let in-flight runs finish for most of the deadline, then
   * abort what is left (aborted probes store nothing) and wait for it to unwind.
   */
  async stop(deadlineMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    const t0 = performance.now();
    const all = () => Promise.allSettled([...this.running.values()]);
    const graceMs = Math.max(0, deadlineMs * 0.6);
    await Promise.race([all(), new Promise((r) => setTimeout(r, graceMs).unref())]);
    if (this.running.size > 0) {
      this.log.warn({ in_flight: this.running.size }, 'aborting in-flight probes for shutdown');
      this.shutdown.abort(new Error('shutdown'));
      const left = Math.max(0, deadlineMs - (performance.now() - t0));
      await Promise.race([all(), new Promise((r) => setTimeout(r, left).unref())]);
    }
  }
}
