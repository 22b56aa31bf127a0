import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { round3 } from '../../util/numbers.js';
import type { Probe } from '../types.js';
import type { LoopDelay } from './loop-delay.js';

/** TIMING_SLACK_MAX_MS's default: the accuracy the timing probes promise (docs/benchmarks.md). */
export const DEFAULT_TIMING_SLACK_MAX_MS = 2;

/**
 * The environment variable the http, tcp and dns modules share (each lists
 * it in its `env`; one definition, so they cannot disagree).
 */
export const timingSlackEnv = {
  /** Above this event-loop delay during a probe (ms), its phase timings are marked uncertain. Default 2. */
  TIMING_SLACK_MAX_MS: z.coerce.number().min(0).max(10_000).default(DEFAULT_TIMING_SLACK_MAX_MS),
};

/** The points of a JavaScript-timed probe a late callback can stretch: their measurement and timing fields (each kind's measurements.ts). */
export interface TimedFields {
  readonly measurement: string;
  readonly fields: readonly string[];
}

/**
 * `probe` with its timings' slack: the two worst event-loop stalls of the
 * thread that timed it, over the probe's whole run (loop-delay.ts: the
 * monitor of that thread; none, e.g. a test's own probe set: no slack). Every point of
 * `measurement` that carries a timing gets `timing_slack_ms`, and
 * `timing_uncertain` when the slack is above `maxMs`: a callback that
 * stamps a phase's end may have run that much after the event, so the
 * phase may read that much too long.
 */
export function withTimingSlack<S>(probe: Probe<S>, { measurement, fields }: TimedFields, maxMs: number, monitor: LoopDelay | undefined): Probe<S> {
  if (!monitor) return probe;
  return async (ctx, spec) => {
    const t0 = performance.now();
    const watched = monitor.recording;
    const out = await probe(ctx, spec);
    // No record of the whole run (the monitor started or stopped meanwhile): no slack rather than a made-up one.
    if (!watched || !monitor.recording) return out;
    const slack = round3(await monitor.settle(t0));
    let timed = false;
    for (const s of out.samples) {
      if (s.measurement !== measurement) continue;
      const f = s.fields as Record<string, unknown>;
      if (!fields.some((k) => typeof f[k] === 'number')) continue;
      f.timing_slack_ms = slack;
      f.timing_uncertain = slack > maxMs;
      timed = true;
    }
    if (timed) out.summary.timing_slack_ms = slack;
    return out;
  };
}
