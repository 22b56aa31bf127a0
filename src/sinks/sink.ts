import type { Component, ComponentHealth } from '../lifecycle/component.js';
import type { AnySample } from '../samples/sample.js';

/**
 * Where samples go. `write` settles once the samples are committed to local
 * disk (the embedded store, or the outbox in front of the databases): a round
 * is reported done only after that. It rejects only when the disk itself
 * fails (SQLITE_BUSY included: the commit queue retries those).
 */
export interface Sink {
  readonly kind: string;
  write(samples: readonly AnySample[]): void | Promise<void>;
  health(): ComponentHealth;
  /** Can we commit to local disk right now? (GET /health/ready) */
  writable(): boolean;
  /** Points kept for databases not yet delivered, in all and per endpoint (the outbox); undefined when nothing is kept. */
  backlog?(): Backlog | undefined;
}

export interface Backlog {
  points: number;
  pending: Record<string, number>;
}

/**
 * A sink with a lifecycle of its own: the embedded store (store/) and the
 * outbox (outbox/). They satisfy Sink by their shape, checked where
 * createSinks hands them to the fan-out, and never import this folder:
 * sinks/ sits above them.
 */
export type SinkComponent = Sink & Component;
