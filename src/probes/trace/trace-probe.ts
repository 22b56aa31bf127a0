import type { Logger } from 'pino';
import type { Sample } from '../../samples/sample.js';
import { excerpt, type ProcessRunner } from '../tools/process-runner.js';
import { reasonForError } from '../reasons.js';
import { resolveHost } from '../resolve.js';
import type { Probe, ProbeOutcome, Reason } from '../types.js';
import { MtrParseError, parseMtrRaw } from './mtr-raw.js';
import type { ReverseDns } from './reverse-dns.js';
import { summarizeTrace, traceModel, type TraceSummary } from './route.js';
import { DEFAULT_ROUTE_CHANGE_CONFIRM, routePath, track, type Verdict } from './route-change.js';
import type { RouteMemory } from './route-memory.js';

export interface TraceSpec {
  protocol: 'icmp' | 'udp' | 'tcp';
  /** Destination port for udp/tcp traces. */
  port: number | null;
  maxHops: number;
  cycles: number;
  /** Seconds between mtr cycles (mtr -i; below 1 needs root). */
  packetIntervalS: number;
  /** Seconds mtr waits for late replies after its last cycle (mtr -G). */
  graceS: number;
  /** Trace every this many seconds (a whole multiple of the target interval). */
  intervalS: number;
}

/** mtr is given the probe timeout minus this, so its own deadline comes first. */
export const TRACE_TIMEOUT_MARGIN_S = 0.05;

export interface TraceOptions {
  mtrPath: string;
  reverseDns?: ReverseDns;
  /** Consecutive traces that must agree on a new route before it is a change (ROUTE_CHANGE_CONFIRM, default 2). */
  confirm?: number;
}

/** mtr arguments for one trace of `ip`. */
export function mtrArgs(tr: TraceSpec, ip: string, family: 4 | 6): string[] {
  const args = ['--raw', '-n', '-c', String(tr.cycles), '-i', String(tr.packetIntervalS), '-G', String(tr.graceS), '-m', String(tr.maxHops)];
  if (tr.protocol === 'udp') args.push('-u');
  if (tr.protocol === 'tcp') args.push('-T');
  if (tr.protocol !== 'icmp' && tr.port !== null) args.push('-P', String(tr.port));
  args.push(family === 6 ? '-6' : '-4', ip);
  return args;
}

/**
 * The route to the target with mtr (--raw, see mtr-raw.ts): a `route` point
 * with the summary and a `hop` point per TTL. Each trace is read against the
 * target's confirmed route (route-change.ts, kept on disk across restarts):
 * route_changed is true on the trace that confirms a change.
 */
export function createTraceProbe(runner: ProcessRunner, memory: RouteMemory, o: TraceOptions, log: Logger): Probe<TraceSpec> {
  return async ({ target, timeMs, tags, signal }, spec): Promise<ProbeOutcome> => {
    const route: Sample<'route'> = { measurement: 'route', tags: { ...tags, protocol: spec.protocol }, fields: { success: false }, timeMs };
    const fail = (reason: Reason, detail: string): ProbeOutcome => ({ success: false, reason, detail, samples: [route], summary: {} });
    let ip: string;
    let family: 4 | 6;
    try {
      ({ address: ip, family } = await resolveHost(target.host, target.family));
    } catch (err) {
      const r = reasonForError(err, signal);
      return fail(r.reason, r.detail);
    }
    route.fields.ip = ip;
    const run = await runner.run(o.mtrPath, mtrArgs(spec, ip, family), { timeoutMs: (target.timeoutS - TRACE_TIMEOUT_MARGIN_S) * 1000, signal });
    if (run.spawnError) {
      const code = run.spawnError.code;
      return code === 'ENOENT'
        ? fail('tool_missing', `${o.mtrPath} not found: apt-get install mtr-tiny`)
        : code === 'EPERM'
          ? fail('no_permission', `${code}: ${run.spawnError.message} — mtr's CAP_NET_RAW is outside this process's capability bounding set: run as root, or keep NET_RAW`)
          : fail(code === 'EACCES' ? 'no_permission' : 'tool_error', `${code}: ${run.spawnError.message}`);
    }
    if (run.killed) {
      const reason: Reason = run.killed === 'output_limit' ? 'tool_error' : reasonForError(signal.reason, signal).reason === 'aborted' ? 'aborted' : 'timeout';
      return fail(reason, `mtr ${run.killed} after ${run.durationMs} ms`);
    }
    if (run.code !== 0) {
      const err = excerpt(run.stderr || run.stdout);
      if (/permission|not permitted|raw socket|Failure to open/i.test(err)) return fail('no_permission', `${err} — run as root or give mtr-packet CAP_NET_RAW`);
      if (/non-root users cannot/i.test(err)) return fail('no_permission', `${err} — set TRACE_PACKET_INTERVAL >= 1 when not root`);
      // mtr runs mtr-packet, which carries the capability; the kernel refuses to start it when NET_RAW
      // is outside the bounding set, and mtr reports that as "Invalid argument" (or EPERM).
      if (/Failure to start mtr-packet/i.test(err) && !/No such file/i.test(err)) {
        return fail('no_permission', `${err} — mtr-packet cannot get CAP_NET_RAW here: run as root, or keep NET_RAW in the capability bounding set (Docker --cap-add NET_RAW, Kubernetes capabilities.add, systemd CapabilityBoundingSet)`);
      }
      return fail('tool_error', `mtr exit ${run.code}: ${err}`);
    }
    let trace: ReturnType<typeof parseMtrRaw>;
    try {
      trace = parseMtrRaw(run.stdout);
    } catch (err) {
      if (!(err instanceof MtrParseError)) throw err;
      log.warn({ target: target.name, excerpt: excerpt(run.stdout, 300) }, 'mtr output could not be parsed');
      return fail('parse_error', `${err.message}: ${excerpt(run.stdout, 120)}`);
    }
    if (trace.unparsed.length) log.warn({ target: target.name, lines: trace.unparsed.slice(0, 5) }, 'mtr printed lines we do not understand');

    const confirm = o.confirm ?? DEFAULT_ROUTE_CHANGE_CONFIRM;
    const { state, verdict } = track(memory.state(target.name), traceModel(trace, ip), ip, {
      timeMs,
      confirm,
      staleMs: (confirm + 1) * spec.intervalS * 1000,
    });
    memory.save(target.name, state);
    logVerdict(log, target.name, verdict, timeMs);
    const summary: TraceSummary = summarizeTrace(trace, ip, verdict.ref);
    const changed = verdict.changed;

    const names = o.reverseDns ? await o.reverseDns.names(summary.hops.flatMap((h) => (h.ip === '*' ? [] : [h.ip])), 1500) : new Map<string, string>();
    const hops: Sample<'hop'>[] = summary.hops.map((h) => ({
      measurement: 'hop',
      tags: { ...tags, ttl: String(h.ttl) },
      fields: {
        ip: h.ip,
        hostname: names.get(h.ip),
        ecmp_ips: h.others.length ? h.others.join(',') : undefined,
        loss_pct: h.lossPct,
        sent: h.sent,
        rtt_avg_ms: h.rttAvgMs,
        rtt_best_ms: h.rttBestMs,
        rtt_worst_ms: h.rttWorstMs,
        rtt_stddev_ms: h.rttStddevMs,
      },
      timeMs,
    }));
    Object.assign(route.fields, {
      success: summary.reached,
      hop_count: summary.hopCount,
      reached: summary.reached,
      responding_hops: summary.respondingHops,
      path: summary.path,
      route_hash: verdict.id,
      route_path: routePath(state.confirmed),
      route_changed: changed,
      route_pending: verdict.pending,
      route_diff: verdict.diff,
      route_first_seen_ms: verdict.firstSeenMs,
    });
    const result = {
      samples: [route, ...hops],
      summary: { ip, hop_count: summary.hopCount, reached: summary.reached, route_changed: changed, path: summary.path, ...(verdict.diff ? { route_diff: verdict.diff } : {}) },
    };
    const tried = trace.hops.at(-1)?.ttl ?? 0;
    if (!summary.reached) return { success: false, reason: 'not_reached', detail: `${ip} did not answer within ${tried} hops`, ...result };
    return { success: true, ...result };
  };
}

function logVerdict(log: Logger, target: string, v: Verdict, timeMs: number): void {
  if (v.changed) log.info({ target, diff: v.diff, first_seen: new Date(v.firstSeenMs ?? timeMs).toISOString(), route_hash: v.id }, 'route changed');
  if (v.learned.length) log.debug({ target, ecmp: v.learned }, 'route: addresses alternating at one TTL kept as one hop (ECMP)');
}
