// npm test: alone (every slot of a leaving replica's targets collected within the slot, by a peer that learns of it in time)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from '../../scripts/lib/services.js';
import { ClusterCredentials } from '../../src/cluster/member-auth.js';
import { RedisCoordinator } from '../../src/cluster/redis-coordinator.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { reportErrors } from '../../src/lifecycle/error-reporter.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import type { Probe } from '../../src/probes/types.js';
import { Collector } from '../../src/scheduler/collector.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { groupedOffsets, slotStart } from '../../src/scheduler/slots.js';
import { DiscardSink } from '../../src/sinks/discard-sink.js';
import { Semaphore } from '../../src/util/semaphore.js';
import { sleep, waitFor } from '../helpers/net.js';
import { target } from '../helpers/fixtures.js';

/**
 * A replica that stops probing before its peers see it go (a scale-down on a
 * busy node): the peer has already passed the leaving replica's targets over
 * in the current slot as another's. Two RedisCoordinators on a real Redis
 * (`a` leaves; `b` runs a Scheduler whose probe records every (target, slot)
 * it collects); `a` runs no scheduler, so a slot of its targets is collected
 * only if `b` takes it over.
 *
 * Broken to see it fail: the scheduler's takeOver returning at once -> the
 * targets of `a` whose start had passed in that slot are missing from it.
 */
const HB = 250;
const INTERVAL_MS = 4000;
const NAMES = Array.from({ length: 40 }, (_, i) => `take-over-${i}`);
let redis: Redis;

before(async () => {
  redis = await Redis.start();
});

after(async () => {
  await redis?.cleanup();
});

test('the slot in progress of a leaving replica\'s targets is collected by the peer that gains them, once', async () => {
  const prefix = `take-over-${process.pid}:`;
  const secret = new ClusterCredentials('take-over-test-secret');
  const coordinator = (id: string, metrics: TelemetryMetrics) =>
    new RedisCoordinator(NAMES, { redisUrl: redis.url, prefix, heartbeatMs: HB, memberTtlMs: 1500, advertiseUrl: `http://127.0.0.1:1/${id}`, memberId: id, credentials: secret }, metrics, silentLogger(), reportErrors(metrics, silentLogger()));
  const metricsA = new TelemetryMetrics(false);
  const metricsB = new TelemetryMetrics(false);
  const a = coordinator('a', metricsA);
  const b = coordinator('b', metricsB);
  const collected: string[] = [];
  const probe: Probe = async (ctx) => {
    collected.push(`${ctx.target.name}@${ctx.timeMs}`);
    return { success: true, samples: [], summary: {} };
  };
  const collector = new Collector(new Map([['tcp', probe]]), new Semaphore(100), new DiscardSink(), metricsB, silentLogger(), 'test');
  // One target per offset group: the 40 starts are spread 100 ms apart over the interval.
  const sched = new Scheduler(
    NAMES.map((n) => target(`${n}:9`, { name: n, intervalS: INTERVAL_MS / 1000, timeoutS: 1, probes: ['tcp'] })),
    collector,
    b,
    metricsB,
    silentLogger(),
    { maxConcurrentTargets: 40, groupSize: 1 },
  );
  const offsets = groupedOffsets(NAMES, INTERVAL_MS, 1);
  try {
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => a.members().length === 2 && b.members().length === 2, 'both members in both views', 10_000, 20);
    await sched.start();
    // `a` leaves one second into a slot that starts at least half a second from now.
    let slot = slotStart(Date.now(), INTERVAL_MS) + INTERVAL_MS;
    if (slot - Date.now() < 500) slot += INTERVAL_MS;
    await sleep(slot + 1000 - Date.now());
    const leaving = a.ownedTargets();
    const passed = leaving.filter((t) => offsets.get(t)! < 1000);
    assert.ok(leaving.length >= 10 && passed.length >= 3, `a owns ${leaving.length} targets, ${passed.length} of them start in the first second`);
    await a.stop(Deadline.in(2000));
    await waitFor(() => b.ownedCount() === NAMES.length, 'b owns every target', 5000, 20);
    // The slot is over, and every start of it has run.
    await sleep(slot + INTERVAL_MS + 500 - Date.now());
    const missing = leaving.filter((t) => !collected.includes(`${t}@${slot}`));
    assert.deepEqual(missing, [], `slot ${new Date(slot).toISOString()} of the leaving replica's targets (${passed.length} had started before it left)`);
    for (const t of NAMES) assert.ok(collected.filter((c) => c === `${t}@${slot}`).length <= 1, `${t} collected once`);
  } finally {
    await sched.stop(Deadline.in(2000));
    await Promise.all([a.stop(Deadline.in(500)), b.stop(Deadline.in(500))]);
  }
});
