import { Deadline } from '../lifecycle/component.js';
import type { SourceState } from './fault-domain.js';
import type { CurrentRoute } from './recent-routes.js';

/**
 * The figures of a target's last runs, by the keys the probes declare
 * (probes/<kind>/view.ts `figures`: rtt_ms, loss_pct, http_total_ms,
 * route_changed_at...), as /api/targets shows them in `last`.
 */
export type LastFigures = { time: string | null } & Record<string, number | string | null>;

/** A route as it travels between sites (times as ISO strings). */
export type RouteRow = Omit<CurrentRoute, 'at'> & { at: string };

/** One target as one site (source) sees it: what other sites read from `/api/site/targets`. */
export interface SiteRow {
  name: string;
  state: SourceState;
  /** Why the state: the failing probes and their reasons, or the threshold crossed. */
  why: string | null;
  last: LastFigures;
  /** Present when asked for (`routes=1`): the current route, hop figures over the recent traces. */
  route?: RouteRow | null;
}

export interface SiteAnswer {
  /** The answering site's SOURCE_NAME. */
  source: string;
  generated_at: string;
  targets: SiteRow[];
}

/** What this member knows of a target it probes. */
export interface LocalTargetState {
  state: SourceState;
  why: string | null;
  last: LastFigures;
}

export interface SiteViewDeps {
  source: string;
  targets(): readonly { name: string }[];
  /** This member's state of a target it probes (undefined: nothing recorded yet). */
  local(name: string): LocalTargetState | undefined;
  route(name: string): CurrentRoute | null;
  /** Cluster: who probes a target (undefined or this member's id: this member). */
  ownerOf(name: string): string | undefined;
  selfId(): string;
  /** Asks another member of this site's cluster (never throws). */
  askMember?(member: string, path: string, deadline: Deadline): Promise<{ status: 'ok'; body: unknown } | { status: 'unavailable'; reason: string; detail: string }>;
}

/** How long this site waits for the members of its own cluster (less than what other sites wait for it). */
const MEMBER_DEADLINE_MS = 1200;
/** Names per request to a member. */
const NAMES_PER_CALL = 200;

/**
 * This site's own view of its targets, as other sites read it: a site is a
 * daemon or a whole cluster, so the rows of targets another member probes
 * come from that member (one call per member, `local=1`: never fanned out
 * again). A member that does not answer makes its targets `unknown`, with
 * the reason in `why`.
 */
export class SiteView {
  constructor(private readonly d: SiteViewDeps) {}

  /** Rows of the named targets (all configured ones when `names` is absent); unknown names are left out. */
  async rows(names: readonly string[] | undefined, o: { routes: boolean; local: boolean }): Promise<SiteAnswer> {
    const configured = this.d.targets().map((t) => t.name);
    const known = new Set(configured);
    const wanted = names ? [...new Set(names)].filter((n) => known.has(n)) : configured;
    const self = this.d.selfId();
    const mine: string[] = [];
    const byOwner = new Map<string, string[]>();
    for (const name of wanted) {
      const owner = this.d.ownerOf(name);
      if (o.local || !owner || owner === self || !this.d.askMember) mine.push(name);
      else (byOwner.get(owner) ?? byOwner.set(owner, []).get(owner)!).push(name);
    }
    const rows = new Map<string, SiteRow>(mine.map((n) => [n, this.row(n, o.routes)]));
    await Promise.all(
      [...byOwner].map(async ([owner, list]) => {
        for (let i = 0; i < list.length; i += NAMES_PER_CALL) {
          const part = list.slice(i, i + NAMES_PER_CALL);
          const query = [...part.map((n) => `name=${encodeURIComponent(n)}`), 'local=1', ...(o.routes ? ['routes=1'] : [])].join('&');
          const a = await this.d.askMember!(owner, `/api/site/targets?${query}`, Deadline.in(MEMBER_DEADLINE_MS));
          const got = a.status === 'ok' ? ((a.body as Partial<SiteAnswer>).targets ?? []) : [];
          const byName = new Map(got.map((r) => [r.name, r]));
          for (const n of part) {
            const r = byName.get(n);
            rows.set(n, r ?? { ...unknownRow(n), why: a.status === 'ok' ? `member ${owner} has no state for it` : `member ${owner} did not answer (${a.reason}: ${a.detail})` });
          }
        }
      }),
    );
    return { source: this.d.source, generated_at: new Date().toISOString(), targets: wanted.map((n) => rows.get(n)!) };
  }

  private row(name: string, routes: boolean): SiteRow {
    const st = this.d.local(name);
    const r = routes ? this.d.route(name) : undefined;
    return {
      ...(st ? { name, state: st.state, why: st.why, last: st.last } : unknownRow(name)),
      ...(routes ? { route: r ? { ...r, at: new Date(r.at).toISOString() } : null } : {}),
    };
  }
}

export function unknownRow(name: string): SiteRow {
  return { name, state: 'unknown', why: null, last: { time: null } };
}
