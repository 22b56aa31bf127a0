import { onAbort } from './abort.js';

/**
 * A counting semaphore with a FIFO queue. Waiters can give up through an
 * AbortSignal; the queue length is observable for the queue-depth gauge.
 */
export class Semaphore {
  private inUse = 0;
  private readonly waiters: { resolve: () => void; reject: (e: unknown) => void; unlink?: () => void }[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`semaphore capacity must be >= 1, got ${capacity}`);
  }

  get active(): number {
    return this.inUse;
  }
  get waiting(): number {
    return this.waiters.length;
  }

  /** Take a permit without waiting; false when none is free. */
  tryAcquire(): boolean {
    if (this.inUse < this.capacity && this.waiters.length === 0) {
      this.inUse++;
      return true;
    }
    return false;
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: (typeof this.waiters)[number] = { resolve, reject };
      if (signal) {
        w.unlink = onAbort(signal, () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason);
        });
      }
      this.waiters.push(w);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) {
      next.unlink?.();
      next.resolve(); // the permit passes straight to the waiter
      return;
    }
    if (this.inUse === 0) throw new Error('semaphore released more often than acquired');
    this.inUse--;
  }

  async with<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}
