/**
 * Helpers for the container tests (npm run test:container, which builds the
 * images and runs these files inside a network namespace of their own, so the
 * ports the compose files publish never meet anything else on the machine).
 * Everything created here is named after NT_CT_RUN (prefix nt-ct-) and removed
 * by name in the tests' finally blocks (and by scripts/container/test.sh's
 * trap if a test dies).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { until } from '../../scripts/lib/services.js';

export { until };
const run = promisify(execFile);

/** What scripts/container/test.sh hands over; a clear error when run directly. */
export function fromScript(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the container tests with \`npm run test:container\` (scripts/container/test.sh builds the images and sets it)`);
  return v;
}

export const RUN = process.env.NT_CT_RUN ?? `nt-ct-${process.pid}`;

/** Run a command; its output, or an error carrying stderr. */
export async function sh(cmd: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<string> {
  try {
    const r = await run(cmd, args, { env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, cwd: opts.cwd });
    return r.stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string; code?: number };
    // podman without systemd logs this on every run; it is not the error.
    const stderr = (e.stderr ?? '').split('\n').filter((l) => !l.includes('systemd')).join('\n').trim();
    throw new Error(`${cmd} ${args.join(' ')} failed (${e.code ?? 'signal'}): ${stderr || e.stdout?.trim() || e.message}`);
  }
}

export const podman = (...args: string[]) => sh('podman', args);

export interface ContainerState {
  Status: string;
  Running: boolean;
  ExitCode: number;
  Pid: number;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: string; Log?: { ExitCode: number; Output: string }[] };
}

export async function inspect(nameOrId: string): Promise<{ Id: string; Name: string; RestartCount: number; State: ContainerState; Config: { Labels: Record<string, string> }; NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }> {
  return (JSON.parse(await podman('container', 'inspect', nameOrId)) as never[])[0]!;
}

/** The container's address on its (single) network. */
export async function ipOf(nameOrId: string): Promise<string> {
  const nets = Object.values((await inspect(nameOrId)).NetworkSettings.Networks);
  const ip = nets[0]?.IPAddress;
  if (!ip) throw new Error(`${nameOrId} has no network address`);
  return ip;
}

export async function imageSizeBytes(image: string): Promise<number> {
  return Number((await podman('image', 'inspect', '--format', '{{.Size}}', image)).trim());
}

/**
 * podman runs HEALTHCHECKs from systemd timers; these machines have no
 * systemd ("unable to get systemd connection to add healthchecks"), so
 * nothing would ever run them and compose's `condition: service_healthy`
 * would wait forever. This does what the timer would: `podman healthcheck
 * run` for every running container of the selection, at each one's own
 * configured interval, never two at once for one container.
 */
export class HealthTicker {
  private timer?: NodeJS.Timeout;
  private readonly last = new Map<string, number>();
  private readonly busy = new Set<string>();
  private readonly intervals = new Map<string, number>();
  private stopped = false;

  constructor(private readonly filter: string) {}

  start(): this {
    const tick = async () => {
      if (this.stopped) return;
      try {
        const ids = (await podman('ps', '--filter', this.filter, '--filter', 'status=running', '--format', '{{.ID}}')).split('\n').filter(Boolean);
        for (const id of ids) void this.check(id);
      } catch {
        // the next tick tries again (a container may vanish between ps and inspect)
      }
      if (!this.stopped) this.timer = setTimeout(tick, 500);
    };
    void tick();
    return this;
  }

  private async check(id: string): Promise<void> {
    if (this.busy.has(id)) return;
    let interval = this.intervals.get(id);
    if (interval === undefined) {
      // JSON, not the template's Duration, which prints as "5s".
      const raw = (await podman('container', 'inspect', '--format', '{{json .Config.Healthcheck}}', id).catch(() => 'null')).trim();
      const hc = JSON.parse(raw || 'null') as { Test?: string[]; Interval?: number } | null;
      interval = hc?.Test?.length && hc.Test[0] !== 'NONE' ? (hc.Interval || 30e9) / 1e6 : 0; // nanoseconds; Docker's default 30 s
      this.intervals.set(id, interval);
    }
    if (!interval) return; // no healthcheck
    const now = Date.now();
    if (now - (this.last.get(id) ?? 0) < interval) return;
    this.busy.add(id);
    this.last.set(id, now);
    // Exit 1 = unhealthy, which is a result, not an error.
    await sh('podman', ['healthcheck', 'run', id], { timeoutMs: 30_000 }).catch(() => undefined);
    this.busy.delete(id);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

/** `podman system service` on a socket of this run (docker-compose talks to it). */
export async function startPodmanService(socketPath: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn('podman', ['system', 'service', '--time=0', `unix://${socketPath}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const url = `unix://${socketPath}`;
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`podman system service exited ${child.exitCode}: ${err}`);
    // The Docker API's ping, as docker-compose's first call.
    return sh('curl', ['-sf', '--unix-socket', socketPath, 'http://d/_ping'], { timeoutMs: 5000 });
  }, `podman system service on ${socketPath}`, 30_000, 250);
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Seconds with one decimal, for the report lines. */
export const secs = (ms: number) => (ms / 1000).toFixed(1);
