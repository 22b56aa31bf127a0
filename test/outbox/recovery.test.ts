// npm test: in pairs (outbox empty within 5 s of the return; one trial per backoff step)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon } from '../helpers/daemon.js';
import { sleep, startHttpServer, waitFor } from '../helpers/net.js';
import { orCleanUp, startWriteStack, stopAndCountReplicas, vmEnv } from '../helpers/write-stack.js';

test('12 s outage of both databases behind HAProxy: the outbox is empty within 5 s of their return, 0 lost, one trial per backoff step', async (t) => {
  const web = await startHttpServer((_q, r) => r.end('ok'), { logRequests: false });
  const stack = await orCleanUp(startWriteStack(), () => web.close());
  const targets = Array.from({ length: 20 }, (_, i) => `${web.url}/t/${i}`);
  // Defaults for recovery: CIRCUIT_RECOVERY_TIMEOUT 60 s (which the writers do not wait for), INFLUX_RETRY_MAX 2 s.
  const env = vmEnv(stack.writeUrls);
  const d = await orCleanUp(startDaemon({ TARGET_FQDNS: targets.join(','), COLLECTION_INTERVAL: '2', SHUTDOWN_TIMEOUT: '15', ...env }), () => stack.cleanup(), () => web.close());
  try {
    await waitFor(async () => (await d.json('/health')).components.sink.endpoints?.every((e: { lastSuccess: string | null }) => e.lastSuccess), 'first deliveries', 20_000, 200);
    await Promise.all(stack.vm.map((v) => v.down('SIGTERM')));
    const downAt = Date.now();
    await waitFor(async () => (await d.json('/health')).status === 'degraded', 'degraded while both are down', 15_000, 200);
    await sleep(12_000 - (Date.now() - downAt));
    const during = (await d.json('/health')).components.sink;
    assert.ok(during.outbox_points > 100, `outbox grew to ${during.outbox_points}`);
    const attempts = during.endpoints.map((e: { consecutiveFailures: number }) => e.consecutiveFailures);
    await Promise.all(stack.vm.map((v) => v.up()));
    const upAt = Date.now();
    let maxPoints = 0;
    const haproxyUp = Promise.all(stack.writeUrls.map((u) => waitFor(async () => (await fetch(`${u}/health`)).ok, 'haproxy serving again', 30_000, 50).then(() => Date.now() - upAt)));
    const firstWrite: number[] = [];
    await waitFor(async () => {
      const s = (await d.json('/health')).components.sink;
      maxPoints = Math.max(maxPoints, s.outbox_points);
      s.endpoints.forEach((e: { consecutiveFailures: number }, i: number) => {
        if (e.consecutiveFailures === 0 && firstWrite[i] === undefined) firstWrite[i] = Date.now() - upAt;
      });
      // Empty, or only this round's points waiting out their flush window: nothing from the outage left.
      return s.outbox_points === 0 || s.outbox_oldest_age_s <= 1;
    }, 'an empty outbox', 30_000, 50);
    const drainedIn = Date.now() - upAt;
    t.diagnostic(`HAProxy serving again after ${(await haproxyUp).join(', ')} ms; first successful write after ${firstWrite.join(', ')} ms`);
    t.diagnostic(`outage 12 s: outbox held up to ${maxPoints} points; trials per endpoint during the outage ${attempts.join(', ')}; outage backlog delivered ${drainedIn} ms after the databases answered again`);
    // 1 s doubling to 2 s: about one trial per 2 s over 12 s (plus the one that found them down).
    for (const a of attempts) assert.ok(a >= 4 && a <= 12, `trials during 12 s: ${a}`);
    assert.ok(drainedIn < 5000, `outbox empty ${drainedIn} ms after the databases returned (want < 5000)`);
    const { stored: want, replicas: [a, b] } = await stopAndCountReplicas(d, stack);
    t.diagnostic(`stored ${want}; replicas hold ${a.size} and ${b.size}; lost ${want - Math.min(a.size, b.size)}`);
    assert.equal(a.size, want);
    assert.equal(b.size, want);
  } finally {
    await d.cleanup();
    await stack.cleanup();
    await web.close();
  }
});
