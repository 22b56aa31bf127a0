import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import type { AnySample } from '../../src/samples/sample.js';
import { SCAN_CAP } from '../../src/store/queries/points.js';
import { DAY, HOUR, MIN, T0, count, http, openTestStore, ping, probe, tcp, trace } from './fixtures.js';

test('a slot written twice is one point (the later write wins), as in InfluxDB', () => {
  const s = openTestStore();
  try {
    s.engine.write([tcp(T0, 1, { target: 'a' }), tcp(T0, 2, { target: 'b' })]);
    s.engine.write([tcp(T0, 9, { target: 'a' })]);
    const pts = s.engine.query({ measurement: 'tcp', sinceMs: T0 - HOUR, limit: 10 }).points;
    assert.equal(pts.length, 2);
    assert.equal(pts.find((p) => p.tags.target === 'a')!.fields.connect_ms, 9);
  } finally {
    s.close();
  }
});

test('an ad-hoc run (mode=adhoc) never overwrites the scheduled point of the same time', () => {
  const s = openTestStore();
  try {
    s.engine.write([tcp(T0, 1)]);
    s.engine.write([tcp(T0, 50, { adhoc: true })]);
    const pts = s.engine.query({ target: 'a', sinceMs: T0 - HOUR, limit: 10 }).points;
    assert.deepEqual(pts.map((p) => [p.tags.mode ?? 'scheduled', p.fields.connect_ms]).sort(), [['adhoc', 50], ['scheduled', 1]]);
  } finally {
    s.close();
  }
});

test('/api/points: measurement, target, both or neither — newest `limit` in time order, fields and tags as written', () => {
  const s = openTestStore();
  try {
    for (let i = 0; i < 10; i++) s.engine.write([tcp(T0 + i * MIN, i, { target: 'a' }), tcp(T0 + i * MIN, 100 + i, { target: 'b' }), probe(T0 + i * MIN, 'tcp', true, { target: 'a' })]);
    s.clock.now = T0 + 10 * MIN;
    const byBoth = s.engine.query({ target: 'a', measurement: 'tcp', sinceMs: T0 + 3 * MIN, limit: 3 });
    assert.equal(byBoth.truncated, true);
    assert.deepEqual(byBoth.points.map((p) => p.fields.connect_ms), [7, 8, 9]);
    assert.deepEqual(byBoth.points[0], {
      measurement: 'tcp',
      time: new Date(T0 + 7 * MIN).toISOString(),
      timestamp_ms: T0 + 7 * MIN,
      tags: { target: 'a', source: 's', port: '443' },
      fields: { connect_ms: 7, success: true, ip: '192.0.2.1' },
    });
    const byMeasurement = s.engine.query({ measurement: 'tcp', limit: 4 });
    assert.deepEqual(byMeasurement.points.map((p) => p.fields.connect_ms), [8, 108, 9, 109]);
    const byTarget = s.engine.query({ target: 'b', limit: 100 });
    assert.equal(byTarget.truncated, false);
    assert.equal(byTarget.points.length, 10);
    const all = s.engine.query({ limit: 5 });
    assert.equal(all.points.length, 5);
    assert.ok(all.points.every((p, i) => i === 0 || p.timestamp_ms >= all.points[i - 1]!.timestamp_ms), 'time order');
    assert.equal(all.points.at(-1)!.timestamp_ms, T0 + 9 * MIN);
    assert.deepEqual(s.engine.query({ measurement: 'nope', limit: 5 }).points, []);
    assert.deepEqual(s.engine.query({ target: 'nope', limit: 5 }).points, []);
  } finally {
    s.close();
  }
});

test('/api/points without since looks at the hour before until (or now)', () => {
  const s = openTestStore();
  try {
    s.engine.write([tcp(T0, 1), tcp(T0 + 2 * HOUR, 2)]);
    s.clock.now = T0 + 2 * HOUR + MIN;
    const r = s.engine.query({ limit: 10 });
    assert.equal(r.since_ms, T0 + HOUR + MIN);
    assert.deepEqual(r.points.map((p) => p.fields.connect_ms), [2]);
    assert.deepEqual(s.engine.query({ untilMs: T0 + MIN, limit: 10 }).points.map((p) => p.fields.connect_ms), [1]);
  } finally {
    s.close();
  }
});

test('a target query reads one key per slot time: exact however much else is stored, and capped in the times it walks', () => {
  const s = openTestStore();
  try {
    s.engine.write([tcp(T0, 1)]);
    const hops: AnySample[] = [];
    for (let i = 1; i <= 5000; i++) hops.push({ measurement: 'hop', tags: { target: 'a', source: 's', ttl: String(i % 30) }, fields: { ip: '10.0.0.1' }, timeMs: T0 + i });
    for (let i = 1; i <= 5000; i++) hops.push({ measurement: 'tcp', tags: { target: `other-${i}`, source: 's', port: '443' }, fields: { connect_ms: 5 }, timeMs: T0 });
    s.engine.write(hops);
    const r = s.engine.query({ target: 'a', measurement: 'tcp', sinceMs: T0, limit: 10 });
    assert.deepEqual(r.points.map((p) => p.fields.connect_ms), [1]);
    assert.equal(r.truncated, false);
    // Past SCAN_CAP distinct times in the window, an answer short of `limit` says it may be incomplete.
    const many: AnySample[] = [];
    for (let i = 1; i <= SCAN_CAP + 5; i++) many.push({ measurement: 'hop', tags: { target: 'b', source: 's', ttl: '1' }, fields: { ip: '10.0.0.1' }, timeMs: T0 + 10_000 + i });
    s.engine.write(many);
    const capped = s.engine.query({ target: 'a', measurement: 'tcp', sinceMs: T0, limit: 10 });
    assert.equal(capped.points.length, 0);
    assert.equal(capped.truncated, true);
  } finally {
    s.close();
  }
});

test('a 5-minute bucket: min of rtt_min, median of the slot medians, max of rtt_max, loss from summed sent/received, mean jitter and MOS', () => {
  const s = openTestStore();
  try {
    const medians = [1, 9, 2, 4, 3]; // skewed: the mean (3.8) is not the median (3)
    medians.forEach((m, i) => s.engine.write([ping(T0 + i * MIN, { median: m, min: m - 0.5, max: m * 10, received: i === 0 ? 3 : 5, jitter: i, mos: 4 })]));
    s.at(T0 + 7 * MIN); // bucket [T0, T0+5m) closed and past the grace
    const row = s.db.prepare("SELECT * FROM ping_5m WHERE b = ?").get(T0) as Record<string, number>;
    assert.equal(row.n, 5);
    assert.equal(row.rtt_median, 3000);
    assert.equal(row.rtt_min, 500);
    assert.equal(row.rtt_max, 90_000);
    assert.equal(row.sent, 25);
    assert.equal(row.received, 23);
    assert.equal(row.jitter_sum! / row.jitter_n!, 2000);
    const series = s.engine.series({ target: 'a', fromMs: T0 - 23 * HOUR, toMs: T0 + HOUR, maxBuckets: 1000 });
    assert.equal(series.tier, '5m');
    const i = series.ping!.t!.indexOf(T0 / 1000);
    assert.equal(series.ping!.rtt_median![i], 3);
    assert.equal(series.ping!.loss_pct![i], 8);
    assert.equal(series.ping!.mos![i], 4);
  } finally {
    s.close();
  }
});

test('hourly buckets take the median of their 5-minute buckets\' medians (here the same as the slots\'), and ad-hoc runs are left out of every bucket', () => {
  const s = openTestStore();
  try {
    // Skewed: one slow slot pulls the mean far from the median of the 60 (30.5).
    for (let i = 0; i < 60; i++) s.engine.write([ping(T0 + i * MIN, { median: i === 59 ? 1000 : i + 1 })]);
    s.engine.write([ping(T0 + 30 * MIN + 7, { median: 10_000 }, { adhoc: true })]);
    s.at(T0 + HOUR + 2 * MIN);
    assert.equal((s.db.prepare('SELECT rtt_median, n, rtt_max FROM ping_1h WHERE b = ?').get(T0) as Record<string, number>).rtt_median, 30_500);
    assert.equal((s.db.prepare('SELECT n FROM ping_1h WHERE b = ?').get(T0) as Record<string, number>).n, 60);
    assert.equal((s.db.prepare('SELECT max(rtt_max) AS m FROM ping_5m').get() as { m: number }).m, 1_001_000, 'the ad-hoc point is not in any 5-minute bucket');
  } finally {
    s.close();
  }
});

test('a slot collected again after its bucket was rolled up makes the bucket roll up again', () => {
  const s = openTestStore();
  try {
    for (let i = 0; i < 5; i++) s.engine.write([tcp(T0 + i * MIN, 10)]);
    s.at(T0 + 10 * MIN);
    const get = () => s.db.prepare('SELECT connect_max, n FROM tcp_5m WHERE b = ?').get(T0) as { connect_max: number; n: number };
    assert.equal(get().connect_max, 10_000);
    s.engine.write([tcp(T0 + 2 * MIN, 99)]); // the same slot, collected again (e.g. by a peer after a handover)
    assert.equal(count(s.db, 'dirty'), 1);
    s.at(T0 + 11 * MIN);
    assert.deepEqual(get(), { connect_max: 99_000, n: 5 });
    assert.equal(count(s.db, 'dirty'), 0);
  } finally {
    s.close();
  }
});

test('http, dns, tcp and per-probe buckets: phase means, status classes, success and failure counts', () => {
  const s = openTestStore();
  try {
    for (let i = 0; i < 5; i++) {
      s.engine.write([
        http(T0 + i * MIN, 20 + i, i === 4 ? 503 : 200),
        probe(T0 + i * MIN, 'http', i !== 4, {}, i === 4 ? 'http_status' : undefined),
        probe(T0 + i * MIN, 'icmp', true),
        { measurement: 'dns', tags: { target: 'a', source: 's', record: 'A' }, fields: { query_ms: i, success: true, rcode: 'NOERROR', answers: 1 }, timeMs: T0 + i * MIN },
      ]);
    }
    s.at(T0 + 10 * MIN);
    const r = s.engine.series({ target: 'a', fromMs: T0, toMs: T0 + 5 * MIN, maxBuckets: 1 });
    assert.equal(r.tier, '5m');
    assert.equal(r.http!.total_ms![0], 22);
    assert.equal(r.http!.ttfb_ms![0], 15);
    assert.equal(r.http!.status_2xx![0], 4);
    assert.equal(r.http!.status_5xx![0], 1);
    assert.equal(r.http!.failed![0], 1);
    assert.equal(r.dns!.query_ms![0], 2);
    assert.equal(r.dns!.query_max_ms![0], 4);
    assert.deepEqual(Object.keys(r.probes!), ['http', 'icmp']);
    assert.equal(r.probes!.http!.failed![0], 1);
    assert.equal(r.probes!.icmp!.ok![0], 5);
  } finally {
    s.close();
  }
});

test('timings taken while the loop was late (timing_uncertain) stay out of the bucket\'s figures while it has sure ones, and are counted', () => {
  const s = openTestStore();
  try {
    const tcpAt = (ts: number, ms: number, unsure: boolean): AnySample => ({ measurement: 'tcp', tags: { target: 'a', source: 's', port: '443' }, fields: { connect_ms: ms, success: true, ip: '192.0.2.1', timing_slack_ms: unsure ? 40 : 0.5, timing_uncertain: unsure }, timeMs: ts });
    // Bucket 1: three sure connects of 1-3 ms and two stretched to 40+ ms by a busy loop. Bucket 2: unsure only.
    for (const [i, ms, unsure] of [[0, 1, false], [1, 2, false], [2, 45, true], [3, 3, false], [4, 41, true]] as const) s.engine.write([tcpAt(T0 + i * MIN, ms, unsure)]);
    for (let i = 0; i < 2; i++) s.engine.write([tcpAt(T0 + 5 * MIN + i * MIN, 30 + i, true)]);
    s.at(T0 + 20 * MIN);
    for (const r of [s.engine.series({ target: 'a', fromMs: T0, toMs: T0 + 10 * MIN, maxBuckets: 2 })]) {
      assert.equal(r.tier, '5m');
      assert.deepEqual([r.tcp!.connect_min_ms![0], r.tcp!.connect_ms![0], r.tcp!.connect_max_ms![0]], [1, 2, 3], 'the sure connects only');
      assert.deepEqual([r.tcp!.ok![0], r.tcp!.unsure![0]], [5, 2], 'every run counted, the unsure ones said');
      assert.deepEqual([r.tcp!.connect_min_ms![1], r.tcp!.connect_max_ms![1], r.tcp!.unsure![1], r.tcp!.ok![1]], [30, 31, 2, 2], 'a bucket of unsure timings keeps them, marked');
    }
  } finally {
    s.close();
  }
});

test('raw points leave after EMBEDDED_RAW_HOURS (counted as retention) while their buckets stay for the views', () => {
  const s = openTestStore({ rawWindowMs: 3 * HOUR });
  try {
    for (let i = 0; i < 60; i++) s.engine.write([ping(T0 + i * MIN, { median: 7 }), probe(T0 + i * MIN, 'icmp', true)]);
    // Measurements the store first sees after it started (hop points of a trace) leave too.
    s.engine.write(trace(T0, ['10.0.0.1', '10.0.0.2'], false));
    s.at(T0 + 2 * HOUR);
    assert.equal(count(s.db, 'raw'), 123);
    s.at(T0 + 4 * HOUR);
    assert.equal(count(s.db, 'raw'), 0);
    assert.equal(count(s.db, 'times'), 0);
    assert.equal(s.dropped.retention, 123);
    const day = s.engine.series({ target: 'a', fromMs: T0 - 20 * HOUR, toMs: T0 + 4 * HOUR });
    assert.equal(day.tier, '5m');
    assert.equal(day.ping!.rtt_median!.filter((v) => v === 7).length, 12);
    assert.equal(s.engine.query({ sinceMs: T0, limit: 10 }).points.length, 0, '/api/points serves the raw window only');
  } finally {
    s.close();
  }
});

test('EMBEDDED_RAW_HOURS below an hour holds: hours roll up from 5-minute buckets, a late slot re-rolls its hour, and the 7-day view reaches now', () => {
  const s = openTestStore({ rawWindowMs: HOUR / 2 });
  try {
    const run = (from: number, to: number) => {
      for (let ts = from; ts < to; ts += MIN) {
        s.engine.write([ping(ts, { sent: 5, received: 5, median: 7 }), probe(ts, 'icmp', true)]);
        if (ts % (5 * MIN) === 0) s.at(ts + 30_000);
      }
    };
    run(T0, T0 + 2 * HOUR + 8 * MIN);
    const hour = (b: number) => s.db.prepare('SELECT n, sent, received, rtt_median FROM ping_1h WHERE b = ?').get(b) as Record<string, number> | undefined;
    assert.deepEqual(hour(T0 + HOUR), { n: 60, sent: 300, received: 300, rtt_median: 7000 }, 'the second hour, from its twelve 5-minute buckets');
    // Raw points wait for the 5-minute tier only: half an hour (and the open 5-minute bucket with its grace).
    const oldest = s.db.prepare('SELECT min(ts) AS ts FROM raw').get() as { ts: number };
    assert.ok(oldest.ts >= T0 + 2 * HOUR + 7 * MIN - HOUR / 2 - 5 * MIN, `the oldest raw point ${(T0 + 2 * HOUR + 8 * MIN - oldest.ts) / MIN} min old`);
    // A slot of the rolled-up second hour collected again (by a peer, after a hand-over): all 5 echoes lost this time.
    s.engine.write([ping(T0 + HOUR + 58 * MIN, { sent: 5, received: 0 })]);
    s.at(T0 + 2 * HOUR + 9 * MIN);
    assert.deepEqual(hour(T0 + HOUR), { n: 60, sent: 300, received: 295, rtt_median: 7000 }, 'its 5-minute bucket, then its hour rolled up again');
    assert.equal(count(s.db, 'dirty'), 0);
    run(T0 + 2 * HOUR + 8 * MIN, T0 + 3 * HOUR + 20 * MIN);
    const end = T0 + 3 * HOUR + 20 * MIN;
    assert.ok(!hour(T0 + 3 * HOUR), 'the last hour is not rolled up yet');
    // The 7-day view: stored hours, then the 5-minute buckets after the hourly watermark, then raw points after theirs.
    const week = s.engine.series({ target: 'a', fromMs: end - 7 * DAY, toMs: end });
    assert.equal(week.tier, '1h');
    const at = (b: number) => week.ping!.t.findIndex((t) => t * 1000 === b);
    assert.deepEqual([0, 1, 2, 3].map((h) => week.ping!.sent![at(T0 + h * HOUR)]), [300, 300, 300, 100], 'every hour whole, to now');
    assert.deepEqual([0, 1, 2, 3].map((h) => week.ping!.received![at(T0 + h * HOUR)]), [300, 295, 300, 100]);
  } finally {
    s.close();
  }
});

test('5-minute buckets leave after 3 days, hourly ones, routes, changes and latest states after the retention', () => {
  const s = openTestStore({ retentionMs: 5 * DAY });
  try {
    for (let i = 0; i < 12; i++) s.engine.write([ping(T0 + i * 5 * MIN, { median: 1 })]);
    s.engine.write(trace(T0, ['10.0.0.1', '10.0.0.2'], false));
    s.engine.write(trace(T0 + MIN, ['10.0.0.1', '10.0.0.3'], true));
    s.at(T0 + 2 * HOUR);
    assert.equal(count(s.db, 'ping_5m'), 12);
    assert.equal(count(s.db, 'ping_1h'), 1);
    s.at(T0 + 3 * DAY + 2 * HOUR);
    assert.equal(count(s.db, 'ping_5m'), 0);
    assert.equal(count(s.db, 'ping_1h'), 1);
    assert.equal(count(s.db, 'routes'), 2);
    s.at(T0 + 5 * DAY + 4 * HOUR);
    for (const t of ['ping_1h', 'routes', 'route_changes', 'latest', 'series']) assert.equal(count(s.db, t), 0, t);
  } finally {
    s.close();
  }
});

test('EMBEDDED_MAX_BYTES: the oldest data goes first, counted as store_max_bytes, and the file comes back under the bound', () => {
  const maxBytes = 3 * 1024 * 1024;
  const walAllowanceBytes = 1024 * 1024;
  const s = openTestStore({ maxBytes, walAllowanceBytes, rawWindowMs: 3 * HOUR });
  try {
    const targets = Array.from({ length: 40 }, (_, i) => `target-${i}`);
    const end = T0 + 3 * DAY;
    for (let ts = T0; ts < end; ts += 5 * MIN) {
      s.engine.write(targets.flatMap((target) => [ping(ts, { median: 5 + (ts % 7) }, { target }), probe(ts, 'icmp', true, { target }), http(ts, 30, 200, { target }), probe(ts, 'http', true, { target })]));
      if (ts % HOUR === 0) s.at(ts + 2 * MIN);
    }
    s.at(end + 2 * MIN);
    // In WAL mode the file shrinks at the next checkpoint (the daemon's checkpointer runs every second).
    s.db.pragma('wal_checkpoint(PASSIVE)');
    const file = statSync(`${s.dir}/store.db`).size;
    assert.ok(file <= maxBytes - walAllowanceBytes, `file ${file} bytes > bound ${maxBytes} less the WAL's ${walAllowanceBytes}`);
    assert.ok((s.dropped.store_max_bytes ?? 0) > 0, 'drops counted');
    const stats = s.engine.stats();
    assert.ok(stats.size_floor_ms > T0, 'the floor moved');
    // The newest data is all there; the oldest is what went.
    const recent = s.engine.series({ target: 'target-3', fromMs: end - HOUR, toMs: end });
    assert.equal(recent.ping!.rtt_median!.filter((v) => v !== null).length, 12);
    const oldest = s.engine.series({ target: 'target-3', fromMs: T0, toMs: T0 + 6 * HOUR });
    assert.equal(oldest.ping?.rtt_median!.filter((v) => v !== null).length ?? 0, 0, 'the oldest hours are gone');
  } finally {
    s.close();
  }
});
