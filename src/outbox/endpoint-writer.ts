import type { Logger } from 'pino';
import type { ComponentHealth, Deadline } from '../lifecycle/component.js';
import type { ErrorReporter } from '../lifecycle/error-reporter.js';
import { SupervisedLoop } from '../lifecycle/supervised-loop.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { Outbox, OutboxRow } from './outbox.js';
import { decodePoint, type StoredPoint } from './stored-point.js';
import type { SendResult, Transport } from './transports/transport.js';

export interface WriterOptions {
  /** INFLUX_BATCH_SIZE: points per request. */
  batchSize: number;
  /** INFLUX_FLUSH_INTERVAL: a partial batch waits at most this long. */
  flushMs: number;
  /** INFLUX_RETRY_MAX: cap of the trial backoff after failures. */
  maxBackoffMs: number;
  /** The longest one request may legitimately take (connect + read timeouts): the stall threshold builds on it. */
  requestTimeoutMs: number;
}

export interface WriterStatus {
  endpoint: string;
  kind: string;
  pending: number;
  lastSuccess: string | null;
  lastError: string | null;
  consecutiveFailures: number;
}

/** A sub-batch still to send after a split, in order; `resend`: its rows may already be stored. */
interface Part {
  rows: OutboxRow[];
  resend: boolean;
}

const FIRST_TRIAL_MS = 1000;

/**
 * Drains the outbox into one endpoint through its Transport, one request per
 * tick of a SupervisedLoop (an error — say the cursor cannot be saved because
 * another process holds outbox.db's write lock — is counted in
 * telemetry_errors_total{component="outbox_writer"}, logged and backed off;
 * a loop that makes no progress for longer than its longest legitimate tick
 * reads as failing in /health).
 *
 * - Batches of INFLUX_BATCH_SIZE, or whatever is pending after
 *   INFLUX_FLUSH_INTERVAL. Rows leave the outbox on `ok` only.
 * - `retry`: the same rows again after a trial backoff — 1 s doubling up to
 *   INFLUX_RETRY_MAX with jitter (half to all of the step), or the server's
 *   Retry-After. A dead endpoint sees one request per step and no more (new
 *   points do not wake a writer that is backing off). This is the writer's
 *   own recovery policy: it bypasses the HttpClient's per-origin breaker,
 *   whose CIRCUIT_RECOVERY_TIMEOUT (60 s) would keep the outbox full for a
 *   minute after every blip.
 * - `reject`: split in halves until the bad points stand alone; those are
 *   dropped, counted (telemetry_points_dropped_total{reason="rejected"}) and
 *   logged, the rest delivered.
 * - Re-sends: before each request the rows it carries are saved as the
 *   endpoint's in-flight range. After a crash or a request without a
 *   definite answer (timeout), those rows go again first, alone. If the
 *   receiver refuses them as stale (Prometheus: out of order / duplicate:
 *   it already holds them, since it commits a request all or nothing), they
 *   are counted as duplicates (telemetry_write_duplicates_total), not lost.
 */
export class EndpointWriter {
  private readonly loop: SupervisedLoop;
  private parts: Part[] = [];
  /** Delivered up to here, but the cursor could not be saved yet. */
  private unsavedAck?: number;
  /** Rows of the last request without a definite answer (a timeout, or a crash before start): maybe stored. */
  private unknown?: { lo: number; hi: number };
  private loaded = false;
  private failures = 0;
  private nextTrialAt = 0;
  private waitingSince?: number;
  private draining = false;
  private lastSuccessAt?: number;
  private lastError?: { at: number; message: string };

  constructor(
    private readonly outbox: () => Outbox,
    readonly transport: Transport,
    private readonly opts: WriterOptions,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
    reporter: ErrorReporter,
  ) {
    this.loop = new SupervisedLoop(
      {
        name: 'outbox_writer',
        periodMs: opts.flushMs,
        stallAfterMs: opts.requestTimeoutMs + opts.flushMs + opts.maxBackoffMs + 5000,
        maxBackoffMs: Math.max(1000, opts.maxBackoffMs),
        tick: (signal) => this.tick(signal),
      },
      { error: (component, err, message) => reporter.error(component, err, `${message} (endpoint ${this.name})`) },
    );
  }

  get name(): string {
    return this.transport.name;
  }

  start(): void {
    this.loop.start();
  }

  /** New points arrived: look now instead of at the next tick (unless backing off). */
  wake(): void {
    this.loop.wake();
  }

  /** The last request failed (the endpoint is down or refusing). */
  get failing(): boolean {
    return this.failures > 0;
  }

  status(): WriterStatus {
    return {
      endpoint: this.name,
      kind: this.transport.kind,
      pending: this.outbox().pending(this.name),
      lastSuccess: this.lastSuccessAt ? new Date(this.lastSuccessAt).toISOString() : null,
      lastError: this.lastError ? `${new Date(this.lastError.at).toISOString()} ${this.lastError.message}` : null,
      consecutiveFailures: this.failures,
    };
  }

  /** failing: the loop is stalled; degraded: the endpoint fails or the loop meets errors (points wait safely). */
  health(): ComponentHealth {
    const loop = this.loop.health();
    const status = loop.status === 'failing' ? 'failing' : this.failing || loop.status === 'degraded' ? 'degraded' : 'ok';
    return { ...this.status(), status, loop };
  }

  /** Deliver what is pending until the deadline (or the endpoint fails), then stop the loop. */
  async stop(deadline: Deadline): Promise<void> {
    this.draining = true;
    while (!deadline.passed && !this.failing && (this.outbox().pending(this.name) > 0 || this.unsavedAck !== undefined)) {
      this.loop.wake();
      await new Promise((r) => setTimeout(r, 20));
    }
    await this.loop.stop(deadline);
  }

  private async tick(signal: AbortSignal): Promise<number> {
    const outbox = this.outbox();
    if (this.unsavedAck !== undefined) {
      outbox.ack(this.name, this.unsavedAck);
      this.unsavedAck = undefined;
    }
    if (!this.loaded) {
      this.unknown = outbox.inflight(this.name);
      this.loaded = true;
    }
    const now = Date.now();
    if (now < this.nextTrialAt) return this.nextTrialAt - now;
    const part = this.pick(outbox, now);
    if (typeof part === 'number') return part;
    const { rows } = part;
    const lo = rows[0]!.seq;
    const hi = rows[rows.length - 1]!.seq;
    const resend = part.resend || (this.unknown !== undefined && this.unknown.lo <= lo && hi <= this.unknown.hi);

    const points = this.decode(rows);
    const body = points.length ? await this.transport.encode(points) : null;
    if (!body) {
      this.done(hi);
      return 0;
    }
    outbox.setInflight(this.name, { lo, hi });
    const end = this.metrics.writeDuration.startTimer({ endpoint: this.name });
    const r = await this.transport.send(body, signal);
    end();
    if (signal.aborted) return 0; // stopping: the rows stay in flight, the next start re-sends them
    return this.settle(r, { rows, resend }, points.length);
  }

  /** The rows to send now, or how long to wait. */
  private pick(outbox: Outbox, now: number): Part | number {
    if (this.parts.length) return this.parts[0]!;
    // The rows of a request without an answer go again first, alone (whether they count as a re-send is this.unknown's to say).
    const inflight = outbox.inflight(this.name);
    if (inflight) {
      const rows = outbox.next(this.name, this.opts.batchSize, inflight.hi);
      if (rows.length) return { rows, resend: false };
    }
    const pending = outbox.pending(this.name);
    if (pending === 0) {
      this.waitingSince = undefined;
      return this.opts.flushMs;
    }
    this.waitingSince ??= now;
    const waited = now - this.waitingSince;
    if (pending < this.opts.batchSize && waited < this.opts.flushMs && !this.draining) return this.opts.flushMs - waited;
    const rows = outbox.next(this.name, this.opts.batchSize);
    if (!rows.length) {
      // Gaps in the sequence (rows lost to a salvage) count as pending: step over them.
      this.done(outbox.lastSeq);
      return 0;
    }
    return { rows, resend: false };
  }

  private decode(rows: OutboxRow[]): StoredPoint[] {
    const out: StoredPoint[] = [];
    for (const r of rows) {
      try {
        out.push(decodePoint(r.enc, r.body));
      } catch (err) {
        this.metrics.pointsDropped.inc({ reason: 'undecodable' });
        this.log.error({ endpoint: this.name, seq: r.seq, error: (err as Error).message, body: r.body.slice(0, 300) }, 'outbox row cannot be decoded: dropped');
      }
    }
    return out;
  }

  private settle(r: SendResult, part: Part, points: number): number {
    const hi = part.rows[part.rows.length - 1]!.seq;
    if (r.kind === 'ok') {
      this.unknown = undefined;
      if (this.failures > 0) this.log.info({ endpoint: this.name, after_attempts: this.failures }, 'writes recovered');
      this.failures = 0;
      this.lastSuccessAt = Date.now();
      this.metrics.pointsWritten.inc({ endpoint: this.name }, points);
      this.done(hi);
      // More than a batch was waiting: go on at once; else start a new flush window.
      if (this.outbox().pending(this.name) < this.opts.batchSize) this.waitingSince = undefined;
      return 0;
    }
    if (r.kind === 'retry') {
      // No definite answer: the receiver may have stored these rows.
      this.unknown = { lo: part.rows[0]!.seq, hi };
      this.failures++;
      this.lastError = { at: Date.now(), message: r.message };
      this.metrics.writeErrors.inc({ endpoint: this.name, kind: r.errorKind });
      const step = Math.min(this.opts.maxBackoffMs, FIRST_TRIAL_MS * 2 ** Math.min(this.failures - 1, 16));
      const wait = r.afterMs !== undefined ? Math.max(r.afterMs, 100) : step / 2 + (Math.random() * step) / 2;
      this.nextTrialAt = Date.now() + wait;
      if (this.failures === 1 || this.failures % 10 === 0) {
        this.log.warn({ endpoint: this.name, error: r.message, attempt: this.failures, retry_in_ms: Math.round(wait), pending: this.outbox().pending(this.name) }, 'write failed, will retry');
      }
      return wait;
    }
    // reject: a definite answer (nothing of this request was stored)
    this.failures = 0;
    this.unknown = undefined;
    this.metrics.writeErrors.inc({ endpoint: this.name, kind: `http_${r.status}` });
    if (r.stale && part.resend) {
      this.metrics.writeDuplicates.inc({ endpoint: this.name }, points);
      this.log.info({ endpoint: this.name, points, status: r.status, answer: r.message.slice(0, 200) }, 're-sent points were already stored (the receiver says so): not lost');
      this.done(hi);
      return 0;
    }
    if (part.rows.length === 1) {
      this.metrics.pointsDropped.inc({ reason: 'rejected' });
      this.log.error({ endpoint: this.name, status: r.status, error: r.message.slice(0, 300), point: part.rows[0]!.body.slice(0, 300) }, 'point rejected by the database: dropped');
      this.done(hi);
      return 0;
    }
    this.outbox().clearInflight(this.name); // a crash from here must not take the halves for a re-send
    const mid = Math.ceil(part.rows.length / 2);
    const halves: Part[] = [
      { rows: part.rows.slice(0, mid), resend: part.resend },
      { rows: part.rows.slice(mid), resend: part.resend },
    ];
    this.parts = this.parts.length ? [...halves, ...this.parts.slice(1)] : halves;
    return 0;
  }

  /** Rows up to `hi` are settled (stored, dropped or duplicates): move on, and save the cursor. */
  private done(hi: number): void {
    if (this.parts.length && this.parts[0]!.rows[this.parts[0]!.rows.length - 1]!.seq === hi) this.parts.shift();
    try {
      this.outbox().ack(this.name, hi);
    } catch (err) {
      this.unsavedAck = hi; // the next tick saves it before sending anything else
      throw err;
    }
  }
}
