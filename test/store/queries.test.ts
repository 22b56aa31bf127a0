import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../../src/store/schema.js';
import { DAY, HOUR, MIN, T0, http, openTestStore, ping, probe, trace, type TestStore } from './fixtures.js';

/** `days` of 1-minute slots for target a (ping + icmp probe + http), maintenance run hourly as the worker would. */
function history(s: TestStore, days: number, median: (ts: number) => number = () => 10): number {
  const end = T0 + days * DAY;
  for (let ts = T0; ts < end; ts += MIN) {
    s.engine.write([ping(ts, { median: median(ts) }), probe(ts, 'icmp', true), http(ts, 40), probe(ts, 'http', true)]);
    if (ts % (10 * MIN) === 0) s.at(ts + 30_000);
  }
  s.at(end);
  return end;
}

test('series() picks raw slots for 1 h, 5-minute buckets for 24 h, hourly ones for 7 d — each under maxBuckets and reaching now', () => {
  const s = openTestStore();
  try {
    const now = history(s, 7, (ts) => (ts % HOUR < 30 * MIN ? 10 : 20));
    // "Probe now" 20 s after a slot: an ad-hoc run is not a slot length, the 1 h view keeps its 60 s slots.
    s.engine.write([ping(now - 10 * MIN + 20_000, { median: 10 }, { adhoc: true }), probe(now - 10 * MIN + 20_000, 'icmp', true, { adhoc: true })]);
    const one = s.engine.series({ target: 'a', fromMs: now - HOUR, toMs: now });
    assert.deepEqual([one.resolution, one.tier, one.step_s, one.buckets], ['raw', 'raw', 60, 60]);
    assert.equal(one.ping!.rtt_median!.filter((v) => v !== null).length, 60);
    const day = s.engine.series({ target: 'a', fromMs: now - DAY, toMs: now });
    assert.deepEqual([day.resolution, day.tier, day.step_s, day.buckets], ['rollup', '5m', 300, 288]);
    assert.equal(day.ping!.rtt_median!.filter((v) => v !== null).length, 288, 'every bucket, including the last ones not rolled up yet (from raw)');
    const week = s.engine.series({ target: 'a', fromMs: now - 7 * DAY, toMs: now });
    assert.deepEqual([week.tier, week.step_s, week.buckets], ['1h', 3600, 168]);
    assert.equal(week.ping!.rtt_median!.filter((v) => v !== null).length, 168);
    // The hour's slots: 30 at 10 ms, 30 at 20 ms -> the median of the 60 is 15 (exact, from raw).
    assert.equal(week.ping!.rtt_median![100], 15);
    assert.equal(week.http!.total_ms![100], 40);
    assert.equal(week.probes!.icmp!.ok![100], 60);
    const bytes = JSON.stringify(week).length;
    assert.ok(bytes < 60_000, `a 7-day view is one small response (${bytes} bytes)`);
    // A coarser maxBuckets merges stored buckets (here 5-minute ones of the last 3 days into 30-minute steps).
    const merged = s.engine.series({ target: 'a', fromMs: now - 2 * DAY, toMs: now, maxBuckets: 100 });
    assert.deepEqual([merged.tier, merged.step_s], ['5m', 1800]);
    assert.ok(merged.buckets <= 101);
  } finally {
    s.close();
  }
});

test('series(): missed slots are nulls (gaps), an unknown target has no series, and to <= from is refused', () => {
  const s = openTestStore();
  try {
    for (let i = 0; i < 30; i++) if (i < 10 || i >= 20) s.engine.write([ping(T0 + i * MIN, { median: 5 }), probe(T0 + i * MIN, 'icmp', true)]);
    s.clock.now = T0 + 30 * MIN;
    const r = s.engine.series({ target: 'a', fromMs: T0, toMs: T0 + 30 * MIN });
    assert.equal(r.tier, 'raw');
    assert.deepEqual(r.ping!.rtt_median!.map((v) => (v === null ? 0 : 1)).join(''), '111111111100000000001111111111');
    const none = s.engine.series({ target: 'nope', fromMs: T0, toMs: T0 + 30 * MIN });
    assert.equal(none.ping, undefined);
    assert.throws(() => s.engine.series({ target: 'a', fromMs: T0, toMs: T0 }), RangeError);
  } finally {
    s.close();
  }
});

test('routes(): the current route hop by hop with geolocation, earlier routes with first and last seen, changes with from and to', () => {
  const s = openTestStore();
  try {
    const geo = (ip: string): Record<string, string | number> => (ip === '203.0.113.9' ? { lat: 48.85, lon: 2.35, country: 'FR', city: 'Paris', asn: 64500, as_org: 'Example' } : {});
    const A = ['10.0.0.1', '*', '203.0.113.9'];
    const B = ['10.0.0.1', '10.9.9.9', '203.0.113.9'];
    s.engine.write(trace(T0, A, false, {}, geo));
    s.engine.write(trace(T0 + 10 * MIN, A, false, {}, geo));
    s.engine.write(trace(T0 + 20 * MIN, B, true, {}, geo));
    s.engine.write([{ measurement: 'geo', tags: { target: 'a', source: 's', dst_country: 'FR' }, fields: { src_lat: 52.5, src_lon: 13.4, dst_lat: 48.85, dst_lon: 2.35, dst_ip: '203.0.113.9', distance_km: 878 }, timeMs: T0 + 20 * MIN }]);
    s.engine.write(trace(T0 + 30 * MIN, A, true, {}, geo));
    s.clock.now = T0 + 31 * MIN;
    const r = s.engine.routes({ target: 'a' });
    assert.equal(r.current!.hash, 'h-10.0.0.1>*>203.0.113.9');
    assert.equal(r.current!.first_seen, new Date(T0).toISOString());
    assert.equal(r.current!.last_seen, new Date(T0 + 30 * MIN).toISOString());
    assert.deepEqual(
      r.current!.hops.map((h) => [h.ttl, h.ip, h.city]),
      [
        [1, '10.0.0.1', null],
        [2, '*', null],
        [3, '203.0.113.9', 'Paris'],
      ],
    );
    assert.deepEqual(r.current!.hops[2]!.lat, 48.85);
    assert.deepEqual(
      r.earlier.map((e) => [e.hash, e.first_seen, e.last_seen]),
      [['h-10.0.0.1>10.9.9.9>203.0.113.9', new Date(T0 + 20 * MIN).toISOString(), new Date(T0 + 20 * MIN).toISOString()]],
    );
    assert.deepEqual(
      r.changes.map((c) => [c.time, c.from_hash, c.to_hash]),
      [
        [new Date(T0 + 20 * MIN).toISOString(), 'h-10.0.0.1>*>203.0.113.9', 'h-10.0.0.1>10.9.9.9>203.0.113.9'],
        [new Date(T0 + 30 * MIN).toISOString(), 'h-10.0.0.1>10.9.9.9>203.0.113.9', 'h-10.0.0.1>*>203.0.113.9'],
      ],
    );
    assert.deepEqual(r.source, { lat: 52.5, lon: 13.4 });
    assert.deepEqual(r.destination, { ip: '203.0.113.9', lat: 48.85, lon: 2.35 });
    // As of a time in the past: the route current then.
    assert.equal(s.engine.routes({ target: 'a', toMs: T0 + 25 * MIN }).current!.hash, 'h-10.0.0.1>10.9.9.9>203.0.113.9');
    // Route changes are markers on the series too (epoch seconds).
    const series = s.engine.series({ target: 'a', fromMs: T0, toMs: T0 + 31 * MIN });
    assert.deepEqual(series.route_changes.map((c) => c.time), [(T0 + 20 * MIN) / 1000, (T0 + 30 * MIN) / 1000]);
    assert.deepEqual(s.engine.routes({ target: 'nope' }), { current: null, earlier: [], changes: [], source: null, destination: null });
  } finally {
    s.close();
  }
});

test('routes(): a trace waiting for confirmation leaves the route history alone; a change is dated by the first trace that saw it, with its diff', () => {
  const s = openTestStore();
  try {
    const A = ['10.0.0.1', '10.0.0.2', '203.0.113.9'];
    const B = ['10.0.0.1', '10.9.9.9', '203.0.113.9'];
    const withFields = (samples: ReturnType<typeof trace>, f: Record<string, unknown>) => {
      Object.assign(samples[0]!.fields, f);
      return samples;
    };
    s.engine.write(withFields(trace(T0, A, false), { route_hash: 'ra', route_path: A.join('>') }));
    // A lossy trace of route A, read against it: the route's path stays the confirmed one.
    s.engine.write(withFields(trace(T0 + MIN, ['10.0.0.1', '*', '203.0.113.9'], false), { route_hash: 'ra', route_path: A.join('>') }));
    // B seen, waiting for confirmation: the point says the confirmed route is still A.
    s.engine.write(withFields(trace(T0 + 2 * MIN, B, false), { route_hash: 'ra', route_path: A.join('>'), route_pending: true }));
    s.engine.write(withFields(trace(T0 + 3 * MIN, B, true), { route_hash: 'rb', route_path: B.join('>'), route_diff: '2:10.0.0.2>10.9.9.9', route_first_seen_ms: T0 + 2 * MIN }));
    s.clock.now = T0 + 4 * MIN;
    const r = s.engine.routes({ target: 'a' });
    assert.equal(r.current!.hash, 'rb');
    assert.equal(r.current!.first_seen, new Date(T0 + 2 * MIN).toISOString());
    assert.deepEqual(
      r.earlier.map((e) => [e.hash, e.path, e.first_seen, e.last_seen]),
      [['ra', A.join('>'), new Date(T0).toISOString(), new Date(T0 + MIN).toISOString()]],
    );
    assert.deepEqual(r.changes, [{ time: new Date(T0 + 2 * MIN).toISOString(), from_hash: 'ra', to_hash: 'rb', diff: '2:10.0.0.2>10.9.9.9' }]);
    assert.deepEqual(s.engine.series({ target: 'a', fromMs: T0, toMs: T0 + 4 * MIN }).route_changes, [{ time: (T0 + 2 * MIN) / 1000, from_hash: 'ra', to_hash: 'rb', diff: '2:10.0.0.2>10.9.9.9' }]);
    assert.equal(s.engine.latest()[0]!.route_changed_at, new Date(T0 + 2 * MIN).toISOString());
  } finally {
    s.close();
  }
});

test('a store.db of another schema version is refused with what to do, and left as it was', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-store-version-'));
  const s = openTestStore({}, T0, dir);
  s.engine.write(trace(T0, ['10.0.0.1', '10.0.0.2'], false));
  s.db.close();
  const db = new Database(join(dir, 'store.db'));
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(() => openTestStore({}, T0 + MIN, dir), new RegExp(`store.db has schema version ${SCHEMA_VERSION + 1}, not this daemon's ${SCHEMA_VERSION}: run the version that wrote it, or move the file away`));
  const after = new Database(join(dir, 'store.db'), { readonly: true });
  assert.equal(after.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
  assert.equal((after.prepare('SELECT count(*) AS n FROM routes').get() as { n: number }).n, 1, 'its data kept');
  after.close();
  rmSync(dir, { recursive: true, force: true });
});

test('sparklines(): per target the median rtt and loss per bucket over the last hour; at most 100 targets per call', () => {
  const s = openTestStore();
  try {
    for (let i = 0; i < 60; i++) {
      s.engine.write([ping(T0 + i * MIN, { median: i < 30 ? 1 : 3, received: i === 59 ? 0 : 5 }, { target: 'x' }), ping(T0 + i * MIN, { median: 2 }, { target: 'y' })]);
    }
    s.engine.write([ping(T0 + 59 * MIN + 5, { median: 999 }, { target: 'x', adhoc: true })]);
    s.clock.now = T0 + HOUR - 1;
    const r = s.engine.sparklines(['x', 'y', 'unknown'], { buckets: 6 });
    assert.equal(r.x!.step_s, 600);
    assert.equal(r.x!.from, T0 / 1000);
    assert.deepEqual(r.x!.rtt_ms, [1, 1, 1, 3, 3, 3], 'the ad-hoc 999 ms is not in it');
    assert.deepEqual(r.x!.loss_pct, [0, 0, 0, 0, 0, 10]);
    assert.deepEqual(r.y!.rtt_ms, [2, 2, 2, 2, 2, 2]);
    assert.deepEqual(r.unknown!.rtt_ms, [null, null, null, null, null, null]);
    assert.throws(() => s.engine.sparklines(Array.from({ length: 101 }, (_, i) => `t${i}`)), RangeError);
  } finally {
    s.close();
  }
});

test('latest(): last point per measurement, and each probe failing since the first failure of its current streak', () => {
  const s = openTestStore();
  try {
    s.engine.write([ping(T0, { median: 3 }, { target: 'a' }), probe(T0, 'icmp', true, { target: 'a' }), probe(T0, 'http', true, { target: 'a' })]);
    s.engine.write([probe(T0 + MIN, 'http', false, { target: 'a' }, 'timeout')]);
    s.engine.write([ping(T0 + 2 * MIN, { median: 4 }, { target: 'a' }), probe(T0 + 2 * MIN, 'http', false, { target: 'a' }, 'refused'), probe(T0 + 2 * MIN, 'icmp', true, { target: 'a' })]);
    s.engine.write([ping(T0, { median: 1 }, { target: 'b' })]);
    s.engine.write(trace(T0 + 3 * MIN, ['10.0.0.1'], true, { target: 'a' }));
    const [a] = s.engine.latest(['a']);
    assert.equal(a!.measurements.ping!.fields!.rtt_median_ms, 4);
    assert.equal(a!.measurements.route!.fields.route_hash, 'h-10.0.0.1');
    assert.equal(a!.route_changed_at, new Date(T0 + 3 * MIN).toISOString());
    assert.deepEqual(a!.probes.map((p) => [p.probe, p.success, p.reason, p.since]), [
      ['http', false, 'refused', new Date(T0 + MIN).toISOString()],
      ['icmp', true, null, new Date(T0).toISOString()],
    ]);
    // An older point arriving late does not replace a newer state.
    s.engine.write([ping(T0 + MIN, { median: 100 }, { target: 'a' })]);
    assert.equal(s.engine.latest(['a'])[0]!.measurements.ping!.fields!.rtt_median_ms, 4);
    assert.deepEqual(s.engine.latest().map((l) => l.target).sort(), ['a', 'b']);
  } finally {
    s.close();
  }
});
