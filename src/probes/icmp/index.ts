import { z } from 'zod';
import { int, seconds, threshold } from '../../env/zod-env.js';
import { SpecError, type ProbeModule } from '../module.js';
import { createIcmpProbe, FpingBatcher, type IcmpSpec } from './icmp-probe.js';
import { PING } from './measurements.js';
import { PING_FIGURES, PING_METRICS, PING_PANEL, PING_ROLLUP, PING_SPARKLINE } from './view.js';

/** Echo requests must leave room for the last reply: this share of the timeout at most. */
const SEND_SHARE = 0.9;

/** Environment variables of the icmp probe (docs/configuration.md). */
const env = {
  /** Echo requests per target per slot: SmokePing's 20, so its loss colours (1/20 = 5 %) can occur in one slot. */
  ICMP_COUNT: int(20, 1, 1000),
  /** Seconds between the echo requests to one target (fping -p): 20 echoes take 0.95 s. */
  ICMP_PACKET_INTERVAL: seconds(0.05, 0.01, 60),
  /** How long an fping batch waits to fill up before it starts. */
  ICMP_BATCH_WAIT: seconds(0.05, 0, 10),
  FPING_PATH: z.string().default('fping'),
  /** Loss (%) at or above which a target that answers is degraded. */
  THRESHOLD_LOSS_PCT: threshold(5),
  /** Median RTT (ms) at or above which a target is degraded; none by default. */
  THRESHOLD_RTT_MS: threshold(),
  /** Jitter (ms) at or above which a target is degraded; none by default. */
  THRESHOLD_JITTER_MS: threshold(),
};

/** ICMP echo: latency, loss, jitter, MOS — see README.md in this folder. */
export const icmpModule = {
  kind: 'icmp',
  describe: 'ICMP echo with fping: latency, loss, jitter, MOS',
  env,
  block: z.strictObject({
    count: z.number().int().min(1).max(1000).optional(),
    packet_interval: z.number().min(0.01).max(60).optional(),
  }),
  defaultFor: ['name', 'address'],
  measurements: { ping: PING },
  rollups: [PING_ROLLUP],
  figures: PING_FIGURES,
  panel: PING_PANEL,
  targetMetrics: PING_METRICS,
  sparkline: PING_SPARKLINE,
  pool: 'pingRunner',
  spec(raw, ctx): IcmpSpec {
    const block = (raw ?? {}) as { count?: number; packet_interval?: number };
    const spec = { count: block.count ?? ctx.env.ICMP_COUNT, packetIntervalS: block.packet_interval ?? ctx.env.ICMP_PACKET_INTERVAL };
    const room = ctx.timeoutS * SEND_SHARE;
    if (spec.count * spec.packetIntervalS <= room) return spec;
    const countSet = block.count !== undefined || ctx.explicit.has('ICMP_COUNT');
    const spacingSet = block.packet_interval !== undefined || ctx.explicit.has('ICMP_PACKET_INTERVAL');
    if (!countSet) {
      const fit = Math.floor(room / spec.packetIntervalS + 1e-9);
      if (fit >= 1) {
        ctx.note(`icmp: ${spec.count} -> ${fit} echo requests per slot (ICMP_COUNT) to fit the ${ctx.timeoutS} s probe timeout`);
        return { ...spec, count: fit };
      }
    }
    if (!spacingSet) {
      const spacing = Math.max(0.01, Math.floor((room / spec.count) * 100) / 100);
      if (spec.count * spacing <= room) {
        ctx.note(`icmp: echo requests ${spec.packetIntervalS} -> ${spacing} s apart (ICMP_PACKET_INTERVAL) to fit the ${ctx.timeoutS} s probe timeout`);
        return { ...spec, packetIntervalS: spacing };
      }
    }
    throw new SpecError(
      `icmp: ${spec.count} echo requests ${spec.packetIntervalS} s apart do not fit in the ${ctx.timeoutS} s probe timeout: ` +
        'lower ICMP_COUNT or ICMP_PACKET_INTERVAL (or icmp.count / icmp.packet_interval), or raise PROBE_TIMEOUT',
    );
  },
  // fping sends the last request (count - 1) spacings after the first.
  minDurationS: (s: IcmpSpec) => (s.count - 1) * s.packetIntervalS,
  summary: (s: IcmpSpec) => `${s.count} echo requests ${s.packetIntervalS} s apart`,
  create: (deps) =>
    createIcmpProbe(
      new FpingBatcher(deps.pingRunner, { fpingPath: deps.env.FPING_PATH, batchSize: deps.env.BATCH_SIZE, batchWaitMs: deps.env.ICMP_BATCH_WAIT * 1000 }, deps.log),
    ),
} satisfies ProbeModule<IcmpSpec, typeof env>;

export type { IcmpSpec };
