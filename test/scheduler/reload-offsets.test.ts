import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StandaloneCoordinator } from '../../src/cluster/coordinator.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import type { Collector } from '../../src/scheduler/collector.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { target } from '../helpers/fixtures.js';

/** The scheduler's offsets (what a reload must keep for unchanged targets). */
const offsets = (s: Scheduler) => new Map((s as unknown as { offsets: Map<string, number> }).offsets);

test('a reload keeps the slot offset of every unchanged target, places new ones without moving anyone, and reports the diff', async () => {
  const names = Array.from({ length: 40 }, (_, i) => `10.0.0.${i + 1}`);
  // No run is ever dispatched in this test (the clock never reaches a slot): the collector is never called.
  const collector = {} as Collector;
  // A clock that never moves: the first runs are queued and never come due.
  const sched = new Scheduler(names.map((n) => target(n)), collector, new StandaloneCoordinator(names), new TelemetryMetrics(false), silentLogger(), { maxConcurrentTargets: 10, groupSize: 10, now: () => 1_000_000_030_000 });
  await sched.start();
  try {
    const before = offsets(sched);
    const changed = target('10.0.0.2');
    changed.timeoutS = 4;
    const next = [...names.filter((n) => n !== '10.0.0.1'), '10.9.9.9'].map((n) => (n === '10.0.0.2' ? changed : target(n)));
    const diff = sched.setTargets(next);
    assert.deepEqual(diff, { added: ['10.9.9.9'], removed: ['10.0.0.1'], changed: ['10.0.0.2'] });
    const after = offsets(sched);
    for (const n of names.slice(1)) assert.equal(after.get(n), before.get(n), `${n} kept its offset`);
    assert.equal(after.has('10.0.0.1'), false);
    // The group that lost a member (10.0.0.1's) takes the newcomer: still at most BATCH_SIZE per offset.
    assert.equal(after.get('10.9.9.9'), before.get('10.0.0.1'));
    const perOffset = new Map<number, number>();
    for (const o of after.values()) perOffset.set(o, (perOffset.get(o) ?? 0) + 1);
    assert.ok([...perOffset.values()].every((n) => n <= 10));
    assert.deepEqual(sched.setTargets(next), { added: [], removed: [], changed: [] }, 'the same set again changes nothing');
  } finally {
    await sched.stop(Deadline.in(1000));
  }
});

test('targets added when every group is full start new groups in the middle of the widest gaps, BATCH_SIZE each', async () => {
  const names = Array.from({ length: 20 }, (_, i) => `10.0.1.${i + 1}`);
  const sched = new Scheduler(names.map((n) => target(n)), {} as Collector, new StandaloneCoordinator(names), new TelemetryMetrics(false), silentLogger(), { maxConcurrentTargets: 10, groupSize: 10, now: () => 1_000_000_030_000 });
  await sched.start();
  try {
    assert.deepEqual(new Set(offsets(sched).values()), new Set([0, 30_000]), 'two full groups of a 60 s interval');
    const added = Array.from({ length: 30 }, (_, i) => `10.0.2.${i + 1}`);
    const diff = await sched.setTargetsInSteps([...names, ...added].map((n) => target(n)));
    assert.equal(diff.added.length, 30);
    const perOffset = new Map<number, number>();
    for (const n of added) perOffset.set(offsets(sched).get(n)!, (perOffset.get(offsets(sched).get(n)!) ?? 0) + 1);
    // The two 30 s gaps tie: the one past the interval's end goes first (45 s), then 15 s, then 52.5 s.
    assert.deepEqual([...perOffset.entries()], [[45_000, 10], [15_000, 10], [52_500, 10]]);
  } finally {
    await sched.stop(Deadline.in(1000));
  }
});
