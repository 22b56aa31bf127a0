import type { Logger } from 'pino';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { AnySample } from '../samples/sample.js';
import type { Sink } from '../sinks/sink.js';
import { isBusy } from '../sqlite/sqlite-db.js';

/** How long a commit keeps retrying while another connection holds the database lock. */
const BUSY_RETRY_FOR_MS = 30_000;

/**
 * Group commit: target runs that finish in the same event-loop turn (an fping
 * batch ends for 100 targets at once) share one sink write — one SQLite
 * transaction instead of one per target. Each caller still resumes only after
 * its samples are committed, so "a round is done" keeps meaning "on disk".
 *
 * A locked database (SQLITE_BUSY: another process holds the write lock) is
 * retried asynchronously with backoff instead of blocking the event loop in
 * SQLite's busy handler; commits arriving meanwhile join the retry. After
 * BUSY_RETRY_FOR_MS the points are given up, counted and logged.
 */
export class CommitQueue {
  private pending: { samples: readonly AnySample[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private busySince?: number;

  constructor(
    private readonly sink: Sink,
    private readonly metrics?: TelemetryMetrics,
    private readonly log?: Logger,
  ) {}

  commit(samples: readonly AnySample[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ samples, resolve, reject });
      this.schedule(0);
    });
  }

  private schedule(delayMs: number): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (delayMs === 0) setImmediate(() => void this.flush());
    else setTimeout(() => void this.flush(), delayMs).unref();
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.sink.write(batch.length === 1 ? batch[0]!.samples : batch.flatMap((b) => b.samples));
      if (this.busySince !== undefined) this.log?.info({ waited_ms: Date.now() - this.busySince }, 'storage lock released: commits resumed');
      this.busySince = undefined;
      for (const b of batch) b.resolve();
    } catch (err) {
      const now = Date.now();
      if (isBusy(err) && now - (this.busySince ??= now) < BUSY_RETRY_FOR_MS) {
        if (now === this.busySince) this.log?.warn({ error: (err as Error).message }, 'storage locked by another connection: retrying commits');
        this.metrics?.errors.inc({ component: 'commit_busy' });
        this.pending = [...batch, ...this.pending];
        const waited = now - this.busySince;
        this.schedule(Math.min(1000, 20 + waited / 4));
        return;
      }
      const points = batch.reduce((n, b) => n + b.samples.length, 0);
      this.metrics?.pointsDropped.inc({ reason: isBusy(err) ? 'storage_locked' : 'storage_error' }, points);
      this.busySince = undefined;
      for (const b of batch) b.reject(err);
    }
  }
}
