// npm test: alone (load figures within a few percent of measured durations)
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

/**
 * A probe that takes `slowMs` for targets named slow-*, `fastMs` for the others,
 * and records how long each run really took, by slot: on a loaded machine a
 * timer fires late, and the figure must follow what the runs really held.
 */
function waiting(fastMs: number, slowMs = fastMs): Probe & { heldMs: Map<number, number[]> } {
  const heldMs = new Map<number, number[]>();
  const probe: Probe = (ctx) =>
    new Promise<ProbeOutcome>((resolve) => {
      const started = performance.now();
      const done = (o: ProbeOutcome) => {
        heldMs.set(ctx.timeMs, [...(heldMs.get(ctx.timeMs) ?? []), performance.now() - started]);
        resolve(o);
      };
      const t = setTimeout(() => done({ success: true, samples: [], summary: {} }), ctx.target.name.startsWith('slow') ? slowMs : fastMs);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(t);
        done({ success: false, reason: 'aborted', samples: [], summary: {} });
      });
    });
  return Object.assign(probe, { heldMs });
}

interface RoundSeen {
  /** The gauge after the round. */
  load: number;
  /** The round's wall-clock longest target: the figure the gauge was before it measured load. */
  longest: number;
  /** Seconds the round's probes really ran, summed (the timers as they fired). */
  ranS: number;
  runs: number;
}

/**
 * Runs `names` every second through `slots` target slots, until `rounds` rounds completed;
 * returns each round's load figure, its wall-clock longest target and how long its probes really ran.
 */
async function measure(names: string[], o: { slots: number; probe: ReturnType<typeof waiting>; rounds: number }): Promise<RoundSeen[]> {
  const metrics = new TelemetryMetrics(false);
  const collector = new Collector(new Map([['tcp', o.probe]]), new Semaphore(1000), new DiscardSink(), metrics, silentLogger(), 'test');
  const seen: RoundSeen[] = [];
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
        const held = o.probe.heldMs.get(r.slotMs) ?? [];
        seen.push({ load: sched.loadS, longest: r.durationS, ranS: held.reduce((a, x) => a + x, 0) / 1000, runs: held.length });
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

/**
 * The figure against what the round's runs really held through the slots
 * (their measured durations / slots): a slot is held from before the probe
 * starts until after it ends, so the figure is at least that, and above it
 * only by the scheduler's own work around each run (a few ms per run here;
 * the bound allows 30 % on a loaded machine). The load figure's definition
 * holds this whatever the timers do; the slowest-target figure does not
 * (it is the longest run, not the runs' sum through the slots).
 */
function followsRuns(r: RoundSeen, slots: number, what: string): void {
  const ran = r.ranS / slots;
  assert.ok(r.load >= ran * 0.97 && r.load <= ran * 1.3 + 0.005, `${what}: figure ${r.load.toFixed(3)} s, the runs held ${r.runs} x ${((r.ranS / r.runs) * 1000).toFixed(0)} ms / ${slots} slots = ${ran.toFixed(3)} s (expected within -3 %..+30 %)`);
}

test('the load figure is proportional to the targets a replica runs: half the targets, half the figure', async () => {
  // More slots than targets: every run starts at once, so the wall-clock round is one run (0.1 s) either way.
  const [p16, p8] = [waiting(100), waiting(100)];
  const [sixteen, eight] = await Promise.all([measure(names(16), { slots: 20, probe: p16, rounds: 2 }), measure(names(8), { slots: 20, probe: p8, rounds: 2 })]);
  const [a, b] = [sixteen.at(-1)!, eight.at(-1)!];
  assert.equal(a.runs, 16);
  assert.equal(b.runs, 8);
  // 16 runs of 0.1 s through 20 slots: 0.08 s; 8 runs: 0.04 s (late timers: as long as they really ran).
  followsRuns(a, 20, '16 targets');
  followsRuns(b, 20, '8 targets');
  // Twice the targets, twice the figure, once each run's real length is taken out
  // (the two ran side by side, but a busy machine may delay one more than the other).
  const ratio = a.load / (a.ranS / a.runs) / (b.load / (b.ranS / b.runs));
  assert.ok(ratio > 1.6 && ratio < 2.4, `16 targets / 8 targets per second of run = ${ratio.toFixed(2)}, expected 2`);
});

test('one slow probe adds its duration divided by the slots, not its duration', async () => {
  const runs = await measure([...names(7), 'slow0'], { slots: 4, probe: waiting(50, 600), rounds: 2 });
  const last = runs.at(-1)!;
  // (7 x 0.05 + 0.6) / 4 = 0.24 s, while the slowest target took 0.6 s.
  followsRuns(last, 4, 'load with one slow target');
  assert.ok(last.longest >= 0.55, `the wall-clock figure is floored by the slow probe (${last.longest} s)`);
  assert.ok(last.load < last.longest / 2, `the load figure is not (${last.load.toFixed(3)} s against the slowest ${last.longest.toFixed(3)} s)`);
});

test('at saturation (the slots never idle) the load figure is the round duration', async () => {
  // 24 runs of 0.1 s through 4 slots, all due at once: the round takes 0.6 s of the 1 s interval
  // (room for late timers before a round overruns into the next).
  const runs = await measure(names(24), { slots: 4, probe: waiting(100), rounds: 2 });
  const last = runs.at(-1)!;
  followsRuns(last, 4, 'load at saturation');
  // The slots hand over at slightly different moments: the last slot to finish may hold one run more (1 of 6).
  assert.ok(Math.abs(last.load - last.longest) <= last.longest * 0.2, `load ${last.load.toFixed(3)} s against the round's real duration ${last.longest.toFixed(3)} s (expected within 20 %)`);
});
