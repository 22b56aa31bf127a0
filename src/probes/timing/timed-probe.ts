import type { DaemonEnv } from '../../env/daemon-env.js';
import type { ProbeDeps, ProbeModule } from '../module.js';
import type { Probe } from '../types.js';
import { withTimingSlack, type TimedFields } from './timing-slack.js';
import type { ThreadProbe } from './timing-thread.js';

/**
 * The `create` of a probe module that runs on the timing thread (its
 * `timingThread` names the same probe function): in the daemon the run goes
 * to the thread, whose loop does nothing else; without the thread (one-shot
 * runs, tests) the probe runs on the calling loop, its points marked with
 * that loop's slack.
 */
export function timedProbe<S>(kind: string, timed: TimedFields, probe: Probe<S>, deps: ProbeDeps<DaemonEnv & { TIMING_SLACK_MAX_MS: number }>): Probe<S> {
  const thread = deps.timingThread;
  return thread ? (ctx, spec) => thread.run(kind, ctx, spec) : withTimingSlack(probe, timed, deps.env.TIMING_SLACK_MAX_MS, deps.loopDelay);
}

/** The probes of `modules` that run on the timing thread (their `timingThread`). */
export function threadProbes(modules: readonly ProbeModule[]): ThreadProbe[] {
  return modules.flatMap((m) => (m.timingThread && m.timed ? [{ kind: m.kind, ...m.timingThread, timed: m.timed }] : []));
}
