/**
 * Derived quality figures from one series of echo replies. Formulas (also in
 * docs/schema.md):
 *
 * - loss_pct = 100 * (sent - received) / sent
 * - rtt min/avg/max over received replies; rtt_stddev_ms = population standard deviation
 * - rtt_median_ms: the median of the received replies (mean of the middle two
 *   for an even count) — the line of a SmokePing-style chart
 * - rtt_p10_ms, rtt_p25_ms, rtt_p75_ms, rtt_p90_ms: percentiles of the
 *   received replies, linear between the closest ranks (p = rank / (n - 1),
 *   the median above is p50 of the same rule) — SmokePing's smoke
 * - rtts_ms: every echo in send order as a JSON array, null for a lost one
 * - jitter_ms = mean |RTT(i) - RTT(i-1)| over consecutive *received* replies
 *   (the instantaneous inter-arrival variation D(i-1,i) of RFC 3550 §6.4.1,
 *   averaged plainly instead of RFC 3550's 1/16 smoothing, since a slot has
 *   only a handful of samples). Needs 2 replies.
 * - R-factor, simplified ITU-T G.107 E-model (Cole & Rosenbluth 2001) for
 *   G.711 with packet-loss concealment:
 *     d      = rtt_avg / 2 + 2 * jitter            (one-way delay plus a jitter buffer of 2x jitter, ms)
 *     Id     = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)
 *     Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl + Bpl),  Ie = 0, Bpl = 25.1 (G.113 App. I), Ppl = loss_pct
 *     R      = 93.2 - Id - Ie_eff, clamped to [0, 100]
 * - MOS (G.107 Annex B): 1 if R <= 0, 4.5 if R >= 100, else 1 + 0.035 R + 7e-6 R (R - 60)(100 - R)
 * With no reply there is no delay to put in the model: rtt, jitter, R and MOS
 * are left out of the point rather than invented.
 */
export interface EchoStats {
  sent: number;
  received: number;
  lossPct: number;
  rttMinMs?: number;
  rttAvgMs?: number;
  rttMaxMs?: number;
  rttMedianMs?: number;
  /** p10, p25, p75, p90 of the received replies. */
  rttPercentilesMs?: { p10: number; p25: number; p75: number; p90: number };
  rttStddevMs?: number;
  jitterMs?: number;
  rFactor?: number;
  mos?: number;
}

const r3 = (n: number) => Math.round(n * 1000) / 1000;

export function echoStats(rtts: readonly (number | null)[]): EchoStats {
  const sent = rtts.length;
  const got = rtts.filter((r): r is number => r !== null);
  const received = got.length;
  const lossPct = sent === 0 ? 100 : r3((100 * (sent - received)) / sent);
  const s: EchoStats = { sent, received, lossPct };
  if (received === 0) return s;
  const avg = got.reduce((a, b) => a + b, 0) / received;
  const variance = got.reduce((a, b) => a + (b - avg) ** 2, 0) / received;
  s.rttMinMs = r3(Math.min(...got));
  s.rttMaxMs = r3(Math.max(...got));
  s.rttAvgMs = r3(avg);
  const sorted = [...got].sort((a, b) => a - b);
  const mid = received >> 1;
  s.rttMedianMs = r3(received % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2);
  s.rttPercentilesMs = { p10: r3(percentile(sorted, 10)), p25: r3(percentile(sorted, 25)), p75: r3(percentile(sorted, 75)), p90: r3(percentile(sorted, 90)) };
  s.rttStddevMs = r3(Math.sqrt(variance));
  if (received >= 2) {
    let sum = 0;
    for (let i = 1; i < received; i++) sum += Math.abs(got[i]! - got[i - 1]!);
    s.jitterMs = r3(sum / (received - 1));
  }
  const r = rFactor(avg, s.jitterMs ?? 0, lossPct);
  s.rFactor = r3(r);
  s.mos = r3(mosFromR(r));
  return s;
}

/** Percentile `p` (0-100) of ascending values, linear between the closest ranks (numpy's default). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 1) return sorted[0]!;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function rFactor(rttAvgMs: number, jitterMs: number, lossPct: number): number {
  const d = rttAvgMs / 2 + 2 * jitterMs;
  const id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
  const bpl = 25.1;
  const ieEff = (95 * lossPct) / (lossPct + bpl);
  return Math.min(100, Math.max(0, 93.2 - id - ieEff));
}

export function mosFromR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r);
}
