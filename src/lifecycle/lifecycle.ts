import type { Logger } from 'pino';
import { Deadline, worstStatus, type Component, type ComponentHealth, type HealthStatus } from './component.js';

export interface Part {
  component: Component;
  /**
   * Most of SHUTDOWN_TIMEOUT this part's stop may take, as a fraction. Time a
   * part leaves unused goes to the parts after it; the whole stop never
   * exceeds the deadline given to Lifecycle.stop.
   */
  stopShare: number;
  /** Left out of /health (a part whose state another part already reports). */
  hidden?: boolean;
}

/**
 * The app's components in start order. start() brings them up one after the
 * other (a failure stops what already started, in reverse, and rethrows);
 * stop() takes them down in reverse, each within its share of the deadline.
 * A part that throws or overruns its share is logged and the next one still
 * stops: a shutdown always completes.
 */
export class Lifecycle {
  private readonly parts: Part[] = [];
  private startedCount = 0;
  private stopping?: Promise<void>;

  constructor(private readonly log: Logger) {}

  add(component: Component, stopShare: number, opts: { hidden?: boolean } = {}): void {
    if (this.startedCount > 0) throw new Error(`lifecycle: ${component.name} added after start`);
    if (this.parts.some((p) => p.component.name === component.name)) throw new Error(`lifecycle: two components named ${component.name}`);
    this.parts.push({ component, stopShare, hidden: opts.hidden });
  }

  get components(): readonly Component[] {
    return this.parts.map((p) => p.component);
  }

  async start(): Promise<void> {
    for (const p of this.parts) {
      // A stop during start (a signal while starting): start nothing more.
      if (this.stopping) return;
      try {
        await p.component.start();
      } catch (err) {
        // Count it as started: it may hold half its resources.
        this.startedCount++;
        await this.stop(Deadline.in(2000)).catch(() => {});
        throw err;
      }
      this.startedCount++;
    }
  }

  stop(deadline: Deadline): Promise<void> {
    this.stopping ??= this.stopAll(deadline);
    return this.stopping;
  }

  private async stopAll(deadline: Deadline): Promise<void> {
    const total = deadline.remaining();
    // Parts never started still get stop() (safe without start, by contract).
    for (const p of [...this.parts].reverse()) {
      const mine = deadline.within(total * p.stopShare);
      const t0 = Date.now();
      try {
        const done = await mine.within(mine.remaining() + 250).race(p.component.stop(mine).then(() => true));
        if (!done) this.log.warn({ component: p.component.name, budget_ms: Math.round(total * p.stopShare) }, 'component did not stop within its share of SHUTDOWN_TIMEOUT');
      } catch (err) {
        this.log.error({ err, component: p.component.name }, 'component failed to stop cleanly');
      }
      this.log.debug({ component: p.component.name, took_ms: Date.now() - t0 }, 'component stopped');
    }
  }

  /** Health of every visible part, and the worst status among them. */
  health(): { status: HealthStatus; components: Record<string, ComponentHealth> } {
    const components: Record<string, ComponentHealth> = {};
    for (const p of this.parts) {
      if (p.hidden) continue;
      try {
        components[p.component.name] = p.component.health();
      } catch (err) {
        components[p.component.name] = { status: 'failing', error: `health() threw: ${(err as Error).message}` };
      }
    }
    return { status: worstStatus(Object.values(components).map((c) => c.status)), components };
  }
}
