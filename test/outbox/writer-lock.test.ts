import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { HttpClient } from '../../src/http-client/http-client.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import { OutboxSink } from '../../src/outbox/outbox-sink.js';
import { InfluxTransport, influxEndpoint } from '../../src/outbox/transports/influx.js';
import type { AnySample } from '../../src/samples/sample.js';
import { Victoria } from '../../scripts/lib/services.js';
import { waitFor } from '../helpers/net.js';
import { settledPoints } from '../helpers/write-stack.js';
import { reportErrors } from '../../src/lifecycle/error-reporter.js';

const sample = (target: string, slot: number): AnySample => ({
  measurement: 'tcp',
  tags: { target, source: 'src', port: '80' },
  fields: { connect_ms: 1.5, success: true },
  timeMs: Math.floor(Date.now() / 1000) * 1000 - 600_000 + slot * 1000,
});

test('another process holds the write lock of outbox.db: errors counted, health says failing, the loop never blocks, delivery resumes by itself', async (t) => {
  const vm = await Victoria.start();
  const dir = mkdtempSync(join(tmpdir(), 'nt-lock-'));
  const http = new HttpClient({
    maxConnections: 10,
    maxConnectionsPerHost: 4,
    keepAliveTimeoutMs: 5000,
    connectTimeoutMs: 1000,
    readTimeoutMs: 2000,
    breaker: { failureThreshold: 5, successThreshold: 1, recoveryTimeoutMs: 60_000, halfOpenMaxCalls: 1, idleEvictMs: 60_000, maxBreakers: 10 },
  });
  const metrics = new TelemetryMetrics(false);
  const transport = new InfluxTransport(influxEndpoint(vm.url, { api: 'v2', token: 't', org: 'o', bucket: 'b' }), http);
  const sink = new OutboxSink([transport], { dataDir: dir, maxBytes: 64 * 1024 * 1024, writer: { batchSize: 1000, flushMs: 200, maxBackoffMs: 1000, requestTimeoutMs: 3000 } }, metrics, silentLogger(), reportErrors(metrics, silentLogger()));
  const lag = monitorEventLoopDelay({ resolution: 10 });
  let other: Database.Database | undefined;
  const errors = async () => (await metrics.errors.get()).values.find((v) => v.labels.component === 'outbox_writer')?.value ?? 0;
  try {
    await sink.start();
    await sink.write([sample('a', 0), sample('b', 0)]);
    await waitFor(() => sink.outbox.points === 0, 'first points delivered', 10_000, 50);

    // New points land, then a second connection takes the write lock before the writer saves anything.
    await sink.write(Array.from({ length: 20 }, (_, i) => sample(`t${i}`, 1)));
    other = new Database(join(dir, 'outbox.db'));
    other.prepare('BEGIN IMMEDIATE').run();
    const lockedAt = Date.now();
    lag.enable();
    // A round committed while the lock is held waits asynchronously, then lands when it is released.
    const blocked = sink.write([sample('late', 2)]);

    await waitFor(async () => (await errors()) >= 1, 'the failed cursor save counted in telemetry_errors_total{component="outbox_writer"}', 10_000, 100);
    assert.equal(sink.health().status !== 'ok', true, 'not ok while the writer meets errors');
    // Before the lock is gone no progress is possible: past its longest legitimate tick the writer reads as failing.
    const failing = await waitFor(() => {
      const h = sink.health();
      return h.status === 'failing' && /writer stalled/.test(String(h.problem)) ? h : undefined;
    }, 'health failing: writer stalled', 20_000, 200);
    const stalledAfter = Date.now() - lockedAt;
    assert.match(String(failing.problem), /writer stalled/);
    const endpoint = (failing.endpoints as { status: string; loop: { last_error?: string } }[])[0]!;
    assert.equal(endpoint.status, 'failing');
    assert.match(String(endpoint.loop.last_error), /locked|busy/i);
    assert.ok(sink.outbox.pending(transport.name) >= 20, 'nothing left the outbox while the lock was held');

    other.prepare('ROLLBACK').run();
    other.close();
    other = undefined;
    const releasedAt = Date.now();
    await blocked.catch(() => {}); // resolved if the lock went within 5 s, else refused and counted
    await sink.write([sample('after', 3)]); // the next round commits at once
    await waitFor(() => sink.outbox.points === 0 && sink.health().status === 'ok', 'delivery resumed and health ok', 20_000, 100);
    const resumedIn = Date.now() - releasedAt;
    lag.disable();
    const got = await settledPoints(vm, 24, ['tcp']);
    const refused = (await metrics.pointsDropped.get()).values.find((v) => v.labels.reason === 'outbox_locked')?.value ?? 0;
    t.diagnostic(`writer failing after ${stalledAfter} ms of lock; delivery resumed ${resumedIn} ms after release; errors ${await errors()}; event-loop delay max ${Math.round(lag.max / 1e6)} ms; points in VictoriaMetrics ${got.size}; refused at the door ${refused}`);
    assert.equal(got.size, 24 - refused, 'every point written before and during the lock arrived (or was counted as refused)');
    assert.ok(lag.max / 1e6 < 500, `event loop never blocked long (max ${Math.round(lag.max / 1e6)} ms)`);
  } finally {
    lag.disable();
    other?.close();
    await sink.stop(Deadline.in(2000));
    await http.close();
    await vm.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
