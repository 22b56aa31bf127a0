import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StandaloneCoordinator } from '../../src/cluster/coordinator.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import type { Probe, ProbeOutcome } from '../../src/probes/types.js';
import { Collector } from '../../src/scheduler/collector.js';
import { Scheduler, type RoundSummary } from '../../src/scheduler/scheduler.js';
import { DiscardSink } from '../../src/sinks/discard-sink.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { Semaphore } from '../../src/util/semaphore.js';
import { target } from '../helpers/fixtures.js';

// The arithmetic of telemetry_collection_duration_seconds, with probes of known
// duration (a probe that waits: the one thing a real probe cannot do on demand).
// Real daemons on 1, 2 and 4 replicas: bench/scale-signal.ts; in the loop: npm run scale-sim.

/** A probe that takes `ms` for targets named slow-*, `fastMs` for the others. */
function waiting(fastMs: number, slowMs = fastMs): Probe {
  return (ctx) =>
    new Promise<ProbeOutcome>((resolve) => {
      const t = setTimeout(() => resolve({ success: true, samples: [], summary: {} }), ctx.target.name.startsWith('slow') ? slowMs : fastMs);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve({ success: false, reason: 'aborted', samples: [], summary: {} });
      });
    });
}

/**
 * Runs `names` every second through `slots` target slots, until `rounds` rounds completed;
 * returns each round's load figure (the gauge after it) and its wall-clock longest target.
 */
async function measure(names: string[], o: { slots: number; probe: Probe; rounds: number }): Promise<{ load: number; longest: number }[]> {
  const metrics = new TelemetryMetrics(false);
  const collector = new Collector(new Map([['tcp', o.probe]]), new Semaphore(1000), new DiscardSink(), metrics, silentLogger(), 'test');
  const seen: { load: number; longest: number }[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sched = new Scheduler(
    names.map((n) => target(`${n}:9`, { name: n, intervalS: 1, timeoutS: 0.9, probes: ['tcp'] })),
    collector,
    new StandaloneCoordinator(names),
    metrics,
    silentLogger(),
    {
      maxConcurrentTargets: o.slots,
      maxConcurrentOperations: 1000,
      referenceIntervalS: 1,
      // One group: every target of the round starts at the same offset, so the slots are the only spreading.
      groupSize: names.length,
      onRound: (r: RoundSummary) => {
        seen.push({ load: sched.loadS, longest: r.durationS });
        if (seen.length >= o.rounds) done();
      },
    },
  );
  await sched.start();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([finished, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`fewer than ${o.rounds} rounds in 10 s`)), 10_000)))]);
  } finally {
    clearTimeout(timer);
    await sched.stop(Deadline.in(2000));
  }
  // The first round may start part-way into a slot: judge the last one.
  return seen;
}

const names = (n: number, prefix = 't') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const within = (x: number, want: number, rel: number, what: string) => assert.ok(Math.abs(x - want) <= want * rel, `${what}: ${x.toFixed(3)} s, expected ${want.toFixed(3)} s ± ${rel * 100} %`);

test('the load figure is proportional to the targets a replica runs: half the targets, half the figure', async () => {
  // More slots than targets: every run starts at once, so the wall-clock round is 0.1 s either way.
  const [sixteen, eight] = await Promise.all([measure(names(16), { slots: 20, probe: waiting(100), rounds: 2 }), measure(names(8), { slots: 20, probe: waiting(100), rounds: 2 })]);
  // 16 runs of 0.1 s through 20 slots: 0.08 s; 8 runs: 0.04 s. (Timers on a busy machine run late: generous upper side.)
  within(sixteen.at(-1)!.load, 0.08, 0.35, '16 targets');
  within(eight.at(-1)!.load, 0.04, 0.35, '8 targets');
  const ratio = sixteen.at(-1)!.load / eight.at(-1)!.load;
  assert.ok(ratio > 1.6 && ratio < 2.4, `16 targets / 8 targets = ${ratio.toFixed(2)}, expected 2`);
});

test('one slow probe adds its duration divided by the slots, not its duration', async () => {
  const runs = await measure([...names(7), 'slow0'], { slots: 4, probe: waiting(50, 600), rounds: 2 });
  const last = runs.at(-1)!;
  // (7 x 0.05 + 0.6) / 4 = 0.24 s, while the slowest target took 0.6 s.
  within(last.load, 0.2375, 0.35, 'load with one slow target');
  assert.ok(last.longest >= 0.55, `the wall-clock figure is floored by the slow probe (${last.longest} s)`);
  assert.ok(last.load < last.longest / 2, 'the load figure is not');
});

test('at saturation (the slots never idle) the load figure is the round duration', async () => {
  // 32 runs of 0.1 s through 4 slots, all due at once: the round takes 0.8 s of the 1 s interval.
  const runs = await measure(names(32), { slots: 4, probe: waiting(100), rounds: 2 });
  const last = runs.at(-1)!;
  within(last.load, last.longest, 0.15, `load against the round's real duration (${last.longest} s)`);
  within(last.load, 0.8, 0.3, 'load');
});
