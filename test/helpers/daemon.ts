import { spawn } from 'node:child_process';
import { CLI, DAEMON_COMMAND, ROOT, spawnDaemon, type Daemon, type DaemonOptions } from '../../scripts/lib/daemon-process.js';
import { until } from '../../scripts/lib/services.js';

export { CLI, DAEMON_COMMAND, ROOT, type Daemon };

/** Base env every test daemon gets: quiet, fast tools, no surprise targets. */
export const TEST_ENV: Record<string, string> = {
  LOG_LEVEL: 'info',
  TRACE_PACKET_INTERVAL: '0.2',
  TRACE_GRACE: '0.3',
  ICMP_PACKET_INTERVAL: '0.05',
  SOURCE_NAME: 'test-source',
};


/**
 * Start the real daemon (`network-telemetry run`, DAEMON_COMMAND) as a child
 * process and wait for /health/live. Cleanup kills it by PID.
 */
export function startDaemon(env: Record<string, string>, opts: Omit<DaemonOptions, 'baseEnv'> = {}): Promise<Daemon> {
  return spawnDaemon(env, { ...opts, baseEnv: TEST_ENV });
}

/**
 * Start one daemon per environment at once, in that order. A start is mostly
 * waiting (the process loading, then /health/live polled), so three at once
 * take little more than one: a cluster file's before() starting its
 * replicas one after another waited 4-5 s per replica on a busy machine.
 * If one fails, the ones that did start are stopped before the error is
 * thrown (a daemon left running keeps the test's process up).
 */
export async function startDaemons(envs: readonly Record<string, string>[], opts: Omit<DaemonOptions, 'baseEnv'> = {}): Promise<Daemon[]> {
  const started = await Promise.allSettled(envs.map((env) => startDaemon(env, opts)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.cleanup() : undefined)));
    throw failed.reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<Daemon>).value);
}

/** Rounds the daemon has completed so far (its `round complete` log lines). */
export function roundsDone(d: Daemon): number {
  return d.logs.filter((l) => l.msg === 'round complete').length;
}

/**
 * Wait until the daemon has completed `n` more rounds: the event a scenario
 * step waits for ("five rounds collected while the database is down")
 * instead of a fixed sleep that assumes how long rounds take. The default
 * deadline allows each round its interval (`intervalS`) three times over.
 */
export async function afterRounds(d: Daemon, n: number, intervalS: number, what = `${n} more rounds`): Promise<void> {
  const want = roundsDone(d) + n;
  await until(() => roundsDone(d) >= want, `${what} (round ${want} of the daemon)`, 3 * (n + 1) * intervalS * 1000, 50);
}

/** Run the CLI to completion (check-config, collect --once). */
export function runCli(args: string[], env: Record<string, string>, wrap: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const cmd = [...wrap, ...DAEMON_COMMAND, ...args];
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
    const p = spawn('ip', ['netns', 'exec', ns, ...DAEMON_COMMAND, 'collect', '--once', '--json'], {
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
