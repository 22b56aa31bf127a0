import { performance } from 'node:perf_hooks';

/** What one maintenance step should take: writes and queries wait for at most about this (plus noise). */
export const STEP_TARGET_MS = 5;

/**
 * Sizes a unit of background work by its measured duration: after each
 * step the size moves towards STEP_TARGET_MS (at most x2 or /2 per step).
 * Fixed sizes cannot fit every case — an hourly bucket of 10-s slots holds
 * 24 times the rows of a 5-minute bucket of 60-s slots, and a shared
 * machine runs slower at times.
 */
export class StepSizer {
  private size: number;

  constructor(
    initial: number,
    private readonly min = 1,
    private readonly max = 100_000,
  ) {
    this.size = initial;
  }

  get current(): number {
    return this.size;
  }

  /**
   * Run fn(size); adjust the size from its duration. `used` tells how much
   * of the size the step really had to do (rows deleted, targets rolled up):
   * a step that ran out of work early says nothing about a full one, so it
   * may only shrink the size, never grow it.
   */
  run<T>(fn: (size: number) => T, used: (out: T) => number = () => this.size): T {
    const size = this.size;
    const t0 = performance.now();
    const out = fn(size);
    const ms = Math.max(0.05, performance.now() - t0);
    let factor = Math.min(2, Math.max(0.5, STEP_TARGET_MS / ms));
    if (used(out) < size) factor = Math.min(1, factor);
    this.size = Math.min(this.max, Math.max(this.min, Math.round(size * factor)));
    return out;
  }
}
