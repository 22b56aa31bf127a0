import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { deadlineSignal, fanoutController, onAbort } from '../../src/util/abort.js';
import { Semaphore } from '../../src/util/semaphore.js';

test('a fan-out signal carries one listener however many follow it; each follower is called once, unlinked ones never', () => {
  const ctl = fanoutController();
  const calls: number[] = [];
  const unlinks = Array.from({ length: 5000 }, (_, i) => onAbort(ctl.signal, () => calls.push(i)));
  for (let i = 0; i < 5000; i += 2) unlinks[i]!();
  assert.equal(getEventListeners(ctl.signal, 'abort').length, 1, 'followers are not event listeners');
  ctl.abort(new Error('shutdown'));
  assert.equal(calls.length, 2500);
  assert.ok(calls.every((i) => i % 2 === 1));
  ctl.abort();
  assert.equal(calls.length, 2500, 'never twice');
});

test('deadline signals under a fan-out parent: abort with the parent reason, leave no follower behind when disposed', () => {
  const parent = fanoutController();
  const kept = deadlineSignal(60_000, parent.signal);
  for (let i = 0; i < 100; i++) deadlineSignal(60_000, parent.signal).dispose();
  const reason = new Error('shutdown');
  parent.abort(reason);
  assert.equal(kept.signal.aborted, true);
  assert.equal(kept.signal.reason, reason);
  kept.dispose();
  // a plain AbortSignal parent still works (event listener path)
  const plain = new AbortController();
  const child = deadlineSignal(60_000, plain.signal);
  plain.abort(reason);
  assert.equal(child.signal.reason, reason);
  child.dispose();
});

test('semaphore waiters on a fan-out signal: aborted ones leave the queue and reject, the others keep their turn', async () => {
  const s = new Semaphore(1);
  const stop = fanoutController();
  await s.acquire(stop.signal);
  const waiting = Array.from({ length: 3 }, () => s.acquire(stop.signal));
  assert.equal(s.waiting, 3);
  assert.equal(getEventListeners(stop.signal, 'abort').length, 1);
  s.release(); // the first waiter gets it
  await waiting[0];
  stop.abort(new Error('shutdown'));
  await assert.rejects(waiting[1]!, /shutdown/);
  await assert.rejects(waiting[2]!, /shutdown/);
  assert.equal(s.waiting, 0);
  s.release();
  assert.equal(s.active, 0);
});
