import type { AnySample } from '../samples/sample.js';

/**
 * Why a probe failed. Stable strings: they are the `reason` field of the
 * `probe` measurement and the label of telemetry_probe_failures_total.
 */
export const REASONS = [
  'timeout',
  'refused',
  'unreachable',
  'unknown_host',
  'dns_error',
  'tls_error',
  'bad_status',
  'circuit_open',
  'connection_reset',
  'network_error',
  'protocol_error',
  'rcode',
  'no_answer',
  'packet_loss',
  'not_reached',
  'parse_error',
  'no_permission',
  'tool_missing',
  'tool_error',
  'aborted',
  'internal_error',
] as const;
export type Reason = (typeof REASONS)[number];

/** What a probe knows of its target (its own settings come as the second argument). */
export interface TargetRef {
  /** Tag value `target`. */
  name: string;
  /** FQDN or IP address. */
  host: string;
  /** Address family to resolve the host in; null = what the resolver returns first. */
  family: 4 | 6 | null;
  intervalS: number;
  /** Deadline of one probe run of this target, in seconds. */
  timeoutS: number;
}

export interface ProbeContext {
  target: TargetRef;
  /** Timestamp of every sample of this run (slot start, or request time for ad-hoc runs). */
  timeMs: number;
  /** `target`, `source` and (ad-hoc runs) `mode` tags. */
  tags: Record<string, string>;
  /** Aborts at the probe deadline (reason DeadlineError) or at shutdown. */
  signal: AbortSignal;
}

/** What a probe resolves to: never a throw for a dead, slow or wrong target. */
export interface ProbeOutcome {
  success: boolean;
  reason?: Reason;
  /** Human detail for the reason (error code, status, excerpt). */
  detail?: string;
  /** The measurement points of this probe (ping, route, hop, http, dns, tcp). */
  samples: AnySample[];
  /** The main figures, for POST /collect and `collect --once`. */
  summary: Record<string, number | string | boolean | null>;
}

export interface ProbeResult extends ProbeOutcome {
  target: string;
  probe: string;
  durationMs: number;
}

/** One signature for every probe kind: the context and this target's settings of the probe. */
export type Probe<Spec = unknown> = (ctx: ProbeContext, spec: Spec) => Promise<ProbeOutcome>;

export function failure(reason: Reason, detail: string | undefined, samples: AnySample[] = [], summary: ProbeOutcome['summary'] = {}): ProbeOutcome {
  return { success: false, reason, detail, samples, summary };
}
