// npm test: alone (backoff steps of 1 s and 2 s, stop within 1 s)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Deadline } from '../../src/lifecycle/component.js';
import type { ErrorReporter } from '../../src/lifecycle/error-reporter.js';
import { SupervisedLoop } from '../../src/lifecycle/supervised-loop.js';
import { waitFor } from '../helpers/net.js';

/**
 * SupervisedLoop (src/lifecycle/supervised-loop.ts): every background loop of
 * the daemon runs in one. Errors are counted and backed off, a stall shows
 * in health(), and a loop whose own machinery throws is started again.
 * Timing is only ever asserted from below (the backoff waits at least so
 * long): the CPU is shared and a slow machine must not fail these.
 *
 * Break it to see them fail: return 0 from backoffMs() -> "backed off";
 * drop `this.lastProgressAt = this.now()` -> "ok again after progress";
 * remove the catch in supervise() -> "restarted" (and an unhandled rejection).
 */

function reporter(): ErrorReporter & { errors: { component: string; message: string }[] } {
  const errors: { component: string; message: string }[] = [];
  return { errors, error: (component, err, message) => errors.push({ component, message: `${message}: ${(err as Error).message}` }) };
}

test('a tick that throws is counted, reported and backed off (1 s, then 2 s); a good tick resets the count', async () => {
  const r = reporter();
  const at: number[] = [];
  let failures = 2;
  const loop = new SupervisedLoop(
    {
      name: 'test-loop',
      periodMs: 20,
      tick: () => {
        at.push(Date.now());
        if (failures-- > 0) throw new Error(`boom ${2 - failures}`);
      },
    },
    r,
  );
  try {
    loop.start();
    await waitFor(() => r.errors.length >= 1, 'the first error', 10_000, 5);
    const h = loop.health();
    assert.equal(h.status, 'degraded', 'an error just happened');
    assert.equal(h.errors, r.errors.length, 'health counts what was reported');
    assert.match(String(h.last_error), /boom/);
    // wake() must not cut a backoff short: a failing loop that is woken would spin.
    loop.wake();
    await waitFor(() => at.length >= 4, 'two errors then a good tick', 20_000, 10);
    assert.deepEqual(
      r.errors.map((e) => e.component),
      ['test-loop', 'test-loop'],
      'each error reported once, under the loop name',
    );
    assert.match(r.errors[0]!.message, /backing off: boom 1/);
    assert.ok(at[1]! - at[0]! >= 950, `backed off ${at[1]! - at[0]!} ms after the first error (1 s)`);
    assert.ok(at[2]! - at[1]! >= 1950, `backed off ${at[2]! - at[1]!} ms after the second error (2 s)`);
    await waitFor(() => loop.health().status === 'ok', 'ok after a good tick', 5000, 10);
    assert.equal(loop.health().errors, 2, 'the count of errors stays');
  } finally {
    await loop.stop(Deadline.in(1000));
  }
});

test('health turns failing after stallAfterMs without progress, says why, and is ok again after progress', async () => {
  let clock = 1_000_000;
  let release: (() => void) | undefined;
  let ticks = 0;
  const loop = new SupervisedLoop(
    {
      name: 'stall-loop',
      periodMs: 10,
      stallAfterMs: 5000,
      tick: async () => {
        ticks++;
        if (ticks === 3) await new Promise<void>((r) => (release = r)); // the third tick hangs
      },
    },
    reporter(),
    () => clock,
  );
  try {
    loop.start();
    await waitFor(() => release !== undefined, 'the third tick hanging', 10_000, 5);
    assert.equal(loop.health().status, 'ok');
    clock += 4000;
    assert.equal(loop.health().status, 'ok', 'under stallAfterMs');
    clock += 1200;
    const h = loop.health();
    assert.equal(h.status, 'failing', 'no progress for 5.2 s with stallAfterMs 5 s');
    assert.match(String(h.problem), /no progress for 5 s/);
    release!();
    await waitFor(() => ticks >= 5, 'ticks again', 10_000, 5);
    assert.equal(loop.health().status, 'ok', 'ok again after progress');
    assert.equal(loop.health().last_progress_age_s, 0);
  } finally {
    release?.();
    await loop.stop(Deadline.in(1000));
  }
  assert.equal(loop.health().status, 'ok', 'a stopped loop is not stalled');
});

test('a loop whose machinery throws (outside a tick) is counted and restarted; stop() ends it and aborts the tick in progress', async () => {
  const r = reporter();
  let ticks = 0;
  let calls = 0;
  let throwAt = -1;
  let aborted = false;
  const loop = new SupervisedLoop(
    {
      name: 'restart-loop',
      periodMs: 10,
      maxBackoffMs: 50,
      tick: async (signal) => {
        ticks++;
        if (ticks === 2) {
          // The next read of the clock is the loop's own bookkeeping after this error: make that throw.
          throwAt = calls + 1;
          throw new Error('tick error');
        }
        if (ticks >= 4) await new Promise<void>((resolve) => signal.addEventListener('abort', () => ((aborted = true), resolve()), { once: true }));
      },
    },
    r,
    () => {
      if (++calls === throwAt) throw new Error('clock broke');
      return Date.now();
    },
  );
  loop.start();
  await waitFor(() => ticks >= 4, 'ticking again after the restart', 10_000, 5);
  const h = loop.health();
  assert.equal(h.restarts, 1, `restarted once (${JSON.stringify(h)})`);
  assert.ok(r.errors.some((e) => /loop exited unexpectedly: restarting it: clock broke/.test(e.message)), JSON.stringify(r.errors));
  const t0 = Date.now();
  await loop.stop(Deadline.in(2000));
  assert.ok(aborted, 'the tick in progress saw the abort');
  assert.ok(Date.now() - t0 < 1000, 'stop did not wait for the deadline');
  const n = ticks;
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(ticks, n, 'no tick after stop');
});
