import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ProbeKind, Target } from '../config/targets.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { AnySample, Sample } from '../samples/sample.js';
import type { Sink } from '../sinks/sink.js';
import { CommitQueue } from './commit-queue.js';
import { deadlineSignal, round3 } from '../util/abort.js';
import type { Semaphore } from '../util/semaphore.js';
import type { ProbeOutcome, ProbeRegistry, ProbeResult } from '../probes/types.js';

export interface CollectOptions {
  /** Timestamp of the points: the slot start, or the request time for ad-hoc runs. */
  timeMs: number;
  /** Ad-hoc runs carry the tag mode=adhoc so they never overwrite a scheduled slot's point. */
  adhoc?: boolean;
  /** Aborts at shutdown (or the ad-hoc request timeout). */
  signal: AbortSignal;
}

/**
 * Adds to the points of one target run before they are stored (geolocation:
 * fields on `hop` points, a `geo` point). Must respect the signal and never
 * throw for a failed lookup: a point without geo fields beats a made-up one.
 */
export interface Enricher {
  enrich(target: Target, samples: AnySample[], ctx: { timeMs: number; tags: Record<string, string>; signal: AbortSignal }): Promise<AnySample[]>;
}

/** Extra time a probe gets past its deadline before the runner stops waiting for it. */
const HARD_STOP_GRACE_MS = 1000;

/**
 * Runs the probes of one target, each under the operations semaphore
 * (MAX_CONCURRENT_OPERATIONS) and its deadline, adds a `probe` point per
 * probe, and commits all points of the run to the sink in one write.
 * Used by the scheduler and by POST /collect alike.
 */
export class Collector {
  private readonly commits: CommitQueue;

  constructor(
    private readonly probes: ProbeRegistry,
    private readonly operations: Semaphore,
    sink: Sink,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
    private readonly sourceName: string,
    private readonly enricher?: Enricher,
  ) {
    this.commits = new CommitQueue(sink);
  }

  async collect(target: Target, kinds: readonly ProbeKind[], o: CollectOptions): Promise<ProbeResult[]> {
    const tags: Record<string, string> = { target: target.name, source: this.sourceName };
    if (o.adhoc) tags.mode = 'adhoc';
    const results = await Promise.all(kinds.map((k) => this.runProbe(k, target, tags, o)));
    // A probe cut short by shutdown measured nothing: store nothing for it, so a
    // peer's (or the next start's) real point for this slot is not overwritten.
    const kept = results.filter((r) => r.reason !== 'aborted');
    const samples: AnySample[] = [];
    for (const r of kept) {
      samples.push(...r.samples, this.probePoint(r, tags, o.timeMs));
    }
    if (this.enricher && samples.length && !o.signal.aborted) {
      try {
        const extra = await this.enricher.enrich(target, samples, { timeMs: o.timeMs, tags, signal: o.signal });
        samples.push(...extra);
        // Report them with the run (collect --once --json shows them): with the trace if there is one.
        (kept.find((r) => r.probe === 'trace') ?? kept[0])?.samples.push(...extra);
      } catch (err) {
        this.metrics.errors.inc({ component: 'enricher' });
        this.log.error({ err, target: target.name }, 'enrichment failed (bug): points stored without it');
      }
    }
    if (samples.length) await this.commits.commit(samples);
    return results;
  }

  private probePoint(r: ProbeResult, tags: Record<string, string>, timeMs: number): Sample<'probe'> {
    return {
      measurement: 'probe',
      tags: { ...tags, probe: r.probe },
      fields: { success: r.success, duration_ms: round3(r.durationMs), reason: r.reason, detail: r.detail },
      timeMs,
    };
  }

  private async runProbe(kind: ProbeKind, target: Target, tags: Record<string, string>, o: CollectOptions): Promise<ProbeResult> {
    const t0 = performance.now();
    const done = (out: ProbeOutcome): ProbeResult => {
      const r: ProbeResult = { ...out, target: target.name, probe: kind, durationMs: performance.now() - t0 };
      this.account(r);
      return r;
    };
    try {
      await this.operations.acquire(o.signal);
    } catch {
      return done({ success: false, reason: 'aborted', detail: 'shut down before the probe started', samples: [], summary: {} });
    }
    const timeoutMs = target.timeoutS * 1000;
    const { signal, dispose } = deadlineSignal(timeoutMs, o.signal);
    const running = this.probes[kind]({ target, timeMs: o.timeMs, tags, signal }).catch((err: unknown): ProbeOutcome => {
      this.metrics.errors.inc({ component: `probe_${kind}` });
      this.log.error({ err, target: target.name, probe: kind }, 'probe threw (bug): recorded as internal_error');
      return { success: false, reason: 'internal_error', detail: String((err as Error)?.message ?? err).slice(0, 300), samples: [], summary: {} };
    });
    // The permit is held until the probe really settles, so the bound stays true
    // even for a probe that ignores its deadline; the caller does not wait that long.
    void running.finally(() => {
      dispose();
      this.operations.release();
    });
    let hardStop: NodeJS.Timeout | undefined;
    const overran = new Promise<ProbeOutcome>((resolve) => {
      hardStop = setTimeout(() => {
        this.log.warn({ target: target.name, probe: kind, timeoutMs }, 'probe ignored its deadline');
        resolve({ success: false, reason: 'timeout', detail: `no result ${HARD_STOP_GRACE_MS} ms after the ${timeoutMs} ms deadline`, samples: [], summary: {} });
      }, timeoutMs + HARD_STOP_GRACE_MS);
      hardStop.unref();
    });
    const out = await Promise.race([running, overran]);
    clearTimeout(hardStop);
    return done(out);
  }

  private account(r: ProbeResult): void {
    const result = r.success ? 'success' : 'failure';
    this.metrics.probes.inc({ probe: r.probe, result });
    this.metrics.probeDuration.observe({ probe: r.probe, result }, r.durationMs / 1000);
    if (!r.success) this.metrics.probeFailures.inc({ probe: r.probe, reason: r.reason ?? 'unknown' });
    if (r.probe === 'icmp' && r.reason !== 'aborted') {
      const ping = r.samples.find((s) => s.measurement === 'ping') as Sample<'ping'> | undefined;
      if (ping?.fields.loss_pct !== undefined) this.metrics.packetLoss.set(r.target, ping.fields.loss_pct);
      if (ping?.fields.rtt_avg_ms !== undefined) this.metrics.rttAvg.set(r.target, ping.fields.rtt_avg_ms);
      else this.metrics.rttAvg.remove(r.target);
    }
  }
}
