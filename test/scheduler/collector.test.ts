// npm test: alone (a probe given up one second after its deadline)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import type { Probe } from '../../src/probes/types.js';
import { Collector } from '../../src/scheduler/collector.js';
import { DiscardSink } from '../../src/sinks/discard-sink.js';
import { fanoutController } from '../../src/util/abort.js';
import { Semaphore } from '../../src/util/semaphore.js';
import { target } from '../helpers/fixtures.js';

// A probe that never settles and ignores its signal: the edge case the hard stop exists for
// (a fake on purpose: no real probe misbehaves on demand).
const stuck: Probe = () => new Promise(() => {});

/** The collector's timers are unref'd (a daemon's server keeps it alive): hold the test's loop open. */
async function alive<T>(p: Promise<T>): Promise<T> {
  const keep = setInterval(() => {}, 1000);
  try {
    return await p;
  } finally {
    clearInterval(keep);
  }
}

function collector(ops = new Semaphore(10)) {
  return new Collector(new Map([['tcp', stuck]]), ops, new DiscardSink(), new TelemetryMetrics(false), pino({ level: 'silent' }), 'test');
}

test('a probe that ignores its deadline is given up one second after it, as a timeout; its operation slot stays held', async () => {
  const ops = new Semaphore(10);
  const t = target('127.0.0.1:1', { timeoutS: 0.3 });
  const t0 = Date.now();
  const run = await alive(collector(ops).collect(t, ['tcp'], { timeMs: 0, signal: new AbortController().signal }));
  const took = Date.now() - t0;
  assert.equal(run.results[0]!.reason, 'timeout');
  assert.match(run.results[0]!.detail ?? '', /1000 ms after the 300 ms deadline/);
  assert.ok(took >= 1250, `gave up after ${took} ms, not before deadline + grace`);
  assert.equal(ops.active, 1, 'the stuck probe still holds its slot');
});

test('at shutdown a probe that ignores the abort is given up one second later as aborted, without waiting for its deadline', async () => {
  const stop = fanoutController();
  const t = target('127.0.0.1:1', { timeoutS: 30 });
  const t0 = Date.now();
  const pending = collector().collect(t, ['tcp'], { timeMs: 0, signal: stop.signal });
  setTimeout(() => stop.abort(new Error('shutdown')), 100);
  const run = await alive(pending);
  const took = Date.now() - t0;
  assert.equal(run.results[0]!.reason, 'aborted');
  assert.ok(took < 10_000, `gave up after ${took} ms, long before the 30 s deadline`);
});
