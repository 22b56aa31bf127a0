import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { HttpClient } from '../src/http-client/http-client.js';
import { Deadline } from '../src/lifecycle/component.js';
import { silentLogger } from '../src/logging/logger.js';
import { TelemetryMetrics } from '../src/metrics/telemetry-metrics.js';
import { parseLineProtocol } from './lib/parse-line-protocol.js';
import { OutboxSink } from '../src/outbox/outbox-sink.js';
import { decodePoint, encodePoint, Encoding, toStoredPoint, type StoredPoint } from '../src/outbox/stored-point.js';
import { InfluxTransport, influxEndpoint, toLine } from '../src/outbox/transports/influx.js';
import { encodeWriteRequest, RemoteWriteTransport, remoteWriteEndpoint, toTimeSeries } from '../src/outbox/transports/remote-write.js';
import type { Transport } from '../src/outbox/transports/transport.js';
import { toLineProtocol } from '../src/outbox/transports/line-protocol.js';
import type { AnySample } from '../src/samples/sample.js';
import { Victoria } from '../scripts/lib/services.js';
import { cpu, r3, sleep } from './lib/proc.js';
import { reportErrors } from '../src/lifecycle/error-reporter.js';

export interface SinkPathRow {
  transport: string;
  points: number;
  seconds: number;
  pointsPerSecond: number;
  cpuPer100k: number;
  /** Request body bytes per point (gzip'd line protocol / snappy'd protobuf). */
  wireBytesPerPoint: number;
}

export interface EncodingRow {
  encoding: string;
  /** Microseconds of CPU to encode one point into the outbox, and to decode it again. */
  encodeUs: number;
  decodeUs: number;
  bytesPerPoint: number;
}

export interface SinkRow {
  paths: SinkPathRow[];
  encodings: EncodingRow[];
  /** SQLite pages in use per point, and the stored body bytes per point. */
  outboxBytesPerPoint: number;
  bodyBytesPerPoint: number;
  /** One 200-point commit (synchronous=FULL: one fsync), median and p99, ms. */
  commitMsP50: number;
  commitMsP99: number;
}

function samples(n: number, t0: number): AnySample[] {
  const out: AnySample[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      measurement: 'ping',
      tags: { target: `target-${i % 1000}`, source: 'bench', family: 'ipv4' },
      fields: { sent: 5, received: 5, loss_pct: 0, rtt_min_ms: 0.021, rtt_avg_ms: 0.034, rtt_max_ms: 0.051, rtt_stddev_ms: 0.011, jitter_ms: 0.009, r_factor: 93.18, mos: 4.409, ip: `127.4.${(i >> 8) & 255}.${i & 255}`, success: true },
      timeMs: t0 + Math.floor(i / 1000) * 1000,
    });
  }
  return out;
}

/** CPU µs per point of fn over all items (best of 3 passes: the shared machine is noisy). */
function usPer<T>(items: readonly T[], fn: (x: T) => unknown): number {
  let best = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const c0 = process.cpuUsage();
    for (const x of items) fn(x);
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / items.length);
  }
  return r3(best);
}

/**
 * The outbox's row encoding: typed JSON of a StoredPoint (what it stores)
 * against line protocol — CPU to encode
 * a sample into a row and to decode a row for a transport, and bytes.
 */
function encodings(all: AnySample[]): EncodingRow[] {
  const json = all.map((s) => encodePoint(toStoredPoint(s)!));
  const lines = all.map((s) => toLineProtocol(s)!);
  const bytes = (xs: string[]) => Math.round(xs.reduce((a, x) => a + Buffer.byteLength(x), 0) / xs.length);
  return [
    { encoding: 'JSON (StoredPoint)', encodeUs: usPer(all, (s) => encodePoint(toStoredPoint(s)!)), decodeUs: usPer(json, (b) => decodePoint(Encoding.JSON, b)), bytesPerPoint: bytes(json) },
    { encoding: 'line protocol', encodeUs: usPer(all, (s) => toLineProtocol(s)), decodeUs: usPer(lines, (l) => parseLineProtocol(l)), bytesPerPoint: bytes(lines) },
  ];
}

async function path(name: string, make: (vm: Victoria, http: HttpClient) => Transport, all: AnySample[], dir: string, wire: (ps: StoredPoint[]) => number): Promise<{ row: SinkPathRow; sink: OutboxSink; vm: Victoria; http: HttpClient }> {
  const vm = await Victoria.start();
  const http = new HttpClient({
    maxConnections: 10,
    maxConnectionsPerHost: 4,
    keepAliveTimeoutMs: 30_000,
    connectTimeoutMs: 5000,
    readTimeoutMs: 30_000,
    breaker: { failureThreshold: 5, successThreshold: 1, recoveryTimeoutMs: 1000, halfOpenMaxCalls: 1, idleEvictMs: 60_000, maxBreakers: 10 },
  });
  mkdirSync(dir, { recursive: true });
  const metrics = new TelemetryMetrics(false);
  const sink = new OutboxSink([make(vm, http)], { dataDir: dir, maxBytes: 2 ** 31, writer: { batchSize: 5000, flushMs: 200, maxBackoffMs: 1000, requestTimeoutMs: 35_000 } }, metrics, silentLogger(), reportErrors(metrics, silentLogger()));
  await sink.start();
  const c0 = cpu('self');
  const t0 = Date.now();
  // One target run is a few points; rounds commit in groups.
  for (let i = 0; i < all.length; i += 200) await sink.write(all.slice(i, i + 200));
  while (sink.outbox.points > 0) await sleep(20);
  const seconds = (Date.now() - t0) / 1000;
  const c1 = cpu('self');
  const stored = all.slice(0, 5000).map((s) => toStoredPoint(s)!);
  return {
    row: {
      transport: name,
      points: all.length,
      seconds: r3(seconds),
      pointsPerSecond: Math.round(all.length / seconds),
      cpuPer100k: r3(((c1.total - c0.total) / all.length) * 100_000),
      wireBytesPerPoint: r3(wire(stored) / stored.length),
    },
    sink,
    vm,
    http,
  };
}

/**
 * Samples -> outbox (SQLite) -> acknowledged by VictoriaMetrics, in this
 * process, for each transport: points per second and CPU per 100,000 points
 * for the whole path; the row encoding compared; the outbox's bytes per
 * point on disk (filled while the database is away) and the commit latency.
 */
export async function benchSink(o: { points: number; dir: string }): Promise<SinkRow> {
  const all = samples(o.points, Date.now() - 3_600_000);
  const influx = await path('InfluxDB line protocol (gzip)', (vm, http) => new InfluxTransport(influxEndpoint(vm.url, { api: 'v2', token: 't', org: 'o', bucket: 'bench' }), http), all, join(o.dir, 'sink-influx'), (ps) => gzipSync(ps.map(toLine).join('\n')).length);
  await influx.sink.stop(Deadline.in(0));
  await influx.http.close();
  await influx.vm.cleanup();
  const rw = await path('Prometheus remote write (snappy)', (vm, http) => new RemoteWriteTransport(remoteWriteEndpoint(`${vm.url}/api/v1/write`, {}), http), samples(o.points, Date.now() - 1_800_000), join(o.dir, 'sink-rw'), (ps) => encodeWriteRequest(toTimeSeries(ps)).length);
  try {
    // Bytes per point on disk and commit latency: fill while the database is down.
    await rw.vm.down('SIGTERM');
    const body0 = rw.sink.outbox.bodyBytes;
    const fill = samples(100_000, Date.now());
    const commits: number[] = [];
    for (let i = 0; i < fill.length; i += 200) {
      const t = performance.now();
      await rw.sink.write(fill.slice(i, i + 200));
      commits.push(performance.now() - t);
    }
    commits.sort((a, b) => a - b);
    const ro = new Database(join(o.dir, 'sink-rw', 'outbox.db'), { readonly: true });
    const pages = Number(ro.pragma('page_count', { simple: true })) - Number(ro.pragma('freelist_count', { simple: true }));
    const onDisk = (pages * Number(ro.pragma('page_size', { simple: true }))) / rw.sink.outbox.points;
    ro.close();
    return {
      paths: [influx.row, rw.row],
      encodings: encodings(all.slice(0, 20_000)),
      outboxBytesPerPoint: Math.round(onDisk),
      bodyBytesPerPoint: Math.round((rw.sink.outbox.bodyBytes - body0) / fill.length),
      commitMsP50: r3(commits[Math.floor(commits.length / 2)]!),
      commitMsP99: r3(commits[Math.floor(commits.length * 0.99)]!),
    };
  } finally {
    await rw.sink.stop(Deadline.in(0));
    await rw.http.close();
    await rw.vm.cleanup();
  }
}

// `node --import tsx bench/sink.ts [points]`: this benchmark alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'nt-bench-sink-'));
  try {
    console.log(JSON.stringify(await benchSink({ points: Number(process.argv[2] ?? 100_000), dir }), null, 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
