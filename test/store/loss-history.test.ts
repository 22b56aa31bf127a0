import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DAY, HOUR, MIN, T0, openTestStore, ping, probe } from './fixtures.js';

/**
 * Loss that stays readable with age: a week of 1-minute slots of 20 echoes
 * written through the store's write path (engine.write, as the worker does)
 * with maintenance run as the worker runs it, and one 5-minute burst of
 * 100 % loss on the first day. A week later the 7-day view still shows the
 * burst as an outage (the hourly bucket's worst slot), the rates are
 * echoes lost over echoes sent, and each bucket keeps the percentiles of
 * its echoes.
 */

/** Linear between the closest ranks: the store's rule (echo_percentile, percentile). */
function percentile(values: number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (v.length - 1);
  const lo = Math.floor(rank);
  return v[lo]! + (v[Math.min(v.length - 1, lo + 1)]! - v[lo]!) * (rank - lo);
}

const BURST = T0 + 10 * HOUR + 20 * MIN; // 10:20-10:25 on day one

/** 20 echoes: 10 + k/2 ms, one lost in every fifth slot (5 %), none in the burst. */
function echoes(ts: number): (number | null)[] {
  if (ts >= BURST && ts < BURST + 5 * MIN) return new Array(20).fill(null);
  const e: (number | null)[] = Array.from({ length: 20 }, (_, k) => 10 + k / 2);
  if ((ts / MIN) % 5 === 0) e[7] = null;
  return e;
}

test('a 5-minute 100 %-loss burst stays visible a week later in the 7-day view; loss over a range is sent/received; buckets keep echo percentiles', () => {
  const s = openTestStore();
  try {
    const end = T0 + 7 * DAY;
    for (let ts = T0; ts < end; ts += MIN) {
      const e = echoes(ts);
      const received = e.filter((v) => v !== null).length;
      s.engine.write([ping(ts, { sent: 20, received, median: 14.75, rtts: e }), probe(ts, 'icmp', received > 0)]);
      if (ts % (10 * MIN) === 0) s.at(ts + 30_000);
    }
    s.at(end);

    const week = s.engine.series({ target: 'a', fromMs: end - 7 * DAY + 1, toMs: end });
    assert.equal(week.tier, '1h');
    const i = week.ping!.t.findIndex((t) => t * 1000 === T0 + 10 * HOUR);
    assert.ok(i >= 0, 'the burst hour is in the 7-day view');
    assert.equal(week.ping!.loss_max_pct![i], 100, 'the hourly bucket keeps its worst slot: the outage');
    // 5 slots of 20 lost, 11 other slots of the hour (every fifth, minus those in the burst) lose 1: 111 of 1200.
    assert.equal(week.ping!.sent![i], 1200);
    assert.equal(week.ping!.received![i], 1200 - 111);
    assert.equal(week.ping!.loss_pct![i], 9.25, 'the bucket rate is echoes lost over echoes sent');
    assert.equal(week.ping!.loss_max_pct![i + 1], 5, 'an hour without the burst: its worst slot lost one echo in 20');

    // Each 5-minute bucket keeps the exact percentiles of its echoes (the 24-hour view reads them); the hour
    // keeps that percentile of its 5-minute buckets' (rolled up from them: src/store/rollup-spec.ts TIERS).
    const fiveMin = (from: number, p: number) => {
      const v: number[] = [];
      for (let ts = from; ts < from + 5 * MIN; ts += MIN) for (const e of echoes(ts)) if (e !== null) v.push(e);
      return v.length ? Math.round(percentile(v, p) * 1000) : null;
    };
    // (The 5-minute tier keeps 3 days: the last day's 10:00-11:00 is checked there.)
    const lastDay = end - DAY;
    const day = s.engine.series({ target: 'a', fromMs: lastDay, toMs: end, maxBuckets: 288 });
    assert.equal(day.tier, '5m');
    for (let j = 0; j < 12; j++) {
      const b = lastDay + 10 * HOUR + j * 5 * MIN;
      const at = day.ping!.t.findIndex((t) => t * 1000 === b);
      const want = fiveMin(b, 10);
      assert.equal(day.ping!.rtt_p10![at], want === null ? null : want / 1000, `5-minute bucket ${j}: the exact p10 of its echoes`);
    }
    const hourOf = (p: number) => {
      const buckets = Array.from({ length: 12 }, (_, j) => fiveMin(T0 + 10 * HOUR + j * 5 * MIN, p)).filter((x): x is number => x !== null);
      return Math.round(percentile(buckets, p)) / 1000;
    };
    assert.equal(week.ping!.rtt_p10![i], hourOf(10));
    assert.equal(week.ping!.rtt_p90![i], hourOf(90));
    // ... which stays within the spread of the hour's own echoes (p10 of every echo: 10.5 ms, p90: 19 ms).
    assert.ok(week.ping!.rtt_p10![i]! >= 10.5 && week.ping!.rtt_p10![i]! < 11.5 && week.ping!.rtt_p90![i]! >= 18.5 && week.ping!.rtt_p90![i]! <= 19.5);
    assert.ok(week.ping!.rtt_p25![i]! < week.ping!.rtt_median![i]! && week.ping!.rtt_median![i]! < week.ping!.rtt_p75![i]!);

    // Loss over the whole week: the sum of lost over the sum sent, not a mean of percentages.
    const slots = 7 * 24 * 60;
    const lossy = slots / 5 - 1; // every fifth slot loses one; the burst's first slot is one of them
    const lost = lossy + 5 * 20;
    const sum = week.summary!.ping!;
    assert.equal(week.summary_exact, false, 'a week is merged from stored buckets');
    assert.equal(sum.sent, slots * 20);
    assert.equal(sum.received, slots * 20 - lost);
    assert.equal(sum.loss_pct, Math.round((100_000 * lost) / (slots * 20)) / 1000);
    assert.equal(sum.loss_max_pct, 100, 'the worst slot of the week');
    assert.deepEqual(week.summary!.probes!.icmp, { ok: slots - 5, failed: 5 });

    // The last hour from raw points: exact percentiles of every echo of the range.
    const hour = s.engine.series({ target: 'a', fromMs: end - HOUR, toMs: end });
    assert.equal(hour.summary_exact, true);
    // 60 slots of 10..19.5 ms, 12 of them without their 13.5 ms echo: p95 of 1,188 echoes.
    assert.equal(hour.summary!.ping!.rtt_p95, 19.325);
    assert.equal(hour.summary!.ping!.rtt_p10, 10.5);
  } finally {
    s.close();
  }
});

test('a range read from stored buckets keeps its high percentiles high where the level moved: p95 of 18 h at 50 ms and 6 h at 67 ms', () => {
  const s = openTestStore();
  try {
    // 5-minute slots of 20 echoes: level + 0.3 k ms (k = 0..19); the last quarter of the day 17 ms higher.
    const end = T0 + DAY;
    for (let ts = T0; ts < end; ts += 5 * MIN) {
      const level = ts >= T0 + 18 * HOUR ? 67 : 50;
      s.engine.write([ping(ts, { sent: 20, received: 20, median: level + 2.85, rtts: Array.from({ length: 20 }, (_, k) => level + 0.3 * k) }), probe(ts, 'icmp', true)]);
      if (ts % HOUR === 0) s.at(ts + 30_000);
    }
    s.at(end);
    const day = s.engine.series({ target: 'a', fromMs: T0, toMs: end });
    assert.equal(day.summary_exact, false, 'a day is merged from stored buckets');
    const sum = day.summary!.ping!;
    // A quarter of the day's echoes are 67..72.7 ms, so its p95 is among those: the 95th percentile of
    // the buckets' p95s is a high bucket's (72.415); their median would say 55.415, below the mean of 57.1.
    assert.equal(sum.rtt_p95, 72.415);
    assert.equal(sum.rtt_p10, 50.57);
    assert.ok(sum.rtt_p95! > sum.rtt_avg!, `p95 ${sum.rtt_p95} above the mean ${sum.rtt_avg}`);
  } finally {
    s.close();
  }
});
