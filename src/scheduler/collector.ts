import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Target } from '../config/targets.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { ProbeRegistry } from '../probes/registry.js';
import type { ProbeOutcome, ProbeResult, Reason } from '../probes/types.js';
import type { Enricher } from '../samples/enricher.js';
import type { AnySample, Sample } from '../samples/sample.js';
import type { Sink } from '../sinks/sink.js';
import { round3 } from '../util/numbers.js';
import { deadlineSignal, isDeadline, onAbort } from '../util/abort.js';
import type { Semaphore } from '../util/semaphore.js';
import { CommitQueue } from './commit-queue.js';

export interface CollectOptions {
  /** Timestamp of the points: the slot start, or the request time for ad-hoc runs. */
  timeMs: number;
  /** Ad-hoc runs carry the tag mode=adhoc so they never overwrite a scheduled slot's point. */
  adhoc?: boolean;
  /** Aborts at shutdown (or the ad-hoc request timeout). */
  signal: AbortSignal;
  /** Ad-hoc runs also take a permit of their own share of the operations bound. */
  share?: Semaphore;
  /** Is the caller shutting down? Then a failure a shutdown can cause means "cut short" (the scheduler's runs). */
  shuttingDown?: () => boolean;
}

export interface CollectRun {
  /** One result per probe, once each has settled or overrun its deadline. */
  results: ProbeResult[];
  /** Every probe has really ended (a probe that ignored its deadline may end later than `results`). */
  settled: Promise<void>;
  /** Milliseconds the run held operation slots (MAX_CONCURRENT_OPERATIONS), summed over its probes, until each result. */
  operationMs: number;
}

/** Who hears about every probe result (the target status board). */
export type ResultListener = (target: Target, r: ProbeResult, o: { timeMs: number; adhoc: boolean }) => void;

/** Extra time a probe gets past its deadline before the runner stops waiting for it. */
const HARD_STOP_GRACE_MS = 1000;

/**
 * Failures a shutdown itself can cause (a tool killed, the spawner helper
 * gone, a probe aborted): while stopping they mean "cut short", not "the
 * target failed", so they are not stored.
 */
const SHUTDOWN_REASONS: ReadonlySet<Reason> = new Set(['aborted', 'tool_error', 'tool_missing', 'internal_error', 'parse_error']);

/**
 * Runs the probes of one target, each under the operations semaphore
 * (MAX_CONCURRENT_OPERATIONS) and its deadline, adds a `probe` point per
 * probe, and commits all points of the run to the sink in one write.
 * Used by the scheduler and by POST /collect alike.
 */
export class Collector {
  private readonly commits: CommitQueue;
  private lastCommitErrorLog = 0;

  constructor(
    private readonly probes: ProbeRegistry,
    private readonly operations: Semaphore,
    sink: Sink,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
    private readonly sourceName: string,
    private readonly enricher?: Enricher,
    private readonly onResult?: ResultListener,
  ) {
    this.commits = new CommitQueue(sink);
  }

  async collect(target: Target, kinds: readonly string[], o: CollectOptions): Promise<CollectRun> {
    const tags: Record<string, string> = { target: target.name, source: this.sourceName };
    if (o.adhoc) tags.mode = 'adhoc';
    const settles: Promise<unknown>[] = [];
    const held = { ms: 0 };
    const results = await Promise.all(kinds.map((k) => this.runProbe(k, target, tags, o, settles, held)));
    const settled = Promise.allSettled(settles).then(() => undefined);
    // A probe cut short by shutdown measured nothing: store nothing for it, so a
    // peer's (or the next start's) real point for this slot is not overwritten.
    for (const r of results) {
      if (!r.success && r.reason && SHUTDOWN_REASONS.has(r.reason) && o.shuttingDown?.()) {
        r.detail = `cut short by shutdown (${r.reason}: ${r.detail ?? ''})`;
        r.reason = 'aborted';
      }
    }
    const kept = results.filter((r) => r.reason !== 'aborted');
    for (const r of kept) this.account(target, r, o);
    const samples: AnySample[] = [];
    for (const r of kept) samples.push(...r.samples, this.probePoint(r, tags, o.timeMs));
    if (this.enricher && samples.length && !o.signal.aborted) {
      try {
        const extra = await this.enricher.enrich(target, samples, { timeMs: o.timeMs, tags, signal: o.signal });
        samples.push(...extra);
        // Report them with the run (collect --once --json shows them): with the result they mostly
        // enrich, the one with the most points (a trace's hops), if any.
        kept.reduce<ProbeResult | undefined>((a, r) => (!a || r.samples.length > a.samples.length ? r : a), undefined)?.samples.push(...extra);
      } catch (err) {
        this.metrics.errors.inc({ component: 'enricher' });
        this.log.error({ err, target: target.name }, 'enrichment failed (bug): points stored without it');
      }
    }
    if (samples.length) {
      try {
        await this.commits.commit(samples);
      } catch (err) {
        // Counted as dropped points by the commit queue; the sink's health says why.
        this.metrics.errors.inc({ component: 'sink' });
        if (Date.now() - this.lastCommitErrorLog > 60_000) {
          this.lastCommitErrorLog = Date.now();
          this.log.error({ error: (err as Error).message, points: samples.length }, 'points could not be stored (logged once a minute while it lasts)');
        }
      }
    }
    return { results, settled, operationMs: held.ms };
  }

  private probePoint(r: ProbeResult, tags: Record<string, string>, timeMs: number): Sample<'probe'> {
    return {
      measurement: 'probe',
      tags: { ...tags, probe: r.probe },
      fields: { success: r.success, duration_ms: round3(r.durationMs), reason: r.reason, detail: r.detail },
      timeMs,
    };
  }

  private async runProbe(kind: string, target: Target, tags: Record<string, string>, o: CollectOptions, settles: Promise<unknown>[], held: { ms: number }): Promise<ProbeResult> {
    const t0 = performance.now();
    const done = (out: ProbeOutcome): ProbeResult => ({ ...out, target: target.name, probe: kind, durationMs: performance.now() - t0 });
    const probe = this.probes.get(kind);
    if (!probe) return done({ success: false, reason: 'internal_error', detail: `no probe "${kind}" registered`, samples: [], summary: {} });
    let shared = false;
    try {
      if (o.share) {
        await o.share.acquire(o.signal);
        shared = true;
      }
      await this.operations.acquire(o.signal);
    } catch {
      if (shared) o.share!.release();
      return done({ success: false, reason: 'aborted', detail: 'shut down before the probe started', samples: [], summary: {} });
    }
    const acquiredAt = performance.now();
    const timeoutMs = target.timeoutS * 1000;
    const { signal, dispose } = deadlineSignal(timeoutMs, o.signal);
    const running = Promise.resolve()
      .then(() => probe({ target, timeMs: o.timeMs, tags, signal }, target.specs[kind]))
      .catch((err: unknown): ProbeOutcome => {
        this.metrics.errors.inc({ component: `probe_${kind}` });
        this.log.error({ err, target: target.name, probe: kind }, 'probe threw (bug): recorded as internal_error');
        return { success: false, reason: 'internal_error', detail: String((err as Error)?.message ?? err).slice(0, 300), samples: [], summary: {} };
      });
    // The permits are held until the probe really settles, so the bounds stay true
    // even for a probe that ignores its deadline; the caller does not wait that long.
    settles.push(
      running.finally(() => {
        dispose();
        this.operations.release();
        if (shared) o.share!.release();
      }),
    );
    // The grace timer starts only once the probe's signal fires (its deadline or
    // shutdown): one timer per probe (the deadline's) instead of two.
    let hardStop: NodeJS.Timeout | undefined;
    let unlink = () => {};
    const overran = new Promise<ProbeOutcome>((resolve) => {
      const startGrace = () => {
        hardStop = setTimeout(() => {
          const late = isDeadline(signal.reason);
          this.log.warn({ target: target.name, probe: kind, timeoutMs }, late ? 'probe ignored its deadline' : 'probe ignored its abort');
          resolve({
            success: false,
            reason: late ? 'timeout' : 'aborted',
            detail: late ? `no result ${HARD_STOP_GRACE_MS} ms after the ${timeoutMs} ms deadline` : `no result ${HARD_STOP_GRACE_MS} ms after shutdown began`,
            samples: [],
            summary: {},
          });
        }, HARD_STOP_GRACE_MS);
        hardStop.unref();
      };
      if (signal.aborted) startGrace();
      else unlink = onAbort(signal, startGrace);
    });
    const out = await Promise.race([running, overran]);
    unlink();
    clearTimeout(hardStop);
    held.ms += performance.now() - acquiredAt;
    return done(out);
  }

  private account(target: Target, r: ProbeResult, o: CollectOptions): void {
    const result = r.success ? 'success' : 'failure';
    this.metrics.probes.inc({ probe: r.probe, result });
    this.metrics.probeDuration.observe({ probe: r.probe, result }, r.durationMs / 1000);
    if (!r.success) this.metrics.probeFailures.inc({ probe: r.probe, reason: r.reason ?? 'unknown' });
    try {
      this.onResult?.(target, r, { timeMs: o.timeMs, adhoc: o.adhoc === true });
    } catch (err) {
      this.metrics.errors.inc({ component: 'status' });
      this.log.error({ err }, 'result listener failed (bug)');
    }
  }
}
