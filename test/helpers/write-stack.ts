import { Haproxy, until, Victoria } from '../../scripts/lib/services.js';
import type { Daemon } from './daemon.js';

/**
 * Two VictoriaMetrics (standing in for InfluxDB 2) behind the project's
 * haproxy.cfg: a round-robin frontend and one write frontend per replica.
 */
export interface WriteStack {
  vm: [Victoria, Victoria];
  haproxy: Haproxy;
  /** Round-robin frontend (reads, single-URL writes). */
  lbUrl: string;
  /** Per-replica write frontends, for INFLUXDB_URLS (mirror). */
  writeUrls: [string, string];
  statsUrl: string;
  cleanup(): Promise<void>;
}

export async function startWriteStack(): Promise<WriteStack> {
  const started: Victoria[] = [];
  let lb: Awaited<ReturnType<typeof Haproxy.startLoopback>> | undefined;
  try {
    for (let i = 0; i < 2; i++) started.push(await Victoria.start());
    lb = await Haproxy.startLoopback({ influx: [started[0]!.port, started[1]!.port], password: 'test-pass' });
    for (const u of [...lb.influxWrite, lb.influxRead]) await until(async () => (await fetch(`${u}/health`)).ok, `haproxy frontend ${u}`);
  } catch (err) {
    // What did start is stopped here: the caller gets no stack to clean up, and a VictoriaMetrics
    // left running would keep the test file's process up until the runner's timeout.
    await lb?.haproxy.cleanup();
    await Promise.all(started.map((v) => v.cleanup()));
    throw err;
  }
  const vm = started as [Victoria, Victoria];
  const haproxy = lb.haproxy;
  const writeUrls = lb.influxWrite;
  return {
    vm,
    haproxy,
    lbUrl: lb.influxRead,
    writeUrls,
    statsUrl: lb.stats,
    cleanup: async () => {
      await haproxy.cleanup();
      await Promise.all(vm.map((v) => v.cleanup()));
    },
  };
}

/**
 * (series, timestamp) pairs of the points in a VictoriaMetrics: one metric
 * per measurement that every point of it has — `<measurement>_success`, and
 * `collector_targets_run` for the per-round `collector` points.
 */
export async function successPoints(v: Victoria, measurements = ['probe', 'http', 'tcp', 'collector']): Promise<Set<string>> {
  const names = measurements.map((m) => (m === 'collector' ? 'collector_targets_run' : `${m}_success`));
  const rows = await v.export(`{__name__=~"(${names.join('|')})"}`);
  const out = new Set<string>();
  for (const r of rows) {
    const { __name__, db, ...labels } = r.metric;
    void db;
    const key = `${__name__}|${Object.entries(labels).sort().map(([k, val]) => `${k}=${val}`).join(',')}`;
    for (const t of r.timestamps) out.add(`${key}@${t}`);
  }
  return out;
}

export const vmEnv = (urls: string[]) => ({
  INFLUXDB_URLS: urls.join(','),
  INFLUXDB_TOKEN: 'test-token',
  INFLUXDB_ORG: 'test-org',
  INFLUXDB_BUCKET: 'telemetry',
  INFLUX_FLUSH_INTERVAL: '0.5',
});

/**
 * successPoints, polled until it holds `expected` points or 15 s pass:
 * VictoriaMetrics shows new data only after a moment even after force_flush (COOKBOOK).
 */
/**
 * The database's points once it shows them all: `expected` is a count, or the
 * keys that must be there (a count alone can be reached by newer points while
 * older ones are still invisible). Gives up after 15 s and returns what it has.
 */
export async function settledPoints(v: Victoria, expected: number | ReadonlySet<string>, measurements?: string[]): Promise<Set<string>> {
  const t0 = Date.now();
  const done = (got: Set<string>) => (typeof expected === 'number' ? got.size >= expected : [...expected].every((k) => got.has(k)));
  for (;;) {
    const got = await successPoints(v, measurements);
    if (done(got) || Date.now() - t0 > 15_000) return got;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * SIGTERM the daemon (exit 0, outbox drained) and compare what it stored
 * with what each replica holds: the stored count and both replicas' points.
 */
export async function stopAndCountReplicas(d: Daemon, stack: WriteStack): Promise<{ stored: number; replicas: [Set<string>, Set<string>] }> {
  d.proc.kill('SIGTERM');
  if ((await d.exited) !== 0) throw new Error('the daemon did not exit 0 on SIGTERM');
  const stopped = d.logs.find((l) => l.msg === 'stopped')!;
  if (stopped.outbox_points !== 0) throw new Error(`outbox not drained at exit: ${stopped.outbox_points} points`);
  const stored = stopped.points_stored as number;
  return { stored, replicas: [await settledPoints(stack.vm[0], stored), await settledPoints(stack.vm[1], stored)] };
}

/**
 * `started`, or, if it fails, `cleanups` run before its error is rethrown: for
 * what a test starts before its try/finally (a server, then the stack, then
 * the daemon), so that a failed start leaves nothing running - a process left
 * behind keeps the test file's process up until the runner's timeout.
 */
export async function orCleanUp<T>(started: Promise<T>, ...cleanups: (() => Promise<unknown>)[]): Promise<T> {
  try {
    return await started;
  } catch (err) {
    for (const c of cleanups) await c().catch(() => undefined);
    throw err;
  }
}
