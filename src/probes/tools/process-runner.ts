import type { TelemetryMetrics } from '../../metrics/telemetry-metrics.js';
import { Semaphore } from '../../util/semaphore.js';
import { spawnTool, type ToolRun } from './spawn-tool.js';
import type { Spawner } from './spawner.js';

export type { ToolRun };

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Cap on stdout+stderr kept; past it the process is killed. */
  maxOutputBytes?: number;
}

/**
 * A bounded pool of probe tool processes (fping, mtr): at most `poolSize`
 * run at once; callers queue for a slot, and the wait counts against their
 * deadline. Tools start through the spawner helper when one is given (the
 * daemon), else directly (one-shot CLI runs, tests).
 */
export class ProcessRunner {
  private readonly slots: Semaphore;
  private live = 0;

  constructor(
    poolSize: number,
    private readonly metrics?: TelemetryMetrics,
    /** Label of this pool in telemetry_child_processes{pool}. */
    readonly pool = 'tools',
    private readonly spawner?: Spawner,
  ) {
    this.slots = new Semaphore(poolSize);
    metrics?.childProcessesMax.set({ pool }, poolSize);
    metrics?.onCollect(() => metrics.childProcesses.set({ pool }, this.live));
  }

  get running(): number {
    return this.live;
  }
  get waiting(): number {
    return this.slots.waiting;
  }

  async run(cmd: string, args: string[], o: RunOptions): Promise<ToolRun> {
    const t0 = Date.now();
    try {
      await this.slots.acquire(o.signal);
    } catch {
      return { stdout: '', stderr: '', code: null, killed: 'aborted', durationMs: 0 };
    }
    let started = false;
    try {
      const remaining = o.timeoutMs - (Date.now() - t0);
      if (remaining <= 0) return { stdout: '', stderr: '', code: null, killed: 'timeout', durationMs: Date.now() - t0 };
      started = true;
      this.live++;
      this.metrics?.childProcessesStarted.inc({ tool: cmd.split('/').pop() ?? cmd });
      const opts = { timeoutMs: remaining, maxOutputBytes: o.maxOutputBytes };
      if (this.spawner) return await this.spawner.run(cmd, args, { ...opts, signal: o.signal });
      const t = spawnTool(cmd, args, opts);
      const onAbort = () => t.kill();
      o.signal?.addEventListener('abort', onAbort, { once: true });
      this.killers.add(t.kill);
      try {
        return await t.done;
      } finally {
        this.killers.delete(t.kill);
        o.signal?.removeEventListener('abort', onAbort);
      }
    } finally {
      if (started) this.live--;
      this.slots.release();
    }
  }

  private readonly killers = new Set<() => void>();

  /** Shutdown: kill every tool still running (their runs resolve as aborted). */
  killAll(): void {
    for (const kill of this.killers) kill();
    this.spawner?.killAll();
  }
}

/** First lines of tool output for a log line or a `detail` field. */
export function excerpt(s: string, max = 200): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}
