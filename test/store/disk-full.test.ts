import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deadline } from '../../src/lifecycle/component.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import type { AnySample } from '../../src/samples/sample.js';
import { isDiskFull } from '../../src/sqlite/sqlite-db.js';
import { EmbeddedStore } from '../../src/store/embedded-store.js';
import { DAY, HOUR, STORE_SPECS } from './fixtures.js';


async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function batch(from: number, n: number): AnySample[] {
  const detail = 'x'.repeat(400);
  return Array.from({ length: n }, (_, i) => ({
    measurement: 'probe',
    tags: { target: `t${i % 50}`, source: 's', probe: 'http' },
    fields: { success: false, duration_ms: i, reason: 'timeout', detail },
    timeMs: from + i,
  }));
}

test('DATA_DIR full (a small tmpfs): no crash, the failure is counted and in health, and writes resume once there is space', async () => {
  assert.equal(process.getuid?.(), 0, 'mounting a tmpfs needs root (npm test runs as root)');
  const dir = mkdtempSync(join(tmpdir(), 'nt-store-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir]);
  const metrics = new TelemetryMetrics(false);
  const store = new EmbeddedStore({ dataDir: dir, retentionMs: 7 * DAY, rawWindowMs: 6 * HOUR, maxBytes: 1024 ** 3, ...STORE_SPECS }, metrics, silentLogger());
  try {
    await store.start();
    let committed = 0;
    let failure: unknown;
    const t0 = Date.now();
    for (let i = 0; i < 200 && !failure; i++) {
      // Older than the raw window: maintenance has work (roll them up, then delete them) while the disk is full.
      const b = batch(t0 - 7 * HOUR + i * 1000, 500);
      try {
        await store.write(b);
        committed += b.length;
      } catch (err) {
        failure = err;
      }
    }
    assert.ok(failure, 'the disk filled up');
    assert.ok(isDiskFull(failure), `a disk-full error, got ${String(failure)}`);
    const h = store.health();
    assert.equal(h.status, 'failing');
    assert.match(String(h.problem), /disk full/);
    assert.equal(store.writable(), false, '/health/ready says not ready');
    const text = await metrics.render();
    assert.match(text, /telemetry_points_dropped_total\{reason="store_disk_full"\} 500/);
    assert.match(text, /telemetry_errors_total\{component="store"\} [1-9]/);

    // Still alive and answering; what was committed before is all there.
    assert.equal((await store.query({ sinceMs: 0, limit: 10_000 })).points.length, Math.min(committed, 10_000));
    // The maintenance loop hits the full disk too: counted, backing off, the worker alive.
    await until(async () => /telemetry_errors_total\{component="store-maintenance"\} [1-9]/.test(await metrics.render()), 'a maintenance error');
    assert.equal((await store.query({ target: 't1', sinceMs: 0, limit: 1 })).points.length, 1);

    execFileSync('mount', ['-o', 'remount,size=64m', dir]);
    await store.write(batch(t0, 500));
    // Maintenance catches up once there is space: the old points are rolled up and leave the raw window.
    await until(async () => (await store.query({ sinceMs: 0, untilMs: t0 - HOUR, limit: 1 })).points.length === 0, 'retention after the disk has space', 60_000);
    assert.equal(store.writable(), true);
    await until(async () => store.health().status === 'ok', 'health ok again (maintenance out of its backoff)');
    assert.equal((await store.query({ target: 't1', sinceMs: t0, limit: 10_000 })).points.length, 10);
  } finally {
    await store.stop(Deadline.in(5000));
    try {
      execFileSync('umount', [dir]);
    } catch {
      execFileSync('umount', ['-l', dir]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
