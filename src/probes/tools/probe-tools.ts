import type { Logger } from 'pino';
import type { DaemonEnv } from '../../env/daemon-env.js';
import { BaseComponent, type ComponentHealth, type Deadline } from '../../lifecycle/component.js';
import type { TelemetryMetrics } from '../../metrics/telemetry-metrics.js';
import { checkPrivileges, type PrivilegeReport } from '../privileges.js';
import { ProcessRunner } from './process-runner.js';
import { Spawner } from './spawner.js';

/** A tool problem reported by a probe is checked again at most this often. */
const RECHECK_EVERY_MS = 60_000;

/**
 * The external tools of the path probes: the spawner helper process and two
 * bounded pools over it — mtr (WORKER_POOL_SIZE at once) and fping (its own
 * pool, so long traces never starve echo requests: each fping carries up to
 * BATCH_SIZE operations, so ceil(MAX_CONCURRENT_OPERATIONS / BATCH_SIZE) at
 * once is all the operations bound can use). start() runs each tool once
 * against loopback; /health says whether ICMP works and, if not, how to fix
 * it. A probe reporting tool_missing or no_permission triggers a new check
 * (at most once a minute), so installing fping or granting the capability is
 * picked up without a restart.
 */
/** The settings of the pools and the tools' paths (the icmp and trace probes declare FPING_PATH and MTR_PATH). */
export type ToolsEnv = Pick<DaemonEnv, 'WORKER_POOL_SIZE' | 'MAX_CONCURRENT_OPERATIONS' | 'BATCH_SIZE'> & { FPING_PATH: string; MTR_PATH: string };

export class ProbeTools extends BaseComponent {
  /** The fping and mtr pools alike: its /health key and error label. */
  readonly name = 'probe-tools';
  /** Absent for one-shot runs (collect --once): tools start directly, no helper to fork. */
  readonly spawner?: Spawner;
  readonly traceRunner: ProcessRunner;
  readonly pingRunner: ProcessRunner;
  private report?: PrivilegeReport;
  private checking?: Promise<void>;
  private lastCheckAt = 0;

  constructor(
    private readonly env: ToolsEnv,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
    /** Check the tools at start (only when a target has an icmp or trace probe). */
    private readonly needed: boolean,
    useSpawner = true,
  ) {
    super();
    this.spawner = useSpawner ? new Spawner() : undefined;
    this.traceRunner = new ProcessRunner(env.WORKER_POOL_SIZE, metrics, 'mtr', this.spawner);
    this.pingRunner = new ProcessRunner(Math.max(2, Math.ceil(env.MAX_CONCURRENT_OPERATIONS / env.BATCH_SIZE)), metrics, 'fping', this.spawner);
  }

  get waiting(): number {
    return this.traceRunner.waiting + this.pingRunner.waiting;
  }

  /** The check runs in the background: the API answers at once, /health says "checking" meanwhile. */
  protected async onStart(): Promise<void> {
    if (this.needed) void this.check();
  }

  /** Resolves when the check in progress (if any) is done (tests, check-privileges). */
  async checked(): Promise<void> {
    await this.checking;
  }

  /** A probe said the tool is missing or not permitted: look again (rate-limited). */
  recheckSoon(): void {
    if (this.stopped || Date.now() - this.lastCheckAt < RECHECK_EVERY_MS) return;
    void this.check();
  }

  private check(): Promise<void> {
    this.checking ??= (async () => {
      this.lastCheckAt = Date.now();
      try {
        const before = this.report;
        const r = await checkPrivileges(this.traceRunner, this.env.FPING_PATH, this.env.MTR_PATH);
        // Stopped while checking (a start that failed, a quick Ctrl-C): stop() killed the
        // tools, so the check says nothing about them.
        if (this.stopped) return;
        this.report = r;
        if (before) this.metrics.icmpMode.set({ mode: before.mode }, 0);
        this.metrics.icmpMode.set({ mode: r.mode }, 1);
        if (r.problem && r.problem !== before?.problem) this.log.error({ icmp_mode: r.mode, fping: r.fping, mtr: r.mtr }, r.problem);
        else if (!r.problem && (!before || before.problem)) this.log.info({ icmp_mode: r.mode }, before ? 'icmp/trace tools work now' : 'icmp/trace tools ready');
      } catch (err) {
        this.metrics.errors.inc({ component: this.name });
        this.log.error({ err }, 'tool check failed');
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  health(): ComponentHealth {
    if (!this.report) return { status: 'ok', checked: false, ...(this.checking ? { checking: true } : {}) };
    const r = this.report;
    return {
      status: r.problem ? 'degraded' : 'ok',
      mode: r.mode,
      fping: r.fping,
      mtr: r.mtr,
      checked_at: new Date(this.lastCheckAt).toISOString(),
      ...(r.problem ? { problem: r.problem } : {}),
      ...(this.spawner?.lastError ? { spawner: this.spawner.lastError } : {}),
    };
  }

  protected async onStop(deadline: Deadline): Promise<void> {
    this.traceRunner.killAll();
    this.pingRunner.killAll();
    await this.spawner?.close(deadline);
  }
}
