import type { ReloadOutcome, ReloadTrigger } from '../config/config-reloader.js';
import type { HealthStatus } from '../lifecycle/component.js';
import type { AdhocRejection, AdhocRun } from '../scheduler/adhoc-runner.js';

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
  /** The data the JSON API and the web UI read (api-routes.ts). */
  data: DataApi;
}

export interface PointsQuery {
  measurement?: string;
  target?: string;
  sinceMs?: number;
  untilMs?: number;
  limit: number;
}

export interface TargetListQuery {
  offset: number;
  limit: number;
  sort: 'name' | 'status' | 'rtt' | 'loss' | 'http' | 'route_change';
  order: 'asc' | 'desc';
  q?: string;
  status?: 'ok' | 'failing' | 'unknown' | 'unavailable';
}

export interface RangeQuery {
  fromMs: number;
  toMs: number;
  buckets: number;
}

/** Answers of the data API: plain JSON objects (shapes in docs/api.md). */
export interface DataApi {
  /** False when the embedded store is off (EMBEDDED_STORE=false): the point and series routes answer 404. */
  readonly hasStore: boolean;
  points(q: PointsQuery): Promise<{ points: unknown[]; truncated: boolean }>;
  targets(q: TargetListQuery): Promise<Record<string, unknown>>;
  /** The targets this replica owns, as it sees them (what other members ask for; never fans out). */
  localTargets(): Promise<Record<string, unknown>>;
  localSparklines(names: string[]): Promise<Record<string, unknown>>;
  /**
   * One target's settings and state; undefined when no such target is
   * configured. For a target another member owns, the owner answers unless
   * `local` (the owner's own call) is set.
   */
  target(name: string, local?: boolean): Promise<Record<string, unknown> | undefined>;
  series(name: string, q: RangeQuery, local?: boolean): Promise<Record<string, unknown> | undefined>;
  routes(name: string, q: Omit<RangeQuery, 'buckets'>, local?: boolean): Promise<Record<string, unknown> | undefined>;
  status(): Promise<Record<string, unknown>>;
}
