import { spawn } from 'node:child_process';
import { CLI, ROOT, spawnDaemon, type Daemon, type DaemonOptions } from '../../scripts/lib/daemon-process.js';

export { CLI, ROOT, type Daemon };

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
export function startDaemon(env: Record<string, string>, opts: Omit<DaemonOptions, 'baseEnv'> = {}): Promise<Daemon> {
  return spawnDaemon(env, { ...opts, baseEnv: TEST_ENV });
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

/**
 * `collect --once --json` inside a network namespace, to completion (probes
 * with a 20 s timeout, a 60 s interval); its parsed JSON results.
 */
export function collectOnceInNetns<T>(ns: string, env: Record<string, string>, dataDir: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', CLI, 'collect', '--once', '--json'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: '/root', ...TEST_ENV, DATA_DIR: dataDir, COLLECTION_INTERVAL: '60', PROBE_TIMEOUT: '20', ...env },
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => {
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`collect exited ${code}: ${err}\n${out}`));
      }
    });
  });
}
