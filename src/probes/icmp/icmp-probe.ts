import type { Logger } from 'pino';
import type { Sample } from '../../samples/sample.js';
import { excerpt, type ProcessRunner } from '../tools/process-runner.js';
import { reasonForError } from '../reasons.js';
import { resolveHost } from '../resolve.js';
import type { Probe, ProbeOutcome, Reason } from '../types.js';
import { parseFpingOutput } from './fping-output.js';
import { echoStats } from './qos.js';

export interface IcmpSpec {
  count: number;
  /** Seconds between two echo requests to this target (fping -p). */
  packetIntervalS: number;
}

export interface IcmpOptions {
  fpingPath: string;
  /** BATCH_SIZE: most addresses handed to one fping process. */
  batchSize: number;
  /** How long a batch waits for company before it starts (ICMP_BATCH_WAIT). */
  batchWaitMs: number;
}

type EchoResult = { rtts: (number | null)[]; icmpError?: string } | { reason: Reason; detail: string };

interface Pending {
  ip: string;
  resolve: (r: EchoResult) => void;
  deadline: number;
}

interface Batch {
  key: string;
  family: 4 | 6;
  count: number;
  periodMs: number;
  members: Pending[];
  ips: Set<string>;
  timer?: NodeJS.Timeout;
}

/**
 * Echo requests go out in batches: requests arriving within ICMP_BATCH_WAIT
 * with the same count/spacing/family share one `fping -C` process of up to
 * BATCH_SIZE addresses (each address once, its result fanned out to every
 * target on it). Process count per slot = ceil(targets / BATCH_SIZE) at best.
 */
export class FpingBatcher {
  private readonly open = new Map<string, Batch>();

  constructor(
    private readonly runner: ProcessRunner,
    private readonly opts: IcmpOptions,
    private readonly log: Logger,
  ) {}

  echo(ip: string, family: 4 | 6, spec: IcmpSpec, deadline: number): Promise<EchoResult> {
    const periodMs = Math.round(spec.packetIntervalS * 1000);
    const key = `${family}|${spec.count}|${periodMs}`;
    return new Promise<EchoResult>((resolve) => {
      let b = this.open.get(key);
      if (!b) {
        b = { key, family, count: spec.count, periodMs, members: [], ips: new Set() };
        this.open.set(key, b);
        const batch = b;
        b.timer = setTimeout(() => this.flush(batch), this.opts.batchWaitMs);
      }
      b.members.push({ ip, resolve, deadline });
      b.ips.add(ip);
      if (b.ips.size >= this.opts.batchSize) this.flush(b);
    });
  }

  private flush(b: Batch): void {
    if (this.open.get(b.key) !== b) return;
    this.open.delete(b.key);
    clearTimeout(b.timer);
    void this.run(b);
  }

  private async run(b: Batch): Promise<void> {
    const ips = [...b.ips];
    const budgetMs = b.members.reduce((lo, m) => Math.min(lo, m.deadline), Infinity) - Date.now();
    // Per-reply wait: what is left after the last request goes out, at most 2 s.
    // 30 % of the budget stays free for the process start and the batch wait:
    // with loss, fping waits the full reply timeout for a lost last echo, and on a
    // busy host a 10 % margin was not enough (the run was killed, its echoes unknown).
    const sendSpan = (b.count - 1) * b.periodMs;
    const perReplyMs = Math.max(50, Math.min(2000, Math.floor(budgetMs * 0.7 - sendSpan)));
    const args = ['-C', String(b.count), '-q', '-p', String(b.periodMs), '-t', String(perReplyMs), '-i', '1', '-B', '1', '-r', '0', b.family === 6 ? '-6' : '-4', ...ips];
    const run = await this.runner.run(this.opts.fpingPath, args, { timeoutMs: Math.max(100, budgetMs) });
    const fanOut = (r: (ip: string) => EchoResult) => b.members.forEach((m) => m.resolve(r(m.ip)));

    if (run.spawnError) {
      const code = run.spawnError.code;
      // EPERM: the kernel refused to start a binary whose file capability (cap_net_raw) is outside
      // our bounding set — a non-root user in a container or unit that dropped NET_RAW.
      const reason: Reason = code === 'ENOENT' ? 'tool_missing' : code === 'EACCES' || code === 'EPERM' ? 'no_permission' : 'tool_error';
      const detail =
        code === 'ENOENT'
          ? `${this.opts.fpingPath} not found: apt-get install fping`
          : code === 'EPERM'
            ? `${code}: ${run.spawnError.message} — fping's CAP_NET_RAW is outside this process's capability bounding set: run as root, or keep NET_RAW (Docker --cap-add NET_RAW, Kubernetes capabilities.add, systemd CapabilityBoundingSet)`
            : `${code}: ${run.spawnError.message}`;
      return fanOut(() => ({ reason, detail }));
    }
    if (run.killed) {
      const reason: Reason = run.killed === 'aborted' ? 'aborted' : run.killed === 'timeout' ? 'timeout' : 'tool_error';
      return fanOut(() => ({ reason, detail: `fping ${run.killed} after ${run.durationMs} ms` }));
    }
    const parsed = parseFpingOutput(run.stderr, b.count);
    // fping exits 4 ("system call error") when it cannot open an ICMP socket, sometimes silently.
    if (parsed.rtts.size === 0 && (run.code === 4 || /permission|not permitted|must run as root|can't create socket/i.test(run.stderr))) {
      return fanOut(() => ({ reason: 'no_permission', detail: `fping exit ${run.code}${run.stderr ? `: ${excerpt(run.stderr)}` : ''} — cannot open ICMP sockets: run as root or give fping CAP_NET_RAW` }));
    }
    if (parsed.unparsed.length) this.log.warn({ lines: parsed.unparsed.slice(0, 5).map((l) => excerpt(l)) }, 'fping printed lines we do not understand');
    fanOut((ip) => {
      const rtts = parsed.rtts.get(ip);
      if (!rtts) {
        this.log.warn({ ip, code: run.code, stderr: excerpt(run.stderr) }, 'no fping result line for address');
        return { reason: 'parse_error', detail: `no result line for ${ip} (exit ${run.code}): ${excerpt(run.stderr, 120)}` };
      }
      return { rtts, icmpError: parsed.errors.get(ip) };
    });
  }
}

/** ICMP echo probe: latency, loss, jitter, R-factor and MOS (see qos.ts). */
export function createIcmpProbe(batcher: FpingBatcher): Probe<IcmpSpec> {
  return async ({ target, timeMs, tags, signal }, spec): Promise<ProbeOutcome> => {
    const sample: Sample<'ping'> = { measurement: 'ping', tags: { ...tags, family: 'ipv4' }, fields: { success: false, sent: 0, received: 0 }, timeMs };
    let ip: string;
    let family: 4 | 6;
    try {
      ({ address: ip, family } = await resolveHost(target.host, target.family));
    } catch (err) {
      const { reason, detail } = reasonForError(err, signal);
      return { success: false, reason, detail, samples: [sample], summary: {} };
    }
    sample.tags.family = family === 6 ? 'ipv6' : 'ipv4';
    sample.fields.ip = ip;
    const deadline = Date.now() + target.timeoutS * 1000;
    const result = await raceAbort(batcher.echo(ip, family, spec, deadline), signal);
    if ('reason' in result) return { success: false, reason: result.reason, detail: result.detail, samples: [sample], summary: { ip } };

    const st = echoStats(result.rtts);
    Object.assign(sample.fields, {
      success: st.received > 0,
      sent: st.sent,
      received: st.received,
      loss_pct: st.lossPct,
      rtt_min_ms: st.rttMinMs,
      rtt_avg_ms: st.rttAvgMs,
      rtt_max_ms: st.rttMaxMs,
      rtt_median_ms: st.rttMedianMs,
      rtt_p10_ms: st.rttPercentilesMs?.p10,
      rtt_p25_ms: st.rttPercentilesMs?.p25,
      rtt_p75_ms: st.rttPercentilesMs?.p75,
      rtt_p90_ms: st.rttPercentilesMs?.p90,
      // Every echo as fping reported it, so a chart can draw the smoke and a person can check the figures.
      rtts_ms: JSON.stringify(result.rtts),
      rtt_stddev_ms: st.rttStddevMs,
      jitter_ms: st.jitterMs,
      r_factor: st.rFactor,
      mos: st.mos,
    });
    const summary = { ip, loss_pct: st.lossPct, rtt_avg_ms: st.rttAvgMs ?? null, jitter_ms: st.jitterMs ?? null, mos: st.mos ?? null };
    if (st.received === 0) {
      return { success: false, reason: 'unreachable', detail: result.icmpError ?? `no reply to ${st.sent} echo requests`, samples: [sample], summary };
    }
    return { success: true, samples: [sample], summary };
  };
}

/** Stop waiting when the probe's signal fires (the batch runs on for its other members). */
function raceAbort(p: Promise<EchoResult>, signal: AbortSignal): Promise<EchoResult> {
  if (signal.aborted) return Promise.resolve(abortResult(signal));
  return new Promise((resolve) => {
    const onAbort = () => resolve(abortResult(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then((r) => {
      signal.removeEventListener('abort', onAbort);
      resolve(r);
    });
  });
}

function abortResult(signal: AbortSignal): EchoResult {
  const { reason, detail } = reasonForError(signal.reason, signal);
  return { reason, detail };
}
