import type { Logger } from 'pino';
import type { HttpClient } from '../http-client/http-client.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { toLineProtocol } from '../samples/line-protocol.js';
import type { AnySample } from '../samples/sample.js';
import { EndpointWriter, type WriteEndpoint, type WriterOptions } from './influx-writer.js';
import { Outbox } from './outbox.js';
import type { ComponentHealth, Deadline } from '../lifecycle/component.js';
import type { SinkComponent as Sink } from './sink.js';
import { canWrite, closeDb, openDb, type Db } from '../sqlite/sqlite-db.js';

export interface InfluxTarget {
  api: 'v1' | 'v2';
  urls: string[];
  token?: string;
  org?: string;
  bucket?: string;
  db?: string;
  rp?: string;
  username?: string;
  password?: string;
}

/** Build the write URL and auth headers of one endpoint. */
export function writeEndpoint(base: string, t: InfluxTarget): WriteEndpoint {
  const u = new URL(base);
  const name = `${u.protocol}//${u.host}${u.pathname.replace(/\/$/, '')}`;
  const prefix = u.pathname.replace(/\/$/, '');
  const headers: Record<string, string> = {};
  let write: URL;
  if (t.api === 'v2') {
    write = new URL(`${u.origin}${prefix}/api/v2/write`);
    write.searchParams.set('org', t.org ?? '');
    write.searchParams.set('bucket', t.bucket ?? '');
    if (t.token) headers.authorization = `Token ${t.token}`;
  } else {
    write = new URL(`${u.origin}${prefix}/write`);
    write.searchParams.set('db', t.db ?? t.bucket ?? '');
    if (t.rp) write.searchParams.set('rp', t.rp);
    if (t.username) headers.authorization = `Basic ${Buffer.from(`${t.username}:${t.password ?? ''}`).toString('base64')}`;
    else if (t.token) headers.authorization = `Token ${t.token}`;
  }
  write.searchParams.set('precision', 'ns');
  return { name, writeUrl: write.toString(), headers };
}

/**
 * InfluxDB as the sink: samples become line protocol, are committed to the
 * outbox (disk) before write() returns, and one writer per endpoint drains
 * the outbox (mirror mode: every point to every endpoint, each endpoint with
 * its own progress, so a replica that was down catches up alone).
 */
export class InfluxSink implements Sink {
  readonly kind = 'influxdb';
  readonly name = 'outbox';
  private readonly db: Db;
  readonly outbox: Outbox;
  readonly writers: EndpointWriter[];
  private lastDiskError?: { at: number; message: string };
  private lastAppendAt?: number;
  private closed = false;
  private lastPoints = 0;
  /** Since start: points committed, and points the byte bound pushed out. */
  private stored = 0;
  private droppedFull = 0;

  constructor(
    dataDir: string,
    target: InfluxTarget,
    private readonly opts: WriterOptions & { maxBytes: number },
    http: HttpClient,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
  ) {
    this.db = openDb(dataDir, 'outbox.db');
    this.outbox = new Outbox(this.db, opts.maxBytes);
    const endpoints = target.urls.map((u) => writeEndpoint(u, target));
    this.outbox.retain(endpoints.map((e) => e.name));
    this.writers = endpoints.map((e) => new EndpointWriter(this.outbox, http, e, opts, metrics, log));
    metrics.outboxMaxBytes.set(opts.maxBytes);
    metrics.onCollect(() => {
      if (this.closed) return;
      metrics.outboxPoints.set(this.outbox.points);
      metrics.outboxBytes.set(this.outbox.sizeBytes);
      metrics.outboxOldestAge.set(this.outbox.oldestAgeMs() / 1000);
      for (const w of this.writers) {
        metrics.outboxPending.set({ endpoint: w.endpoint.name }, this.outbox.pending(w.endpoint.name));
        metrics.endpointUp.set({ endpoint: w.endpoint.name }, w.failing ? 0 : 1);
      }
    });
  }

  async start(): Promise<void> {
    if (this.outbox.points > 0) this.log.info({ points: this.outbox.points }, 'outbox holds points from before the restart; delivering');
    for (const w of this.writers) w.start();
  }

  write(samples: readonly AnySample[]): void {
    if (this.closed) throw new Error('influx sink is closed');
    const lines: string[] = [];
    for (const s of samples) {
      const l = toLineProtocol(s);
      if (l) lines.push(l);
    }
    try {
      const dropped = this.outbox.append(lines);
      this.lastAppendAt = Date.now();
      this.stored += lines.length;
      this.droppedFull += dropped.points;
      this.metrics.pointsStored.inc(lines.length);
      if (dropped.points > 0) {
        this.metrics.pointsDropped.inc({ reason: 'outbox_full' }, dropped.points);
        this.log.warn({ dropped_points: dropped.points, dropped_bytes: dropped.bytes, max_bytes: this.opts.maxBytes }, 'outbox full: oldest points dropped');
      }
    } catch (err) {
      this.lastDiskError = { at: Date.now(), message: (err as Error).message };
      this.metrics.errors.inc({ component: 'outbox' });
      throw err;
    }
    for (const w of this.writers) if (this.outbox.pending(w.endpoint.name) >= this.opts.batchSize) w.wake();
  }

  health(): ComponentHealth {
    if (this.closed) return { status: 'ok', kind: this.kind, outbox_points: this.lastPoints, closed: true };
    const diskFailing = this.lastDiskError && (!this.lastAppendAt || this.lastDiskError.at > this.lastAppendAt);
    const failingEndpoints = this.writers.filter((w) => w.failing);
    return {
      // Database trouble is "degraded": points wait safely on disk. Only a disk failure is "failing".
      status: diskFailing ? 'failing' : failingEndpoints.length ? 'degraded' : 'ok',
      kind: this.kind,
      outbox_points: this.outbox.points,
      outbox_bytes: this.outbox.sizeBytes,
      points_stored: this.stored,
      points_dropped_outbox_full: this.droppedFull,
      outbox_oldest_age_s: Math.round(this.outbox.oldestAgeMs() / 100) / 10,
      endpoints: this.writers.map((w) => w.status()),
      ...(diskFailing ? { error: this.lastDiskError?.message } : {}),
    };
  }

  writable(): boolean {
    return !this.closed && canWrite(this.db);
  }

  /** SIGTERM: deliver for at most the deadline; what is left stays on disk for the next start. */
  async stop(deadline: Deadline): Promise<void> {
    if (this.closed) return;
    await Promise.all(this.writers.map((w) => w.stop(deadline.remaining())));
    this.closed = true;
    this.lastPoints = this.outbox.points;
    if (this.outbox.points > 0) this.log.info({ points: this.outbox.points }, 'outbox kept on disk for the next start');
    closeDb(this.db);
  }
}
