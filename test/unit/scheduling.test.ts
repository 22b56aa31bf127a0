import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kindsForSlot, slotOffsetMs, slotStart } from '../../src/scheduler/slots.js';
import { MinHeap } from '../../src/scheduler/min-heap.js';
import { Semaphore } from '../../src/util/semaphore.js';
import { target } from '../helpers/fixtures.js';

test('slots are aligned to the epoch', () => {
  assert.equal(slotStart(125_400, 60_000), 120_000);
  assert.equal(slotStart(120_000, 60_000), 120_000);
});

test('offsets are stable per target and spread over the whole interval', () => {
  assert.equal(slotOffsetMs('a', 60_000), slotOffsetMs('a', 60_000));
  const offsets = Array.from({ length: 10_000 }, (_, i) => slotOffsetMs(`target-${i}`, 60_000));
  assert.ok(offsets.every((o) => o >= 0 && o < 60_000));
  const perTenSeconds = Array(6).fill(0);
  for (const o of offsets) perTenSeconds[Math.floor(o / 10_000)]++;
  for (const n of perTenSeconds) assert.ok(n > 1500 && n < 1850, `bucket of ${n}: not a herd`);
});

test('trace runs only on slots that are multiples of its own interval', () => {
  const t = target('example.com');
  t.intervalS = 60;
  t.trace.intervalS = 300;
  assert.deepEqual(kindsForSlot(t, 300_000), ['icmp', 'trace', 'http', 'dns']);
  assert.deepEqual(kindsForSlot(t, 360_000), ['icmp', 'http', 'dns']);
});

test('min-heap pops in order', () => {
  const h = new MinHeap<number>((a, b) => a - b);
  const xs = Array.from({ length: 500 }, () => Math.floor(Math.random() * 1000));
  xs.forEach((x) => h.push(x));
  const out: number[] = [];
  while (h.size) out.push(h.pop()!);
  assert.deepEqual(out, [...xs].sort((a, b) => a - b));
});

test('semaphore: bound holds, FIFO, abortable waiters', async () => {
  const s = new Semaphore(2);
  let running = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: 20 }, () =>
      s.with(async () => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
      }),
    ),
  );
  assert.equal(peak, 2);
  await s.acquire();
  await s.acquire();
  const ctl = new AbortController();
  const waiting = s.acquire(ctl.signal);
  assert.equal(s.waiting, 1);
  ctl.abort(new Error('stop'));
  await assert.rejects(waiting, /stop/);
  assert.equal(s.waiting, 0);
  s.release();
  s.release();
  assert.equal(s.active, 0);
  assert.throws(() => s.release(), /released more often/);
});
