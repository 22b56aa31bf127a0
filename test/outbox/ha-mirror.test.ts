// npm test: in pairs (every target stored in every slot, no gap)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { afterRounds, startDaemon } from '../helpers/daemon.js';
import { startHttpServer, waitFor } from '../helpers/net.js';
import { orCleanUp, settledPoints, startWriteStack, vmEnv } from '../helpers/write-stack.js';

test('200 targets every 2 s through HAProxy, one replica down for five rounds: zero lost, both replicas identical', async (t) => {
  const web = await startHttpServer((_q, r) => r.end('ok'), { logRequests: false });
  const stack = await orCleanUp(startWriteStack(), () => web.close());
  const targets = Array.from({ length: 200 }, (_, i) => `${web.url}/t/${i}`);
  const d = await orCleanUp(startDaemon({ TARGET_FQDNS: targets.join(','), COLLECTION_INTERVAL: '2', SHUTDOWN_TIMEOUT: '20', ...vmEnv(stack.writeUrls) }), () => stack.cleanup(), () => web.close());
  try {
    // Both replicas written for three rounds, then one goes away for five rounds (their points wait in the outbox).
    await waitFor(async () => (await d.json('/health')).components.sink.endpoints?.every((e: { lastSuccess: string | null }) => e.lastSuccess), 'both replicas written', 30_000, 200);
    await afterRounds(d, 3, 2, 'three rounds delivered to both replicas');
    await stack.vm[0].down('SIGTERM'); // flushes what it acknowledged (COOKBOOK)
    await waitFor(async () => (await d.json('/health')).status === 'degraded', '/health degraded while a replica is down', 15_000, 200);
    const during = await d.json('/health');
    const failing = during.components.sink.endpoints.find((e: { consecutiveFailures: number }) => e.consecutiveFailures > 0);
    assert.equal(failing.endpoint, stack.writeUrls[0]);
    await afterRounds(d, 5, 2, 'five rounds collected while replica 1 is down');
    const held = (await d.json('/health')).components.sink;
    assert.ok(held.outbox_points >= 200 * 5, `the outbox holds the outage's rounds for replica 1: ${held.outbox_points} points`);
    await stack.vm[0].up();
    // Caught up: nothing left from the outage, only the current round inside its flush window.
    await waitFor(async () => {
      const s = (await d.json('/health')).components.sink;
      return s.outbox_points === 0 || s.outbox_oldest_age_s <= 1;
    }, 'replica 1 caught up', 30_000, 200);
    await afterRounds(d, 1, 2, 'a round written to both after the catch-up');
    d.proc.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    const stopped = d.logs.find((l) => l.msg === 'stopped')!;
    assert.equal(stopped.outbox_points, 0, 'drained before exit');
    const stored = stopped.points_stored as number;
    const want = stopped.points_stored as number;
    const [a, b] = [await settledPoints(stack.vm[0], want), await settledPoints(stack.vm[1], want)];
    t.diagnostic(`stored ${stored} points; replica 1 has ${a.size}, replica 2 has ${b.size}`);
    t.diagnostic(`the outbox held ${held.outbox_points} points after five rounds without replica 1`);
    // Every probe a round ran stored its point, over at least ten rounds.
    const rounds = d.logs.filter((l) => l.msg === 'round complete');
    const probes = rounds.reduce((n, l) => n + (l.targets as number), 0);
    assert.ok(rounds.length >= 10 && stored >= probes, `collected ${stored} points in ${rounds.length} rounds of ${probes} probes`);
    assert.equal(a.size, stored, 'replica 1 (was down five rounds) has every point');
    assert.equal(b.size, stored, 'replica 2 has every point');
    assert.deepEqual([...a].filter((k) => !b.has(k)), [], 'the replicas hold the same set');
    // Every target has a point in every slot from its first to its last (no gap).
    const slots = new Map<string, number[]>();
    for (const k of a) {
      if (!k.startsWith('http_success|')) continue;
      const [series, ts] = k.split('@') as [string, string];
      slots.set(series, [...(slots.get(series) ?? []), Number(ts)]);
    }
    assert.equal(slots.size, 200);
    for (const [series, ts] of slots) {
      ts.sort((x, y) => x - y);
      for (let i = 1; i < ts.length; i++) assert.equal(ts[i]! - ts[i - 1]!, 2000, `gap in ${series} at ${new Date(ts[i]!).toISOString()}`);
    }
  } finally {
    await d.cleanup();
    await stack.cleanup();
    await web.close();
  }
});
