import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupedOffsets, kindsForSlot, slotStart } from '../../src/scheduler/slots.js';
import { MinHeap } from '../../src/scheduler/min-heap.js';
import { Semaphore } from '../../src/util/semaphore.js';
import { target } from '../helpers/fixtures.js';

test('slots are aligned to the epoch', () => {
  assert.equal(slotStart(125_400, 60_000), 120_000);
  assert.equal(slotStart(120_000, 60_000), 120_000);
});

test('grouped offsets: BATCH_SIZE targets share an offset, groups evenly spaced, deterministic', () => {
  const names = Array.from({ length: 505 }, (_, i) => `127.0.${i >> 8}.${i & 255}`);
  const a = groupedOffsets(names, 10_000, 10);
  const b = groupedOffsets([...names].reverse(), 10_000, 10);
  assert.deepEqual([...a.entries()].sort(), [...b.entries()].sort(), 'same config, same offsets, whatever the order');
  const perOffset = new Map<number, number>();
  for (const o of a.values()) perOffset.set(o, (perOffset.get(o) ?? 0) + 1);
  assert.equal(perOffset.size, 51, 'ceil(505 / 10) groups');
  assert.ok([...perOffset.values()].every((n) => n <= 10));
  const offsets = [...perOffset.keys()].sort((x, y) => x - y);
  assert.equal(offsets[0], 0);
  assert.ok(offsets.every((o, i) => i === 0 || o - offsets[i - 1]! === 196 || o - offsets[i - 1]! === 197), 'evenly spaced');
});

test('trace runs once per its own interval, in a slot spread by target', () => {
  const slotsWithTrace = (name: string) => {
    const t = target(name);
    t.intervalS = 60;
    (t.specs.trace as { intervalS: number }).intervalS = 300;
    return Array.from({ length: 10 }, (_, i) => i * 60_000).filter((s) => kindsForSlot(t, s).includes('trace'));
  };
  const a = slotsWithTrace('example.com');
  assert.equal(a.length, 2, 'twice in ten slots');
  assert.equal(a[1]! - a[0]!, 300_000);
  const t = target('example.com');
  t.intervalS = 60;
  (t.specs.trace as { intervalS: number }).intervalS = 300;
  assert.deepEqual(kindsForSlot(t, a[0]! + 60_000), ['icmp', 'http', 'dns'], 'the other probes run every slot');
  const phases = new Set(Array.from({ length: 200 }, (_, i) => slotsWithTrace(`t${i}.example`)[0]));
  assert.equal(phases.size, 5, 'targets spread over the five possible slots');
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
