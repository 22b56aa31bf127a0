// npm test: alone (none left out, none probed twice, counted per slot at the target)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from '../../scripts/lib/services.js';
import { ClusterCredentials } from '../../src/cluster/member-auth.js';
import { RedisCoordinator } from '../../src/cluster/redis-coordinator.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import { sleep, waitFor } from '../helpers/net.js';
import { reportErrors } from '../../src/lifecycle/error-reporter.js';

/**
 * A reload reaches the replicas one by one (a Kubernetes ConfigMap changes on
 * the pods seconds apart). Two coordinators on a real Redis, whose target
 * lists differ for a few seconds: targets both list keep their owner
 * throughout, a target only one lists is that one's, and every target either
 * lists is collected by exactly one of them.
 */
const HB = 200;
const TTL = 1200;
let redis: Redis;
const coordinators: RedisCoordinator[] = [];

before(async () => {
  redis = await Redis.start();
});

after(async () => {
  await Promise.all(coordinators.map((c) => c.stop(Deadline.in(100))));
  await redis?.cleanup();
});

const OLD = Array.from({ length: 60 }, (_, i) => `t${i}`);
const KEPT = OLD.slice(0, 50);
const REMOVED = OLD.slice(50);
const ADDED = Array.from({ length: 10 }, (_, i) => `new${i}`);
const NEW = [...KEPT, ...ADDED];

function make(id: string, targets: string[]): RedisCoordinator {
  const metrics = new TelemetryMetrics();
  const c = new RedisCoordinator(
    targets,
    { redisUrl: redis.url, prefix: `reload-test-${process.pid}:`, heartbeatMs: HB, memberTtlMs: TTL, advertiseUrl: `http://127.0.0.1:9/${id}`, memberId: id, credentials: new ClusterCredentials('reload-test-secret') },
    metrics,
    silentLogger(),
    reportErrors(metrics, silentLogger()),
  );
  coordinators.push(c);
  return c;
}

/** Who would probe each target for one slot: owns() then a real claim, on both replicas. */
async function collectors(a: RedisCoordinator, b: RedisCoordinator, targets: string[], slotMs: number): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  await Promise.all(
    targets.map(async (t) => {
      const who: string[] = [];
      if (a.owns(t) && (await a.claim(t, slotMs, 10_000))) who.push('a');
      if (b.owns(t) && (await b.claim(t, slotMs, 10_000))) who.push('b');
      out.set(t, who);
    }),
  );
  return out;
}

test('targets both replicas list keep their owner while a reload spreads; the others go to the replica that lists them; none twice, none left out', async (t) => {
  const a = make('a', OLD);
  const b = make('b', OLD);
  await Promise.all([a.start(), b.start()]);
  await waitFor(() => a.members().length === 2 && b.members().length === 2, 'two members', 10_000, 20);
  const before = new Map(OLD.map((x) => [x, a.ownerOf(x)!]));
  for (const x of OLD) assert.equal(b.ownerOf(x), before.get(x));

  // A sees the new file first; B a few seconds later.
  a.setTargets(NEW);
  const tA = Date.now();
  await waitFor(() => REMOVED.every((x) => b.ownerOf(x) === 'b'), 'B has learned that A no longer lists the removed targets', 10 * HB, 10);
  const learned = Date.now() - tA;
  let slot = Math.ceil(Date.now() / 10_000) * 10_000;
  let checks = 0;
  while (Date.now() - tA < 3000) {
    for (const x of KEPT) {
      assert.equal(a.ownerOf(x), before.get(x), `${x} kept its owner on A`);
      assert.equal(b.ownerOf(x), before.get(x), `${x} kept its owner on B`);
    }
    for (const x of ADDED) {
      assert.equal(a.ownerOf(x), 'a', `${x} is listed by A only`);
      assert.equal(b.ownerOf(x), undefined);
    }
    for (const x of REMOVED) assert.equal(a.ownerOf(x), undefined);
    const who = await collectors(a, b, [...OLD, ...ADDED], (slot += 10_000));
    for (const [x, w] of who) assert.equal(w.length, 1, `${x} collected by ${JSON.stringify(w)} in the divergent window`);
    checks++;
    await sleep(HB);
  }

  b.setTargets(NEW);
  await waitFor(() => ADDED.every((x) => a.ownerOf(x) === b.ownerOf(x)), 'both agree on the added targets', 10 * HB, 10);
  await sleep(2 * HB);
  for (const x of KEPT) {
    assert.equal(a.ownerOf(x), before.get(x), `${x} still with its first owner`);
    assert.equal(b.ownerOf(x), before.get(x));
  }
  const shares = ADDED.filter((x) => a.ownerOf(x) === 'b').length;
  assert.ok(shares > 0 && shares < ADDED.length, `added targets spread over both once both list them (${shares} of ${ADDED.length} to B)`);
  const who = await collectors(a, b, [...OLD, ...ADDED], (slot += 10_000));
  for (const x of NEW) assert.equal(who.get(x)!.length, 1, `${x} collected once`);
  for (const x of REMOVED) assert.deepEqual(who.get(x), [], `${x} removed everywhere: collected by nobody`);
  t.diagnostic(`B learned A's new list ${learned} ms after A's reload; ${checks} checks of the divergent window`);
});
