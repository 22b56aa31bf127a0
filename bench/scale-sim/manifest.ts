import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { REPO } from '../../scripts/lib/services.js';
import type { HpaSpec, ScalingRules } from './hpa.js';

/**
 * What the simulation takes from the manifests, so that it runs what is
 * deployed: the HorizontalPodAutoscaler (bounds, metrics, behavior), the
 * StatefulSet (grace period, preStop, memory request), the ConfigMap
 * (SHUTDOWN_TIMEOUT, COLLECTION_INTERVAL) and the prometheus-adapter rule
 * (the PromQL the HPA's custom metric is read through).
 */

type Doc = Record<string, any>;

export interface Deployment {
  hpa: HpaSpec;
  /** The Pods metric (telemetry_collection_duration_seconds) and its AverageValue target, seconds. */
  podsMetric: { name: string; targetValue: number };
  /** Resource metrics with their Utilization targets (percent of requests). */
  resourceTargets: { cpu?: number; memory?: number };
  /** The daemon container's requests: memory in bytes, cpu in cores. */
  requests: { memoryBytes: number; cpuCores: number };
  terminationGracePeriodS: number;
  preStopSleepS: number;
  shutdownTimeoutS: number;
  collectionIntervalS: number;
  /** The adapter rule: metricsQuery with <<.Series>>, <<.LabelMatchers>>, <<.GroupBy>>. */
  metricsQuery: string;
  seriesName: string;
  /** StatefulSet has no spec.replicas (the HPA owns the count). */
  statefulSetHasReplicas: boolean;
}

/** Kubernetes quantities: 256Mi, 1Gi, 500m, 0.25. */
export function quantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q.trim());
  if (!m) throw new Error(`not a Kubernetes quantity: ${q}`);
  const n = Number(m[1]);
  const unit = { m: 1e-3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ''] ?? 1;
  return n * unit;
}

function rules(b: Doc | undefined, dir: 'up' | 'down'): ScalingRules {
  // autoscaling/v2 defaults when a direction is not given.
  const defaults: ScalingRules =
    dir === 'up'
      ? { stabilizationWindowMs: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodMs: 15_000 }, { type: 'Pods', value: 4, periodMs: 15_000 }] }
      : { stabilizationWindowMs: 300_000, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodMs: 15_000 }] };
  if (!b) return defaults;
  return {
    stabilizationWindowMs: b.stabilizationWindowSeconds !== undefined ? b.stabilizationWindowSeconds * 1000 : defaults.stabilizationWindowMs,
    selectPolicy: b.selectPolicy ?? 'Max',
    policies: b.policies ? (b.policies as Doc[]).map((p) => ({ type: p.type, value: p.value, periodMs: p.periodSeconds * 1000 })) : defaults.policies,
  };
}

export function readDeployment(dir = join(REPO, 'k8s')): Deployment {
  const docs = loadAll(readFileSync(join(dir, 'telemetry-deployment.yaml'), 'utf8')) as Doc[];
  const sts = docs.find((d) => d?.kind === 'StatefulSet' && d.metadata?.name === 'network-telemetry');
  const hpa = docs.find((d) => d?.kind === 'HorizontalPodAutoscaler');
  const cm = docs.find((d) => d?.kind === 'ConfigMap' && d.metadata?.name === 'network-telemetry-config');
  if (!sts || !hpa || !cm) throw new Error('k8s/telemetry-deployment.yaml: the StatefulSet network-telemetry, its HorizontalPodAutoscaler and ConfigMap network-telemetry-config must be there');
  const pod = sts.spec.template.spec;
  const c = (pod.containers as Doc[]).find((x) => x.name === 'telemetry') ?? pod.containers[0];
  const preStop = c.lifecycle?.preStop?.exec?.command as string[] | undefined;
  const metrics = hpa.spec.metrics as Doc[];
  const pods = metrics.find((m) => m.type === 'Pods');
  const res = (name: string) => metrics.find((m) => m.type === 'Resource' && m.resource.name === name)?.resource.target.averageUtilization as number | undefined;
  const adapter = loadAll(readFileSync(join(dir, 'prometheus-adapter-config.yaml'), 'utf8')) as Doc[];
  const cfg = loadAll(adapter.find((d) => d?.kind === 'ConfigMap')!.data['config.yaml']) as Doc[];
  const rule = (cfg[0]!.rules as Doc[]).find((r) => r.name?.as === pods?.pods.metric.name);
  if (!pods || !rule) throw new Error('the HPA has no Pods metric served by a prometheus-adapter rule');
  return {
    hpa: {
      minReplicas: hpa.spec.minReplicas ?? 1,
      maxReplicas: hpa.spec.maxReplicas,
      scaleUp: rules(hpa.spec.behavior?.scaleUp, 'up'),
      scaleDown: rules(hpa.spec.behavior?.scaleDown, 'down'),
      tolerance: 0.1,
    },
    podsMetric: { name: pods.pods.metric.name, targetValue: quantity(pods.pods.target.averageValue) },
    resourceTargets: { cpu: res('cpu'), memory: res('memory') },
    requests: { memoryBytes: quantity(c.resources.requests.memory), cpuCores: quantity(c.resources.requests.cpu) },
    terminationGracePeriodS: pod.terminationGracePeriodSeconds ?? 30,
    preStopSleepS: preStop && /sleep$/.test(preStop[0]!) ? Number(preStop[1]) : 0,
    shutdownTimeoutS: Number(cm.data.SHUTDOWN_TIMEOUT ?? 10),
    collectionIntervalS: Number(cm.data.COLLECTION_INTERVAL ?? 60),
    metricsQuery: rule.metricsQuery,
    seriesName: /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(String(rule.seriesQuery).trim())![1]!,
    statefulSetHasReplicas: sts.spec.replicas !== undefined,
  };
}

/** The adapter's query for the pods the HPA selects, as prometheus-adapter expands its template. */
export function adapterQuery(d: Deployment, namespace: string, pods: readonly string[]): string {
  const matchers = `namespace="${namespace}",pod=~"${pods.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')}"`;
  return d.metricsQuery.replaceAll('<<.Series>>', d.seriesName).replaceAll('<<.LabelMatchers>>', matchers).replaceAll('<<.GroupBy>>', 'pod').trim();
}
