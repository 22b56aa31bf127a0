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
 * The VerticalPodAutoscaler is a CRD that kubernetes-models does not ship;
 * it is checked against a transcription of the fields of the VPA v1 CRD
 * (kubernetes/autoscaler, vertical-pod-autoscaler/deploy/vpa-v1-crd-gen.yaml)
 * by a small validator that also rejects unknown fields.
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
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

export const VPA_KIND = 'autoscaling.k8s.io/v1/VerticalPodAutoscaler';

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
  if (key === VPA_KIND) return vpaProblems(obj);
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

// --- VerticalPodAutoscaler (CRD) ------------------------------------------

type Schema =
  | { type: 'object'; properties: Record<string, Schema>; required?: string[] }
  | { type: 'map'; values: Schema }
  | { type: 'array'; items: Schema }
  | { type: 'string'; enum?: readonly string[] }
  | { type: 'integer'; minimum?: number }
  | { type: 'quantity' };

const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?(\d+(\.\d*)?|\.\d+))?$/;
const str: Schema = { type: 'string' };
const quantities: Schema = { type: 'map', values: { type: 'quantity' } };

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

function check(schema: Schema, v: unknown, path: string, out: string[]): void {
  switch (schema.type) {
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
      return;
    case 'integer':
      if (!Number.isInteger(v)) return void out.push(`${path}: expected an integer`);
      if (schema.minimum !== undefined && (v as number) < schema.minimum) out.push(`${path}: below ${schema.minimum}`);
      return;
    case 'quantity':
      if (!(Number.isInteger(v) || (typeof v === 'string' && QUANTITY.test(v)))) out.push(`${path}: not a quantity`);
      return;
  }
}

function vpaProblems(obj: Obj): string[] {
  const out: string[] = [];
  for (const k of Object.keys(obj)) {
    if (!['apiVersion', 'kind', 'metadata', 'spec'].includes(k)) out.push(`unknown field ${k}`);
  }
  // metadata is the ordinary ObjectMeta: check it with the real schema, as
  // the metadata of a (schema-less otherwise) ConfigMap.
  if (!isPlainObject(obj.metadata)) out.push('metadata: required');
  else out.push(...schemaProblems({ apiVersion: 'v1', kind: 'ConfigMap', metadata: obj.metadata }));
  if (obj.spec === undefined) out.push('spec: required');
  else check(VPA_SPEC, obj.spec, 'spec', out);
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
