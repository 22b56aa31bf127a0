import type { AnySample } from '../samples/sample.js';
import type { Sink } from '../sinks/sink.js';

/**
 * Group commit: target runs that finish in the same event-loop turn (an fping
 * batch ends for 100 targets at once) share one sink write — one transaction
 * instead of one per target. Each caller still resumes only after its samples
 * are committed, so "a round is done" keeps meaning "on disk". A refused
 * write is the sink's to count and report (each sink counts its drops by
 * reason, and retries a locked database itself, off the event loop).
 */
export class CommitQueue {
  private pending: { samples: readonly AnySample[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly sink: Sink) {}

  commit(samples: readonly AnySample[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ samples, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.sink.write(batch.length === 1 ? batch[0]!.samples : batch.flatMap((b) => b.samples));
      for (const b of batch) b.resolve();
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
}
