import type { Thresholds } from '../config/targets.js';
import { crosses, type FigureSpec } from '../probes/view.js';
import type { Crossed as ApiCrossed, Status } from '../web/api-types.js';

/**
 * A target's state, from the last run of each of its probes:
 *
 *   failing   a probe failed (no answer, refused, 100 % loss, bad status...)
 *   degraded  every probe answers, but a figure crossed its threshold
 *   ok        every probe answers within its thresholds
 *   unknown   no probe has run yet
 *
 * (`unavailable` is added by the data API for a target whose owner in a
 * cluster does not answer.) With STATE_HYSTERESIS_SLOTS = N > 1 the shown
 * state changes only once N consecutive slots agree on the new one, so a
 * single bad slot does not flap it; the first state is taken at once.
 */
export type TargetStatus = Exclude<Status, 'unavailable'>;

/** Numeric value of `telemetry_target_state` (unknown has no series). */
export const STATE_VALUE: Record<Exclude<TargetStatus, 'unknown'>, number> = { ok: 0, degraded: 1, failing: 2 };

/** A threshold a figure crossed in a probe's last run (the API's, before its line of text is added). */
export type Crossed = Omit<ApiCrossed, 'text'>;

/** One line for the overview and the log: `loss_pct 20 % >= 5 %`. */
export function describeCrossed(c: Crossed): string {
  return `${c.threshold} ${round(c.value)} ${c.unit} ${c.when === 'above' ? '>=' : '<='} ${c.limit} ${c.unit}`;
}

const round = (v: number) => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100);

/**
 * The thresholds the points of one probe run crossed: each figure the
 * probes declare with a threshold (probes/<kind>/view.ts), read from the
 * point it comes from and compared with the target's limit.
 */
export function crossedBy(
  probe: string,
  samples: readonly { measurement: string; fields: Record<string, unknown> }[],
  thresholds: Thresholds,
  figures: readonly FigureSpec[],
): Crossed[] {
  const out: Crossed[] = [];
  for (const s of samples) {
    for (const f of figures) {
      if (f.measurement !== s.measurement || !f.threshold) continue;
      const limit = thresholds.limits[f.threshold.name];
      const field = (f.fields ?? []).find((k) => typeof s.fields[k] === 'number' && Number.isFinite(s.fields[k]));
      const value = field === undefined ? null : (s.fields[field] as number);
      if (limit === null || limit === undefined || value === null || !crosses(f, value, limit)) continue;
      out.push({ threshold: f.threshold.name, probe, value, limit, when: f.threshold.worse === 'higher' ? 'above' : 'below', unit: f.unit === 'time' ? '' : f.unit });
    }
  }
  return out;
}

/** The state the last runs say, before hysteresis. */
export function rawStatus(probes: Iterable<{ success: boolean; crossed: readonly Crossed[] }>): TargetStatus {
  let any = false;
  let degraded = false;
  for (const p of probes) {
    any = true;
    if (!p.success) return 'failing';
    if (p.crossed.length) degraded = true;
  }
  return !any ? 'unknown' : degraded ? 'degraded' : 'ok';
}

/** The shown state of one target, held until `slots` consecutive slots agree on a new one. */
export class StateHysteresis {
  state: TargetStatus = 'unknown';
  /** When the shown state began, epoch ms. */
  since = 0;
  private candidate: TargetStatus | null = null;
  private candidateSlots = 0;
  private lastSlot = -1;

  /** Feed the raw state after a run of slot `slotMs`; returns the previous state when the shown one changed. */
  feed(raw: TargetStatus, slotMs: number, slots: number, now: number): TargetStatus | undefined {
    if (raw === this.state) {
      this.candidate = null;
      return undefined;
    }
    if (raw !== this.candidate) {
      this.candidate = raw;
      this.candidateSlots = 1;
      this.lastSlot = slotMs;
    } else if (slotMs !== this.lastSlot) {
      this.candidateSlots++;
      this.lastSlot = slotMs;
    }
    if (this.state !== 'unknown' && raw !== 'unknown' && this.candidateSlots < slots) return undefined;
    const prev = this.state;
    this.state = raw;
    this.since = now;
    this.candidate = null;
    return prev;
  }

  /** Set without a change event (a state restored after a restart). */
  restore(state: TargetStatus, since: number): void {
    this.state = state;
    this.since = since;
    this.candidate = null;
  }
}
