import type { Logger } from 'pino';
import type { Target } from '../config/targets.js';
import type { ComponentHealth } from '../lifecycle/component.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { ThresholdDef } from '../probes/module.js';
import { PROBE_MODULES } from '../probes/registry.js';
import type { ProbeResult } from '../probes/types.js';
import type { AnySample } from '../samples/sample.js';
import { crossedBy, describeCrossed, rawStatus, StateHysteresis, STATE_VALUE, type Crossed, type TargetStatus } from './target-state.js';

export type { TargetStatus } from './target-state.js';

/** Every probe module's thresholds, and which probe writes each measurement. */
const THRESHOLD_DEFS: readonly ThresholdDef[] = PROBE_MODULES.flatMap((m) => ('thresholds' in m ? m.thresholds : []) as readonly ThresholdDef[]);
const PROBE_OF_MEASUREMENT = new Map<string, string>(PROBE_MODULES.flatMap((m) => Object.keys(m.measurements).map((k) => [k, m.kind] as [string, string])));

/** The last run of one probe of one target. */
export interface ProbeState {
  probe: string;
  success: boolean;
  reason?: string;
  detail?: string;
  /** Slot (or ad-hoc request) time of the last run, epoch ms. */
  at: number;
  /** When the current state (ok or failing) began, epoch ms. */
  since: number;
  durationMs: number;
  /** Thresholds its last run crossed (the target is degraded while any is). */
  crossed: Crossed[];
}

/** Main figures of the last runs, for the overview. */
export interface LastFigures {
  time: number | null;
  rtt_ms: number | null;
  loss_pct: number | null;
  http_total_ms: number | null;
  dns_ms: number | null;
  tcp_ms: number | null;
}

export interface TargetState {
  probes: Map<string, ProbeState>;
  last: LastFigures;
  /** Time of the last trace that saw a different route, epoch ms. */
  routeChangedAt: number | null;
  /** The shown state and since when. */
  state: StateHysteresis;
}

/** What the embedded store remembers of a target (its `latest()` answer). */
export interface SeedState {
  target: string;
  measurements: Record<string, { time: string; fields: Record<string, number | string | boolean> }>;
  probes: { probe: string; success: boolean | null; reason: string | null; detail: string | null; duration_ms: number | null; at: string; since: string }[];
  route_changed_at: string | null;
}

const HTTP_PHASES = [
  ['dns', 'dns_ms'],
  ['connect', 'connect_ms'],
  ['tls', 'tls_ms'],
  ['ttfb', 'ttfb_ms'],
  ['transfer', 'transfer_ms'],
  ['total', 'total_ms'],
] as const;

/**
 * What the daemon knows of each target right now, from every probe result:
 * the last outcome per probe and since when, the main figures, the last route
 * change. It feeds the overview page, /health (every probe failing is
 * "degraded"), the per-target /metrics series (PER_TARGET_METRICS), and
 * logs a state change once — ok -> failing with the reason, failing -> ok —
 * instead of every round.
 */
export class TargetStatusBoard {
  private readonly states = new Map<string, TargetState>();
  /**
   * Target -> its probes, once a reload has set them. A result for anything
   * else comes from a probe that was in flight while the reload removed it:
   * recording it would bring back the series and state the reload dropped.
   */
  private configured?: ReadonlyMap<string, readonly string[]>;

  constructor(
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
    private readonly perTargetMetrics: boolean,
  ) {}

  /** Called for every stored probe result (scheduled and ad-hoc). */
  record(target: Target, r: ProbeResult, o: { timeMs: number }): void {
    if (this.configured && !this.configured.get(target.name)?.includes(r.probe)) return;
    const st = this.stateOf(target.name);
    const prev = st.probes.get(r.probe);
    const now = Date.now();
    const changed = !prev || prev.success !== r.success;
    st.probes.set(r.probe, {
      probe: r.probe,
      success: r.success,
      reason: r.reason,
      detail: r.detail,
      at: o.timeMs,
      since: changed ? now : prev.since,
      durationMs: r.durationMs,
      crossed: r.success ? crossedBy(r.probe, r.samples as AnySample[], target.thresholds, THRESHOLD_DEFS) : [],
    });
    this.figures(target.name, st, r, o.timeMs);
    const was = st.state.feed(rawStatus(st.probes.values()), o.timeMs, target.thresholds.hysteresisSlots, now);
    if (was !== undefined) this.stateChanged(target.name, st, was, now);
  }

  /** One log line per change of a target's state, saying why; the state gauge follows. */
  private stateChanged(name: string, st: TargetState, was: TargetStatus, now: number): void {
    const state = st.state.state;
    if (state !== 'unknown') this.metrics.targetState.set(name, STATE_VALUE[state]);
    const failing = [...st.probes.values()].filter((p) => !p.success).map((p) => ({ probe: p.probe, reason: p.reason, detail: p.detail }));
    const crossed = [...st.probes.values()].flatMap((p) => p.crossed.map(describeCrossed));
    // The first failing probe's reason at the top level too: what a log search filters on.
    const first = failing[0] ? { probe: failing[0].probe, reason: failing[0].reason, detail: failing[0].detail } : {};
    const fields = { target: name, state, was, ...first, ...(failing.length > 1 ? { failing } : {}), ...(crossed.length ? { crossed } : {}) };
    if (state === 'failing') this.log.warn(fields, was === 'unknown' ? 'target failing from its first run' : 'target failing');
    else if (state === 'degraded') this.log.warn(fields, 'target degraded');
    else if (state === 'ok' && was !== 'unknown') this.log.info({ ...fields, [`${was}_for_s`]: Math.round((now - st.state.since) / 1000) }, 'target ok again');
  }

  private figures(name: string, st: TargetState, r: ProbeResult, timeMs: number): void {
    const m = this.perTargetMetrics ? this.metrics : undefined;
    m?.probeSuccess.set(name, r.success ? 1 : 0, r.probe);
    m?.probeLastDuration.set(name, r.durationMs / 1000, r.probe);
    st.last.time = Math.max(st.last.time ?? 0, timeMs);
    for (const s of r.samples as AnySample[]) {
      const f = s.fields as Record<string, number | string | boolean | undefined>;
      const num = (k: string) => (typeof f[k] === 'number' ? (f[k] as number) : null);
      switch (s.measurement) {
        case 'ping':
          st.last.rtt_ms = num('rtt_median_ms') ?? num('rtt_avg_ms');
          st.last.loss_pct = num('loss_pct');
          // The seed guide's per-target rtt and loss gauges are kept whatever PER_TARGET_METRICS says.
          if (st.last.loss_pct !== null) this.metrics.packetLoss.set(name, st.last.loss_pct);
          if (num('rtt_avg_ms') !== null) this.metrics.rttAvg.set(name, num('rtt_avg_ms')!);
          else this.metrics.rttAvg.remove(name);
          break;
        case 'http':
          st.last.http_total_ms = num('total_ms');
          for (const [phase, field] of HTTP_PHASES) {
            const v = num(field);
            if (v === null) m?.httpPhase.remove(name, phase);
            else m?.httpPhase.set(name, v / 1000, phase);
          }
          break;
        case 'dns':
          st.last.dns_ms = num('query_ms');
          if (st.last.dns_ms === null) m?.dnsQuery.remove(name);
          else m?.dnsQuery.set(name, st.last.dns_ms / 1000);
          break;
        case 'tcp':
          st.last.tcp_ms = num('connect_ms');
          if (st.last.tcp_ms === null) m?.tcpConnect.remove(name);
          else m?.tcpConnect.set(name, st.last.tcp_ms / 1000);
          break;
        case 'route':
          if (f.route_changed === true) st.routeChangedAt = timeMs;
          if (num('hop_count') !== null) m?.hopCount.set(name, num('hop_count')!);
          break;
      }
    }
  }

  private stateOf(name: string): TargetState {
    let st = this.states.get(name);
    if (!st) {
      st = { probes: new Map(), last: { time: null, rtt_ms: null, loss_pct: null, http_total_ms: null, dns_ms: null, tcp_ms: null }, routeChangedAt: null, state: new StateHysteresis() };
      this.states.set(name, st);
    }
    return st;
  }

  /**
   * After a restart: what the store remembers of each configured target (its
   * last points and probe states), so the overview and /health are not
   * "unknown" until the first round. Never overwrites a result recorded since
   * start, never logs a state change.
   */
  seed(states: readonly SeedState[], targets: readonly Target[]): number {
    const configured = new Map(targets.map((t) => [t.name, t]));
    let seeded = 0;
    for (const s of states) {
      const t = configured.get(s.target);
      if (!t || this.states.get(s.target)?.probes.size) continue;
      const st = this.stateOf(s.target);
      for (const p of s.probes) {
        if (p.success === null || !t.probes.includes(p.probe as never)) continue;
        // The thresholds its last points crossed, from the figures the store kept of them.
        const samples = Object.entries(s.measurements)
          .filter(([m]) => PROBE_OF_MEASUREMENT.get(m) === p.probe)
          .map(([measurement, v]) => ({ measurement, fields: v.fields as Record<string, unknown> }));
        const crossed = p.success ? crossedBy(p.probe, samples, t.thresholds, THRESHOLD_DEFS) : [];
        st.probes.set(p.probe, { probe: p.probe, success: p.success, reason: p.reason ?? undefined, detail: p.detail ?? undefined, at: Date.parse(p.at), since: Date.parse(p.since), durationMs: p.duration_ms ?? 0, crossed });
        if (this.perTargetMetrics) {
          this.metrics.probeSuccess.set(t.name, p.success ? 1 : 0, p.probe);
          if (p.duration_ms !== null) this.metrics.probeLastDuration.set(t.name, p.duration_ms / 1000, p.probe);
        }
      }
      const f = (m: string, k: string) => {
        const v = s.measurements[m]?.fields[k];
        return typeof v === 'number' ? v : null;
      };
      const times = Object.values(s.measurements).map((m) => Date.parse(m.time));
      st.last = {
        time: times.length ? Math.max(...times) : null,
        rtt_ms: f('ping', 'rtt_median_ms') ?? f('ping', 'rtt_avg_ms'),
        loss_pct: f('ping', 'loss_pct'),
        http_total_ms: f('http', 'total_ms'),
        dns_ms: f('dns', 'query_ms'),
        tcp_ms: f('tcp', 'connect_ms'),
      };
      st.routeChangedAt = s.route_changed_at ? Date.parse(s.route_changed_at) : null;
      const state = rawStatus(st.probes.values());
      const since = Math.max(0, ...[...st.probes.values()].map((p) => p.since));
      st.state.restore(state, since);
      if (state !== 'unknown') this.metrics.targetState.set(t.name, STATE_VALUE[state]);
      seeded++;
    }
    return seeded;
  }

  /** A reload changed the targets: forget those that left (their series go from /metrics) and probes a target no longer runs. */
  setTargets(targets: readonly Target[]): void {
    const keep = new Map(targets.map((t) => [t.name, t]));
    this.configured = new Map(targets.map((t) => [t.name, [...t.probes]]));
    for (const [name, st] of this.states) {
      const t = keep.get(name);
      if (!t) {
        this.states.delete(name);
        this.metrics.forgetTarget(name);
        continue;
      }
      for (const probe of st.probes.keys()) {
        if (!t.probes.includes(probe as never)) {
          st.probes.delete(probe);
          this.metrics.probeSuccess.remove(name, probe);
          this.metrics.probeLastDuration.remove(name, probe);
        }
      }
    }
  }

  get(name: string): TargetState | undefined {
    return this.states.get(name);
  }

  status(name: string): TargetStatus {
    return this.states.get(name)?.state.state ?? 'unknown';
  }

  /** Probes failing now, oldest failure first. */
  failing(limit = Infinity): { target: string; probe: string; reason?: string; detail?: string; since: number }[] {
    const out: { target: string; probe: string; reason?: string; detail?: string; since: number }[] = [];
    for (const [target, st] of this.states) for (const p of st.probes.values()) if (!p.success) out.push({ target, probe: p.probe, reason: p.reason, detail: p.detail, since: p.since });
    return out.sort((a, b) => a.since - b.since).slice(0, limit);
  }

  /** Degraded when every probe that has run is failing: the daemon runs but measures nothing. */
  health(): ComponentHealth {
    let probes = 0;
    let failing = 0;
    const targets = new Set<string>();
    for (const [name, st] of this.states) {
      for (const p of st.probes.values()) {
        probes++;
        if (!p.success) {
          failing++;
          targets.add(name);
        }
      }
    }
    const all = probes > 0 && failing === probes;
    const states: Record<TargetStatus, number> = { ok: 0, degraded: 0, failing: 0, unknown: 0 };
    for (const st of this.states.values()) states[st.state.state]++;
    // Configured targets that never reported are unknown too.
    if (this.configured) for (const name of this.configured.keys()) if (!this.states.has(name)) states.unknown++;
    return {
      status: all ? 'degraded' : 'ok',
      probes,
      failing,
      failing_targets: targets.size,
      target_states: states,
      ...(all ? { problem: `all ${probes} probes of ${targets.size} target(s) are failing: see /api/targets or the log for the reasons` } : {}),
      ...(failing ? { examples: this.failing(5).map((f) => `${f.target} ${f.probe}: ${f.reason}${f.detail ? ` (${f.detail})` : ''}`) } : {}),
    };
  }
}
