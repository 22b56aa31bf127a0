/**
 * The timing thread (see timing-thread.ts): runs the probes whose modules ask
 * for it (`timingThread`: tcp and dns) on
 * an event loop of their own, which does nothing else, so the callbacks
 * that stamp a connect or an answer run when the kernel delivers them, not
 * after the daemon's store writes, scheduling and API work.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { failure, type Probe, type ProbeOutcome } from '../types.js';
import { DeadlineError } from '../../util/abort.js';
import { LoopDelay } from './loop-delay.js';
import { withTimingSlack } from './timing-slack.js';
import type { TimingWorkerData, ToTimingThread } from './timing-thread.js';

const data = workerData as TimingWorkerData;
const monitor = new LoopDelay();
await monitor.start();
// Each probe from its own module (the module's `timingThread`), so this file names no probe kind.
const probes: Record<string, Probe> = {};
for (const p of data.probes) {
  const fn = ((await import(p.module)) as Record<string, unknown>)[p.export];
  if (typeof fn !== 'function') throw new Error(`timing thread: ${p.module} exports no probe ${p.export}`);
  probes[p.kind] = withTimingSlack(fn as Probe, p.timed, data.slackMaxMs, monitor);
}
const running = new Map<number, AbortController>();
const port = parentPort!;
// Loaded and listening (TimingThread.whenReady).
port.postMessage({ ready: true });
port.on('message', (m: ToTimingThread) => {
  if (m.type === 'abort') {
    const err = m.deadline !== undefined ? new DeadlineError(m.deadline) : Object.assign(new Error('probe aborted'), { name: 'AbortError' });
    running.get(m.id)?.abort(err);
    return;
  }
  const ctl = new AbortController();
  running.set(m.id, ctl);
  const probe = probes[m.kind];
  const run: Promise<ProbeOutcome> = probe
    ? probe({ target: m.target, timeMs: m.timeMs, tags: m.tags, signal: ctl.signal }, m.spec)
    : Promise.resolve(failure('internal_error', `the timing thread has no ${m.kind} probe`));
  run
    .catch((err: unknown) => failure('internal_error', `${m.kind} probe threw: ${(err as Error).stack ?? String(err)}`))
    .then((outcome) => {
      running.delete(m.id);
      port.postMessage({ id: m.id, outcome });
    });
});
