/**
 * Redis's clock minus ours, estimated the way NTP does from each heartbeat:
 * Redis read its clock somewhere between our send and our receive, so
 * offset = redisTime - (sent + received) / 2, wrong by at most half the round
 * trip. The estimate is the sample with the shortest round trip among the
 * recent ones: a heartbeat held up by a stalled Redis says little about the
 * clocks and is outweighed by any quick one.
 */
export class ClockOffset {
  private readonly samples: { offsetMs: number; rttMs: number }[] = [];

  constructor(private readonly keep = 16) {}

  add(sentMs: number, receivedMs: number, redisMs: number): void {
    this.samples.push({ offsetMs: redisMs - (sentMs + receivedMs) / 2, rttMs: Math.max(0, receivedMs - sentMs) });
    if (this.samples.length > this.keep) this.samples.shift();
  }

  /** The best estimate, or undefined before the first sample. */
  get offsetMs(): number | undefined {
    return this.best?.offsetMs;
  }

  /** Half the round trip of the sample in use: the most the estimate can be off by. */
  get errorMs(): number | undefined {
    const b = this.best;
    return b && b.rttMs / 2;
  }

  private get best(): { offsetMs: number; rttMs: number } | undefined {
    let best: { offsetMs: number; rttMs: number } | undefined;
    for (const s of this.samples) if (!best || s.rttMs < best.rttMs) best = s;
    return best;
  }
}
