import type { ProbeKind, Target } from '../config/targets.js';
import { unitHash } from '../util/hash.js';

/** Start of the slot containing `nowMs` (slots are aligned to the epoch, so replicas agree). */
export function slotStart(nowMs: number, intervalMs: number): number {
  return Math.floor(nowMs / intervalMs) * intervalMs;
}

/**
 * Where in its slot a target starts: a stable hash of its name spread over
 * the whole interval (whole milliseconds). Every replica computes the same
 * offset, so a handover keeps the rhythm.
 */
export function slotOffsetMs(targetName: string, intervalMs: number): number {
  return Math.floor(unitHash(targetName) * intervalMs);
}

/** Probes due in this slot: trace only on slots that are multiples of its own interval. */
export function kindsForSlot(target: Target, slotMs: number): ProbeKind[] {
  return target.probes.filter((k) => k !== 'trace' || slotMs % (target.trace.intervalS * 1000) === 0);
}
