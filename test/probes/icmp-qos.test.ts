import { test } from 'node:test';
import assert from 'node:assert/strict';
import { echoStats, mosFromR, rFactor } from '../../src/probes/icmp/qos.js';

test('loss, min/avg/max/stddev over received replies', () => {
  const s = echoStats([10, null, 20, 30, null]);
  assert.equal(s.sent, 5);
  assert.equal(s.received, 3);
  assert.equal(s.lossPct, 40);
  assert.equal(s.rttMinMs, 10);
  assert.equal(s.rttAvgMs, 20);
  assert.equal(s.rttMaxMs, 30);
  assert.equal(s.rttStddevMs, 8.165);
});

test('jitter is the mean absolute difference of consecutive received RTTs', () => {
  assert.equal(echoStats([10, 12, 9, 15]).jitterMs, 3.667); // (2 + 3 + 6) / 3, rounded to µs
  assert.equal(echoStats([10, null, 14]).jitterMs, 4, 'a lost reply is skipped, not counted as zero');
  assert.equal(echoStats([10]).jitterMs, undefined, 'one reply has no jitter');
});

test('no reply: loss 100 and no invented delay, jitter, R or MOS', () => {
  const s = echoStats([null, null, null]);
  assert.deepEqual(s, { sent: 3, received: 0, lossPct: 100 });
});

test('E-model reference values', () => {
  // A clean LAN path: R close to 93.2, MOS about 4.4.
  assert.ok(Math.abs(rFactor(1, 0, 0) - 93.188) < 0.001);
  assert.ok(Math.abs(mosFromR(93.188) - 4.409) < 0.001);
  // 300 ms RTT, 10 ms jitter, 1% loss: d = 170 ms -> Id = 4.08; Ie_eff = 95*1/26.1 = 3.64; R = 85.48.
  assert.ok(Math.abs(rFactor(300, 10, 1) - 85.48) < 0.01, String(rFactor(300, 10, 1)));
  // Past 177.3 ms one-way the second delay term applies.
  assert.ok(rFactor(500, 0, 0) < 93.2 - 0.024 * 250);
  assert.equal(mosFromR(0), 1);
  assert.equal(mosFromR(100), 4.5);
  assert.ok(Math.abs(mosFromR(50) - 2.58) < 0.01);
});

test('percentiles of the received echoes: linear between closest ranks, the median their p50', () => {
  const echoes = [5, 1, null, 3, 2, 4, 10, 6, 7, 9, 8];
  const s = echoStats(echoes);
  // Sorted 1..10: rank p/100 x 9.
  assert.deepEqual(s.rttPercentilesMs, { p10: 1.9, p25: 3.25, p75: 7.75, p90: 9.1 });
  assert.equal(s.rttMedianMs, 5.5);
  assert.deepEqual(echoStats([4]).rttPercentilesMs, { p10: 4, p25: 4, p75: 4, p90: 4 }, 'one echo is every percentile');
  assert.equal(echoStats([null, null]).rttPercentilesMs, undefined, 'no echo, no percentile');
});
