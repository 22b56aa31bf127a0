import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { Logger } from 'pino';
import type { HttpClient, HttpOutcome } from '../http-client/http-client.js';
import { writerBreakerPolicy } from '../http-client/http-client.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { sleep } from '../util/abort.js';
import type { Outbox, OutboxRow } from './outbox.js';

const gzip = promisify(gzipCb);

/** One InfluxDB write endpoint: where to POST and how to authenticate. */
export interface WriteEndpoint {
  /** Label value (the base URL without credentials). */
  name: string;
  /** Full write URL: .../api/v2/write?org=&bucket=&precision=ns or .../write?db=&rp=&precision=ns */
  writeUrl: string;
  headers: Record<string, string>;
}

export interface WriterOptions {
  batchSize: number;
  flushMs: number;
  /** Cap of the retry backoff. */
  maxBackoffMs: number;
}

/** What one POST told us. */
type Verdict =
  | { kind: 'ok' }
  | { kind: 'split'; status: number; message: string } // 400/413/422: some line is bad, or the batch too big
  | { kind: 'retry'; errorKind: string; message: string; afterMs?: number };

export interface WriterStatus {
  endpoint: string;
  pending: number;
  lastSuccess: string | null;
  lastError: string | null;
  consecutiveFailures: number;
}

/**
 * Drains the outbox into one endpoint: batches of INFLUX_BATCH_SIZE, or
 * whatever is pending after INFLUX_FLUSH_INTERVAL. A batch is acknowledged
 * (its rows may leave the outbox) only on 2xx. Connection errors, timeouts,
 * 5xx and 429 are retried with capped exponential backoff and full jitter,
 * honouring Retry-After. A 400/413/422 splits the batch in halves until the
 * bad lines stand alone; those alone are dropped, counted and logged (a
 * re-sent good line overwrites itself: same series, same timestamp).
 * 401/403/404 mean the endpoint is misconfigured: retried, never dropped.
 */
export class EndpointWriter {
  private stopped = false;
  private wakeUp?: () => void;
  private loop?: Promise<void>;
  private waitingSince?: number;
  private failures = 0;
  private lastSuccessAt?: number;
  private lastError?: { at: number; message: string };
  private readonly abort = new AbortController();

  constructor(
    private readonly outbox: Outbox,
    private readonly http: HttpClient,
    readonly endpoint: WriteEndpoint,
    private readonly opts: WriterOptions,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
  ) {
    outbox.register(endpoint.name);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** New points arrived: look now instead of at the next tick. */
  wake(): void {
    this.wakeUp?.();
  }

  status(): WriterStatus {
    return {
      endpoint: this.endpoint.name,
      pending: this.outbox.pending(this.endpoint.name),
      lastSuccess: this.lastSuccessAt ? new Date(this.lastSuccessAt).toISOString() : null,
      lastError: this.lastError ? `${new Date(this.lastError.at).toISOString()} ${this.lastError.message}` : null,
      consecutiveFailures: this.failures,
    };
  }

  /** Failing now: the last attempt failed. */
  get failing(): boolean {
    return this.failures > 0;
  }

  /** Try to deliver everything pending until the deadline, then stop. */
  async stop(deadlineMs: number): Promise<void> {
    const until = Date.now() + deadlineMs;
    while (Date.now() < until && this.outbox.pending(this.endpoint.name) > 0 && !this.failing) {
      this.wake();
      await sleep(20);
    }
    this.stopped = true;
    this.abort.abort(new Error('writer stopped'));
    this.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const pending = this.outbox.pending(this.endpoint.name);
      if (pending === 0) {
        this.waitingSince = undefined;
        await this.idle(this.opts.flushMs);
        continue;
      }
      this.waitingSince ??= Date.now();
      const waited = Date.now() - this.waitingSince;
      if (pending < this.opts.batchSize && waited < this.opts.flushMs && !this.stopping()) {
        await this.idle(this.opts.flushMs - waited);
        continue;
      }
      const rows = this.outbox.next(this.endpoint.name, this.opts.batchSize);
      const retry = await this.deliver(rows);
      if (this.stopped) break;
      if (retry) {
        this.failures++;
        this.lastError = { at: Date.now(), message: retry.message };
        const backoff = Math.min(this.opts.maxBackoffMs, 500 * 2 ** Math.min(this.failures - 1, 16));
        const wait = retry.afterMs !== undefined ? Math.max(retry.afterMs, 100) : backoff / 2 + (Math.random() * backoff) / 2;
        if (this.failures === 1 || this.failures % 10 === 0) {
          this.log.warn({ endpoint: this.endpoint.name, error: retry.message, attempt: this.failures, retry_in_ms: Math.round(wait), pending }, 'write failed, will retry');
        }
        await this.idle(wait, false);
      } else {
        if (this.failures > 0) this.log.info({ endpoint: this.endpoint.name, after_attempts: this.failures }, 'writes recovered');
        this.failures = 0;
        this.lastSuccessAt = Date.now();
        // More than a batch was waiting: go on at once; else start a new flush window.
        if (this.outbox.pending(this.endpoint.name) < this.opts.batchSize) this.waitingSince = undefined;
      }
    }
  }

  /** During stop() we flush partial batches at once. */
  private stopping(): boolean {
    return this.abort.signal.aborted;
  }

  private idle(ms: number, wakeable = true): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = wakeable ? done : () => (this.stopped ? done() : undefined);
    }).finally(() => {
      this.wakeUp = undefined;
    });
  }

  /**
   * Send rows (contiguous, oldest first). Acks as it goes; returns the retry
   * verdict when it has to stop, undefined when every row is stored or dropped.
   */
  private async deliver(rows: OutboxRow[]): Promise<Extract<Verdict, { kind: 'retry' }> | undefined> {
    if (!rows.length) return undefined;
    const v = await this.post(rows);
    if (v.kind === 'ok') {
      this.outbox.ack(this.endpoint.name, rows[rows.length - 1]!.seq);
      this.metrics.pointsWritten.inc({ endpoint: this.endpoint.name }, rows.length);
      return undefined;
    }
    if (v.kind === 'retry') return v;
    if (rows.length === 1) {
      this.metrics.pointsDropped.inc({ reason: 'rejected' });
      this.metrics.writeErrors.inc({ endpoint: this.endpoint.name, kind: 'rejected' });
      this.log.error({ endpoint: this.endpoint.name, status: v.status, error: v.message.slice(0, 300), line: rows[0]!.line.slice(0, 300) }, 'point rejected by the database: dropped');
      this.outbox.ack(this.endpoint.name, rows[0]!.seq);
      return undefined;
    }
    const mid = Math.ceil(rows.length / 2);
    return (await this.deliver(rows.slice(0, mid))) ?? (await this.deliver(rows.slice(mid)));
  }

  private async post(rows: OutboxRow[]): Promise<Verdict> {
    const body = await gzip(Buffer.from(rows.map((r) => r.line).join('\n')));
    const end = this.metrics.writeDuration.startTimer({ endpoint: this.endpoint.name });
    const o = await this.http.request(this.endpoint.writeUrl, {
      method: 'POST',
      body,
      headers: { ...this.endpoint.headers, 'content-type': 'text/plain; charset=utf-8', 'content-encoding': 'gzip' },
      keepBodyBytes: 4096,
      policy: writerBreakerPolicy,
      signal: this.abort.signal,
    });
    end();
    const v = verdict(o);
    if (v.kind !== 'ok') this.metrics.writeErrors.inc({ endpoint: this.endpoint.name, kind: v.kind === 'split' ? `http_${v.status}` : v.errorKind });
    return v;
  }
}

function verdict(o: HttpOutcome): Verdict {
  if (!o.ok) {
    if (o.circuitOpen) return { kind: 'retry', errorKind: 'circuit_open', message: o.error.message, afterMs: (o.error as { retryInMs?: number }).retryInMs };
    return { kind: 'retry', errorKind: o.error.code ?? 'network', message: `${o.error.code ?? ''} ${o.error.message}`.trim() };
  }
  const s = o.statusCode;
  const text = o.body?.toString('utf8').slice(0, 500) ?? '';
  if (s >= 200 && s < 300) return { kind: 'ok' };
  if (s === 400 || s === 413 || s === 422) return { kind: 'split', status: s, message: text || `HTTP ${s}` };
  const retryAfter = parseRetryAfter(o.headers['retry-after']);
  const kind = s === 429 ? 'throttled' : s >= 500 ? 'server_error' : s === 401 || s === 403 ? 'unauthorized' : s === 404 ? 'not_found' : `http_${s}`;
  return { kind: 'retry', errorKind: kind, message: `HTTP ${s}${text ? `: ${text}` : ''}`, afterMs: retryAfter };
}

/** Retry-After: seconds or an HTTP date; capped at 5 minutes. */
export function parseRetryAfter(v: string | string[] | undefined, now = Date.now()): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  const ms = /^\d+$/.test(s.trim()) ? Number(s) * 1000 : Date.parse(s) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 300_000) : undefined;
}
