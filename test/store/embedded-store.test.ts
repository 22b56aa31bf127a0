import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { Deadline } from '../../src/lifecycle/component.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import { EmbeddedStore, type EmbeddedStoreOptions } from '../../src/store/embedded-store.js';
import { DAY, HOUR, MIN, STORE_SPECS, http, ping, probe, tcp, trace } from './fixtures.js';

async function metric(m: TelemetryMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await m.render();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(name) && want.every((w) => l.includes(w)) && (want.length > 0 || l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function withStore(o: Partial<EmbeddedStoreOptions>, fn: (s: EmbeddedStore, m: TelemetryMetrics, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nt-store-w-'));
  const metrics = new TelemetryMetrics(false);
  const s = new EmbeddedStore({ dataDir: dir, retentionMs: 7 * DAY, rawWindowMs: 6 * HOUR, maxBytes: 1024 ** 3, ...STORE_SPECS, ...o }, metrics, silentLogger());
  try {
    await fn(s, metrics, dir);
  } finally {
    await s.stop(Deadline.in(5000));
    rmSync(dir, { recursive: true, force: true });
  }
}

test('lifecycle: health is truthful before start, stop is safe without start and idempotent', async () => {
  const metrics = new TelemetryMetrics(false);
  const s = new EmbeddedStore({ dataDir: '/nonexistent/never-created', retentionMs: DAY, rawWindowMs: 6 * HOUR, maxBytes: 1e9, ...STORE_SPECS }, metrics, silentLogger());
  assert.deepEqual(s.health(), { status: 'ok', kind: 'embedded', role: 'sink', running: false });
  assert.equal(s.writable(), false);
  await s.stop(Deadline.in(1000));
  await s.stop(Deadline.in(1000));
  await assert.rejects(s.start(), /start after stop/);
});

test('through the worker: a write settles once committed and every query reads it back', async () => {
  await withStore({}, async (s, m) => {
    await s.start();
    await s.start(); // twice is a no-op
    const now = Date.now();
    const slot = now - (now % MIN);
    await s.write([ping(slot, { median: 3 }), probe(slot, 'icmp', true), http(slot, 25), tcp(slot, 2), ...trace(slot, ['10.0.0.1', '10.0.0.2'], true)]);
    assert.equal(await metric(m, 'telemetry_store_points_written_total'), 7);
    assert.equal(await metric(m, 'telemetry_points_stored_total'), 7, 'the only sink counts what it stored');
    const pts = await s.query({ target: 'a', limit: 100 });
    assert.equal(pts.points.length, 7);
    assert.deepEqual(pts.points.find((p) => p.measurement === 'tcp')!.fields, { connect_ms: 2, success: true, ip: '192.0.2.1' });
    const series = await s.series({ target: 'a', fromMs: slot - HOUR, toMs: now + 1 });
    assert.equal(series.ping!.rtt_median!.at(-1), 3);
    assert.equal((await s.routes({ target: 'a' })).current!.hops.length, 2);
    assert.equal((await s.sparklines(['a'])).a!.rtt_ms.at(-1), 3);
    assert.equal((await s.latest(['a']))[0]!.measurements.http!.fields!.total_ms, 25);
    await assert.rejects(s.sparklines(Array.from({ length: 101 }, (_, i) => `t${i}`)), RangeError);
    assert.equal(s.writable(), true);
    await until(() => s.health().bytes !== undefined && (s.health().bytes as number) > 0, 'stats from the worker');
    assert.equal(s.health().status, 'ok');
    assert.ok((await metric(m, 'telemetry_store_bytes')) > 0);
    assert.equal(await metric(m, 'telemetry_store_max_bytes'), 1024 ** 3);
  });
});

test('beside the outbox (role mirror): a refused write resolves, is counted and shows in health; as the only sink it rejects', async () => {
  await withStore({ role: 'mirror', queueMaxPoints: 3 }, async (s, m) => {
    await s.start();
    const now = Date.now();
    const many = Array.from({ length: 5 }, (_, i) => tcp(now - i * 1000, i));
    await s.write(many); // resolves: the outbox's write must not fail because of ours
    assert.equal(await metric(m, 'telemetry_points_dropped_total', { reason: 'store_backlog' }), 5);
    assert.equal(await metric(m, 'telemetry_points_stored_total'), 0, 'a mirror does not count as the sink');
    assert.equal(s.health().status, 'failing');
    assert.match(String(s.health().problem), /backlog full/);
    await s.write([tcp(now, 1)]);
    assert.equal(s.health().status, 'ok', 'a later commit clears it');
    assert.equal(await metric(m, 'telemetry_store_points_written_total'), 1);
  });
  await withStore({ queueMaxPoints: 3 }, async (s) => {
    await s.start();
    await assert.rejects(s.write(Array.from({ length: 5 }, (_, i) => tcp(Date.now() - i, i))), { code: 'store_backlog' });
  });
});

test('a worker that dies is restarted: meanwhile writes are refused and counted, health says why, then writes work again', async () => {
  await withStore({}, async (s, m) => {
    await s.start();
    await s.write([tcp(Date.now(), 1)]);
    const worker = (s as unknown as { worker: Worker }).worker;
    await worker.terminate();
    assert.equal(s.health().status, 'failing');
    assert.match(String(s.health().problem), /worker/);
    await assert.rejects(s.write([tcp(Date.now(), 2)]), { code: 'store_not_running' });
    assert.equal(await metric(m, 'telemetry_points_dropped_total', { reason: 'store_unavailable' }), 1);
    await until(() => s.writable(), 'the worker back');
    await s.write([tcp(Date.now(), 3)]);
    assert.equal(s.health().worker_restarts, 1);
    assert.equal((await s.query({ measurement: 'tcp', limit: 10 })).points.length, 2);
  });
});
