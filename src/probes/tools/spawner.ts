import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SpawnOptions, ToolRun } from './spawn-tool.js';

/**
 * The daemon's side of the spawner helper (spawner-process.ts): tools are
 * started in a small process, so forking never copies the daemon's page
 * tables. Started on first use, restarted if it dies (runs in flight then
 * fail with a spawn error, never hang).
 */
export class Spawner {
  private child?: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, (r: ToolRun) => void>();
  private closed = false;

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
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
      for (const [id, resolve] of this.pending) {
        this.pending.delete(id);
        resolve({ stdout: '', stderr: '', code: null, spawnError: { code: 'ESPAWNER', message: 'the spawner helper exited' }, durationMs: 0 });
      }
    });
    child.unref();
    this.child = child;
    return child;
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

  run(cmd: string, args: string[], o: SpawnOptions & { signal?: AbortSignal }): Promise<ToolRun> {
    if (this.closed) return Promise.resolve({ stdout: '', stderr: '', code: null, killed: 'aborted', durationMs: 0 });
    const id = this.nextId++;
    return new Promise<ToolRun>((resolve) => {
      const onAbort = () => this.child?.send({ type: 'kill', id });
      this.pending.set(id, (r) => {
        o.signal?.removeEventListener('abort', onAbort);
        resolve(r);
      });
      o.signal?.addEventListener('abort', onAbort, { once: true });
      this.helper().send({ type: 'run', id, cmd, args, timeoutMs: o.timeoutMs, maxOutputBytes: o.maxOutputBytes });
      this.holdOpen();
    });
  }

  killAll(): void {
    if (this.child?.connected) this.child.send({ type: 'killAll' });
  }

  /** Kill every tool and let the helper exit. */
  close(): void {
    this.closed = true;
    if (this.child?.connected) {
      this.child.send({ type: 'killAll' });
      this.child.disconnect();
    }
  }
}
