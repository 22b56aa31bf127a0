import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seriesKey, type AnySample } from '../../src/samples/sample.js';
import { HOUR, MIN, T0, count, openTestStore, ping, trace } from './fixtures.js';

const LAYOUTS = {
  // The layout the store had before src/store/: key (ts, measurement, series).
  v2: `CREATE TABLE points (ts INTEGER NOT NULL, measurement TEXT NOT NULL, series TEXT NOT NULL, target TEXT NOT NULL, tags TEXT NOT NULL, fields TEXT NOT NULL,
         PRIMARY KEY (ts, measurement, series)) WITHOUT ROWID; CREATE INDEX points_target_ts ON points (target, ts);`,
  // The first layout: key (measurement, series, ts).
  v1: `CREATE TABLE points (measurement TEXT NOT NULL, series TEXT NOT NULL, ts INTEGER NOT NULL, target TEXT NOT NULL, tags TEXT NOT NULL, fields TEXT NOT NULL,
         PRIMARY KEY (measurement, series, ts)) WITHOUT ROWID; CREATE INDEX points_ts ON points (ts); CREATE INDEX points_target_ts ON points (target, ts);`,
};

for (const [layout, ddl] of Object.entries(LAYOUTS)) {
  test(`the previous store (points.db, ${layout} layout) is imported in the background — raw, rollups, routes — and removed`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'nt-store-legacy-'));
    const legacyPath = join(dir, 'points.db');
    const old = new Database(legacyPath);
    old.exec(ddl);
    const insert = old.prepare('INSERT INTO points (ts, measurement, series, target, tags, fields) VALUES (?, ?, ?, ?, ?, ?)');
    const samples: AnySample[] = [];
    for (let i = 0; i < 120; i++) samples.push(ping(T0 + i * MIN, { median: i < 60 ? 4 : 8 }));
    samples.push(...trace(T0, ['10.0.0.1', '10.0.0.2'], false), ...trace(T0 + HOUR, ['10.0.0.1', '10.0.0.3'], true));
    samples.push(ping(T0 - 30 * 86_400_000, { median: 1 })); // beyond the retention: not imported
    for (const s of samples) insert.run(s.timeMs, s.measurement, seriesKey(s), s.tags.target, JSON.stringify(s.tags), JSON.stringify(s.fields));
    old.close();

    // The daemon restarts 10 minutes after the last old point.
    const s = openTestStore({ legacyPath }, T0 + 2 * HOUR + 10 * MIN, dir);
    try {
      assert.equal(s.engine.stats().importing, true);
      s.engine.maintainAll();
      assert.equal(existsSync(legacyPath), false, 'points.db removed once imported');
      assert.equal(s.engine.stats().importing, false);
      assert.equal(count(s.db, 'raw'), 120 + 2 * 3);
      const pts = s.engine.query({ measurement: 'ping', sinceMs: T0, limit: 1000 }).points;
      assert.equal(pts.length, 120);
      assert.deepEqual(pts[0]!.tags, samples[0]!.tags);
      assert.deepEqual(pts[0]!.fields, samples[0]!.fields);
      const hourly = s.db.prepare('SELECT b, rtt_median FROM ping_1h ORDER BY b').all();
      assert.deepEqual(hourly, [
        { b: T0, rtt_median: 4000 },
        { b: T0 + HOUR, rtt_median: 8000 },
      ]);
      const routes = s.engine.routes({ target: 'a' });
      assert.equal(routes.current!.hash, 'h-10.0.0.1>10.0.0.3');
      assert.equal(routes.changes.length, 1);
    } finally {
      s.close();
    }
  });
}
