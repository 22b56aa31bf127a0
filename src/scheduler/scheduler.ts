import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { Coordinator } from '../cluster/coordinator.js';
import type { Target } from '../config/targets.js';
import { BaseComponent, type ComponentHealth, type Deadline } from '../lifecycle/component.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { fanoutController } from '../util/abort.js';
import { Semaphore } from '../util/semaphore.js';
import type { Collector } from './collector.js';
import { MinHeap } from './min-heap.js';
import { eachInSteps, runInSteps, turnOfTheLoop } from '../util/turn.js';
import { kindsForSlot, offsetSteps, slotStart } from './slots.js';

/** What a reload changed, by target name. */
export interface ConfigDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

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
  /** MAX_CONCURRENT_OPERATIONS: the other bound the round's load is measured against (default: not counted). */
  maxConcurrentOperations?: number;
  /** COLLECTION_INTERVAL: the round the load figure is expressed in (targets with other intervals are scaled to it; default 60). */
  referenceIntervalS?: number;
  /** Called once per completed round (after the metrics and the log line). */
  onRound?: (r: RoundSummary) => void;
  /** BATCH_SIZE: targets that start together (see groupedOffsets). */
  groupSize: number;
  /**
   * First step of stop(), while the scheduler still collects: hand our targets
   * back to the cluster, so peers take over before we stop probing.
   */
  handBack?: (deadline: Deadline) => Promise<void>;
  /** Clock in epoch milliseconds (injectable for tests). */
  now?: () => number;
  /** A clock no one can set (liveness measures on it, so a wall clock stepped back cannot hide a stall). */
  monotonic?: () => number;
}

interface Due {
  at: number;
  slotMs: number;
  target: Target;
}

/** Book-keeping of one round: all targets of one interval for one slot. */
interface Round {
  key: string;
  intervalS: number;
  slotMs: number;
  /** Entries of this slot still in the heap. */
  queued: number;
  /** Runs dispatched and not settled. */
  inFlight: number;
  ran: number;
  probesOk: number;
  probesFailed: number;
  skippedOverrun: number;
  notOwned: number;
  /** A few of the failures, for the log line. */
  failures: string[];
  /** Longest (finish - scheduled start) of the round's targets, queueing included. */
  longestMs: number;
  /** Milliseconds target runs held a MAX_CONCURRENT_TARGETS slot, summed. */
  targetSlotMs: number;
  /** Milliseconds probes held a MAX_CONCURRENT_OPERATIONS slot, summed. */
  operationMs: number;
  /** Runs taken over after the slot's round completed (takeOver): no round of their own (no log line, no load figure). */
  late?: true;
}

const FAILURES_LOGGED = 5;
/** Targets a reload applies between two turns of the event loop (a few ms of work). */
const STEP = 500;
/** Liveness never fails sooner than this, so one slow round at a 1-second interval restarts nothing. */
const MIN_STALL_S = 10;
/** The timer is re-armed at least this often, so a clock jump cannot park the scheduler. */
const MAX_TIMER_MS = 60_000;

/**
 * Slot-aligned rounds. Slot = floor(now / interval) * interval; each target
 * starts at slot + offset, offsets spread evenly over the interval in groups
 * of BATCH_SIZE (see groupedOffsets), so 10,000 targets do not all fire at :00.
 * One timer serves all targets (a min-heap of due times). A target whose
 * previous run is still going is skipped for that slot and counted, never
 * stacked. At most MAX_CONCURRENT_TARGETS targets run at once; their probes
 * share MAX_CONCURRENT_OPERATIONS (in the Collector).
 *
 * setTargets() applies a reload: added targets start with their next slot,
 * removed ones leave the heap (their in-flight run finishes), unchanged ones
 * keep their offset.
 */
export class Scheduler extends BaseComponent {
  readonly name = 'scheduler';
  private readonly heap = new MinHeap<Due>((a, b) => a.at - b.at);
  private readonly inFlightRuns = new Map<string, Promise<void>>();
  private readonly rounds = new Map<string, Round>();
  private readonly targetSlots: Semaphore;
  /** The current targets by name: a heap entry whose target is not the current object is stale. */
  private readonly current = new Map<string, Target>();
  /** The intervals the targets have, kept with `current` at start and reload: /health and /health/live read them without a pass over every target. */
  private intervals = new Set<number>();
  private readonly offsets = new Map<string, number>();
  /** The configured targets until start() takes them in (with their offsets, in steps). */
  private initial: readonly Target[];
  /** Per target: the slot it was last passed over in as another replica's (until it runs here again). */
  private readonly passedOver = new Map<string, number>();
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  /** Every queued run and running probe follows it: a fan-out, O(1) per follower (util/abort.ts). */
  private readonly shutdown = fanoutController();
  private halted = false;
  /** From the first line of onStart (`running` is true only once onStart has returned). */
  private scheduling = false;
  private lastFireAt?: number;
  private readonly mono: () => number;
  /** Monotonic: when the scheduler started, when the last round completed. */
  private startedMono?: number;
  private lastRoundMono?: number;
  /** When the last round completed: one where a target ran, or with nothing to run (not one whose targets were all still busy with an earlier slot). */
  lastRoundAt?: number;
  lastRoundMs?: number;
  /** Per interval: the last completed round's load figure in seconds (see roundLoadSeconds). */
  private readonly loadByInterval = new Map<number, number>();
  /** What telemetry_collection_duration_seconds says now. */
  loadS = 0;

  constructor(
    targets: readonly Target[],
    private readonly collector: Collector,
    private readonly coordinator: Coordinator,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
    private readonly opts: SchedulerOptions,
  ) {
    super();
    this.now = opts.now ?? Date.now;
    this.mono = opts.monotonic ?? (() => performance.now());
    // Queued runs and probes follow it through onAbort (a Set, not listeners);
    // anything that takes it as a plain signal may still listen: not a leak.
    setMaxListeners(0, this.shutdown.signal);
    this.targetSlots = new Semaphore(opts.maxConcurrentTargets);
    this.initial = targets;
    metrics.targetsInFlightMax.set(opts.maxConcurrentTargets);
    metrics.targetsConfigured.set(targets.length);
    metrics.onCollect(() => metrics.targetsInFlight.set(this.targetSlots.active));
    coordinator.onGain((names) => this.takeOver(names, 'gained from the cluster'));
  }

  get isRunning(): boolean {
    return this.running && !this.halted;
  }

  /** Target runs waiting for a MAX_CONCURRENT_TARGETS slot. */
  get waiting(): number {
    return this.targetSlots.waiting;
  }

  /** When the first target of the schedule is due (epoch ms), for the start-up log line. */
  nextDueAt(): number | undefined {
    return this.heap.peek()?.at;
  }

  get targets(): Target[] {
    return [...this.current.values()];
  }

  /** The targets and their offsets from scratch (start): deterministic from the configuration. */
  private *takeTargets(targets: readonly Target[]): Generator<void, void> {
    const byInterval = new Map<number, string[]>();
    let n = 0;
    for (const t of targets) {
      this.current.set(t.name, t);
      const names = byInterval.get(t.intervalS);
      if (names) names.push(t.name);
      else byInterval.set(t.intervalS, [t.name]);
      if (++n % STEP === 0) yield;
    }
    this.intervals = new Set(byInterval.keys());
    for (const [intervalS, names] of byInterval) yield* offsetSteps(names, intervalS * 1000, this.opts.groupSize, this.offsets);
  }

  /**
   * Offsets for targets added by a reload that leave everybody else's in
   * place: each goes to the least crowded group of its interval with room,
   * else to the middle of the widest gap between groups (a new group, which
   * the next ones fill). The groups are counted once per reload and kept up
   * to date while placing, so placing N targets among M costs O(M + N log G)
   * (G groups), not O(N x M).
   */
  private placer(): (t: Target) => number {
    const byInterval = new Map<number, GroupPlacer>();
    const of = (intervalS: number) => {
      let p = byInterval.get(intervalS);
      if (!p) {
        const counts = new Map<number, number>();
        for (const o of this.current.values()) {
          if (o.intervalS !== intervalS) continue;
          const off = this.offsets.get(o.name);
          if (off !== undefined) counts.set(off, (counts.get(off) ?? 0) + 1);
        }
        p = new GroupPlacer(counts, intervalS * 1000, this.opts.groupSize);
        byInterval.set(intervalS, p);
      }
      return p;
    };
    return (t) => of(t.intervalS).place();
  }

  /**
   * Takes the targets in and queues their first runs in steps: at 100,000
   * targets, done in the constructor and at once, it held the event loop for
   * seconds while the API already answered.
   */
  protected async onStart(): Promise<void> {
    this.scheduling = true;
    this.startedMono = this.mono();
    await runInSteps(this.takeTargets(this.initial));
    this.initial = [];
    const now = this.now();
    // First points within one interval: a target whose offset in the current
    // slot is already past starts with the next slot.
    await eachInSteps(this.current.values(), (target) => {
      const intervalMs = target.intervalS * 1000;
      const offset = this.offsets.get(target.name) ?? 0;
      let slot = slotStart(now, intervalMs);
      if (slot + offset < now) {
        this.passedOver.set(target.name, slot);
        slot += intervalMs;
      }
      this.push({ at: slot + offset, slotMs: slot, target });
    }, STEP);
    this.arm();
    // Joining a running cluster: the peers that had our targets keep them for
    // a moment only, so the current slot of those already past may be nobody's.
    if (this.coordinator.members().length > 1) this.takeOver(this.coordinator.ownedTargets(), 'joined the cluster');
  }

  /**
   * Targets this replica has just come to own: collect the current slot of
   * those it passed over in that slot as another replica's. The replica that
   * had them may have stopped before its peers saw it go (a scale-down) or
   * given them up before we started (a join): then that slot is nobody's.
   * The claim decides, so a slot the other replica did collect is not
   * collected again. Only a slot whose target starts again here at least
   * half an interval later: a late run still going at that start would skip
   * it (counted, never stacked), trading one slot for another.
   */
  private takeOver(names: readonly string[], why: string): void {
    if (!this.scheduling || this.halted) return;
    const now = this.now();
    let n = 0;
    for (const name of names) {
      const slotMs = this.passedOver.get(name);
      const target = this.current.get(name);
      if (slotMs === undefined || !target) continue;
      this.passedOver.delete(name);
      const intervalMs = target.intervalS * 1000;
      if (slotMs + intervalMs + (this.offsets.get(name) ?? 0) - now < intervalMs / 2) continue;
      const round = this.rounds.get(`${target.intervalS}:${slotMs}`) ?? { ...this.emptyRound(target.intervalS, slotMs), late: true as const };
      this.dispatch({ at: now, slotMs, target }, round);
      n++;
    }
    if (n > 0) this.log.info({ why, targets: n }, 'collecting the slot in progress of targets passed over as another replica\'s');
  }

  /**
   * Apply a reload. Returns what changed. Targets whose settings changed
   * keep their offset unless their interval changed.
   */
  setTargets(targets: readonly Target[]): ConfigDiff {
    const steps = this.applyTargets(targets);
    for (let r = steps.next(); ; r = steps.next()) if (r.done) return r.value;
  }

  /**
   * setTargets with a turn of the event loop every STEP targets: at 10,000
   * targets and more the comparison alone holds the loop for a noticeable
   * time. Between steps the schedule is part old, part new: a target not
   * reached yet runs with its old settings, which is what it had anyway.
   */
  async setTargetsInSteps(targets: readonly Target[]): Promise<ConfigDiff> {
    // A reload during start-up waits for the targets to be taken in: both would queue runs.
    if (this.started) await this.start().catch(() => {});
    const steps = this.applyTargets(targets);
    for (let r = steps.next(); ; r = steps.next()) {
      if (r.done) return r.value;
      await turnOfTheLoop();
    }
  }

  private *applyTargets(targets: readonly Target[]): Generator<void, ConfigDiff> {
    // Never started (no schedule): the configured targets are what the reload is compared with.
    if (!this.started) {
      yield* this.takeTargets(this.initial);
      this.initial = [];
    }
    const next = new Set<string>();
    let n = 0;
    for (const t of targets) {
      next.add(t.name);
      if (++n % STEP === 0) yield;
    }
    const added: string[] = [];
    const removed: string[] = [];
    const changed: string[] = [];
    for (const name of this.current.keys()) {
      if (++n % STEP === 0) yield;
      if (!next.has(name)) {
        removed.push(name);
        this.current.delete(name);
        this.offsets.delete(name);
        this.passedOver.delete(name);
      }
    }
    // Targets that need a new offset: the groups are counted without them (a changed interval leaves its old group).
    const place: Target[] = [];
    for (const t of targets) {
      if (++n % STEP === 0) yield;
      const old = this.current.get(t.name);
      if (old && JSON.stringify(old) === JSON.stringify(t)) continue;
      if (old) changed.push(t.name);
      else added.push(t.name);
      if (old && old.intervalS === t.intervalS) {
        this.current.set(t.name, t);
        this.pushNext(t, this.now());
        continue;
      }
      if (old) {
        this.current.delete(t.name);
        this.offsets.delete(t.name);
      }
      place.push(t);
    }
    yield;
    const placeNew = this.placer();
    for (const t of place) {
      if (++n % STEP === 0) yield;
      this.offsets.set(t.name, placeNew(t));
      this.current.set(t.name, t);
      this.pushNext(t, this.now());
    }
    this.metrics.targetsConfigured.set(this.current.size);
    // An interval no target has any more contributes no load.
    const intervals = new Set<number>();
    for (const t of this.current.values()) {
      intervals.add(t.intervalS);
      if (++n % STEP === 0) yield;
    }
    this.intervals = intervals;
    for (const i of [...this.loadByInterval.keys()]) if (!intervals.has(i)) this.loadByInterval.delete(i);
    this.publishLoad();
    if (this.running) this.arm();
    return { added, removed, changed };
  }

  /** A target new or changed by a reload runs from its next slot; a changed target's old heap entry is now stale (a different object). */
  private pushNext(t: Target, now: number): void {
    if (!this.running) return;
    const intervalMs = t.intervalS * 1000;
    const slot = slotStart(now, intervalMs) + intervalMs;
    this.push({ at: slot + (this.offsets.get(t.name) ?? 0), slotMs: slot, target: t });
  }

  private push(due: Due): void {
    this.heap.push(due);
    this.round(due.target.intervalS, due.slotMs).queued++;
  }

  private arm(): void {
    if (this.halted) return;
    clearTimeout(this.timer);
    const next = this.heap.peek();
    const wait = next ? Math.min(Math.max(0, next.at - this.now()), MAX_TIMER_MS) : MAX_TIMER_MS;
    this.timer = setTimeout(() => this.fire(), wait);
  }

  private fire(): void {
    const now = this.now();
    this.lastFireAt = now;
    try {
      for (let due = this.heap.peek(); due && due.at <= now; due = this.heap.peek()) {
        this.heap.pop();
        const round = this.round(due.target.intervalS, due.slotMs);
        round.queued--;
        if (this.current.get(due.target.name) !== due.target) {
          this.settle(round); // removed or replaced by a reload
          continue;
        }
        const intervalMs = due.target.intervalS * 1000;
        this.push({ at: due.at + intervalMs, slotMs: due.slotMs + intervalMs, target: due.target });
        this.dispatch(due, round);
      }
    } catch (err) {
      this.metrics.errors.inc({ component: 'scheduler' });
      this.log.error({ err }, 'scheduler tick failed (bug): continuing');
    }
    this.arm();
  }

  private round(intervalS: number, slotMs: number): Round {
    const key = `${intervalS}:${slotMs}`;
    let r = this.rounds.get(key);
    if (!r) {
      r = this.emptyRound(intervalS, slotMs);
      this.rounds.set(key, r);
    }
    return r;
  }

  private emptyRound(intervalS: number, slotMs: number): Round {
    return { key: `${intervalS}:${slotMs}`, intervalS, slotMs, queued: 0, inFlight: 0, ran: 0, probesOk: 0, probesFailed: 0, skippedOverrun: 0, notOwned: 0, failures: [], longestMs: 0, targetSlotMs: 0, operationMs: 0 };
  }

  private dispatch(due: Due, round: Round): void {
    const { target, slotMs } = due;
    if (this.inFlightRuns.has(target.name)) {
      round.skippedOverrun++;
      this.metrics.targetsSkipped.inc();
      this.log.warn({ target: target.name, slot: new Date(slotMs).toISOString() }, 'previous run still going: slot skipped');
      this.settle(round);
      return;
    }
    if (!this.coordinator.owns(target.name)) {
      round.notOwned++;
      this.passedOver.set(target.name, slotMs);
      this.settle(round);
      return;
    }
    this.passedOver.delete(target.name);
    round.inFlight++;
    const run = this.runTarget(due, round).finally(() => {
      this.inFlightRuns.delete(target.name);
      round.inFlight--;
      this.settle(round);
    });
    this.inFlightRuns.set(target.name, run);
  }

  private async runTarget(due: Due, round: Round): Promise<void> {
    const { target, slotMs } = due;
    const signal = this.shutdown.signal;
    try {
      await this.targetSlots.acquire(signal);
    } catch {
      return; // shutting down
    }
    const acquiredAt = this.now();
    try {
      if (!(await this.coordinator.claim(target.name, slotMs, target.intervalS * 1000))) {
        round.notOwned++;
        return;
      }
      const { results, operationMs } = await this.collector.collect(target, kindsForSlot(target, slotMs), { timeMs: slotMs, signal, shuttingDown: () => this.stopped });
      round.operationMs += operationMs;
      round.ran++;
      for (const r of results) {
        if (r.reason === 'aborted') continue;
        if (r.success) round.probesOk++;
        else {
          round.probesFailed++;
          if (round.failures.length < FAILURES_LOGGED) round.failures.push(`${target.name} ${r.probe}: ${r.reason}`);
        }
      }
      round.longestMs = Math.max(round.longestMs, this.now() - due.at);
    } catch (err) {
      this.metrics.errors.inc({ component: 'scheduler' });
      this.log.error({ err, target: target.name }, 'target run failed');
    } finally {
      round.targetSlotMs += this.now() - acquiredAt;
      this.targetSlots.release();
    }
  }

  /**
   * The round's load, in seconds: how long its target runs would take
   * through the concurrency slots back to back — slot-seconds held divided by
   * the slots, for whichever bound (targets or operations) is the busier.
   * Below saturation it is proportional to the targets this replica runs
   * (half the targets, half the figure; one slow probe adds its duration
   * divided by the slots, not its duration); at saturation the slots are
   * never idle and it equals the time the round really takes. This is the
   * HPA's metric (docs/sizing.md, "The scaling signal").
   */
  private roundLoadSeconds(round: Round): number {
    return Math.max(round.targetSlotMs / this.opts.maxConcurrentTargets, round.operationMs / (this.opts.maxConcurrentOperations ?? Infinity)) / 1000;
  }

  /**
   * telemetry_collection_duration_seconds: the last round's load of every
   * interval, expressed per COLLECTION_INTERVAL (a 10 s round happens six
   * times in a 60 s one), summed. With one interval it is that round's load.
   */
  private publishLoad(): void {
    let total = 0;
    for (const [intervalS, loadS] of this.loadByInterval) total += loadS * ((this.opts.referenceIntervalS ?? 60) / intervalS);
    this.loadS = total;
    this.metrics.collectionDuration.set(total);
  }

  private settle(round: Round): void {
    if (round.late || round.queued > 0 || round.inFlight > 0) return;
    this.rounds.delete(round.key);
    const didWork = round.ran > 0 || round.skippedOverrun > 0;
    const seconds = round.longestMs / 1000;
    // A round whose every target was skipped (each still busy with an earlier
    // slot) measured nothing: it is no sign of life for liveness and alerts.
    if (round.ran > 0 || round.skippedOverrun === 0) {
      this.lastRoundAt = this.now();
      this.lastRoundMono = this.mono();
      this.metrics.lastRoundTimestamp.set(this.lastRoundAt / 1000);
    }
    this.lastRoundMs = round.longestMs;
    // A replica that owns nothing reports 0, not the last busy round (the HPA reads it).
    this.loadByInterval.set(round.intervalS, didWork ? this.roundLoadSeconds(round) : 0);
    this.publishLoad();
    this.metrics.roundLongestTarget.set(didWork ? seconds : 0);
    if (!didWork) return;
    this.metrics.roundDuration.observe(seconds);
    this.metrics.rounds.inc();
    this.log.info(
      {
        slot: new Date(round.slotMs).toISOString(),
        targets: round.ran,
        probes_ok: round.probesOk,
        probes_failed: round.probesFailed,
        ...(round.failures.length ? { failing: round.failures.join('; ') + (round.probesFailed > round.failures.length ? `; +${round.probesFailed - round.failures.length} more` : '') } : {}),
        skipped_overrun: round.skippedOverrun,
        not_owned: round.notOwned,
        duration_s: Math.round(seconds * 1000) / 1000,
        load_s: Math.round(this.loadByInterval.get(round.intervalS)! * 1000) / 1000,
      },
      'round complete',
    );
    try {
      this.opts.onRound?.({
        slotMs: round.slotMs,
        intervalS: round.intervalS,
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

  /**
   * The liveness verdict: no round completed for `rounds` of the shortest
   * interval (at least MIN_STALL_S) while this replica owns targets. A wall
   * clock stepped back (slots are named by it: the next one is far ahead), a
   * wedged semaphore or a lost timer all end here; the orchestrator
   * restarts the process (GET /health/live answers 503).
   */
  stall(rounds: number): { ageS: number; limitS: number } | undefined {
    if (!this.isRunning || this.startedMono === undefined || this.current.size === 0 || this.coordinator.ownedCount() === 0) return undefined;
    const shortest = Math.min(...this.intervals);
    const limitS = Math.max(rounds * shortest, MIN_STALL_S);
    const ageS = (this.mono() - (this.lastRoundMono ?? this.startedMono)) / 1000;
    return ageS > limitS ? { ageS, limitS } : undefined;
  }

  health(): ComponentHealth {
    const now = this.now();
    const longest = Math.max(0, ...this.intervals);
    const age = this.lastRoundAt === undefined ? null : (now - this.lastRoundAt) / 1000;
    // The timer fires at least every MAX_TIMER_MS: much longer without a tick is a stall.
    const timerStalled = this.isRunning && this.lastFireAt !== undefined && now - this.lastFireAt > 2 * MAX_TIMER_MS + 10_000;
    // A round completes once per interval; three intervals without one is a backlog.
    const behind = this.isRunning && age !== null && age > 3 * longest + 30;
    return {
      status: !this.started ? 'ok' : !this.isRunning ? 'failing' : timerStalled ? 'failing' : behind ? 'degraded' : 'ok',
      running: this.isRunning,
      targets: this.current.size,
      in_flight: this.inFlightRuns.size,
      last_round_age_s: age === null ? null : Math.round(age * 10) / 10,
      last_round_duration_s: this.lastRoundMs === undefined ? null : this.lastRoundMs / 1000,
      load_s: Math.round(this.loadS * 1000) / 1000,
      ...(timerStalled ? { problem: `the scheduler has not ticked for ${Math.round((now - this.lastFireAt!) / 1000)} s` } : behind ? { problem: `no round completed for ${Math.round(age!)} s` } : {}),
    };
  }

  /**
   * Hand our targets back to the cluster while still collecting, then stop
   * scheduling, let in-flight runs finish for most of the deadline, abort
   * what is left (aborted probes store nothing) and wait for it to unwind.
   */
  protected async onStop(deadline: Deadline): Promise<void> {
    if (this.opts.handBack) {
      try {
        await this.opts.handBack(deadline.within(deadline.remaining() * 0.3));
      } catch (err) {
        this.log.warn({ error: (err as Error).message }, 'could not hand targets back to the cluster');
      }
    }
    this.halted = true;
    clearTimeout(this.timer);
    const all = () => Promise.allSettled([...this.inFlightRuns.values()]);
    await deadline.within(deadline.remaining() * 0.6).race(all());
    if (this.inFlightRuns.size > 0) {
      this.log.warn({ in_flight: this.inFlightRuns.size }, 'aborting in-flight probes for shutdown');
      this.shutdown.abort(new Error('shutdown'));
      await deadline.race(all());
    }
  }
}

/**
 * The offset groups of one interval while a reload places new targets:
 * groups with room in a heap by (members, offset), so the least crowded is
 * found in O(log G); when every group is full, a new group in the middle of
 * the widest gap between offsets. The gaps are kept in a heap of their own,
 * built once and split as groups are added: finding the widest by sorting
 * every offset again for each new group made a reload adding 100,000
 * targets hold the event loop for seconds (O(G² log G)).
 */
class GroupPlacer {
  private readonly room = new MinHeap<{ off: number; n: number }>((a, b) => a.n - b.n || a.off - b.off);
  /**
   * Gaps between neighbouring offsets, widest first; the one that runs past
   * the end of the interval to the first offset (`wraps`) wins a tie, then the
   * earliest (the order a scan of the sorted offsets would choose).
   */
  private readonly gaps = new MinHeap<{ from: number; len: number; wraps: boolean }>((a, b) => b.len - a.len || Number(b.wraps) - Number(a.wraps) || a.from - b.from);

  constructor(
    private readonly counts: Map<number, number>,
    private readonly intervalMs: number,
    private readonly groupSize: number,
  ) {
    for (const [off, n] of counts) if (n < groupSize) this.room.push({ off, n });
    const sorted = [...counts.keys()].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) this.gaps.push({ from: sorted[i - 1]!, len: sorted[i]! - sorted[i - 1]!, wraps: false });
    if (sorted.length) this.gaps.push({ from: sorted[sorted.length - 1]!, len: sorted[0]! + intervalMs - sorted[sorted.length - 1]!, wraps: true });
  }

  place(): number {
    const g = this.room.pop();
    const off = g ? g.off : this.newGroup();
    const n = (this.counts.get(off) ?? 0) + 1;
    this.counts.set(off, n);
    if (n < this.groupSize) this.room.push({ off, n });
    return off;
  }

  /** The middle of the widest gap, which becomes two gaps. */
  private newGroup(): number {
    const g = this.gaps.pop();
    if (!g) {
      // No group yet: the first goes at 0 and leaves one gap, the whole interval.
      this.gaps.push({ from: 0, len: this.intervalMs, wraps: true });
      return 0;
    }
    // In the coordinates of g.from; past the interval's end when a wrapping gap is split after it.
    const mid = Math.floor(g.from + g.len / 2);
    const off = mid % this.intervalMs;
    this.gaps.push({ from: g.from, len: mid - g.from, wraps: g.wraps && mid >= this.intervalMs });
    this.gaps.push({ from: off, len: g.from + g.len - mid, wraps: g.wraps && mid < this.intervalMs });
    return off;
  }
}
