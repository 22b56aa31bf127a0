import type { ReloadOutcome, ReloadTrigger } from '../config/config-reloader.js';
import type { HealthStatus } from '../lifecycle/component.js';
import type { AdhocRejection, AdhocRun } from '../scheduler/adhoc-runner.js';
import type { MatrixQuery } from '../sites/matrix.js';
import type { DataApi, RangeQuery } from '../status/data-api.js';

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
  /** `force`: apply even a reload that removes more than RELOAD_MAX_REMOVAL of the targets. */
  reload(trigger: ReloadTrigger, o?: { force?: boolean }): Promise<ReloadOutcome>;
  resetCircuits(host?: string): string[];
  cluster(): Record<string, unknown>;
  /** Whether this replica reaches each other member's API. */
  peers(): Promise<unknown[]>;
  /** The data the JSON API and the web UI read (status/data-api.ts). */
  data: DataApi;
  /** This site's own view of its targets, which other sites read (site-routes.ts). */
  site: SiteRowsApi;
  /** Several sites and the shared database's history (site-routes.ts); absent when neither SITES nor QUERY_URL is set. */
  sites?: SitesApi;
}

export interface SiteRowsApi {
  /** This site's own rows of the named targets (all when undefined), for other sites. */
  rows(names: readonly string[] | undefined, o: { routes: boolean; local: boolean }): Promise<unknown>;
}

/** What the site routes need (src/sites/vantage.ts implements it). */
export interface SitesApi {
  /** The other sites this one shows. */
  readonly sites: readonly { name: string; url: string }[];
  /** One target from every source, with the fault-domain verdict; undefined when not a configured target. */
  target(name: string): Promise<Record<string, unknown> | undefined>;
  series(name: string, q: RangeQuery): Promise<Record<string, unknown> | undefined>;
  routes(name: string, q: Omit<RangeQuery, 'buckets'>): Promise<Record<string, unknown> | undefined>;
  /** Targets x sources; throws RangeError for an unknown source. */
  matrix(q: MatrixQuery): Promise<Record<string, unknown>>;
}
