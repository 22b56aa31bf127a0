import { performance } from 'node:perf_hooks';
import { BaseComponent, type ComponentHealth } from '../../lifecycle/component.js';

/** The monitor's timer period (ms). */
const TICK_MS = 1;
/**
 * A gap up to this long is the timer's own granularity (libuv counts whole
 * milliseconds, so a 1 ms timer fires 1-2 ms apart on an idle loop): only
 * what is beyond it is lateness.
 */
const GRANULARITY_MS = 2;
/** Ticks kept: ~65 s at 1 ms, longer than any probe deadline in practice (a power of two). */
const SLOTS = 65_536;

/**
 * How late this thread's event loop ran: a 1 ms timer notes when it fires,
 * and a gap between two fires beyond the timer's granularity is time the
 * loop was busy (or the thread was not scheduled). A phase timed in
 * JavaScript ends when its callback runs, and the callback of an event that
 * arrived while the loop was busy waits for the stall around it: the stall
 * before the timer's fire and the one after it, both in the timer's record.
 * So the two largest stalls over a probe's window bound the error of its
 * timings (conservatively: they need not be the ones around its callback).
 *
 * Why not perf_hooks' monitorEventLoopDelay: its histogram can only be read
 * whole or reset, and a reset drops the interval in progress, so a stall
 * right after a reset was never seen (found by test/probes/timing-slack).
 * This timer costs ~1,000 short callbacks a second per thread.
 *
 * One per thread (a worker thread has its own loop): the app starts the
 * main thread's, the timing thread its own.
 */
export class LoopDelay extends BaseComponent {
  readonly name = 'loop-delay';
  private readonly at = new Float64Array(SLOTS);
  private readonly late = new Float64Array(SLOTS);
  private n = 0;
  private last = 0;
  private timer?: NodeJS.Timeout;

  protected async onStart(): Promise<void> {
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  protected async onStop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  health(): ComponentHealth {
    return { status: 'ok', running: this.timer !== undefined };
  }

  /** The record is being kept (started, not stopped). */
  get recording(): boolean {
    return this.timer !== undefined;
  }

  private tick(): void {
    const now = performance.now();
    const i = this.n++ & (SLOTS - 1);
    this.at[i] = now;
    this.late[i] = Math.max(0, now - this.last - GRANULARITY_MS);
    this.last = now;
  }

  /** The two largest stalls (ms, summed) of the loop whose gaps end after `t0`. */
  worstSince(t0: number): number {
    let a = 0;
    let b = 0;
    const oldest = Math.max(0, this.n - SLOTS);
    for (let k = this.n - 1; k >= oldest; k--) {
      const i = k & (SLOTS - 1);
      if (this.at[i]! <= t0) break;
      const v = this.late[i]!;
      if (v > a) (b = a), (a = v);
      else if (v > b) b = v;
    }
    // The gap in progress: a stall going on now.
    const open = Math.max(0, performance.now() - this.last - GRANULARITY_MS);
    if (open > a) (b = a), (a = open);
    else if (open > b) b = open;
    return a + b;
  }

  /**
   * The slack of a window that ends now, once the timer has fired after it:
   * a stall that delayed the callback ending the window is in the record
   * only from the next fire on. Waits for that fire (a few ms at most).
   */
  settle(t0: number): Promise<number> {
    const seen = this.n;
    return new Promise((resolve) => {
      const check = (tries: number) => {
        if (this.n > seen || tries >= 20) resolve(this.worstSince(t0));
        else setTimeout(check, 1, tries + 1);
      };
      setTimeout(check, 1, 0);
    });
  }

}
