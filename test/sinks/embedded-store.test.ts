import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import type { AnySample } from '../../src/samples/sample.js';
import { EmbeddedStore } from '../../src/sinks/embedded-store.js';

const tcp = (target: string, timeMs: number, ms: number): AnySample => ({ measurement: 'tcp', tags: { target, source: 's', port: '80' }, fields: { success: true, connect_ms: ms }, timeMs });

function withStore(fn: (s: EmbeddedStore, dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'nt-store-'));
  const s = new EmbeddedStore(dir, 3_600_000, new TelemetryMetrics(false), silentLogger());
  try {
    fn(s, dir);
  } finally {
    void s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a slot written twice is one point (the later write wins), as in InfluxDB', () =>
  withStore((s) => {
    const now = Date.now();
    s.write([tcp('a', now, 1), tcp('b', now, 2)]);
    s.write([tcp('a', now, 9)]);
    const pts = s.query({ measurement: 'tcp', limit: 10 }).points;
    assert.equal(pts.length, 2);
    assert.equal(pts.find((p) => p.tags.target === 'a')!.fields.connect_ms, 9);
  }));

test('queries by target and time window, newest `limit` in time order, truncation flagged', () =>
  withStore((s) => {
    const t0 = Date.now() - 600_000;
    for (let i = 0; i < 10; i++) s.write([tcp('a', t0 + i * 60_000, i), tcp('b', t0 + i * 60_000, i)]);
    const r = s.query({ target: 'a', sinceMs: t0 + 3 * 60_000, limit: 3 });
    assert.equal(r.truncated, true);
    assert.deepEqual(r.points.map((p) => p.fields.connect_ms), [7, 8, 9]);
    assert.ok(r.points.every((p) => p.tags.target === 'a'));
  }));

test('retention drops points older than the bound and counts them', () =>
  withStore((s) => {
    const now = Date.now();
    s.write([tcp('a', now - 7_200_000, 1), tcp('a', now, 2)]);
    assert.equal(s.applyRetention(now), 1);
    assert.equal(s.count(), 1);
  }));

test('a store of the first layout (key measurement, series, ts) is migrated with its points', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-store-v1-'));
  try {
    const db = new Database(join(dir, 'points.db'));
    db.exec(`CREATE TABLE points (measurement TEXT NOT NULL, series TEXT NOT NULL, ts INTEGER NOT NULL, target TEXT NOT NULL, tags TEXT NOT NULL, fields TEXT NOT NULL, PRIMARY KEY (measurement, series, ts)) WITHOUT ROWID;
      CREATE INDEX points_ts ON points (ts); CREATE INDEX points_target_ts ON points (target, ts);`);
    db.prepare('INSERT INTO points VALUES (?, ?, ?, ?, ?, ?)').run('tcp', 'tcp,port=80,source=s,target=old', Date.now(), 'old', JSON.stringify({ target: 'old', source: 's', port: '80' }), JSON.stringify({ success: true }));
    db.close();
    const s = new EmbeddedStore(dir, 3_600_000, new TelemetryMetrics(false), silentLogger());
    assert.equal(s.query({ target: 'old', limit: 10 }).points.length, 1);
    s.write([tcp('new', Date.now(), 1)]);
    assert.equal(s.count(), 2);
    void s.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
