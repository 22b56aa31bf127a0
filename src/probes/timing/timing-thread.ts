import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { BaseComponent, type ComponentHealth, type Deadline } from '../../lifecycle/component.js';
import type { TelemetryMetrics } from '../../metrics/telemetry-metrics.js';
import { isDeadline, onAbort, type DeadlineError } from '../../util/abort.js';
import { startModuleWorker } from '../../util/module-worker.js';
import { reasonForError } from '../reasons.js';
import { failure, type ProbeContext, type ProbeOutcome, type TargetRef } from '../types.js';
import type { TimedFields } from './timing-slack.js';

/** A probe the timing thread runs: the worker imports `export` from `module` and marks `timed`'s fields with its own loop's slack. */
export interface ThreadProbe {
  readonly kind: string;
  readonly module: string;
  readonly export: string;
  readonly timed: TimedFields;
}

/** What the worker is started with. */
export interface TimingWorkerData {
  slackMaxMs: number;
  probes: readonly ThreadProbe[];
}

/** Messages to the worker. */
export type ToTimingThread =
  | { type: 'run'; id: number; kind: string; target: TargetRef; timeMs: number; tags: Record<string, string>; spec: unknown }
  /** `deadline`: the probe's deadline (ms) when that is why, else a shutdown. */
  | { type: 'abort'; id: number; deadline?: number };

interface Pending {
  resolve: (o: ProbeOutcome) => void;
  unlink: () => void;
  timer?: NodeJS.Timeout;
}

/** After a run is aborted, how long the worker has to answer before the run ends without it. */
const ABORT_GRACE_MS = 1000;
/** Starts within a minute after which a dying worker is not restarted (a bug, not bad luck). */
const MAX_RESTARTS_PER_MINUTE = 5;

/**
 * The tcp and dns probes on a worker thread of their own (timing-worker.ts).
 * Their timings are taken in JavaScript: a connect's or an answer's time is
 * performance.now() when its callback runs, so on the daemon's main loop —
 * busy with scheduling, parsing, the store and the API at 10,000 targets
 * (event-loop lag p99 of 20-30 ms, docs/benchmarks.md) — they read long by
 * however late the loop was. The worker's loop does nothing but these
 * probes. Each point still carries the worker's own loop delay as
 * `timing_slack_ms` (an OS that deschedules the thread shows there too).
 *
 * Runs in flight are bounded by the scheduler's operations semaphore (every
 * run holds one); a run whose signal aborts tells the worker, and ends on
 * its own after ABORT_GRACE_MS if the worker does not answer. The worker
 * starts with the first run; one that exits is started again by the next
 * run (its runs end as internal_error); five exits in a minute and it stays
 * down, failing health, and runs fail at once.
 */
export class TimingThread extends BaseComponent {
  readonly name = 'timing-thread';
  private worker?: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exits: number[] = [];
  private down?: string;
  private closing = false;

  constructor(
    private readonly slackMaxMs: number,
    /** What it runs (threadProbes of the registry). */
    private readonly probes: readonly ThreadProbe[],
    private readonly log: Logger,
    private readonly metrics?: TelemetryMetrics,
    /** Start the worker at start (targets use its probes); otherwise the first run starts it. */
    private readonly spawnAtStart = true,
  ) {
    super();
  }

  /**
   * A daemon without targets for its probes never pays for the worker; with them
   * it is spawned now, and not waited for: loading its modules takes seconds
   * from source on a loaded machine, and the API must answer meanwhile. Runs
   * posted before it listens wait in its port; one that dies starting is
   * handled as any exit.
   */
  protected async onStart(): Promise<void> {
    if (this.spawnAtStart) this.spawn();
  }

  private ready: Promise<void> = Promise.resolve();

  /** Resolves once the worker has loaded and listens (a test's setup waits for it; the daemon need not). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  private spawn(): Worker {
    const w = startModuleWorker(import.meta.url, './timing-worker', { workerData: { slackMaxMs: this.slackMaxMs, probes: this.probes } satisfies TimingWorkerData });
    w.unref();
    this.worker = w;
    this.ready = new Promise<void>((resolve) => {
      w.once('message', () => resolve());
      w.once('exit', () => resolve());
    });
    w.on('message', (m: { id?: number; outcome?: ProbeOutcome }) => {
      if (m.id !== undefined && m.outcome) this.settle(m.id, m.outcome);
    });
    w.on('error', (err) => this.log.error({ err }, 'timing thread failed'));
    w.on('exit', (code) => this.onExit(w, code));
    return w;
  }

  private onExit(w: Worker, code: number): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    for (const id of [...this.pending.keys()]) this.settle(id, failure('internal_error', `the timing thread exited (${code}) during the probe`));
    if (this.closing) return;
    this.metrics?.errors.inc({ component: this.name });
    const now = Date.now();
    this.exits = [...this.exits.filter((t) => now - t < 60_000), now];
    if (this.exits.length >= MAX_RESTARTS_PER_MINUTE) {
      this.down = `exited ${this.exits.length} times within a minute (last code ${code}); its probes fail until a restart`;
      this.log.error({ code }, `timing thread ${this.down}`);
      return;
    }
    this.log.warn({ code }, 'timing thread exited: it starts again with the next probe');
  }

  private settle(id: number, outcome: ProbeOutcome): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.unlink();
    if (p.timer) clearTimeout(p.timer);
    p.resolve(outcome);
    if (this.pending.size === 0) for (const r of this.drained.splice(0)) r();
  }

  private readonly drained: (() => void)[] = [];

  /** Run one of its probes on the timing thread. Never throws: a failure is an outcome. */
  run(kind: string, ctx: ProbeContext, spec: unknown): Promise<ProbeOutcome> {
    if (!this.running || this.down) return Promise.resolve(failure('internal_error', `timing thread not running${this.down ? `: ${this.down}` : ''}`));
    const w = this.worker ?? this.spawn();
    if (ctx.signal.aborted) return Promise.resolve(failure(reasonForError(ctx.signal.reason, ctx.signal).reason, 'aborted before it started'));
    const id = this.nextId++;
    return new Promise<ProbeOutcome>((resolve) => {
      const entry: Pending = { resolve, unlink: () => {} };
      this.pending.set(id, entry);
      entry.unlink = onAbort(ctx.signal, () => {
        const reason = ctx.signal.reason as unknown;
        const msg: ToTimingThread = { type: 'abort', id, deadline: isDeadline(reason) ? (reason as DeadlineError).ms : undefined };
        w.postMessage(msg);
        entry.timer = setTimeout(() => this.settle(id, failure(reasonForError(reason, ctx.signal).reason, 'the timing thread did not answer the abort')), ABORT_GRACE_MS);
        entry.timer.unref();
      });
      const msg: ToTimingThread = { type: 'run', id, kind, target: ctx.target, timeMs: ctx.timeMs, tags: ctx.tags, spec };
      w.postMessage(msg);
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  health(): ComponentHealth {
    if (this.down) return { status: 'failing', reason: this.down };
    return { status: 'ok', thread: this.worker !== undefined, in_flight: this.pending.size };
  }

  protected async onStop(deadline: Deadline): Promise<void> {
    this.closing = true;
    const w = this.worker;
    if (!w) return;
    // Runs still in flight were aborted by the scheduler's stop: give their answers a moment.
    if (this.pending.size) await deadline.within(ABORT_GRACE_MS).race(new Promise<void>((r) => this.drained.push(r)));
    await w.terminate();
  }
}
