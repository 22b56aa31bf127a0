import type { Logger } from 'pino';
import type { Target } from '../config/targets.js';
import type { ComponentHealth } from '../lifecycle/component.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { ProbeResult } from '../probes/types.js';
import type { PerTargetGauge } from '../metrics/per-target-gauge.js';
import type { ProbeModule } from '../probes/module.js';
import { figuresOf, PROBE_MODULES } from '../probes/registry.js';
import type { FigureSpec, FigureValue, TargetMetricSpec } from '../probes/view.js';
import type { AnySample, FieldValue } from '../samples/sample.js';
import type { LatestState } from '../store/types.js';
import { eachInSteps } from '../util/turn.js';
import { crossedBy, describeCrossed, rawStatus, StateHysteresis, STATE_VALUE, type Crossed, type TargetStatus } from './target-state.js';

export type { TargetStatus } from './target-state.js';

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

export interface TargetState {
  probes: Map<string, ProbeState>;
  /** The probes' figures of the last runs (probes/view.ts FigureSpec), by key; times in epoch ms. */
  figures: Map<string, number>;
  /** Time of the newest point, epoch ms. */
  time: number | null;
  /** The shown state (ok, degraded, failing) and since when. */
  state: StateHysteresis;
}

/** A figure's value as the API shows it: numbers, ISO times for `time` figures, null when unknown. */
export type FigureValues = Record<string, FigureValue>;

interface MetricOf {
  spec: TargetMetricSpec;
  gauge: PerTargetGauge;
}

/**
 * What the daemon knows of each target right now, from every probe result:
 * the last outcome per probe and since when, and the figures each probe
 * declares (its `figures`: rtt, loss, when the route last changed...). It
 * feeds the overview page, /health (every probe failing is "degraded"), the
 * per-target /metrics series (the probes' `targetMetrics`, PER_TARGET_METRICS),
 * and logs a state change once — ok -> failing with the reason, failing -> ok
 * — instead of every round. It names no probe: what to read from which point
 * comes from the registry.
 */
export class TargetStatusBoard {
  private readonly states = new Map<string, TargetState>();
  /**
   * Target -> its probes, once a reload has set them. A result for anything
   * else comes from a probe that was in flight while the reload removed it:
   * recording it would bring back the series and state the reload dropped.
   */
  private configured?: ReadonlyMap<string, readonly string[]>;

  /** Figures and per-target metrics by the measurement they are read from. */
  private readonly figuresOf = new Map<string, FigureSpec[]>();
  private readonly metricsOf = new Map<string, MetricOf[]>();
  private readonly figureSpecs: readonly FigureSpec[];
  /** Measurement -> the probe that writes it. */
  private readonly probeOf = new Map<string, string>();

  constructor(
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
    private readonly perTargetMetrics: boolean,
    modules: readonly ProbeModule[] = PROBE_MODULES as readonly ProbeModule[],
  ) {
    this.figureSpecs = figuresOf(modules);
    for (const m of modules) for (const measurement of Object.keys(m.measurements)) this.probeOf.set(measurement, m.kind);
    for (const f of this.figureSpecs) this.figuresOf.set(f.measurement, [...(this.figuresOf.get(f.measurement) ?? []), f]);
    for (const spec of modules.flatMap((m) => m.targetMetrics ?? [])) {
      const gauge = metrics.perTargetGauge(spec.name, spec.help, spec.label);
      this.metricsOf.set(spec.measurement, [...(this.metricsOf.get(spec.measurement) ?? []), { spec, gauge }]);
    }
  }

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
      crossed: r.success ? crossedBy(r.probe, r.samples as AnySample[], target.thresholds, this.figureSpecs) : [],
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
    if (this.perTargetMetrics) {
      this.metrics.probeSuccess.set(name, r.success ? 1 : 0, r.probe);
      this.metrics.probeLastDuration.set(name, r.durationMs / 1000, r.probe);
    }
    st.time = Math.max(st.time ?? 0, timeMs);
    for (const s of r.samples as AnySample[]) {
      const fields = s.fields as Record<string, FieldValue | undefined>;
      for (const f of this.figuresOf.get(s.measurement) ?? []) readFigure(st.figures, f, fields, timeMs);
      for (const { spec, gauge } of this.metricsOf.get(s.measurement) ?? []) {
        if (!spec.always && !this.perTargetMetrics) continue;
        for (const v of spec.values) {
          const x = fields[v.field];
          if (typeof x === 'number' && Number.isFinite(x)) gauge.set(name, x * (v.scale ?? 1), v.label);
          else gauge.remove(name, v.label);
        }
      }
    }
  }

  /** The figures of a target as the API shows them: every probe's key, null when not known. */
  lastFigures(name: string): { time: string | null } & FigureValues {
    const st = this.states.get(name);
    const out: { time: string | null } & FigureValues = { time: st?.time ? new Date(st.time).toISOString() : null };
    for (const f of this.figureSpecs) {
      const v = st?.figures.get(f.key);
      out[f.key] = v === undefined ? null : f.unit === 'time' ? new Date(v).toISOString() : v;
    }
    return out;
  }

  private stateOf(name: string): TargetState {
    let st = this.states.get(name);
    if (!st) {
      st = { probes: new Map(), figures: new Map(), time: null, state: new StateHysteresis() };
      this.states.set(name, st);
    }
    return st;
  }

  /**
   * After a restart: what the store remembers of each configured target (its
   * last points and probe states), so the overview and /health are not
   * "unknown" until the first round. Never overwrites a result recorded since
   * start, never logs a state change. In steps: one pass over every target.
   */
  async seed(states: readonly LatestState[], targets: readonly Target[]): Promise<number> {
    const configured = new Map<string, Target>();
    await eachInSteps(targets, (t) => configured.set(t.name, t));
    let seeded = 0;
    await eachInSteps(states, (s) => {
      const t = configured.get(s.target);
      if (!t || this.states.get(s.target)?.probes.size) return;
      const st = this.stateOf(s.target);
      for (const p of s.probes) {
        if (p.success === null || !t.probes.includes(p.probe as never)) continue;
        // The thresholds its last points crossed, from the figures the store kept of them.
        const samples = Object.entries(s.measurements)
          .filter(([m]) => this.probeOf.get(m) === p.probe)
          .map(([measurement, v]) => ({ measurement, fields: v.fields as Record<string, unknown> }));
        const crossed = p.success ? crossedBy(p.probe, samples, t.thresholds, this.figureSpecs) : [];
        st.probes.set(p.probe, { probe: p.probe, success: p.success, reason: p.reason ?? undefined, detail: p.detail ?? undefined, at: Date.parse(p.at), since: Date.parse(p.since), durationMs: p.duration_ms ?? 0, crossed });
        if (this.perTargetMetrics) {
          this.metrics.probeSuccess.set(t.name, p.success ? 1 : 0, p.probe);
          if (p.duration_ms !== null) this.metrics.probeLastDuration.set(t.name, p.duration_ms / 1000, p.probe);
        }
      }
      const times = Object.values(s.measurements).map((m) => Date.parse(m.time));
      st.time = times.length ? Math.max(...times) : null;
      for (const f of this.figureSpecs) {
        if (f.flag) {
          const at = s.flagged?.[`${f.measurement}.${f.flag}`];
          if (at) st.figures.set(f.key, Date.parse(at));
          continue;
        }
        const m = s.measurements[f.measurement];
        if (m) readFigure(st.figures, f, m.fields, Date.parse(m.time));
      }
      const state = rawStatus(st.probes.values());
      st.state.restore(state, Math.max(0, ...[...st.probes.values()].map((p) => p.since)));
      if (state !== 'unknown') this.metrics.targetState.set(t.name, STATE_VALUE[state]);
      seeded++;
    });
    return seeded;
  }

  /**
   * A reload changed the targets: forget those that left (their series go
   * from /metrics) and probes a target no longer runs. In steps (a pass over
   * every target and every state); the new list applies to results from the
   * first step on, so one in flight for a removed target is not recorded
   * back while the sweep goes on.
   */
  async setTargets(targets: readonly Target[]): Promise<void> {
    const configured = new Map<string, readonly string[]>();
    await eachInSteps(targets, (t) => configured.set(t.name, [...t.probes]));
    this.configured = configured;
    await eachInSteps(this.states, ([name, st]) => {
      const probes = configured.get(name);
      if (!probes) {
        this.states.delete(name);
        this.metrics.forgetTarget(name);
        return;
      }
      for (const probe of st.probes.keys()) {
        if (!probes.includes(probe)) {
          st.probes.delete(probe);
          this.metrics.probeSuccess.remove(name, probe);
          this.metrics.probeLastDuration.remove(name, probe);
        }
      }
    });
  }

  get(name: string): TargetState | undefined {
    return this.states.get(name);
  }

  status(name: string): TargetStatus {
    return this.states.get(name)?.state.state ?? 'unknown';
  }

  /**
   * The `limit` probes failing longest, oldest failure first (ties in the
   * board's order). Kept in one pass rather than by sorting every failing
   * probe: /health asks on every call, and in an outage of 100,000 targets
   * that sort held the event loop 100-200 ms each time.
   */
  failing(limit: number): { target: string; probe: string; reason?: string; detail?: string; since: number }[] {
    const out: { target: string; probe: string; reason?: string; detail?: string; since: number }[] = [];
    if (limit <= 0) return out;
    for (const [target, st] of this.states) {
      for (const p of st.probes.values()) {
        if (p.success || (out.length === limit && p.since >= out[limit - 1]!.since)) continue;
        let i = out.length;
        while (i > 0 && out[i - 1]!.since > p.since) i--;
        out.splice(i, 0, { target, probe: p.probe, reason: p.reason, detail: p.detail, since: p.since });
        if (out.length > limit) out.pop();
      }
    }
    return out;
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

/** A figure from one point: `fields` — its first numeric field (null if none); `flag` — when the flag is true, the time in `flagTime` or the point's. */
function readFigure(into: Map<string, number>, f: FigureSpec, fields: Record<string, FieldValue | undefined>, timeMs: number): void {
  if (f.flag) {
    if (fields[f.flag] !== true) return;
    const at = f.flagTime ? fields[f.flagTime] : undefined;
    into.set(f.key, typeof at === 'number' && Number.isFinite(at) ? at : timeMs);
    return;
  }
  for (const k of f.fields ?? []) {
    const v = fields[k];
    if (typeof v === 'number' && Number.isFinite(v)) {
      into.set(f.key, v);
      return;
    }
  }
  into.delete(f.key);
}
