import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePoint } from '../../src/outbox/stored-point.js';
import { startDaemon } from '../helpers/daemon.js';
import { startHttpServer, waitFor } from '../helpers/net.js';
import { orCleanUp, settledPoints, startWriteStack, stopAndCountReplicas, vmEnv } from '../helpers/write-stack.js';

const metric = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} ([\\d.e+]+)$`, 'm').exec(text)?.[1] ?? 0);

/** Points of the outbox file as VictoriaMetrics keys (`<measurement>_success|labels@ms`). */
function outboxKeys(dataDir: string): { keys: Set<string>; slots: number[] } {
  const db = new Database(join(dataDir, 'outbox.db'), { readonly: true });
  const rows = db.prepare('SELECT enc, body FROM outbox ORDER BY seq').all() as { enc: number; body: string }[];
  db.close();
  const keys = new Set<string>();
  const slots: number[] = [];
  for (const { enc, body } of rows) {
    const p = decodePoint(enc, body);
    const labels = Object.entries(p.t).map(([k, v]) => `${k}=${v}`).sort().join(',');
    keys.add(`${p.m === 'collector' ? 'collector_targets_run' : `${p.m}_success`}|${labels}@${p.ts}`);
    slots.push(p.ts);
  }
  return { keys, slots };
}

// The three cases are independent - each starts its own web server, write stack (VictoriaMetrics and
// HAProxy on ports of their own) and daemon with its own data directory - so they run at once.
describe('outbox through a database outage', { concurrency: true }, () => {
  test('both replicas down for five rounds, then back: outbox grows then drains to 0, /health degraded then ok, zero lost', async (t) => {
    const web = await startHttpServer((_q, r) => r.end('ok'), { logRequests: false });
    const stack = await orCleanUp(startWriteStack(), () => web.close());
    const targets = Array.from({ length: 20 }, (_, i) => `${web.url}/t/${i}`);
    const d = await orCleanUp(startDaemon({ TARGET_FQDNS: targets.join(','), COLLECTION_INTERVAL: '2', SHUTDOWN_TIMEOUT: '15', ...vmEnv(stack.writeUrls) }), () => stack.cleanup(), () => web.close());
    try {
      await waitFor(async () => (await d.json('/health')).status === 'ok' && (await d.json('/health')).components.scheduler.last_round_age_s !== null, 'healthy first', 15_000, 200);
      await Promise.all(stack.vm.map((v) => v.down('SIGTERM')));
      await waitFor(async () => (await d.json('/health')).status === 'degraded', 'degraded while both are down', 15_000, 200);
      const h1 = await d.json('/health');
      // Five rounds of 20 targets (two points each) pile up: the outage outlasts
      // the writers' longest backoff (INFLUX_RETRY_MAX, 2 s) several times over.
      const grown = h1.components.sink.outbox_points + 20 * 2 * 5;
      const h2 = await waitFor(async () => {
        const h = await d.json('/health');
        return h.components.sink.outbox_points > grown ? h : undefined;
      }, `outbox past ${grown} points (from ${h1.components.sink.outbox_points})`, 30_000, 200);
      assert.equal(h2.status, 'degraded');
      assert.equal((await d.get('/health/ready')).status, 200, 'still ready: points are safe on disk');
      await Promise.all(stack.vm.map((v) => v.up()));
      await waitFor(async () => {
        const h = await d.json('/health');
        return h.status === 'ok' && h.components.sink.outbox_points < 100;
      }, 'ok again and drained', 60_000, 200);
      const { stored, replicas: [a, b] } = await stopAndCountReplicas(d, stack);
      t.diagnostic(`stored ${stored}; replicas hold ${a.size} and ${b.size}`);
      assert.equal(a.size, stored);
      assert.equal(b.size, stored);
    } finally {
      await d.cleanup();
      await stack.cleanup();
      await web.close();
    }
  });

  test('no database at start, daemon SIGKILLed with a full outbox, restarted: every accepted point arrives', async () => {
    const web = await startHttpServer((_q, r) => r.end('ok'), { logRequests: false });
    const stack = await orCleanUp(startWriteStack(), () => web.close());
    await Promise.all(stack.vm.map((v) => v.down('SIGTERM')));
    const dataDir = mkdtempSync(join(tmpdir(), 'nt-kill-'));
    const targets = Array.from({ length: 20 }, (_, i) => `${web.url}/t/${i}`);
    const env = { TARGET_FQDNS: targets.join(','), COLLECTION_INTERVAL: '2', SHUTDOWN_TIMEOUT: '15', ...vmEnv(stack.writeUrls) };
    let d = await orCleanUp(startDaemon(env, { dataDir }), () => stack.cleanup(), () => web.close());
    try {
      await waitFor(async () => (await d.json('/health')).components.sink.outbox_points >= 200, 'outbox filling with the database away', 20_000, 200);
      assert.equal((await d.json('/health')).status, 'degraded');
      await d.kill('SIGKILL');
      const accepted = outboxKeys(dataDir).keys;
      assert.ok(accepted.size >= 200);
      await Promise.all(stack.vm.map((v) => v.up()));
      d = await startDaemon(env, { dataDir });
      await waitFor(async () => (await d.json('/health')).components.sink.outbox_points < 50, 'drained after restart', 30_000, 200);
      for (const vm of stack.vm) {
        const stored = await settledPoints(vm, accepted.size);
        const missing = [...accepted].filter((k) => !stored.has(k));
        assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${accepted.size} accepted points missing`);
      }
    } finally {
      await d.cleanup();
      await stack.cleanup();
      await web.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('OUTBOX_MAX_BYTES: the drop count equals the metric and the survivors are the newest', async (t) => {
    const web = await startHttpServer((_q, r) => r.end('ok'), { logRequests: false });
    const stack = await orCleanUp(startWriteStack(), () => web.close());
    await Promise.all(stack.vm.map((v) => v.down('SIGTERM')));
    const dataDir = mkdtempSync(join(tmpdir(), 'nt-bound-'));
    const targets = Array.from({ length: 50 }, (_, i) => `${web.url}/t/${i}`);
    const bound = 256 * 1024;
    const d = await orCleanUp(startDaemon({ TARGET_FQDNS: targets.join(','), COLLECTION_INTERVAL: '1', OUTBOX_MAX_BYTES: String(bound), SHUTDOWN_TIMEOUT: '15', ...vmEnv(stack.writeUrls) }, { dataDir }), () => stack.cleanup(), () => web.close());
    try {
      const dropped = (m: string) => metric(m, 'telemetry_points_dropped_total{reason="outbox_full"}');
      await waitFor(async () => dropped(await (await d.get('/metrics')).text()) > 100, 'the bound forcing drops', 90_000, 200);
      // /health is one synchronous snapshot (a /metrics scrape is rendered asynchronously, rounds may land in between).
      const snap = (await d.json('/health')).components.sink;
      assert.equal(snap.points_dropped_outbox_full, snap.points_stored - snap.outbox_points, 'every point is either held or counted as dropped');
      const m = await (await d.get('/metrics')).text();
      assert.ok(dropped(m) >= snap.points_dropped_outbox_full, 'the metric counts the same drops');
      assert.ok(metric(m, 'telemetry_outbox_bytes') <= bound, 'outbox.db and its WAL within OUTBOX_MAX_BYTES');
      const onDisk = statSync(join(dataDir, 'outbox.db')).size + (statSync(join(dataDir, 'outbox.db-wal'), { throwIfNoEntry: false })?.size ?? 0);
      t.diagnostic(`files on disk: ${onDisk} bytes, bound ${bound}`);
      assert.ok(onDisk <= bound, `files on disk ${onDisk} <= ${bound}`);
      // Survivors are the newest: the slots held end at the newest slot and have no hole.
      const { slots } = outboxKeys(dataDir);
      const distinct = [...new Set(slots)].sort((x, y) => x - y);
      for (let i = 1; i < distinct.length; i++) assert.equal(distinct[i]! - distinct[i - 1]!, 1000, 'held slots are contiguous');
      const newest = await d.json('/health');
      assert.ok(Date.now() - distinct.at(-1)! < 3000, 'the newest slot is held');
      assert.ok(newest.components.sink.outbox_bytes <= bound);
      // The database gets exactly what was not dropped.
      await Promise.all(stack.vm.map((v) => v.up()));
      await waitFor(async () => (await d.json('/health')).components.sink.outbox_points < 150, 'drained', 30_000, 200);
      // Once the database is back the outbox stays far under the bound: no more drops.
      const droppedFinal = (await d.json('/health')).components.sink.points_dropped_outbox_full as number;
      assert.equal(dropped(await (await d.get('/metrics')).text()), droppedFinal, 'metric and count agree when nothing moves');
      d.proc.kill('SIGTERM');
      assert.equal(await d.exited, 0);
      const stopped = d.logs.find((l) => l.msg === 'stopped')!;
      assert.equal(stopped.outbox_points, 0);
      const kept = (stopped.points_stored as number) - droppedFinal;
      const got = await settledPoints(stack.vm[0], kept);
      // Everything not dropped arrived. A point pushed out while its batch was already on the
      // wire may arrive too: drops are counted when points leave the outbox, so the count errs high.
      assert.ok(got.size >= kept && got.size <= (stopped.points_stored as number), `database has ${got.size}; kept ${kept} of ${stopped.points_stored}`);
    } finally {
      await d.cleanup();
      await stack.cleanup();
      await web.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
