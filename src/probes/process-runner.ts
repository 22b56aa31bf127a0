import { spawn } from 'node:child_process';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { Semaphore } from '../util/semaphore.js';

export interface ToolRun {
  stdout: string;
  stderr: string;
  /** Exit code, or null when killed. */
  code: number | null;
  /** Why we killed it, if we did. */
  killed?: 'timeout' | 'aborted' | 'output_limit';
  /** Set when the program could not be started (ENOENT, EACCES). */
  spawnError?: NodeJS.ErrnoException;
  durationMs: number;
}

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Cap on stdout+stderr kept; past it the process is killed. */
  maxOutputBytes?: number;
}

/**
 * Runs probe tools (fping, mtr). Each pool bounds how many of its processes
 * run at once (traces: WORKER_POOL_SIZE; fping: see app.ts); callers queue
 * for a slot. Every child gets LANG=C / LC_ALL=C (stable number
 * formats), its own process group, and a hard deadline: on timeout, abort or
 * shutdown the whole group gets SIGKILL (mtr forks mtr-packet; killing only
 * the parent would leave it behind).
 */
export class ProcessRunner {
  private readonly slots: Semaphore;
  private readonly live = new Set<number>();

  constructor(
    poolSize: number,
    private readonly metrics?: TelemetryMetrics,
    /** Label of this pool in telemetry_child_processes{pool}. */
    readonly pool = 'tools',
  ) {
    this.slots = new Semaphore(poolSize);
    metrics?.childProcessesMax.set({ pool }, poolSize);
    metrics?.onCollect(() => metrics.childProcesses.set({ pool }, this.live.size));
  }

  get running(): number {
    return this.live.size;
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
    try {
      const remaining = o.timeoutMs - (Date.now() - t0);
      if (remaining <= 0) return { stdout: '', stderr: '', code: null, killed: 'timeout', durationMs: Date.now() - t0 };
      return await this.spawnOnce(cmd, args, { ...o, timeoutMs: remaining });
    } finally {
      this.slots.release();
    }
  }

  private spawnOnce(cmd: string, args: string[], o: RunOptions): Promise<ToolRun> {
    const max = o.maxOutputBytes ?? 4 * 1024 * 1024;
    return new Promise<ToolRun>((resolve) => {
      const t0 = Date.now();
      const child = spawn(cmd, args, {
        env: { ...process.env, LANG: 'C', LC_ALL: 'C' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // own process group, so the kill reaches grandchildren
      });
      const pid = child.pid;
      if (pid !== undefined) {
        this.live.add(pid);
        this.metrics?.childProcessesStarted.inc({ tool: cmd.split('/').pop() ?? cmd });
      }
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let bytes = 0;
      let killed: ToolRun['killed'];
      let spawnError: NodeJS.ErrnoException | undefined;
      const kill = (why: NonNullable<ToolRun['killed']>) => {
        if (killed || pid === undefined) return;
        killed = why;
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const timer = setTimeout(() => kill('timeout'), o.timeoutMs);
      const onAbort = () => kill('aborted');
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const collect = (into: Buffer[]) => (b: Buffer) => {
        bytes += b.length;
        if (bytes > max) return kill('output_limit');
        into.push(b);
      };
      child.stdout.on('data', collect(out));
      child.stderr.on('data', collect(err));
      child.on('error', (e) => (spawnError = e as NodeJS.ErrnoException));
      child.on('close', (code) => {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        if (pid !== undefined) this.live.delete(pid);
        resolve({
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          code: killed ? null : code,
          killed,
          spawnError,
          durationMs: Date.now() - t0,
        });
      });
    });
  }

  /** Shutdown: kill every child still running (their runs resolve as aborted). */
  killAll(): void {
    for (const pid of this.live) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/** First lines of tool output for a log line or a `detail` field. */
export function excerpt(s: string, max = 200): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}
