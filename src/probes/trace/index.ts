import { z } from 'zod';
import { bool, int, seconds } from '../../env/zod-env.js';
import { SpecError, type ProbeModule } from '../module.js';
import { HOP, ROUTE } from './measurements.js';
import { ReverseDns } from './reverse-dns.js';
import { DEFAULT_ROUTE_CHANGE_CONFIRM } from './route-change.js';
import { createTraceProbe, type TraceSpec, TRACE_TIMEOUT_MARGIN_S } from './trace-probe.js';
import { ROUTE_FIGURES, ROUTE_METRICS, ROUTE_PANEL } from './view.js';

const MIN_GRACE_S = 0.2;

/**
 * How long an mtr run takes, as measured, not as its options add up: mtr
 * spreads its probes over more than the cycles it is asked for before it
 * knows the path, and a run to loopback or to an unreached address lasts
 * longest. Seconds, mtr 0.95, a 2-core machine under load (load average
 * about 30), two runs each:
 *
 *   options              loopback  4 hops  unreached
 *   -c 1 -i 1   -G 0.1   2.5       1.3     2.3
 *   -c 1 -i 1   -G 1     2.6       2.0     3.2
 *   -c 2 -i 1   -G 0.1   3.6       2.3     3.3
 *   -c 3 -i 1   -G 1     4.4       4.1     6.0
 *   -c 1 -i 0.8 -G 0.2   2.1       1.2     2.2
 *   -c 1 -i 0.5 -G 0.2   1.4       0.9     1.5
 *   -c 3 -i 0.2 -G 0.3   1.3       1.0     1.3
 *   -c 1 -i 0.1 -G 0.1   0.5
 *
 * (cycles + 1.5) x spacing + grace + 0.25 s (start-up) covers them all but
 * the unreached 3-cycle run, which only the long default timeouts allow.
 * Adding cycles x spacing + grace, as this once did, let COLLECTION_INTERVAL=2
 * and 2.5 time out every trace.
 */
export function mtrRunS(s: Pick<TraceSpec, 'cycles' | 'packetIntervalS' | 'graceS'>): number {
  return (s.cycles + 1.5) * s.packetIntervalS + s.graceS + MTR_START_S;
}
const MTR_START_S = 0.25;
/** The shortest spacing mtr allows a user who is not root (it refuses -i below 1 s). */
const NON_ROOT_MIN_SPACING_S = 1;

const protocol = z.enum(['icmp', 'udp', 'tcp']);

/** Environment variables of the trace probe (docs/configuration.md). */
const env = {
  /** Trace every N seconds (a whole multiple of COLLECTION_INTERVAL); default: every slot. */
  TRACE_INTERVAL: z.coerce.number().min(1).max(86_400).optional(),
  TRACE_CYCLES: int(3, 1, 100),
  TRACE_MAX_HOPS: int(30, 1, 64),
  TRACE_PROTOCOL: protocol.default('icmp'),
  TRACE_PACKET_INTERVAL: seconds(1, 0.1, 60),
  TRACE_GRACE: seconds(1, 0.1, 30),
  TRACE_REVERSE_DNS: bool(false),
  /** Consecutive traces that must agree on a new route before it counts as a change (route-change.ts). */
  ROUTE_CHANGE_CONFIRM: int(DEFAULT_ROUTE_CHANGE_CONFIRM, 1, 10),
  MTR_PATH: z.string().default('mtr'),
};

/** `TRACE_GRACE 1 -> 0.8, TRACE_GRACE 0.8 -> 0.5` says `TRACE_GRACE 1 -> 0.5`. */
function mergeChanges(changes: string[]): string[] {
  const first = new Map<string, string>();
  const last = new Map<string, string>();
  for (const c of changes) {
    const [name, from, , to] = c.split(' ');
    if (!first.has(name!)) first.set(name!, from!);
    last.set(name!, to!);
  }
  return [...first].map(([name, from]) => `${name} ${from} -> ${last.get(name)}`);
}

/** The route and every hop with mtr --raw — see README.md in this folder. */
export const traceModule = {
  kind: 'trace',
  describe: 'route and hops with mtr: hop count, path, route changes, per-hop loss and rtt',
  env,
  block: z.strictObject({
    protocol: protocol.optional(),
    port: z.number().int().min(1).max(65535).optional(),
    max_hops: z.number().int().min(1).max(64).optional(),
    cycles: z.number().int().min(1).max(100).optional(),
    packet_interval: z.number().min(0.1).max(60).optional(),
    interval: z.number().min(1).max(86_400).optional(),
  }),
  defaultFor: ['name', 'address'],
  measurements: { route: ROUTE, hop: HOP },
  figures: ROUTE_FIGURES,
  panel: ROUTE_PANEL,
  targetMetrics: ROUTE_METRICS,
  pool: 'traceRunner',
  spec(raw, ctx): TraceSpec {
    type Block = { protocol?: TraceSpec['protocol']; port?: number; max_hops?: number; cycles?: number; packet_interval?: number; interval?: number };
    const b = (raw ?? {}) as Block;
    const env = ctx.env;
    const proto = b.protocol ?? env.TRACE_PROTOCOL;
    const spec: TraceSpec = {
      protocol: proto,
      port: b.port ?? (proto === 'tcp' ? 443 : null),
      maxHops: b.max_hops ?? env.TRACE_MAX_HOPS,
      cycles: b.cycles ?? env.TRACE_CYCLES,
      packetIntervalS: b.packet_interval ?? env.TRACE_PACKET_INTERVAL,
      graceS: env.TRACE_GRACE,
      intervalS: b.interval ?? env.TRACE_INTERVAL ?? ctx.intervalS,
    };

    // How often: a whole multiple of the target's interval.
    const ratio = spec.intervalS / ctx.intervalS;
    if (ratio < 1 || Math.abs(ratio - Math.round(ratio)) > 1e-9) {
      const setting = b.interval !== undefined ? 'trace.interval' : 'TRACE_INTERVAL';
      const up = Math.max(1, Math.ceil(ratio - 1e-9)) * ctx.intervalS;
      throw new SpecError(`${setting}: ${spec.intervalS} s is not a whole multiple of the ${ctx.intervalS} s interval: set it to ${up} (or another multiple)`);
    }

    // Fit inside the probe timeout: adapt what the user did not set, aiming a
    // tenth below the limit (the measured run times already carry a loaded
    // machine's start-up).
    const limit = ctx.timeoutS - TRACE_TIMEOUT_MARGIN_S;
    const room = limit * 0.9;
    const need = mtrRunS;
    if (need(spec) < room) return spec;
    const before = `${spec.cycles} cycles ${spec.packetIntervalS} s apart plus ${spec.graceS} s grace take about ${need(spec).toFixed(1)} s`;
    const changed: string[] = [];
    const graceFree = !ctx.explicit.has('TRACE_GRACE');
    /** What `room` leaves once mtr's start-up is counted. */
    const left = () => room - MTR_START_S;
    const shrinkGrace = (floor: number) => {
      if (!graceFree || need(spec) < room) return;
      const grace = Math.max(floor, Math.floor((left() - (spec.cycles + 1.5) * spec.packetIntervalS) * 0.9 * 10) / 10);
      if (grace < spec.graceS) (changed.push(`TRACE_GRACE ${spec.graceS} -> ${grace}`), (spec.graceS = grace));
    };
    // Late replies matter less than cycles: a shorter grace first, then fewer cycles, then the shortest grace.
    shrinkGrace(0.5);
    const cyclesFree = b.cycles === undefined && !ctx.explicit.has('TRACE_CYCLES');
    if (need(spec) >= room && cyclesFree) {
      const fit = Math.max(1, Math.floor((left() - spec.graceS) / spec.packetIntervalS - 1.5 - 1e-9));
      if (fit < spec.cycles) (changed.push(`TRACE_CYCLES ${spec.cycles} -> ${fit}`), (spec.cycles = fit));
    }
    shrinkGrace(MIN_GRACE_S);
    // mtr refuses -i below 1 s to anyone but root.
    const root = process.getuid?.() === 0;
    const spacingFree = b.packet_interval === undefined && !ctx.explicit.has('TRACE_PACKET_INTERVAL');
    if (need(spec) >= room && root && spacingFree) {
      const spacing = Math.max(0.1, Math.floor(((left() - spec.graceS) / (spec.cycles + 1.5)) * 0.9 * 10) / 10);
      if (spacing < spec.packetIntervalS) (changed.push(`TRACE_PACKET_INTERVAL ${spec.packetIntervalS} -> ${spacing}`), (spec.packetIntervalS = spacing));
    }
    if (need(spec) < room || (changed.length === 0 && need(spec) < limit)) {
      if (changed.length) ctx.note(`trace: ${mergeChanges(changed).join(', ')} to fit the ${ctx.timeoutS} s probe timeout`);
      return spec;
    }
    if (need(spec) < limit) {
      // Only values the user set are left: they fit, if tightly.
      if (changed.length) ctx.note(`trace: ${mergeChanges(changed).join(', ')} to fit the ${ctx.timeoutS} s probe timeout`);
      return spec;
    }
    if (!root && spacingFree && cyclesFree && graceFree) {
      // Nothing the user set, nothing left to shorten: mtr spaces cycles at least 1 s apart for a user who is not root.
      const minimum = need({ cycles: 1, packetIntervalS: NON_ROOT_MIN_SPACING_S, graceS: MIN_GRACE_S });
      // The shortest timeout that passes the tight fit above, and the interval whose default timeout (0.8 of it) reaches it.
      const timeout = Math.floor((minimum + TRACE_TIMEOUT_MARGIN_S) * 10 + 1) / 10;
      const raise = ctx.explicit.has('PROBE_TIMEOUT') ? `PROBE_TIMEOUT to ${timeout}` : `COLLECTION_INTERVAL to ${Math.ceil(timeout / 0.8)}`;
      throw new SpecError(
        `trace: one mtr cycle takes about ${minimum.toFixed(1)} s when not root (mtr spaces cycles at least 1 s apart), more than the ${ctx.timeoutS} s probe timeout allows: ` +
          `set ${raise} or more, run as root, or leave trace out (DEFAULT_PROBES, or the target's probes)`,
      );
    }
    throw new SpecError(
      `trace: ${before}, more than the ${ctx.timeoutS} s probe timeout allows: ` +
        'lower TRACE_CYCLES, TRACE_PACKET_INTERVAL or TRACE_GRACE (or trace.cycles / trace.packet_interval), or raise PROBE_TIMEOUT',
    );
  },
  everyS: (s: TraceSpec) => s.intervalS,
  // mtr runs its cycles, then waits the grace for late replies.
  minDurationS: (s: TraceSpec) => s.cycles * s.packetIntervalS + s.graceS,
  summary: (s: TraceSpec) =>
    `${s.protocol}${s.port ? `:${s.port}` : ''}, ${s.cycles} cycle${s.cycles === 1 ? '' : 's'} ${s.packetIntervalS} s apart, up to ${s.maxHops} hops, every ${s.intervalS} s`,
  create: (deps) =>
    createTraceProbe(
      deps.traceRunner,
      deps.routeMemory,
      { mtrPath: deps.env.MTR_PATH, reverseDns: deps.env.TRACE_REVERSE_DNS ? new ReverseDns(deps.cache) : undefined, confirm: deps.env.ROUTE_CHANGE_CONFIRM },
      deps.log,
    ),
} satisfies ProbeModule<TraceSpec, typeof env>;

export type { TraceSpec };
