import type { Thresholds } from '../config/targets.js';
import type { ThresholdDef } from '../probes/module.js';

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
export type TargetStatus = 'ok' | 'degraded' | 'failing' | 'unknown';

/** Numeric value of `telemetry_target_state` (unknown has no series). */
export const STATE_VALUE: Record<Exclude<TargetStatus, 'unknown'>, number> = { ok: 0, degraded: 1, failing: 2 };

/** A threshold a figure crossed in a probe's last run. */
export interface Crossed {
  /** Threshold key (`loss_pct`). */
  threshold: string;
  probe: string;
  value: number;
  limit: number;
  when: 'above' | 'below';
  unit: string;
}

/** One line for the overview and the log: `loss_pct 20 % >= 5 %`. */
export function describeCrossed(c: Crossed): string {
  return `${c.threshold} ${round(c.value)} ${c.unit} ${c.when === 'above' ? '>=' : '<='} ${c.limit} ${c.unit}`;
}

const round = (v: number) => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100);

/** The thresholds each sample of a probe run crossed. */
export function crossedBy(
  probe: string,
  samples: readonly { measurement: string; fields: Record<string, unknown> }[],
  thresholds: Thresholds,
  defs: readonly ThresholdDef[],
): Crossed[] {
  const out: Crossed[] = [];
  for (const s of samples) {
    for (const d of defs) {
      if (d.measurement !== s.measurement) continue;
      const limit = thresholds.limits[d.key];
      const value = s.fields[d.field];
      if (limit === null || limit === undefined || typeof value !== 'number' || !Number.isFinite(value)) continue;
      if (d.when === 'above' ? value >= limit : value <= limit) out.push({ threshold: d.key, probe, value, limit, when: d.when, unit: d.unit });
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
