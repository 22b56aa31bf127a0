import { spawn } from 'node:child_process';

export interface ToolRun {
  stdout: string;
  stderr: string;
  /** Exit code, or null when killed. */
  code: number | null;
  /** Why we killed it, if we did. */
  killed?: 'timeout' | 'aborted' | 'output_limit';
  /** Set when the program could not be started (ENOENT, EACCES). */
  spawnError?: { code?: string; message: string };
  durationMs: number;
}

export interface SpawnOptions {
  timeoutMs: number;
  /** Cap on stdout+stderr kept; past it the process is killed. */
  maxOutputBytes?: number;
}

/**
 * Run one tool to completion: LANG=C / LC_ALL=C (stable number formats), its
 * own process group, a hard deadline. On timeout, abort or output overflow
 * the whole group gets SIGKILL (mtr forks mtr-packet; killing only the
 * parent would leave it behind). `kill` aborts it from outside.
 */
export function spawnTool(cmd: string, args: string[], o: SpawnOptions): { pid?: number; done: Promise<ToolRun>; kill: () => void } {
  const max = o.maxOutputBytes ?? 4 * 1024 * 1024;
  const t0 = Date.now();
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(cmd, args, {
      env: { ...process.env, LANG: 'C', LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (err) {
    // Some failures (EPERM with an empty capability bounding set) throw instead of emitting 'error'.
    const e = err as NodeJS.ErrnoException;
    const run: ToolRun = { stdout: '', stderr: '', code: null, spawnError: { code: e.code, message: e.message }, durationMs: Date.now() - t0 };
    return { done: Promise.resolve(run), kill: () => {} };
  }
  const pid = child.pid;
  let killed: ToolRun['killed'];
  const kill = (why: NonNullable<ToolRun['killed']>) => {
    if (killed || pid === undefined) return;
    killed = why;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  };
  const done = new Promise<ToolRun>((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    let spawnError: ToolRun['spawnError'];
    const timer = setTimeout(() => kill('timeout'), o.timeoutMs);
    const collect = (into: Buffer[]) => (b: Buffer) => {
      bytes += b.length;
      if (bytes > max) return kill('output_limit');
      into.push(b);
    };
    child.stdout!.on('data', collect(out));
    child.stderr!.on('data', collect(err));
    child.on('error', (e: NodeJS.ErrnoException) => (spawnError = { code: e.code, message: e.message }));
    child.on('close', (code) => {
      clearTimeout(timer);
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
  return { pid, done, kill: () => kill('aborted') };
}
