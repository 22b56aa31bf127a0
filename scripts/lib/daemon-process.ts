import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, until } from './services.js';

/** Spawning the real daemon as a child process: tests, benchmarks and the staging stack. */
export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'src/cli.ts');

/**
 * The daemon's command line when no `entry` is given: the TypeScript sources
 * through tsx, or — when npm test has just built dist/ from these same
 * sources and says so with NT_TEST_DAEMON=dist (scripts/lib/run-tests.sh) —
 * the compiled dist/cli.js that `npm start` and the image run. It starts on
 * half the CPU (about 1.9 s instead of 4 s), and a test run starts a few
 * hundred daemons: minutes on 2 cores.
 */
export const DAEMON_COMMAND: readonly string[] = process.env.NT_TEST_DAEMON === 'dist' ? [process.execPath, join(ROOT, 'dist/cli.js')] : [process.execPath, '--import', 'tsx', CLI];

export interface Daemon {
  port: number;
  url: string;
  dataDir: string;
  proc: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
  get(path: string, init?: RequestInit): Promise<Response>;
  json<T = any>(path: string, init?: RequestInit): Promise<T>;
  /** Signal the daemon's whole process group, as Ctrl-C in a terminal does (needs `group: true`). */
  signalGroup(signal: NodeJS.Signals): void;
  /** SIGKILL if still running, remove the data dir unless kept. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  cleanup(): Promise<void>;
}

/**
 * Start the real daemon (`network-telemetry run` through tsx) as a child
 * process and wait for /health/live. Cleanup kills it by PID.
 */
export interface DaemonOptions {
  dataDir?: string;
  waitLive?: boolean;
  argv?: string[];
  /** Command prefix, e.g. setpriv to drop root, or ip netns exec. */
  wrap?: string[];
  /** Environment under `env` (defaults for a family of runs). */
  baseEnv?: Record<string, string>;
  /** The program to run instead of DAEMON_COMMAND (e.g. node dist/cli.js). */
  entry?: string[];
  /** Run in a process group of its own (with its spawner helper), like a job in a terminal. */
  group?: boolean;
  /** How long to wait for /health/live (default 60 s; benchmarks on a loaded machine wait longer). */
  liveTimeoutMs?: number;
}

export async function spawnDaemon(env: Record<string, string>, opts: DaemonOptions = {}): Promise<Daemon> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'nt-daemon-'));
  const argv = [...(opts.entry ?? DAEMON_COMMAND), ...(opts.argv ?? ['run'])];
  const cmd = [...(opts.wrap ?? []), ...argv];
  const proc = spawn(cmd[0]!, cmd.slice(1), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...opts.baseEnv, DATA_DIR: dataDir, PORT: String(port), LISTEN_ADDRESS: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.group === true,
  });
  const logs: Record<string, unknown>[] = [];
  let buf = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  const d: Daemon = {
    port,
    url,
    dataDir,
    proc,
    logs,
    stderr: () => err,
    exited,
    get: (path, init) => fetch(url + path, { ...init, signal: AbortSignal.timeout(120_000) }),
    json: async (path, init) => (await d.get(path, init)).json() as never,
    signalGroup: (signal) => process.kill(-proc.pid!, signal),
    kill: async (signal = 'SIGKILL') => {
      if (proc.exitCode === null && proc.signalCode === null) {
        if (opts.group) {
          try {
            process.kill(-proc.pid!, signal);
          } catch {
            // the group is gone already
          }
        } else proc.kill(signal);
      }
      return exited;
    },
    cleanup: async () => {
      await d.kill('SIGKILL');
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (opts.waitLive !== false) {
    try {
      // A daemon that exits ends the wait at once (with what it said), and each look is bounded:
      // a listener that accepts and never answers must not hold a test past its deadline.
      const gone = () => proc.exitCode !== null || proc.signalCode !== null;
      await until(
        async () => gone() || (await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(5000) })).ok,
        `daemon /health/live on ${port}`,
        // Polled, so a quiet machine answers in 1-3 s; a loaded one (many test daemons, tsc) has taken 25 (NT_TEST_START_TIMEOUT_MS to wait longer).
        opts.liveTimeoutMs ?? Number(process.env.NT_TEST_START_TIMEOUT_MS ?? 60_000),
      );
      if (gone()) {
        const said = [...new Set([...err.trim().split('\n'), ...logs.slice(-5).map((l) => String(l.msg ?? l.raw))])].filter(Boolean).join('\n');
        throw new Error(`daemon exited (${proc.exitCode ?? proc.signalCode}) before /health/live answered:\n${said}`);
      }
    } catch (e) {
      await d.cleanup();
      throw e;
    }
  }
  return d;
}
