import { Deadline } from '../src/lifecycle/component.js';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { HttpClient } from '../src/http-client/http-client.js';
import { silentLogger } from '../src/logging/logger.js';
import { TelemetryMetrics } from '../src/metrics/telemetry-metrics.js';
import type { AnySample } from '../src/samples/sample.js';
import { InfluxSink } from '../src/sinks/influx-sink.js';
import { Victoria } from '../scripts/lib/services.js';
import { cpu, r3, sleep } from './lib/proc.js';

export interface SinkRow {
  points: number;
  seconds: number;
  pointsPerSecond: number;
  cpuPer100k: number;
  outboxBytesPerPoint: number;
  lineBytesPerPoint: number;
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

/**
 * Samples -> outbox (SQLite) -> acknowledged by VictoriaMetrics, in this
 * process: points per second and CPU per 100,000 points for the whole path,
 * and the outbox's bytes per point on disk (filled while the database is away).
 */
export async function benchSink(o: { points: number; dir: string }): Promise<SinkRow> {
  const vm = await Victoria.start();
  const http = new HttpClient({
    maxConnections: 10,
    maxConnectionsPerHost: 4,
    keepAliveTimeoutMs: 30_000,
    connectTimeoutMs: 5000,
    readTimeoutMs: 30_000,
    breaker: { failureThreshold: 5, successThreshold: 1, recoveryTimeoutMs: 1000, halfOpenMaxCalls: 1, idleEvictMs: 60_000, maxBreakers: 10 },
  });
  const metrics = new TelemetryMetrics(false);
  const sink = new InfluxSink(
    join(o.dir, 'sink'),
    { api: 'v2', urls: [vm.url], token: 't', org: 'o', bucket: 'bench' },
    { batchSize: 5000, flushMs: 200, maxBackoffMs: 1000, maxBytes: 2 ** 31 },
    http,
    metrics,
    silentLogger(),
  );
  try {
    const all = samples(o.points, Date.now() - 3_600_000);
    sink.start();
    const c0 = cpu('self');
    const t0 = Date.now();
    for (let i = 0; i < all.length; i += 200) sink.write(all.slice(i, i + 200)); // one target run ~ a few points; rounds commit in groups
    while (sink.outbox.points > 0) await sleep(20);
    const seconds = (Date.now() - t0) / 1000;
    const c1 = cpu('self');
    // Bytes per point on disk: fill while the database is down; count the pages in use
    // (the first pass's deleted rows left free pages that the fill reuses).
    await vm.down('SIGTERM');
    const lineBytes0 = sink.outbox.sizeBytes;
    const fill = samples(100_000, Date.now());
    for (let i = 0; i < fill.length; i += 200) sink.write(fill.slice(i, i + 200));
    const ro = new Database(join(o.dir, 'sink', 'outbox.db'), { readonly: true });
    const pages = Number(ro.pragma('page_count', { simple: true })) - Number(ro.pragma('freelist_count', { simple: true }));
    const db = (pages * Number(ro.pragma('page_size', { simple: true }))) / sink.outbox.points;
    ro.close();
    return {
      points: o.points,
      seconds: r3(seconds),
      pointsPerSecond: Math.round(o.points / seconds),
      cpuPer100k: r3(((c1.total - c0.total) / o.points) * 100_000),
      outboxBytesPerPoint: Math.round(db),
      lineBytesPerPoint: Math.round((sink.outbox.sizeBytes - lineBytes0) / fill.length),
    };
  } finally {
    await sink.stop(Deadline.in(0));
    await http.close();
    await vm.cleanup();
  }
}
