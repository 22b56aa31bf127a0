import type { Target } from '../config/targets.js';
import type { Crossed as ApiCrossed } from '../web/api-types.js';
import { describeCrossed } from './target-state.js';
import type { FigureValues, TargetStatus, TargetStatusBoard } from './target-status.js';

/** A target as the replica that probes it sees it: what /api/local/targets serves to the other members. */
export interface TargetRow {
  name: string;
  host: string;
  probes: string[];
  interval_s: number;
  status: TargetStatus | 'unavailable';
  /** Since when the shown state holds. */
  state_since: string | null;
  failing: { probe: string; reason: string | null; detail: string | null; since: string }[];
  /** Thresholds the last run of each probe crossed: why the target is degraded. */
  crossed: ApiCrossed[];
  /** The target's thresholds (null: none). */
  thresholds: Record<string, number | null>;
  /** The probes' figures of the last runs (probes/view.ts), and the newest point's time. */
  last: { time: string | null } & FigureValues;
}

/** A row of the cluster-wide list: who probes it, and whether its state is known here. */
export interface ListedRow extends TargetRow {
  owner: string | null;
  available: boolean;
  unavailable_reason?: string;
}

/** The other members' rows, or why a member has none. */
export type RemoteRows = { rows: ReadonlyMap<string, TargetRow> } | { unavailable: string };

/** This replica's own view of a target. */
export function localRow(t: Target, board: TargetStatusBoard): TargetRow {
  const st = board.get(t.name);
  return {
    name: t.name,
    host: t.host,
    probes: [...t.probes],
    interval_s: t.intervalS,
    status: board.status(t.name),
    state_since: st && st.state.since ? new Date(st.state.since).toISOString() : null,
    failing: st
      ? [...st.probes.values()].filter((p) => !p.success).map((p) => ({ probe: p.probe, reason: p.reason ?? null, detail: p.detail ?? null, since: new Date(p.since).toISOString() }))
      : [],
    crossed: st ? [...st.probes.values()].flatMap((p) => p.crossed.map((c) => ({ ...c, text: describeCrossed(c) }))) : [],
    thresholds: t.thresholds.limits,
    last: board.lastFigures(t.name),
  };
}

/**
 * A target as this replica shows it: its owner's row when another member
 * probes it (and answered), its own otherwise — marked unavailable, with
 * the reason, when the owner is another member that did not answer.
 */
export function listedRow(t: Target, board: TargetStatusBoard, owner: string | null, selfId: string, remote?: RemoteRows): ListedRow {
  if (remote && 'rows' in remote) {
    const r = remote.rows.get(t.name);
    if (r) return { ...r, owner, available: true };
  }
  if (owner !== null && owner !== selfId) {
    return {
      ...localRow(t, board),
      owner,
      available: false,
      status: 'unavailable',
      unavailable_reason: remote && 'unavailable' in remote ? remote.unavailable : 'the owner has not reported this target',
    };
  }
  return { ...localRow(t, board), owner, available: true };
}
