import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from './net.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'src/cli.ts');

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
  /** SIGKILL if still running, remove the data dir unless kept. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  cleanup(): Promise<void>;
}

/** Base env every test daemon gets: quiet, fast tools, no surprise targets. */
export const TEST_ENV: Record<string, string> = {
  LOG_LEVEL: 'info',
  TRACE_PACKET_INTERVAL: '0.2',
  TRACE_GRACE: '0.3',
  ICMP_PACKET_INTERVAL: '0.05',
  SOURCE_NAME: 'test-source',
};

/**
 * Start the real daemon (`network-telemetry run` through tsx) as a child
 * process and wait for /health/live. Cleanup kills it by PID.
 */
export async function startDaemon(
  env: Record<string, string>,
  opts: { dataDir?: string; waitLive?: boolean; argv?: string[]; /** command prefix, e.g. setpriv to drop root */ wrap?: string[] } = {},
): Promise<Daemon> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'nt-daemon-'));
  const argv = [process.execPath, '--import', 'tsx', CLI, ...(opts.argv ?? ['run'])];
  const cmd = [...(opts.wrap ?? []), ...argv];
  const proc = spawn(cmd[0]!, cmd.slice(1), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...TEST_ENV, DATA_DIR: dataDir, PORT: String(port), LISTEN_ADDRESS: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
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
    kill: async (signal = 'SIGKILL') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
    cleanup: async () => {
      await d.kill('SIGKILL');
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (opts.waitLive !== false) {
    try {
      await waitFor(
        async () => {
          if (proc.exitCode !== null) throw new Error(`daemon exited ${proc.exitCode}: ${err}`);
          return (await fetch(`${url}/health/live`)).ok;
        },
        `daemon /health/live on ${port}`,
        20_000,
      );
    } catch (e) {
      await d.cleanup();
      throw e;
    }
  }
  return d;
}

/** Run the CLI to completion (check-config, collect --once). */
export function runCli(args: string[], env: Record<string, string>, wrap: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const cmd = [...wrap, process.execPath, '--import', 'tsx', CLI, ...args];
    const p = spawn(cmd[0]!, cmd.slice(1), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...TEST_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}
