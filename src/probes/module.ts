import type { Logger } from 'pino';
import type { z } from 'zod';
import type { DaemonEnv } from '../config/daemon-env.js';
import type { HttpClient } from '../http-client/http-client.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { MeasurementSchema } from '../samples/measurement.js';
import type { SharedCache } from '../util/shared-cache.js';
import type { ProcessRunner } from './tools/process-runner.js';
import type { RouteMemory } from './trace/route-memory.js';
import type { Probe } from './types.js';

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
 *   - `create()`: the probe function.
 *
 * Adding a probe is a folder exporting one of these and one line in
 * src/probes/registry.ts.
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
  /** The human summary of check-config (`5 echoes 0.2 s apart`). */
  summary(spec: Spec): string;
  /**
   * Figures of its points that make a target that answers `degraded` when
   * they cross a limit (status/target-state.ts). Each key is a key of a
   * targets-file `thresholds:` block; its global default is the
   * environment variable THRESHOLD_<KEY> in `env`.
   */
  readonly thresholds?: readonly ThresholdDef[];
  create(deps: ProbeDeps<ModuleEnv<E>>): Probe<Spec>;
}

/** One limit on one figure of a probe's points. */
export interface ThresholdDef {
  /** Key under `thresholds:` in a targets file (`loss_pct`); THRESHOLD_<KEY> is its default. */
  readonly key: string;
  readonly measurement: string;
  readonly field: string;
  /** `above`: crossed when the value is at or above the limit; `below`: at or below (certificate days left). */
  readonly when: 'above' | 'below';
  /** Unit for messages (`%`, `ms`, `days`). */
  readonly unit: string;
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
  /** Lookup cache (Redis-shared in a cluster): reverse DNS. */
  cache: SharedCache;
  metrics: TelemetryMetrics;
  log: Logger;
}
