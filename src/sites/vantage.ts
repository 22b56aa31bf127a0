import type { Logger } from 'pino';
import type { PromSeries } from '../history/prom-series.js';
import { BaseComponent, Deadline, type ComponentHealth } from '../lifecycle/component.js';
import type { ErrorReporter } from '../lifecycle/error-reporter.js';
import { SupervisedLoop } from '../lifecycle/supervised-loop.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { faultDomain, type SourceEvidence, type SourceState, type Verdict } from './fault-domain.js';
import { buildMatrix, type MatrixQuery, type MatrixSource } from './matrix.js';
import type { SiteClient } from './site-client.js';
import type { Site } from '../config/site-list.js';
import { unknownRow as unknownSiteRow, type SiteAnswer, type SiteRow, type SiteView } from './site-view.js';
import type { RangeQuery } from '../status/data-api.js';

export interface VantageDeps {
  /** This site's SOURCE_NAME. */
  self: string;
  sites: readonly Site[];
  client: SiteClient;
  view: SiteView;
  targets(): readonly { name: string; intervalS: number }[];
  /** The figures of a target's probes (probes' view.ts), compared per source on its page. */
  figures(name: string): readonly { key: string; label: string; unit: string }[];
  /** How often every site's states are read (the matrix, the verdicts and their metric). */
  refreshMs: number;
  /** How long a page or a refresh waits for a site. */
  siteTimeoutMs: number;
  /** This site's own history and routes of a target (undefined: no embedded store, or not a target). */
  localSeries?(name: string, q: RangeQuery): Promise<unknown>;
  localRoutes?(name: string, q: Omit<RangeQuery, 'buckets'>): Promise<unknown>;
  /** QUERY_URL: numeric history of every source from the shared database. */
  history?: PromSeries;
  metrics?: TelemetryMetrics;
  reporter: ErrorReporter;
  log: Logger;
}

/** What a site said last, or why it said nothing. */
type SiteAnswerState = { at: number; rows: Map<string, SiteRow> } | { at: number; unavailable: string };

export interface SourceView extends Omit<SiteRow, 'name'> {
  source: string;
  /** False: the site did not answer (`reason` says why); its state is `unknown`. */
  available: boolean;
  reason?: string;
  /** The site's API root (absent for this site). */
  url?: string;
}

/** Names per request to another site. */
const NAMES_PER_CALL = 100;
/** Targets whose routes are read per refresh for the verdicts (those not ok somewhere). */
const MAX_VERDICT_TARGETS = 2000;

/**
 * Several sites on one page. This site reads the others' views of their
 * targets (`/api/site/targets`, through SiteClient: a deadline and a
 * breaker per site) in the background every SITES_REFRESH, for the matrix
 * and for each target's fault-domain verdict and its metric; a target page
 * asks every site at once for that target's state and current route, and
 * its history per source from QUERY_URL or, without one (or while it is
 * down), from each site's own store. A site that does not answer is
 * `unavailable` with the reason; every answer still renders.
 */
export class Vantage extends BaseComponent {
  readonly name = 'sites';
  private readonly loop: SupervisedLoop;
  private readonly answers = new Map<string, SiteAnswerState>();
  private verdicts = new Map<string, Verdict>();
  private refreshedAt?: number;

  constructor(private readonly d: VantageDeps) {
    super();
    this.loop = new SupervisedLoop({ name: 'sites', periodMs: d.refreshMs, stallAfterMs: 3 * d.refreshMs + 3 * d.siteTimeoutMs + 5000, tick: () => this.refresh() }, d.reporter);
  }

  get sites(): readonly Site[] {
    return this.d.sites;
  }

  get hasHistory(): boolean {
    return this.d.history !== undefined;
  }

  protected async onStart(): Promise<void> {
    if (this.d.sites.length) this.loop.start();
  }

  protected async onStop(deadline: Deadline): Promise<void> {
    await this.loop.stop(deadline);
  }

  health(): ComponentHealth {
    const sites = this.d.sites.map((s) => {
      const a = this.answers.get(s.name);
      return { site: s.name, url: s.url, available: a !== undefined && 'rows' in a, ...(a && 'unavailable' in a ? { reason: a.unavailable } : {}) };
    });
    const loop = this.loop.health();
    // Another site being down is not this daemon failing: it shows in the list and telemetry_site_up.
    return { status: this.d.sites.length ? loop.status : 'ok', sites, query_url: this.d.history ? 'set' : 'unset', ...(this.refreshedAt ? { refreshed_s_ago: Math.round((Date.now() - this.refreshedAt) / 1000) } : {}) };
  }

  /** One target from every source, asked now: state, last figures, current route, and the verdict. */
  async target(name: string): Promise<{ figures: readonly { key: string; label: string; unit: string }[]; sources: SourceView[]; verdict: Verdict } | undefined> {
    if (!this.d.targets().some((t) => t.name === name)) return undefined;
    const deadline = Deadline.in(this.d.siteTimeoutMs);
    const [own, ...others] = await Promise.all([this.d.view.rows([name], { routes: true, local: false }), ...this.d.sites.map((s) => this.ask(s, [name], true, deadline))]);
    const sources: SourceView[] = [toView(this.d.self, own.targets[0], undefined)];
    this.d.sites.forEach((s, i) => {
      const a = others[i]!;
      sources.push('rows' in a ? toView(s.name, a.rows.get(name), s.url, 'not one of its targets') : { ...toView(s.name, undefined, s.url), available: false, reason: a.unavailable });
    });
    return { figures: this.d.figures(name), sources, verdict: faultDomain(sources.map(evidence)) };
  }

  /** The last verdict of the background refresh (the metric's), if any. */
  verdictOf(name: string): Verdict | undefined {
    return this.verdicts.get(name);
  }

  /** Targets x sources from the last refresh (this site's own cells fresh). */
  async matrix(q: MatrixQuery): Promise<Record<string, unknown>> {
    const own = await this.d.view.rows(undefined, { routes: false, local: false });
    const sources: MatrixSource[] = [{ name: this.d.self, self: true, available: true, rows: new Map(own.targets.map((r) => [r.name, r])) }];
    for (const s of this.d.sites) {
      const a = this.answers.get(s.name);
      sources.push(
        a && 'rows' in a
          ? { name: s.name, url: s.url, self: false, available: true, age_s: Math.round((Date.now() - a.at) / 1000), rows: a.rows }
          : { name: s.name, url: s.url, self: false, available: false, reason: a && 'unavailable' in a ? a.unavailable : 'not asked yet', rows: new Map() },
      );
    }
    return buildMatrix(
      this.d.targets().map((t) => t.name),
      sources,
      (n) => this.verdicts.get(n),
      q,
    );
  }

  /**
   * A target's numeric history per source: from QUERY_URL when set and it
   * answers, else this site's store and every other site's.
   */
  async series(name: string, q: RangeQuery): Promise<Record<string, unknown> | undefined> {
    const t = this.d.targets().find((x) => x.name === name);
    if (!t) return undefined;
    let fallback: string | undefined;
    if (this.d.history) {
      const wanted = [this.d.self, ...this.d.sites.map((s) => s.name)];
      const r = await this.d.history.run({ target: name, fromMs: q.fromMs, toMs: q.toMs, maxBuckets: q.buckets, intervalS: t.intervalS }, Deadline.in(this.d.siteTimeoutMs * 2));
      this.d.metrics?.historyQueries.inc({ result: r.ok ? 'ok' : r.reason });
      if (r.ok) {
        const got = new Map(r.sources.map((s) => [s.source, s.series]));
        // Every source the database has, and the configured sites it has nothing for (said so).
        const names = [...new Set([...wanted, ...got.keys()])];
        return {
          history: 'query_url',
          query_ms: r.ms,
          sources: names.map((source) => (got.has(source) ? { source, available: true, series: got.get(source) } : { source, available: false, reason: 'the database has no points of this source for this target in this range' })),
        };
      }
      fallback = `${r.reason}: ${r.detail}`;
    }
    const path = `/api/targets/${encodeURIComponent(name)}/series?from=${q.fromMs}&to=${q.toMs}&buckets=${q.buckets}`;
    const [own, ...others] = await Promise.all([this.d.localSeries?.(name, q), ...this.d.sites.map((s) => this.d.client.get(s.name, path, Deadline.in(this.d.siteTimeoutMs)))]);
    return {
      history: 'sites',
      ...(fallback ? { fallback } : {}),
      sources: [
        own ? { source: this.d.self, available: true, series: own } : { source: this.d.self, available: false, reason: 'no embedded store (EMBEDDED_STORE=false)' },
        ...this.d.sites.map((s, i) => {
          const a = others[i]!;
          return a.status === 'ok' ? { source: s.name, available: true, series: a.body } : { source: s.name, available: false, reason: `${a.reason}: ${a.detail}` };
        }),
      ],
    };
  }

  /** A target's routes per source, each from its site's own store (paths are not in a metrics database). */
  async routes(name: string, q: Omit<RangeQuery, 'buckets'>): Promise<Record<string, unknown> | undefined> {
    if (!this.d.targets().some((t) => t.name === name)) return undefined;
    const path = `/api/targets/${encodeURIComponent(name)}/routes?from=${q.fromMs}&to=${q.toMs}`;
    const [own, ...others] = await Promise.all([this.d.localRoutes?.(name, q), ...this.d.sites.map((s) => this.d.client.get(s.name, path, Deadline.in(this.d.siteTimeoutMs)))]);
    return {
      sources: [
        own ? { source: this.d.self, available: true, routes: own } : { source: this.d.self, available: false, reason: 'no embedded store (EMBEDDED_STORE=false)' },
        ...this.d.sites.map((s, i) => {
          const a = others[i]!;
          return a.status === 'ok' ? { source: s.name, available: true, routes: a.body } : { source: s.name, available: false, reason: `${a.reason}: ${a.detail}` };
        }),
      ],
    };
  }

  /** One refresh: every site's states, then routes and verdicts for the targets not ok somewhere. */
  private async refresh(): Promise<void> {
    const deadline = Deadline.in(this.d.siteTimeoutMs);
    const got = await Promise.all(this.d.sites.map((s) => this.ask(s, undefined, false, deadline)));
    this.d.sites.forEach((s, i) => {
      this.answers.set(s.name, got[i]!);
      this.d.metrics?.siteUp.set({ site: s.name }, 'rows' in got[i]! ? 1 : 0);
    });
    const own = await this.d.view.rows(undefined, { routes: false, local: false });
    const states = new Map<string, Map<string, SiteRow | undefined>>();
    for (const r of own.targets) states.set(r.name, new Map([[this.d.self, r]]));
    for (const s of this.d.sites) {
      const a = this.answers.get(s.name);
      for (const [name, per] of states) per.set(s.name, a && 'rows' in a ? a.rows.get(name) : undefined);
    }
    const troubled = [...states].filter(([, per]) => [...per.values()].some((r) => r && (r.state === 'degraded' || r.state === 'failing'))).map(([n]) => n);
    const withRoutes = await this.routesOf(troubled.slice(0, MAX_VERDICT_TARGETS));
    const verdicts = new Map<string, Verdict>();
    for (const [name, per] of states) {
      const full = withRoutes.get(name);
      const ev: SourceEvidence[] = [...per].map(([source, r]) => evidence({ source, available: r !== undefined, ...(full?.get(source) ?? r ?? unknownRow()) }));
      verdicts.set(name, faultDomain(ev));
    }
    this.verdicts = verdicts;
    this.refreshedAt = Date.now();
    const m = this.d.metrics;
    if (m) {
      for (const [name, v] of verdicts) {
        m.faultDomain.remove(name);
        m.faultDomain.set(name, 1, v.domain);
        m.faultSource.remove(name);
        if (v.domain === 'path') for (const s of v.affected) m.faultSource.set(name, 1, s);
      }
    }
  }

  /** The named targets' rows with routes from this site and every other, by target then source. */
  private async routesOf(names: string[]): Promise<Map<string, Map<string, SiteRow>>> {
    const out = new Map<string, Map<string, SiteRow>>();
    if (!names.length) return out;
    const put = (source: string, r: SiteRow) => (out.get(r.name) ?? out.set(r.name, new Map()).get(r.name)!).set(source, r);
    for (let i = 0; i < names.length; i += NAMES_PER_CALL) {
      const part = names.slice(i, i + NAMES_PER_CALL);
      const deadline = Deadline.in(this.d.siteTimeoutMs);
      const [own, ...others] = await Promise.all([this.d.view.rows(part, { routes: true, local: false }), ...this.d.sites.map((s) => this.ask(s, part, true, deadline))]);
      for (const r of own.targets) put(this.d.self, r);
      this.d.sites.forEach((s, k) => {
        const a = others[k]!;
        if ('rows' in a) for (const r of a.rows.values()) put(s.name, r);
      });
    }
    return out;
  }

  /** One site's rows (all its targets, or the named ones), or why there are none. */
  private async ask(site: Site, names: readonly string[] | undefined, routes: boolean, deadline: Deadline): Promise<SiteAnswerState> {
    const query = [...(names ?? []).map((n) => `name=${encodeURIComponent(n)}`), ...(routes ? ['routes=1'] : [])].join('&');
    const a = await this.d.client.get(site.name, `/api/site/targets${query ? `?${query}` : ''}`, deadline);
    const at = Date.now();
    if (a.status !== 'ok') return { at, unavailable: `${a.reason}: ${a.detail}` };
    const body = a.body as Partial<SiteAnswer> | string;
    if (typeof body !== 'object' || !Array.isArray(body.targets)) return { at, unavailable: 'its answer is not a list of targets (an older version, or not network-telemetry)' };
    if (body.source !== site.name) return { at, unavailable: `it answers as source "${String(body.source).slice(0, 100)}", SITES names it "${site.name}": set the name in SITES to its SOURCE_NAME` };
    return { at, rows: new Map(body.targets.filter((r) => r && typeof r.name === 'string').map((r) => [r.name, r])) };
  }
}

function unknownRow(): Omit<SiteRow, 'name'> {
  const { name: _name, ...rest } = unknownSiteRow('');
  return rest;
}

function toView(source: string, r: SiteRow | undefined, url: string | undefined, missing = 'no state for this target yet'): SourceView {
  const { name: _name, ...rest } = r ?? { name: '', ...unknownRow() };
  return { source, available: true, ...(url ? { url } : {}), ...rest, ...(r ? {} : { reason: missing }) };
}

function evidence(v: Pick<SourceView, 'source' | 'available' | 'state' | 'why' | 'route'>): SourceEvidence {
  const hops = v.route?.hops ?? null;
  const state: SourceState = v.available ? v.state : 'unknown';
  return { source: v.source, state, why: v.why, hops, destination: v.route?.reached && hops?.length ? hops[hops.length - 1]!.ip : null };
}
