import type { ComponentHealth } from '../lifecycle/component.js';
import type { AnySample } from '../samples/sample.js';

/**
 * Where samples go. `write` returns once the samples are committed to local
 * disk (the embedded store, or the outbox in front of InfluxDB): a round is
 * reported done only after that. It throws only when the disk itself fails.
 */
export interface Sink {
  readonly kind: string;
  write(samples: readonly AnySample[]): void;
  health(): ComponentHealth;
  /** Can we commit to local disk right now? (GET /health/ready) */
  writable(): boolean;
  start(): void;
  /** Flush what can be flushed before the deadline; idempotent. */
  stop(deadlineMs: number): Promise<void>;
}
