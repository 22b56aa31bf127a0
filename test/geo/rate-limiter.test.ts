import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { RateLimiter, type AcquireResult, type RateTicket } from '../../src/geo/rate-limiter.js';
import { maxInAnyWindow } from './fake-ip-api.js';

// The limiter's timers are unref'd (a daemon never waits on them at exit); in
// this bare test process something else must keep the event loop alive.
let keepAlive: NodeJS.Timeout;
before(() => (keepAlive = setInterval(() => {}, 1000)));
after(() => clearInterval(keepAlive));

/** Deterministic PRNG so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

test('simulated clock with random delays: no window of any alignment ever sees more than the limit arrive', async () => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    let now = 0;
    const W = 60_000;
    const limit = 45;
    // maxQueue 0: acquire either grants at once or refuses, so the clock can be driven by hand.
    const l = new RateLimiter({ limit, windowMs: W, marginMs: 0, maxQueue: 0, now: () => now });
    const r = rng(seed);
    const grants: number[] = [];
    const arrivals: number[] = [];
    const pendingDone: [number, RateTicket][] = [];
    while (now < 20 * W) {
      // Bursts and lulls: many attempts close together, sometimes a long gap.
      now += r() < 0.05 ? r() * W : r() * 300;
      const res = await l.acquire();
      if (res.ok) {
        grants.push(now);
        // Requests take 0..2 s; the server sees each somewhere in between.
        const took = r() * 2000;
        const arrival = now + r() * took;
        arrivals.push(arrival);
        pendingDone.push([now + took, res.ticket]);
      } else assert.equal(res.reason, 'queue_full');
      // Complete whatever finished by now, in time order.
      pendingDone.sort((a, b) => a[0] - b[0]);
      while (pendingDone.length && pendingDone[0]![0] <= now) {
        const [at, ticket] = pendingDone.shift()!;
        const real = now;
        now = at;
        ticket.done();
        now = real;
      }
    }
    assert.ok(maxInAnyWindow(arrivals, W) <= limit, `seed ${seed}: ${maxInAnyWindow(arrivals, W)} arrivals in one window`);
    assert.ok(grants.length > 5 * limit, `seed ${seed}: ${grants.length} grants`);
  }
});

/** A request that completes the moment it is granted. */
async function take(l: RateLimiter, signal?: AbortSignal): Promise<AcquireResult> {
  const r = await l.acquire(signal);
  if (r.ok) r.ticket.done();
  return r;
}

test('simulated clock: under constant demand the whole budget is used', async () => {
  let now = 0;
  const W = 60_000;
  const l = new RateLimiter({ limit: 45, windowMs: W, maxQueue: 0, now: () => now });
  let granted = 0;
  for (; now < 10 * W; now += 50) if ((await take(l)).ok) granted++;
  assert.ok(granted >= 449 && granted <= 450, `${granted} grants in 10 minutes`);
});

test('a slot is held from the grant until a window after the request completed', async () => {
  let now = 0;
  const l = new RateLimiter({ limit: 2, windowMs: 1000, maxQueue: 0, now: () => now });
  const a = await l.acquire();
  const b = await l.acquire();
  assert.ok(a.ok && b.ok);
  now = 5000; // two requests stuck for 5 s still hold their slots
  assert.equal((await l.acquire()).ok, false);
  a.ticket.done(); // completes at 5000: the server may have seen it as late as that
  now = 5999;
  assert.equal((await l.acquire()).ok, false);
  now = 6000;
  assert.equal((await take(l)).ok, true);
  assert.equal((await l.acquire()).ok, false, 'b is still in flight');
});

test('the margin widens the window', async () => {
  let now = 0;
  const l = new RateLimiter({ limit: 3, windowMs: 1000, marginMs: 100, maxQueue: 0, now: () => now });
  const grants: number[] = [];
  for (; now < 5000; now += 10) if ((await take(l)).ok) grants.push(now);
  assert.deepEqual(grants.slice(0, 6), [0, 10, 20, 1100, 1110, 1120]);
  assert.ok(maxInAnyWindow(grants, 1100) <= 3);
});

test('queued waiters are granted in order on time, the queue is bounded, aborts leave it', async () => {
  const l = new RateLimiter({ limit: 4, windowMs: 200, maxQueue: 10 });
  const t0 = performance.now();
  const times: number[] = [];
  const all = Array.from({ length: 14 }, (_, i) =>
    l.acquire().then((r) => {
      if (r.ok) {
        times.push(r.ticket.grantedAt - t0);
        r.ticket.done();
      }
      return { i, r };
    }),
  );
  // 4 granted at once, 10 queued: the 15th is refused, not queued.
  const refused = await l.acquire();
  assert.equal(refused.ok ? 'granted' : refused.reason, 'queue_full');
  assert.equal(l.queued, 10);
  const results = await Promise.all(all);
  assert.ok(results.every((x) => x.r.ok));
  assert.ok(maxInAnyWindow(times, 200) <= 4, JSON.stringify(times));
  // 4 now, then 4 at +200, 4 at +400, the last 2 at +600 (plus timer and completion slack).
  assert.ok(times.at(-1)! >= 600 && times.at(-1)! < 600 + 150, `last grant at ${times.at(-1)}`);
  l.stop();
  // An aborted waiter leaves the queue at once.
  const ctl = new AbortController();
  const one = new RateLimiter({ limit: 1, windowMs: 60_000, maxQueue: 10 });
  assert.ok((await take(one)).ok);
  const waiting = one.acquire(ctl.signal);
  assert.equal(one.queued, 1);
  ctl.abort();
  const w = await waiting;
  assert.equal(w.ok ? 'granted' : w.reason, 'aborted');
  assert.equal(one.queued, 0);
  one.stop();
});

test('a waiter blocked only by a request in flight is granted when that request completes', async () => {
  const l = new RateLimiter({ limit: 1, windowMs: 50, maxQueue: 10 });
  const first = await l.acquire();
  assert.ok(first.ok);
  const second = l.acquire();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(l.queued, 1, 'still waiting: the first request has not completed');
  const t = performance.now();
  first.ticket.done();
  const s2 = await second;
  assert.ok(s2.ok && s2.ticket.grantedAt - t >= 50, 'granted one window after the completion');
  l.stop();
});

test('pauseUntil and a spent server budget hold every grant until then; stop() fails the waiters', async () => {
  const l = new RateLimiter({ limit: 100, windowMs: 1000, maxQueue: 10 });
  const t0 = performance.now();
  l.pauseUntil(t0 + 150);
  assert.equal(l.throttled, true);
  const a = await take(l);
  assert.ok(a.ok && a.ticket.grantedAt - t0 >= 150, 'held by the pause');

  const t1 = performance.now();
  l.serverBudget(1, t1 + 150); // one left until the server's window resets
  const b = await take(l);
  const c = await take(l);
  assert.ok(b.ok && b.ticket.grantedAt - t1 < 50, 'the one request left goes at once');
  assert.ok(c.ok && c.ticket.grantedAt - t1 >= 150, 'the next waits for the reset');

  l.pauseUntil(performance.now() + 10_000);
  const d = l.acquire();
  l.stop();
  const dr = await d;
  assert.equal(dr.ok ? 'granted' : dr.reason, 'aborted');
  const e = await l.acquire();
  assert.equal(e.ok ? 'granted' : e.reason, 'aborted');
});

test('refund gives back a slot that never reached the network', async () => {
  let now = 0;
  const l = new RateLimiter({ limit: 2, windowMs: 1000, maxQueue: 0, now: () => now });
  const a = await l.acquire();
  await take(l);
  assert.equal((await l.acquire()).ok, false);
  assert.ok(a.ok);
  a.ticket.refund();
  a.ticket.done(); // a second settle is ignored
  now = 1;
  assert.equal((await take(l)).ok, true);
  assert.equal((await l.acquire()).ok, false);
});

// --- the budget shared by the cluster (real Redis) ---------------------------

/** Keep `workers` requests going through `l` until `endAt`; each arrives at the server mid-request. */
async function drive(l: RateLimiter, endAt: number, arrivals: number[], workers = 4): Promise<void> {
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < endAt) {
        const r = await l.acquire(AbortSignal.timeout(Math.max(1, endAt - Date.now())));
        if (!r.ok) continue;
        const took = 5 + Math.random() * 30;
        await new Promise((res) => setTimeout(res, took / 2));
        arrivals.push(Date.now());
        await new Promise((res) => setTimeout(res, took / 2));
        r.ticket.done();
      }
    }),
  );
}

test('two processes sharing one Redis budget: in no window of any alignment do more than the limit reach the API; without Redis each keeps to its share', async (t) => {
  const { Redis: RedisServer } = await import('../../scripts/lib/services.js');
  const { Redis: IORedis } = await import('ioredis');
  const { redisOptions } = await import('../../src/cluster/redis-coordinator.js');
  const { RedisRateBudget } = await import('../../src/cluster/redis-rate-budget.js');
  const { startTcpProxy } = await import('../helpers/tcp-proxy.js');
  const server = await RedisServer.start();
  const proxy = await startTcpProxy(server.port);
  const conns = [0, 1].map(() => new IORedis(proxy.redisUrl, redisOptions()));
  const W = 1500;
  const LIMIT = 6;
  try {
    for (const c of conns) {
      c.on('error', () => {});
      await c.connect();
    }
    const key = `budget-test-${process.pid}`;
    const limiters = conns.map(
      (c) => new RateLimiter({ limit: LIMIT, windowMs: W, maxQueue: 16, holdMs: 2000, retrySharedMs: 200, shared: new RedisRateBudget(() => c, key, () => 2) }),
    );
    const arrivals: number[][] = [[], []];
    let endAt = Date.now() + 4 * W;
    await Promise.all(limiters.map((l, i) => drive(l, endAt, arrivals[i]!)));
    const both = [...arrivals[0]!, ...arrivals[1]!];
    const worst = maxInAnyWindow(both, W);
    t.diagnostic(`shared: ${arrivals[0]!.length} + ${arrivals[1]!.length} requests in ${4 * W} ms, at most ${worst} in any ${W} ms (limit ${LIMIT})`);
    assert.ok(worst <= LIMIT, `${worst} requests in one window`);
    assert.ok(arrivals[0]!.length >= 2 && arrivals[1]!.length >= 2, 'both processes got some of the budget');
    assert.ok(both.length >= 3 * LIMIT, `the budget was used: ${both.length}`);
    assert.equal(limiters[0]!.scope.scope, 'cluster');

    // Redis away: each process may spend limit / members (2) = 3 per window on its own.
    proxy.cut();
    for (const c of conns) await waitUntil(() => c.status !== 'ready');
    await new Promise((r) => setTimeout(r, W + 50)); // let the shared window's requests age out
    const local: number[][] = [[], []];
    endAt = Date.now() + 3 * W;
    await Promise.all(limiters.map((l, i) => drive(l, endAt, local[i]!)));
    const each = local.map((a) => maxInAnyWindow(a, W));
    t.diagnostic(`Redis away: at most ${JSON.stringify(each)} per process in any window (share ${LIMIT / 2}), ${maxInAnyWindow([...local[0]!, ...local[1]!], W)} together`);
    assert.deepEqual(each, [LIMIT / 2, LIMIT / 2]);
    assert.deepEqual(limiters[0]!.scope, { scope: 'local_share', limit: LIMIT / 2 });
    proxy.restore();
    await Promise.all(conns.map((c) => waitUntil(() => c.status === 'ready', 10_000)));
    await new Promise((r) => setTimeout(r, 300));
    await drive(limiters[0]!, Date.now() + 200, [], 1);
    assert.equal(limiters[0]!.scope.scope, 'cluster', 'back to the shared budget once Redis answers');
    for (const l of limiters) l.stop();
  } finally {
    for (const c of conns) c.disconnect();
    await proxy.close();
    await server.cleanup();
  }
});

async function waitUntil(ok: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
