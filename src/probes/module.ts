import type { Logger } from 'pino';
import type { z } from 'zod';
import type { DaemonEnv } from '../env/daemon-env.js';
import type { HttpClient } from '../http-client/http-client.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { MeasurementSchema } from '../samples/measurement.js';
import type { RollupSpec, SparklineSpec } from '../samples/rollup.js';
import type { SharedCache } from '../util/shared-cache.js';
import type { ProcessRunner } from './tools/process-runner.js';
import type { LoopDelay } from './timing/loop-delay.js';
import type { TimedFields } from './timing/timing-slack.js';
import type { TimingThread } from './timing/timing-thread.js';
import type { RouteMemory } from './trace/route-memory.js';
import type { Probe } from './types.js';
import type { FigureSpec, PanelSpec, TargetMetricSpec } from './view.js';

/**
 * What a probe kind brings to the daemon, all from its own folder
 * (src/probes/<kind>/index.ts), after Telegraf's plugin folders:
 *
 *   - `env`: its environment variables (zod shape, defaults inside), merged
 *     into the daemon's env schema;
 *   - `block`: the schema of its block in a targets-file entry;
 *   - `spec()`: the probe's settings for one target, from that block and
 *     the env defaults — adapting defaults the user did not set so they fit
 *     the target's timeout, and naming the variable to change when values
 *     the user did set cannot fit;
 *   - `measurements`: the points it writes (the data model);
 *   - `create()`: the probe function;
 *
 * and its read side, what the daemon shows of those points (view.ts):
 *
 *   - `rollups`: what the embedded store keeps of them after the raw window;
 *   - `figures`: the last run's figures (overview columns, /api/targets, thresholds);
 *   - `panel`: its charts (and sections) on the target page;
 *   - `targetMetrics`: its per-target /metrics series;
 *   - `sparkline`: the overview's small chart (one probe provides it).
 *
 * Adding a probe is a folder exporting one of these and one line in
 * src/probes/registry.ts; nothing outside names a probe kind.
 */
export interface ProbeModule<Spec = unknown, E extends z.ZodRawShape = z.ZodRawShape> {
  readonly kind: string;
  /** One line for check-config and docs. */
  readonly describe: string;
  /** Environment variables this probe reads (zod shape; defaults inside). */
  readonly env: E;
  /** Its block in a targets-file entry (a strict zod object). */
  readonly block: z.ZodType;
  /** Part of the default set of a bare host entry: a name (`example.com`), an address (`10.0.0.1`, `localhost`). */
  readonly defaultFor: readonly ('name' | 'address')[];
  readonly measurements: Readonly<Record<string, MeasurementSchema>>;
  /** Settings for one target. Throws SpecError with a message naming what to set. */
  spec(block: unknown, ctx: SpecContext<ModuleEnv<E>>): Spec;
  /**
   * The least time one run takes when every reply comes at once (icmp: the
   * echo spacing; trace: mtr's cycles and grace); 0 or absent when the
   * network sets it. Sizes the bounds (scheduler/capacity.ts).
   */
  minDurationS?(spec: Spec): number;
  /** Run only every this many seconds (a whole multiple of the target interval); undefined = every slot. */
  everyS?(spec: Spec): number | undefined;
  /**
   * The tool process pool its runs hold (scheduler/capacity.ts counts them
   * against that pool's bound; a target with such a probe needs the tools
   * started): `pingRunner` (fping, BATCH_SIZE targets a process) or
   * `traceRunner` (mtr, WORKER_POOL_SIZE).
   */
  readonly pool?: 'pingRunner' | 'traceRunner';
  /** Its phases are timed in JavaScript: the points and fields a late callback can stretch (timing/timing-slack.ts). */
  readonly timed?: TimedFields;
  /**
   * The probe times its phases in JavaScript and runs, in the daemon, on the
   * timing thread (timing/timing-thread.ts): the module (a URL from
   * siblingModule) and the name of the probe function it exports, which the
   * thread imports. Build `create` with timing/timed-probe.ts.
   */
  readonly timingThread?: { readonly module: string; readonly export: string };
  /** Origins (scheme://host:port) its runs call: their circuit breakers go when no target uses them any more. */
  origins?(spec: Spec): string[];
  /** The human summary of check-config and the target page (`5 echoes 0.2 s apart`); secrets redacted. */
  summary(spec: Spec): string;
  create(deps: ProbeDeps<ModuleEnv<E>>): Probe<Spec>;

  // --- read side (view.ts, samples/rollup.ts) ---
  readonly rollups?: readonly RollupSpec[];
  readonly figures?: readonly FigureSpec[];
  readonly panel?: PanelSpec;
  readonly targetMetrics?: readonly TargetMetricSpec[];
  readonly sparkline?: SparklineSpec;
}

/** The environment variable that holds a threshold's global default. */
export const thresholdEnv = (key: string): string => `THRESHOLD_${key.toUpperCase()}`;

/** The environment a module sees: the daemon's variables and its own. */
export type ModuleEnv<E extends z.ZodRawShape> = DaemonEnv & z.infer<z.ZodObject<E>>;

export interface SpecContext<Env = DaemonEnv> {
  /** The target: name, host, address family, interval and timeout (seconds). */
  readonly name: string;
  readonly host: string;
  readonly family: 4 | 6 | null;
  readonly intervalS: number;
  readonly timeoutS: number;
  readonly env: Env;
  /** Environment variables the user set (only these can conflict; the rest adapt). */
  readonly explicit: ReadonlySet<string>;
  /** Any environment variable (for `${NAME}` references in header values). */
  lookupEnv(name: string): string | undefined;
  /** Say once at start what was adapted (`trace: TRACE_CYCLES 3 -> 2 to fit ...`). */
  note(message: string): void;
}

/** A probe's settings cannot work: the message names what to change. */
export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecError';
  }
}

/** What probes may use, built once by the app. */
export interface ProbeDeps<Env = DaemonEnv> {
  env: Env;
  http: HttpClient;
  /** fping processes. */
  pingRunner: ProcessRunner;
  /** mtr processes (WORKER_POOL_SIZE). */
  traceRunner: ProcessRunner;
  routeMemory: RouteMemory;
  /** The thread the tcp and dns probes run on (the daemon); absent: they run on the calling loop (one-shot runs, tests). */
  timingThread?: TimingThread;
  /** This thread's event-loop monitor: the slack of timings taken here (http; tcp and dns without the thread). */
  loopDelay?: LoopDelay;
  /** Lookup cache (Redis-shared in a cluster): reverse DNS. */
  cache: SharedCache;
  metrics: TelemetryMetrics;
  log: Logger;
}
