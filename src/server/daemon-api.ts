import type { ReloadOutcome, ReloadTrigger } from '../config/config-reloader.js';
import type { HealthStatus } from '../lifecycle/component.js';
import type { AdhocRejection, AdhocRun } from '../scheduler/adhoc-runner.js';
import type { DataApi } from '../status/data-api.js';

/**
 * What the HTTP server needs from the daemon: a narrow interface (the server
 * never sees the App), implemented by the wiring in app.ts. Each method maps
 * to routes in routes.ts / api-routes.ts.
 */
export interface DaemonApi {
  health(): { status: HealthStatus; body: Record<string, unknown> };
  ready(): { ready: boolean; reasons: string[] };
  /** Liveness: false (with why) when rounds have stopped while this replica owns targets. */
  live(): { live: boolean; problem?: string };
  metrics(): Promise<{ text: string; contentType: string }>;
  /** Probe now (POST /collect): a run, or why it cannot run. */
  collect(names: readonly string[] | undefined, probes: readonly string[] | undefined): Promise<AdhocRun | AdhocRejection>;
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome>;
  resetCircuits(host?: string): string[];
  cluster(): Record<string, unknown>;
  /** Whether this replica reaches each other member's API. */
  peers(): Promise<unknown[]>;
  /** The data the JSON API and the web UI read (status/data-api.ts). */
  data: DataApi;
}
