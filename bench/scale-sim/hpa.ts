/**
 * The Kubernetes HorizontalPodAutoscaler's algorithm (autoscaling/v2), as the
 * controller in kube-controller-manager runs it (pkg/controller/podautoscaler:
 * horizontal.go, replica_calculator.go), for the metric types our HPA uses:
 *
 * - per metric: usageRatio = average value / target; within the tolerance
 *   (|1 - ratio| <= 0.1) the proposal is the current count; otherwise
 *   ceil(ratio x pods with a metric). Pods without a metric yet count as 0
 *   on a scale-up and as exactly the target on a scale-down (a second pass
 *   that may cancel the change); terminating pods are ignored;
 * - the desired count is the largest proposal over the metrics;
 * - stabilization: the recommendation is held between the lowest proposal
 *   of the scale-up window and the highest of the scale-down window;
 * - then minReplicas/maxReplicas and the scaling policies: the change per
 *   period is limited by each policy, counted from the replicas at the start
 *   of the period (the scale events of the last periodSeconds), and
 *   selectPolicy picks the largest change (Max) or the smallest (Min).
 *
 * Time is whatever the caller says (the simulation compresses it); windows
 * and periods are given in the same unit as `now` (ms).
 */

export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodMs: number;
}

export interface ScalingRules {
  stabilizationWindowMs: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: ScalingPolicy[];
}

export interface HpaSpec {
  minReplicas: number;
  maxReplicas: number;
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
  /** --horizontal-pod-autoscaler-tolerance: 0.1 by default. */
  tolerance: number;
}

/** One metric as the HPA sees it: a value per pod (Pods AverageValue), or usage and request per pod (Resource Utilization). */
export interface MetricReading {
  name: string;
  /** Pod name -> value (custom metric) or usage (resource). */
  values: Map<string, number>;
  /** AverageValue target, or Utilization target in percent of `requests`. */
  target: number;
  /** Resource metrics: pod name -> request of that resource. */
  requests?: Map<string, number>;
}

export interface PodState {
  name: string;
  /** Deleted and shutting down: ignored by the HPA. */
  terminating: boolean;
}

export interface MetricProposal {
  name: string;
  ratio: number | null;
  proposal: number | null;
  /** The average the ratio came from (Pods) or the utilization in % (Resource). */
  usage: number | null;
  /** Pods counted with a value (the missing ones at 0 or the target on the second pass). */
  podsWithMetric: number;
  missingPods: number;
}

export interface Decision {
  at: number;
  current: number;
  /** The largest proposal over the metrics (before stabilization and limits). */
  proposed: number;
  stabilized: number;
  desired: number;
  limitedBy?: string;
  metrics: MetricProposal[];
}

interface Stamped {
  at: number;
  n: number;
}

export class HpaController {
  private recommendations: Stamped[] = [];
  private upEvents: Stamped[] = [];
  private downEvents: Stamped[] = [];
  private started = false;

  constructor(readonly spec: HpaSpec) {}

  /** Per metric, what replica_calculator.go proposes. */
  proposal(current: number, pods: readonly PodState[], m: MetricReading): MetricProposal {
    const live = pods.filter((p) => !p.terminating);
    const resource = m.requests !== undefined;
    const valued = live.filter((p) => m.values.has(p.name) && (!resource || (m.requests!.get(p.name) ?? 0) > 0));
    const missing = live.filter((p) => !m.values.has(p.name));
    if (!valued.length) return { name: m.name, ratio: null, proposal: null, usage: null, podsWithMetric: 0, missingPods: missing.length };
    const ratioOf = (vals: { v: number; req: number }[]) => {
      if (resource) {
        const used = vals.reduce((a, x) => a + x.v, 0);
        const req = vals.reduce((a, x) => a + x.req, 0);
        const utilization = (used * 100) / req;
        return { ratio: utilization / m.target, usage: utilization };
      }
      const avg = vals.reduce((a, x) => a + x.v, 0) / vals.length;
      return { ratio: avg / m.target, usage: avg };
    };
    const req = (p: PodState) => m.requests?.get(p.name) ?? 0;
    const first = ratioOf(valued.map((p) => ({ v: m.values.get(p.name)!, req: req(p) })));
    const base = { name: m.name, usage: first.usage, podsWithMetric: valued.length, missingPods: missing.length };
    if (missing.length === 0) {
      if (Math.abs(1 - first.ratio) <= this.spec.tolerance) return { ...base, ratio: first.ratio, proposal: current };
      return { ...base, ratio: first.ratio, proposal: Math.ceil(first.ratio * valued.length) };
    }
    // Missing pods: 0 on a scale-up, the target on a scale-down (their request's worth for resources).
    const fill = first.ratio < 1 ? (p: PodState) => (resource ? (m.target / 100) * req(p) : m.target) : () => 0;
    const all = [...valued.map((p) => ({ v: m.values.get(p.name)!, req: req(p) })), ...missing.map((p) => ({ v: fill(p), req: resource ? req(p) : 0 }))];
    const second = ratioOf(all);
    if (Math.abs(1 - second.ratio) <= this.spec.tolerance || (first.ratio < 1 && second.ratio > 1) || (first.ratio > 1 && second.ratio < 1)) return { ...base, ratio: second.ratio, proposal: current };
    const n = Math.ceil(second.ratio * all.length);
    if ((second.ratio < 1 && n > current) || (second.ratio > 1 && n < current)) return { ...base, ratio: second.ratio, proposal: current };
    return { ...base, ratio: second.ratio, proposal: n };
  }

  /** One sync of the HPA: the new desired count for the scale subresource. */
  reconcile(now: number, current: number, pods: readonly PodState[], metrics: readonly MetricReading[]): Decision {
    const props = metrics.map((m) => this.proposal(current, pods, m));
    const valid = props.filter((p) => p.proposal !== null).map((p) => p.proposal!);
    // No metric at all: no change (the HPA reports the error and leaves the scale alone).
    let proposed = valid.length ? Math.max(...valid) : current;
    // A scale-down needs every metric: one that failed blocks it.
    if (valid.length < props.length && proposed < current) proposed = current;
    const stabilized = this.stabilize(now, current, proposed);
    let desired = Math.min(this.spec.maxReplicas, Math.max(this.spec.minReplicas, stabilized));
    let limitedBy: string | undefined;
    if (desired > current) {
      const limit = Math.max(current, this.limit(current, this.spec.scaleUp, 'up', now));
      if (desired > limit) {
        desired = limit;
        limitedBy = 'scale-up policy';
      }
    } else if (desired < current) {
      const limit = Math.min(current, this.limit(current, this.spec.scaleDown, 'down', now));
      if (desired < limit) {
        desired = limit;
        limitedBy = 'scale-down policy';
      }
    }
    if (desired !== current) (desired > current ? this.upEvents : this.downEvents).push({ at: now, n: Math.abs(desired - current) });
    return { at: now, current, proposed, stabilized, desired, ...(limitedBy ? { limitedBy } : {}), metrics: props };
  }

  /** stabilizeRecommendationWithBehaviors: between the lowest recent up-proposal and the highest recent down-proposal. */
  private stabilize(now: number, current: number, proposed: number): number {
    // maybeInitScaleDownStabilizationWindow: a new HPA holds the current count for one window before scaling down.
    if (!this.started && this.spec.scaleDown.stabilizationWindowMs > 0) this.recommendations.push({ at: now, n: current });
    this.started = true;
    const upCut = now - this.spec.scaleUp.stabilizationWindowMs;
    const downCut = now - this.spec.scaleDown.stabilizationWindowMs;
    let up = proposed;
    let down = proposed;
    for (const r of this.recommendations) {
      if (r.at > upCut) up = Math.min(up, r.n);
      if (r.at > downCut) down = Math.max(down, r.n);
    }
    // The controller keeps the samples still inside a window (it reuses an old slot; same effect).
    this.recommendations = this.recommendations.filter((r) => r.at > Math.min(upCut, downCut));
    this.recommendations.push({ at: now, n: proposed });
    let rec = current;
    if (rec < up) rec = up;
    if (rec > down) rec = down;
    return rec;
  }

  /** calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors. */
  private limit(current: number, rules: ScalingRules, dir: 'up' | 'down', now: number): number {
    if (rules.selectPolicy === 'Disabled') return current;
    const changed = (events: Stamped[], periodMs: number) => events.filter((e) => e.at > now - periodMs).reduce((a, e) => a + e.n, 0);
    const pick = dir === 'up' ? (rules.selectPolicy === 'Min' ? Math.min : Math.max) : rules.selectPolicy === 'Min' ? Math.max : Math.min;
    let result = dir === 'up' ? (rules.selectPolicy === 'Min' ? Infinity : -Infinity) : rules.selectPolicy === 'Min' ? -Infinity : Infinity;
    for (const p of rules.policies) {
      const startOfPeriod = current - changed(this.upEvents, p.periodMs) + changed(this.downEvents, p.periodMs);
      const proposed =
        dir === 'up'
          ? p.type === 'Pods'
            ? startOfPeriod + p.value
            : Math.ceil(startOfPeriod * (1 + p.value / 100))
          : p.type === 'Pods'
            ? startOfPeriod - p.value
            : Math.trunc(startOfPeriod * (1 - p.value / 100));
      result = pick(result, proposed);
    }
    return result;
  }
}
