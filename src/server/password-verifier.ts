import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../util/module-worker.js';

/** The verifier's queue is full: the caller answers 503 and the client retries later. */
export class VerifierBusyError extends Error {
  readonly httpStatus = 503;
  constructor(queued: number) {
    super(`too many password checks waiting (${queued}): try again in a few seconds`);
  }
}

/**
 * bcrypt comparisons in one worker thread with a bounded queue. bcrypt is
 * slow on purpose (~70 ms at cost 10 in pure JS, more under load); run on
 * the main thread, 50 connections sending wrong passwords pushed the event
 * loop's lag to seconds and skipped probe slots. In a worker the loop never
 * waits for a comparison; the queue bound (MAX_QUEUED) turns a flood into
 * quick 503s instead of a growing backlog, and the per-client failure limit
 * (auth-failures.ts) refuses repeat offenders before they reach it.
 *
 * One thread, not a pool: the daemon's own work (probes, the store) needs
 * the other core of a small machine more than a brute-forcer needs a second
 * bcrypt thread. Hand-written rather than piscina: one thread, a FIFO and a
 * restart on crash are all it needs, and workers started from TypeScript
 * sources go through startModuleWorker.
 */
export class PasswordVerifier {
  static readonly MAX_QUEUED = 16;
  private worker?: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, (ok: boolean) => void>();
  private readonly fail = new Map<number, (err: Error) => void>();

  /** Checks waiting or running. */
  get queued(): number {
    return this.pending.size;
  }

  /** Start the thread now, so the first login does not wait for it. */
  warm(): void {
    this.ensureWorker();
  }

  verify(password: string, hash: string): Promise<boolean> {
    if (this.pending.size >= PasswordVerifier.MAX_QUEUED) return Promise.reject(new VerifierBusyError(this.pending.size));
    const worker = this.ensureWorker();
    const id = ++this.nextId;
    return new Promise<boolean>((resolve, reject) => {
      this.pending.set(id, resolve);
      this.fail.set(id, reject);
      worker.postMessage({ id, password, hash });
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = startModuleWorker(import.meta.url, './bcrypt-worker');
    w.unref();
    w.on('message', (m: { id: number; ok: boolean }) => {
      const done = this.pending.get(m.id);
      this.pending.delete(m.id);
      this.fail.delete(m.id);
      done?.(m.ok === true);
    });
    const lost = () => {
      if (this.worker !== w) return;
      this.worker = undefined;
      // Whatever was waiting is answered (as a failure to check, 503); the next check starts a new thread.
      for (const [id, reject] of this.fail) {
        reject(new VerifierBusyError(0));
        this.pending.delete(id);
      }
      this.fail.clear();
    };
    w.on('error', lost);
    w.on('exit', lost);
    this.worker = w;
    return w;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }
}
