/**
 * Offline Kubernetes schema checks for test/deploy/k8s.test.ts.
 *
 * kubernetes-models validates types, enums and required fields with the
 * validators it compiled from the Kubernetes OpenAPI schema, but those
 * validators ignore properties the schema does not know (`spec.replica: 3`
 * passes). The apiserver would drop such a field silently (or reject it with
 * strict field validation). So every object is validated a second time
 * through a Proxy that records which properties the compiled validator reads:
 * it reads every property its schema declares (even absent ones) and
 * enumerates the keys of maps (labels, data, resource lists), so a key it
 * never touched is not in the schema.
 *
 * CRDs that kubernetes-models does not ship are checked against a
 * transcription of their fields by a small validator that also rejects
 * unknown fields:
 *  - VerticalPodAutoscaler v1 (kubernetes/autoscaler,
 *    vertical-pod-autoscaler/deploy/vpa-v1-crd-gen.yaml);
 *  - PodMonitor and PrometheusRule monitoring.coreos.com/v1
 *    (prometheus-operator, example/prometheus-operator-crd/), the fields of
 *    today's CRDs; nested objects these manifests do not use (relabelings,
 *    auth and TLS settings) are accepted without a closer look.
 */
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { Service } from 'kubernetes-models/v1/Service';

export type Obj = Record<string, unknown>;

interface Validatable {
  validate(): void;
}
type ModelCtor = new (data: never) => Validatable;

/** The kinds the manifests may use, by `apiVersion/kind`. */
export const MODELS: Record<string, ModelCtor> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/ServiceAccount': ServiceAccount,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

export const VPA_KIND = 'autoscaling.k8s.io/v1/VerticalPodAutoscaler';
export const PODMONITOR_KIND = 'monitoring.coreos.com/v1/PodMonitor';
export const PROMETHEUSRULE_KIND = 'monitoring.coreos.com/v1/PrometheusRule';

export function kindKey(obj: Obj): string {
  return `${String(obj.apiVersion)}/${String(obj.kind)}`;
}

function isPlainObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Run a compiled kubernetes-models validator over `data` and return the paths
 * of properties it never read (unknown to the schema).
 */
function unknownFields(validate: () => void, data: Obj): string[] {
  const read = new Map<object, Set<string>>();
  const enumerated = new Set<object>();
  const proxies = new WeakMap<object, object>();
  const wrap = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    const cached = proxies.get(v);
    if (cached) return cached;
    const p = new Proxy(v, {
      get(target, key, receiver) {
        if (typeof key === 'string' && !Array.isArray(target)) {
          let keys = read.get(target);
          if (!keys) read.set(target, (keys = new Set()));
          keys.add(key);
        }
        return wrap(Reflect.get(target, key, receiver));
      },
      ownKeys(target) {
        enumerated.add(target);
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(v, p);
    return p;
  };
  // A model's validate() runs its compiled validator on `this`.
  validate.call(wrap(data));

  const out: string[] = [];
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${path}[${i}]`));
      return;
    }
    if (!isPlainObject(v)) return;
    const keys = read.get(v);
    for (const k of Object.keys(v)) {
      const p = path ? `${path}.${k}` : k;
      if (enumerated.has(v) || keys?.has(k)) walk(v[k], p);
      else out.push(keys ? p : `${p} (inside an object the schema does not describe)`);
    }
  };
  walk(data, '');
  return out;
}

/** Schema problems of one object: kubernetes-models errors, then unknown fields. */
export function schemaProblems(obj: Obj): string[] {
  const key = kindKey(obj);
  const crd = CRDS[key];
  if (crd) return crdProblems(obj, crd);
  const Model = MODELS[key];
  if (!Model) return [`no schema for ${key}`];
  const model = new Model(obj as never);
  try {
    model.validate();
  } catch (err) {
    return [(err as Error).message];
  }
  return unknownFields(model.validate, obj).map((p) => `unknown field ${p}`);
}

// --- CRDs ----------------------------------------------------------------

type Schema =
  | { type: 'object'; properties: Record<string, Schema>; required?: string[] }
  | { type: 'map'; values: Schema }
  | { type: 'array'; items: Schema }
  | { type: 'string'; enum?: readonly string[]; pattern?: RegExp }
  | { type: 'integer'; minimum?: number }
  | { type: 'boolean' }
  | { type: 'quantity' }
  /** A field the CRD has, whose content these manifests do not use: accepted as is. */
  | { type: 'any' };

const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?(\d+(\.\d*)?|\.\d+))?$/;
const str: Schema = { type: 'string' };
const any: Schema = { type: 'any' };
const bool: Schema = { type: 'boolean' };
const int: Schema = { type: 'integer', minimum: 0 };
const strings: Schema = { type: 'array', items: str };
const quantities: Schema = { type: 'map', values: { type: 'quantity' } };
/** prometheus-operator's Duration: 30s, 1m, 1h30m, 0 ... */
const duration: Schema = { type: 'string', pattern: /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/ };
const labelSelector: Schema = {
  type: 'object',
  properties: {
    matchLabels: { type: 'map', values: str },
    matchExpressions: {
      type: 'array',
      items: { type: 'object', required: ['key', 'operator'], properties: { key: str, operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] }, values: strings } },
    },
  },
};

/** VPA v1 spec as in the CRD (recent status-only and alpha fields left out). */
const VPA_SPEC: Schema = {
  type: 'object',
  required: ['targetRef'],
  properties: {
    targetRef: {
      type: 'object',
      required: ['kind', 'name'],
      properties: { apiVersion: str, kind: str, name: str },
    },
    updatePolicy: {
      type: 'object',
      properties: {
        updateMode: { type: 'string', enum: ['Off', 'Initial', 'Recreate', 'InPlaceOrRecreate', 'Auto'] },
        minReplicas: { type: 'integer', minimum: 1 },
        evictionRequirements: {
          type: 'array',
          items: {
            type: 'object',
            required: ['changeRequirement', 'resources'],
            properties: {
              changeRequirement: { type: 'string', enum: ['TargetHigherThanRequests', 'TargetLowerThanRequests'] },
              resources: { type: 'array', items: str },
            },
          },
        },
      },
    },
    resourcePolicy: {
      type: 'object',
      properties: {
        containerPolicies: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              containerName: str,
              mode: { type: 'string', enum: ['Auto', 'Off'] },
              minAllowed: quantities,
              maxAllowed: quantities,
              controlledResources: { type: 'array', items: { type: 'string', enum: ['cpu', 'memory'] } },
              controlledValues: { type: 'string', enum: ['RequestsAndLimits', 'RequestsOnly'] },
            },
          },
        },
      },
    },
    recommenders: {
      type: 'array',
      items: { type: 'object', required: ['name'], properties: { name: str } },
    },
  },
};

const PODMONITOR_SPEC: Schema = {
  type: 'object',
  required: ['selector'],
  properties: {
    selector: labelSelector,
    namespaceSelector: { type: 'object', properties: { any: bool, matchNames: strings } },
    jobLabel: str,
    podTargetLabels: strings,
    podMetricsEndpoints: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          port: str,
          portNumber: int,
          targetPort: any,
          path: str,
          scheme: { type: 'string', enum: ['http', 'https'] },
          params: any,
          interval: duration,
          scrapeTimeout: duration,
          honorLabels: bool,
          honorTimestamps: bool,
          trackTimestampsStaleness: bool,
          relabelings: any,
          metricRelabelings: any,
          basicAuth: any,
          bearerTokenSecret: any,
          authorization: any,
          oauth2: any,
          tlsConfig: any,
          proxyUrl: str,
          followRedirects: bool,
          enableHttp2: bool,
          filterRunning: bool,
        },
      },
    },
    sampleLimit: int,
    targetLimit: int,
    labelLimit: int,
    labelNameLengthLimit: int,
    labelValueLengthLimit: int,
    keepDroppedTargets: int,
    attachMetadata: { type: 'object', properties: { node: bool } },
    scrapeProtocols: strings,
    scrapeClass: str,
    bodySizeLimit: str,
  },
};

const PROMETHEUSRULE_SPEC: Schema = {
  type: 'object',
  properties: {
    groups: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: str,
          interval: duration,
          query_offset: duration,
          limit: int,
          partial_response_strategy: str,
          labels: { type: 'map', values: str },
          rules: {
            type: 'array',
            items: {
              type: 'object',
              required: ['expr'],
              properties: {
                alert: str,
                record: str,
                expr: str,
                for: duration,
                keep_firing_for: duration,
                labels: { type: 'map', values: str },
                annotations: { type: 'map', values: str },
              },
            },
          },
        },
      },
    },
  },
};

/** The CRDs the manifests use, by `apiVersion/kind`, with their spec's schema. */
const CRDS: Record<string, Schema> = {
  [VPA_KIND]: VPA_SPEC,
  [PODMONITOR_KIND]: PODMONITOR_SPEC,
  [PROMETHEUSRULE_KIND]: PROMETHEUSRULE_SPEC,
};

function check(schema: Schema, v: unknown, path: string, out: string[]): void {
  switch (schema.type) {
    case 'any':
      return;
    case 'object': {
      if (!isPlainObject(v)) return void out.push(`${path}: expected an object`);
      for (const r of schema.required ?? []) if (v[r] === undefined) out.push(`${path}.${r}: required`);
      for (const [k, x] of Object.entries(v)) {
        const sub = schema.properties[k];
        if (sub) check(sub, x, `${path}.${k}`, out);
        else out.push(`unknown field ${path}.${k}`);
      }
      return;
    }
    case 'map':
      if (!isPlainObject(v)) return void out.push(`${path}: expected an object`);
      for (const [k, x] of Object.entries(v)) check(schema.values, x, `${path}.${k}`, out);
      return;
    case 'array':
      if (!Array.isArray(v)) return void out.push(`${path}: expected an array`);
      v.forEach((x, i) => check(schema.items, x, `${path}[${i}]`, out));
      return;
    case 'string':
      if (typeof v !== 'string') return void out.push(`${path}: expected a string`);
      if (schema.enum && !schema.enum.includes(v)) out.push(`${path}: "${v}" is not one of ${schema.enum.join(', ')}`);
      if (schema.pattern && !schema.pattern.test(v)) out.push(`${path}: "${v}" does not match ${schema.pattern}`);
      return;
    case 'integer':
      if (!Number.isInteger(v)) return void out.push(`${path}: expected an integer`);
      if (schema.minimum !== undefined && (v as number) < schema.minimum) out.push(`${path}: below ${schema.minimum}`);
      return;
    case 'boolean':
      if (typeof v !== 'boolean') out.push(`${path}: expected a boolean`);
      return;
    case 'quantity':
      if (!(Number.isInteger(v) || (typeof v === 'string' && QUANTITY.test(v)))) out.push(`${path}: not a quantity`);
      return;
  }
}

function crdProblems(obj: Obj, spec: Schema): string[] {
  const out: string[] = [];
  for (const k of Object.keys(obj)) {
    if (!['apiVersion', 'kind', 'metadata', 'spec'].includes(k)) out.push(`unknown field ${k}`);
  }
  // metadata is the ordinary ObjectMeta: check it with the real schema, as
  // the metadata of a (schema-less otherwise) ConfigMap.
  if (!isPlainObject(obj.metadata)) out.push('metadata: required');
  else out.push(...schemaProblems({ apiVersion: 'v1', kind: 'ConfigMap', metadata: obj.metadata }));
  if (obj.spec === undefined) out.push('spec: required');
  else check(spec, obj.spec, 'spec', out);
  if (kindKey(obj) === PROMETHEUSRULE_KIND) out.push(...ruleProblems(obj.spec));
  return out;
}

/** What the operator's admission webhook checks beyond the schema: one of alert/record per rule. */
function ruleProblems(spec: unknown): string[] {
  const out: string[] = [];
  const groups = (isPlainObject(spec) && Array.isArray(spec.groups) ? spec.groups : []) as Obj[];
  groups.forEach((g, i) =>
    ((Array.isArray(g.rules) ? g.rules : []) as Obj[]).forEach((r, j) => {
      if ((r.alert === undefined) === (r.record === undefined)) out.push(`spec.groups[${i}].rules[${j}]: exactly one of alert and record`);
      if (r.record !== undefined && r.for !== undefined) out.push(`spec.groups[${i}].rules[${j}]: "for" on a recording rule`);
    }),
  );
  return out;
}

// --- quantities --------------------------------------------------------------

const SUFFIX: Record<string, number> = {
  '': 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes quantity as a number ("250m" -> 0.25, "1Gi" -> 1073741824). */
export function quantity(q: unknown): number {
  if (typeof q === 'number') return q;
  const m = typeof q === 'string' ? /^([+-]?[\d.]+)([a-zA-Z]*)$/.exec(q) : null;
  const factor = m ? SUFFIX[m[2] ?? ''] : undefined;
  if (!m || factor === undefined) throw new Error(`not a quantity: ${String(q)}`);
  return Number(m[1]) * factor;
}
