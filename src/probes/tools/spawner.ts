import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Deadline } from '../../lifecycle/component.js';
import type { SpawnOptions, ToolRun } from './spawn-tool.js';

const gone = (message: string): ToolRun => ({ stdout: '', stderr: '', code: null, spawnError: { code: 'ESPAWNER', message }, durationMs: 0 });
const aborted: ToolRun = { stdout: '', stderr: '', code: null, killed: 'aborted', durationMs: 0 };

/**
 * The daemon's side of the spawner helper (spawner-process.ts): tools are
 * started in a small process, so forking never copies the daemon's page
 * tables. Started on first use, restarted if it dies (runs in flight then
 * fail with a spawn error, never hang). Once close() has begun, the helper
 * going away is the expected end, and runs in flight resolve as aborted.
 * Every send is checked: a channel closing under us (EPIPE) is an outcome,
 * never an exception.
 */
export class Spawner {
  private child?: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, (r: ToolRun) => void>();
  private closed = false;
  /** The helper failed to start or died: for /health. */
  lastError?: string;

  private helper(): ChildProcess {
    if (this.child && this.child.connected) return this.child;
    const here = import.meta.url;
    const ts = here.endsWith('.ts');
    const file = fileURLToPath(new URL(ts ? './spawner-process.ts' : './spawner-process.js', here));
    const child = fork(file, [], {
      execArgv: ts ? ['--import', 'tsx'] : [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    child.on('message', (m: { type: 'done'; id: number; run: ToolRun }) => {
      const resolve = this.pending.get(m.id);
      this.pending.delete(m.id);
      this.holdOpen();
      resolve?.(m.run);
    });
    // A failed fork or a send on a closing channel: recorded, never thrown.
    child.on('error', (err) => {
      this.lastError = err.message;
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (!this.closed) this.lastError = `spawner helper exited (${signal ?? `code ${code}`})`;
      this.failPending(this.closed ? aborted : gone('the spawner helper exited'));
    });
    child.unref();
    this.child = child;
    return child;
  }

  private failPending(r: ToolRun): void {
    for (const [id, resolve] of this.pending) {
      this.pending.delete(id);
      resolve(r);
    }
  }

  /** The helper keeps the daemon alive only while a tool runs (an idle helper must not). */
  private holdOpen(): void {
    const child = this.child;
    const channel = (child as unknown as { channel?: { ref(): void; unref(): void } } | undefined)?.channel;
    if (this.pending.size > 0) {
      child?.ref();
      channel?.ref();
    } else {
      child?.unref();
      channel?.unref();
    }
  }

  /** Send to the helper; false when the channel is gone (the caller decides what that means). */
  private send(msg: object): boolean {
    const child = this.child;
    if (!child?.connected) return false;
    try {
      child.send(msg, (err) => {
        if (err) this.lastError = `spawner channel: ${err.message}`;
      });
      return true;
    } catch (err) {
      this.lastError = `spawner channel: ${(err as Error).message}`;
      return false;
    }
  }

  run(cmd: string, args: string[], o: SpawnOptions & { signal?: AbortSignal }): Promise<ToolRun> {
    if (this.closed || o.signal?.aborted) return Promise.resolve(aborted);
    const id = this.nextId++;
    return new Promise<ToolRun>((resolve) => {
      const onAbort = () => this.send({ type: 'kill', id });
      this.pending.set(id, (r) => {
        o.signal?.removeEventListener('abort', onAbort);
        resolve(r);
      });
      o.signal?.addEventListener('abort', onAbort, { once: true });
      let started = false;
      try {
        this.helper();
        started = this.send({ type: 'run', id, cmd, args, timeoutMs: o.timeoutMs, maxOutputBytes: o.maxOutputBytes });
      } catch (err) {
        this.lastError = `cannot start the spawner helper: ${(err as Error).message}`;
      }
      if (!started) {
        this.pending.delete(id);
        o.signal?.removeEventListener('abort', onAbort);
        resolve(gone(this.lastError ?? 'the spawner helper is not running'));
        return;
      }
      this.holdOpen();
    });
  }

  killAll(): void {
    this.send({ type: 'killAll' });
  }

  /**
   * Kill every tool and let the helper exit; runs still pending resolve as
   * aborted. Settles once the helper has exited: by the deadline, or it is
   * killed then (a helper still booting under load answers nothing yet).
   */
  async close(deadline: Deadline): Promise<void> {
    const child = this.child;
    if (!this.closed) {
      this.closed = true;
      this.send({ type: 'killAll' });
      try {
        child?.disconnect();
      } catch {
        // already gone
      }
      this.failPending(aborted);
    }
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // Held until it exits: a caller awaiting close() with nothing else to do keeps waiting, not exiting.
    child.ref();
    if ((await deadline.race(exited.then(() => true))) === undefined) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}
