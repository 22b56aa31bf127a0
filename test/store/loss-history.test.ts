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

    // The percentiles of the hour's 1,089 echoes: 10..19.5 ms in 0.5 ms steps, 55 of each (13.5: 44).
    // p10 is rank 108.8 (the 10.5 ms ones fill ranks 55-109), p90 rank 979.2 (19 ms fills 979-1033).
    assert.equal(week.ping!.rtt_p10![i], 10.5);
    assert.equal(week.ping!.rtt_p90![i], 19);
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
