import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '../../src/http-client/http-client.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import { OutboxSink } from '../../src/outbox/outbox-sink.js';
import type { StoredPoint } from '../../src/outbox/stored-point.js';
import { decodeWriteRequest, RemoteWriteTransport, remoteWriteEndpoint, toTimeSeries } from '../../src/outbox/transports/remote-write.js';
import type { AnySample } from '../../src/samples/sample.js';
import { Victoria } from '../../scripts/lib/services.js';
import { startHttpServer, waitFor } from '../helpers/net.js';
import { PrometheusReceiver } from '../helpers/prometheus.js';
import { reportErrors } from '../../src/lifecycle/error-reporter.js';

const http = () =>
  new HttpClient({
    maxConnections: 10,
    maxConnectionsPerHost: 4,
    keepAliveTimeoutMs: 5000,
    connectTimeoutMs: 2000,
    readTimeoutMs: 5000,
    breaker: { failureThreshold: 5, successThreshold: 1, recoveryTimeoutMs: 60_000, halfOpenMaxCalls: 1, idleEvictMs: 60_000, maxBreakers: 10 },
  });

const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;

const pt = (target: string, slot: number, extra: Partial<StoredPoint['f']> = {}): StoredPoint => ({
  m: 'http',
  t: { target, source: 'src', method: 'GET' },
  f: { success: true, total_ms: 10 + slot, ip: '127.0.0.1', ...extra },
  i: { status_code: 200 },
  ts: T0 + slot * 1000,
});

test('series naming, labels and samples of a WriteRequest; the headers the spec asks for', async () => {
  const series = toTimeSeries([pt('b', 2), pt('a', 1), pt('b', 1), { m: 'probe', t: { target: 'b', source: 'src', probe: 'http' }, f: { reason: 'ok' }, ts: T0 }]);
  const names = series.map((s) => s.labels.map((l) => `${l.name}=${l.value}`).join(','));
  assert.ok(names.includes('__name__=telemetry_http_total_ms,method=GET,source=src,target=b'), '__name__ first, then sorted by name');
  assert.ok(names.includes('__name__=telemetry_http_status_code,method=GET,source=src,target=a'), 'integers are series');
  assert.ok(!names.some((n) => n.includes('telemetry_http_ip') || n.includes('telemetry_probe')), 'string fields are skipped');
  const b = series.find((s) => s.labels[0]!.value === 'telemetry_http_total_ms' && s.labels.some((l) => l.value === 'b'))!;
  assert.deepEqual(b.samples, [{ value: 11, timestamp: T0 + 1000 }, { value: 12, timestamp: T0 + 2000 }], 'sorted by time');
  assert.equal(series.find((s) => s.labels[0]!.value === 'telemetry_http_success')!.samples[0]!.value, 1, 'true is 1');

  let seen: { headers: Record<string, unknown>; body: Buffer } | undefined;
  const srv = await startHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    seen = { headers: req.headers, body: Buffer.concat(chunks) };
    res.statusCode = 204;
    res.end();
  });
  const client = http();
  try {
    const t = new RemoteWriteTransport(remoteWriteEndpoint(`http://u%40x:p%3Aw@127.0.0.1:${srv.port}/api/v1/write`, { bearerToken: 'ignored' }), client);
    assert.equal(t.name, `http://127.0.0.1:${srv.port}/api/v1/write`, 'no credentials in the name');
    const body = (await t.encode([pt('a', 1)]))!;
    assert.deepEqual(await t.send(body, new AbortController().signal), { kind: 'ok' });
    assert.equal(seen!.headers['content-encoding'], 'snappy');
    assert.equal(seen!.headers['content-type'], 'application/x-protobuf');
    assert.equal(seen!.headers['x-prometheus-remote-write-version'], '0.1.0');
    assert.match(String(seen!.headers['user-agent']), /^network-telemetry\//);
    assert.equal(seen!.headers.authorization, `Basic ${Buffer.from('u@x:p:w').toString('base64')}`, 'userinfo wins over the bearer token');
    assert.deepEqual(decodeWriteRequest(seen!.body), toTimeSeries([pt('a', 1)]));
    const bearer = remoteWriteEndpoint(`http://127.0.0.1:${srv.port}/api/v1/write`, { bearerToken: 's3cret' });
    assert.equal(bearer.headers.authorization, 'Bearer s3cret');
    assert.equal(await t.encode([{ m: 'probe', t: {}, f: { reason: 'x' }, ts: 1 }]), null, 'nothing numeric: no request');
  } finally {
    await client.close();
    await srv.close();
  }
});

test('VictoriaMetrics /api/v1/write stores what the transport sends', async () => {
  const vm = await Victoria.start();
  const client = http();
  try {
    const t = new RemoteWriteTransport(remoteWriteEndpoint(`${vm.url}/api/v1/write`, {}), client);
    const points = [pt('a', 1), pt('a', 2), pt('b', 1, { success: false })];
    assert.deepEqual(await t.send((await t.encode(points))!, new AbortController().signal), { kind: 'ok' });
    const rows = await waitFor(async () => {
      const r = await vm.export('{__name__=~"telemetry_http_(success|total_ms)"}');
      return r.length === 4 ? r : undefined;
    }, 'series in VictoriaMetrics', 20_000, 250);
    const a = rows.find((r) => r.metric.__name__ === 'telemetry_http_total_ms' && r.metric.target === 'a')!;
    assert.deepEqual(a.timestamps, [T0 + 1000, T0 + 2000], 'slot timestamps kept in ms');
    assert.deepEqual(a.values, [11, 12]);
    assert.deepEqual(rows.find((r) => r.metric.__name__ === 'telemetry_http_success' && r.metric.target === 'b')!.values, [0]);
    assert.equal(a.metric.method, 'GET');
  } finally {
    await client.close();
    await vm.cleanup();
  }
});

test('Prometheus: stored and queryable; a sample older than the series is refused as stale, and only that sample is dropped', async () => {
  const prom = await PrometheusReceiver.start();
  const client = http();
  const metrics = new TelemetryMetrics(false);
  const dir = mkdtempSync(join(tmpdir(), 'nt-rw-'));
  const t = new RemoteWriteTransport(remoteWriteEndpoint(prom.writeUrl, {}), client);
  const sink = new OutboxSink([t], { dataDir: dir, maxBytes: 64 * 1024 * 1024, writer: { batchSize: 100, flushMs: 100, maxBackoffMs: 1000, requestTimeoutMs: 7000 } }, metrics, silentLogger(), reportErrors(metrics, silentLogger()));
  try {
    const first = [pt('a', 1), pt('a', 2)];
    assert.deepEqual(await t.send((await t.encode(first))!, new AbortController().signal), { kind: 'ok' });
    const again = await t.send((await t.encode(first))!, new AbortController().signal);
    assert.equal(again.kind, 'reject');
    assert.ok(again.kind === 'reject' && again.stale && again.status === 400, JSON.stringify(again));

    // Through the outbox: one batch with a stale sample of series a between fresh ones: split down to it.
    await sink.start();
    const sample = (target: string, slot: number): AnySample => ({ measurement: 'tcp', tags: { target, source: 'src', port: '80' }, fields: { connect_ms: slot, success: true }, timeMs: T0 + slot * 1000 });
    await sink.write([sample('x', 5)]);
    await waitFor(() => sink.outbox.points === 0, 'first point delivered', 10_000, 50);
    await sink.write([sample('y', 3), sample('z', 3), sample('x', 4), sample('w', 3), sample('v', 3)]);
    await waitFor(() => sink.outbox.points === 0, 'batch settled', 20_000, 50);
    const dropped = (await metrics.pointsDropped.get()).values.find((v) => v.labels.reason === 'rejected')?.value;
    assert.equal(dropped, 1, 'only the stale point is dropped (it was never stored: not a re-send)');
    const stored = await prom.samples('telemetry_tcp_connect_ms');
    assert.deepEqual(stored.map((s) => s.metric.target).sort(), ['v', 'w', 'x', 'y', 'z']);
    assert.deepEqual(stored.find((s) => s.metric.target === 'x')!.values.map((v) => v[0] * 1000), [T0 + 5000]);
  } finally {
    await sink.stop(Deadline.in(1000));
    await client.close();
    await prom.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('killed between the receiver storing a batch and the cursor being saved: the re-sent batch counts as duplicates, nothing as lost', async () => {
  const prom = await PrometheusReceiver.start();
  const client = http();
  const dir = mkdtempSync(join(tmpdir(), 'nt-rw-'));
  const transport = () => new RemoteWriteTransport(remoteWriteEndpoint(prom.writeUrl, {}), client);
  const opts = { dataDir: dir, maxBytes: 64 * 1024 * 1024, writer: { batchSize: 1000, flushMs: 100, maxBackoffMs: 1000, requestTimeoutMs: 7000 } };
  const samples: AnySample[] = [];
  for (let slot = 0; slot < 5; slot++) for (const target of ['a', 'b', 'c']) samples.push({ measurement: 'tcp', tags: { target, source: 'src', port: '80' }, fields: { connect_ms: slot, success: true }, timeMs: T0 + slot * 1000 });
  try {
    const m1 = new TelemetryMetrics(false);
    const s1 = new OutboxSink([transport()], opts, m1, silentLogger(), reportErrors(m1, silentLogger()));
    await s1.start();
    await s1.write(samples);
    await waitFor(() => s1.outbox.points === 0, 'delivered', 10_000, 50);
    await s1.stop(Deadline.in(1000));
    // What a SIGKILL after the 2xx and before the cursor commit leaves on disk.
    const db = new Database(join(dir, 'outbox.db'));
    db.prepare('UPDATE cursors SET acked = 0, inflight_lo = 1, inflight_hi = 15').run();
    db.prepare("UPDATE sqlite_sequence SET seq = 15 WHERE name = 'outbox'").run();
    const ins = db.prepare('INSERT INTO outbox (seq, body, bytes, ts_ms, enc) VALUES (?, ?, 10, 0, 1)');
    const { toStoredPoint, encodePoint } = await import('../../src/outbox/stored-point.js');
    samples.forEach((s, i) => ins.run(i + 1, encodePoint(toStoredPoint(s)!)));
    db.close();

    const m2 = new TelemetryMetrics(false);
    const s2 = new OutboxSink([transport()], opts, m2, silentLogger(), reportErrors(m2, silentLogger()));
    await s2.start();
    assert.equal(s2.outbox.points, 15);
    await waitFor(() => s2.outbox.points === 0, 're-sent batch settled', 10_000, 50);
    const dup = (await m2.writeDuplicates.get()).values[0]?.value;
    const dropped = (await m2.pointsDropped.get()).values.reduce((a, v) => a + v.value, 0);
    assert.equal(dup, 15, 'counted as duplicates');
    assert.equal(dropped, 0, 'nothing counted as lost');
    await s2.stop(Deadline.in(1000));
    const stored = await prom.samples('telemetry_tcp_connect_ms');
    assert.equal(stored.reduce((a, s) => a + s.values.length, 0), 15, 'every point is in Prometheus once');
  } finally {
    await client.close();
    await prom.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
