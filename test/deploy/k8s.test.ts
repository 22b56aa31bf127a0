/**
 * Kubernetes manifests (k8s/*.yaml), checked offline — there is no cluster
 * here and `kubectl --dry-run` needs one:
 *  1. every document parses and validates against the Kubernetes schemas
 *     (kubernetes-models) with no unknown field (test/deploy/k8s-schema.ts);
 *  2. references hold: selectors, Services, ports, ConfigMaps, Secrets, PVCs,
 *     HPA/VPA targets, network policies — and the numbers docs/operations.md
 *     states (replicas, resources, security, HPA, VPA, storage);
 *  3. every env var given to the daemon is one it reads (src/config/env-schema.ts);
 *  4. the daemon's own config loader accepts the ConfigMap + Secret;
 *  5. the Prometheus side: PodMonitors, and the rules as a PrometheusRule and a
 *     ConfigMap identical to prometheus/rules (npm run k8s:rules).
 * The Secrets are not in the applied manifests: k8s/examples/secrets.example.yaml
 * documents them, and stands in for them where a reference must resolve.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { generate as generateRules, ruleFiles } from '../../scripts/container/k8s-rules.js';
import { envSchema } from '../../src/config/env-schema.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { kindKey, PODMONITOR_KIND, PROMETHEUSRULE_KIND, quantity, schemaProblems, VPA_KIND, type Obj } from './k8s-schema.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const K8S = join(REPO, 'k8s');
const NS = 'telemetry-system';
/** Namespaces the manifests use but do not own (Prometheus and prometheus-adapter live there). */
const EXTERNAL_NAMESPACES = new Set(['monitoring']);
/** ConfigMaps produced outside the manifests, with the folder they come from. */
const GENERATED_CONFIGMAPS = new Map([['grafana-dashboards', 'grafana/dashboards']]);
const HPA_METRIC = 'telemetry_collection_duration_seconds';

// --- loading -----------------------------------------------------------------

interface Doc {
  where: string;
  obj: Obj;
}

function loadFile(file: string): Doc[] {
  const text = readFileSync(join(K8S, file), 'utf8');
  const docs = parseAllDocuments(text);
  assert.ok(Array.isArray(docs), `${file}: no YAML documents`);
  const out: Doc[] = [];
  docs.forEach((d, i) => {
    const issues = [...d.errors, ...d.warnings].map((e) => e.message);
    assert.deepEqual(issues, [], `${file} document ${i + 1}`);
    const obj: unknown = d.toJS();
    if (obj === null) return; // comment-only document
    assert.ok(typeof obj === 'object' && !Array.isArray(obj), `${file} document ${i + 1} is not a mapping`);
    out.push({ where: `${file}#${i + 1}`, obj: obj as Obj });
  });
  return out;
}

const FILES = readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f)).sort();
/** What `kubectl apply -f k8s/<file>` creates. */
const DOCS = FILES.flatMap(loadFile);
/** What the operator creates by hand first (kubectl create secret ...), documented by this example. */
const SECRETS_EXAMPLE = 'examples/secrets.example.yaml';
const EXAMPLE_DOCS = loadFile(SECRETS_EXAMPLE);
const OBJECTS = [...DOCS, ...EXAMPLE_DOCS].map((d) => d.obj);

const kind = (o: Obj) => String(o.kind);
const meta = (o: Obj) => (o.metadata ?? {}) as { name?: string; namespace?: string; labels?: Record<string, string> };
const nameOf = (o: Obj) => String(meta(o).name);
const ofKind = <T>(k: string): T[] => OBJECTS.filter((o) => kind(o) === k) as unknown as T[];

function one<T>(k: string, name: string): T {
  const found = OBJECTS.filter((o) => kind(o) === k && nameOf(o) === name);
  assert.equal(found.length, 1, `exactly one ${k} ${name}`);
  return found[0] as unknown as T;
}

function must<T>(v: T | null | undefined, what: string): T {
  assert.ok(v !== undefined && v !== null, `${what} is missing`);
  return v;
}

interface Workload {
  kind: string;
  name: string;
  replicas: number;
  selector: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  template: IPodTemplateSpec;
  claimTemplates: string[];
}

const WORKLOADS: Workload[] = [
  ...ofKind<IDeployment>('Deployment').map((d) => ({ ...d, claimTemplates: [] as string[] })),
  ...ofKind<IStatefulSet>('StatefulSet').map((s) => ({
    ...s,
    claimTemplates: (s.spec?.volumeClaimTemplates ?? []).map((c) => must(c.metadata?.name, 'claim template name')),
  })),
].map((w) => {
  const spec = must(w.spec, `${w.kind} spec`);
  return {
    kind: w.kind,
    name: must(w.metadata?.name, 'name'),
    replicas: spec.replicas ?? 1,
    selector: spec.selector,
    template: spec.template,
    claimTemplates: w.claimTemplates,
  };
});

const workload = (name: string) => must(WORKLOADS.find((w) => w.name === name), `workload ${name}`);
const podLabels = (w: Workload) => w.template.metadata?.labels ?? {};
const containers = (w: Workload): IContainer[] => w.template.spec?.containers ?? [];
const container = (w: Workload, name: string) => must(containers(w).find((c) => c.name === name), `container ${name} of ${w.name}`);

function matches(sel: Workload['selector'] | undefined, labels: Record<string, string>): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    const inValues = has && (e.values ?? []).includes(labels[e.key] ?? '');
    const ok = { In: inValues, NotIn: !inValues, Exists: has, DoesNotExist: !has }[e.operator];
    if (!ok) return false;
  }
  return true;
}

const selected = (sel: Workload['selector'] | undefined) => WORKLOADS.filter((w) => matches(sel, podLabels(w)));

/** Does one of the workload's containers expose this port (number or name)? */
function exposes(w: Workload, port: number | string | undefined, protocol = 'TCP'): boolean {
  return containers(w).some((c) =>
    (c.ports ?? []).some(
      (p) => (p.protocol ?? 'TCP') === protocol && (typeof port === 'number' ? p.containerPort === port : p.name === port),
    ),
  );
}

function configMapData(name: string): Record<string, string> {
  return one<IConfigMap>('ConfigMap', name).data ?? {};
}

function secretData(name: string): Record<string, string> {
  const s = one<ISecret>('Secret', name);
  const decoded = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
  return { ...decoded, ...(s.stringData ?? {}) };
}

/** The environment a container gets from the manifests (envFrom, then env). */
function containerEnv(c: IContainer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const src of c.envFrom ?? []) {
    const data = src.configMapRef ? configMapData(must(src.configMapRef.name, 'configMapRef')) : src.secretRef ? secretData(must(src.secretRef.name, 'secretRef')) : {};
    for (const [k, v] of Object.entries(data)) env[(src.prefix ?? '') + k] = v;
  }
  for (const e of c.env ?? []) {
    const cm = e.valueFrom?.configMapKeyRef;
    const sk = e.valueFrom?.secretKeyRef;
    // The downward API, as the kubelet fills it for the first pod of the StatefulSet.
    const field = { 'metadata.name': 'network-telemetry-0', 'metadata.namespace': NS }[e.valueFrom?.fieldRef?.fieldPath ?? ''];
    const v = e.value ?? field ?? (cm ? configMapData(must(cm.name, 'configMapKeyRef'))[cm.key] : sk ? secretData(must(sk.name, 'secretKeyRef'))[sk.key] : undefined);
    env[e.name] = must(v, `value of ${e.name}`);
  }
  return env;
}

const daemon = () => workload('network-telemetry');
const daemonContainer = () => container(daemon(), 'telemetry');
const daemonEnv = () => containerEnv(daemonContainer());

// --- 1. parsing and schemas ----------------------------------------------------

describe('k8s manifests: parsing and Kubernetes schemas', () => {
  test('the manifests exist, every document parses, and each is a Kubernetes object', () => {
    assert.ok(FILES.includes('telemetry-deployment.yaml'), 'k8s/telemetry-deployment.yaml (docs/operations.md names it)');
    assert.ok(DOCS.length >= 25, `found ${DOCS.length} objects`);
    for (const d of [...DOCS, ...EXAMPLE_DOCS]) {
      assert.equal(typeof d.obj.apiVersion, 'string', `${d.where}: apiVersion`);
      assert.equal(typeof d.obj.kind, 'string', `${d.where}: kind`);
      assert.match(nameOf(d.obj), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${d.where}: metadata.name`);
    }
  });

  test('every object validates against its schema and has no unknown field', () => {
    const problems = [...DOCS, ...EXAMPLE_DOCS].flatMap((d) => schemaProblems(d.obj).map((p) => `${d.where} ${kind(d.obj)}/${nameOf(d.obj)}: ${p}`));
    assert.deepEqual(problems, []);
  });

  test('names are unique per kind and namespace', () => {
    const ids = OBJECTS.map((o) => `${kind(o)} ${meta(o).namespace ?? ''}/${nameOf(o)}`);
    assert.deepEqual(ids.filter((id, i) => ids.indexOf(id) !== i), []);
  });

  test('the unknown-field check catches what kubernetes-models lets through', () => {
    const bad = structuredClone(one<Obj>('StatefulSet', 'network-telemetry'));
    const spec = bad.spec as Obj;
    spec.replica = 3; // typo of "replicas"
    const c = ((spec.template as Obj).spec as { containers: Obj[] }).containers[0] as Obj;
    c.readinessprobe = c.readinessProbe; // typo of "readinessProbe"
    delete c.readinessProbe;
    assert.doesNotThrow(() => new StatefulSet(bad as never).validate(), 'kubernetes-models alone accepts both typos');
    assert.deepEqual(schemaProblems(bad).sort(), ['unknown field spec.replica', 'unknown field spec.template.spec.containers[0].readinessprobe']);
  });

  test('the schema check rejects wrong types, missing fields and unknown kinds', () => {
    const bad = structuredClone(one<Obj>('Service', 'network-telemetry'));
    (bad.spec as Obj).ports = [{ port: '8080' }];
    assert.match(schemaProblems(bad).join('\n'), /ports\/0\/port must be integer/);
    const noSelector = structuredClone(one<Obj>('Deployment', 'redis'));
    delete (noSelector.spec as Obj).selector;
    assert.match(schemaProblems(noSelector).join('\n'), /selector/);
    assert.deepEqual(schemaProblems({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'x' } }), [
      'no schema for example.com/v1/Widget',
    ]);
  });

  test('the VerticalPodAutoscaler check (CRD schema) rejects unknown fields and bad values', () => {
    const vpa = one<Obj>('VerticalPodAutoscaler', 'influxdb-vpa');
    assert.equal(kindKey(vpa), VPA_KIND);
    const bad = structuredClone(vpa);
    const spec = bad.spec as Obj;
    (spec.updatePolicy as Obj).updateMode = 'Sometimes';
    spec.targetref = spec.targetRef;
    delete spec.targetRef;
    const policy = ((spec.resourcePolicy as Obj).containerPolicies as Obj[])[0] as Obj;
    (policy.maxAllowed as Obj).cpu = 'four cores';
    (bad.metadata as Obj).lables = {};
    assert.deepEqual(schemaProblems(bad).sort(), [
      'spec.resourcePolicy.containerPolicies[0].maxAllowed.cpu: not a quantity',
      'spec.targetRef: required',
      'spec.updatePolicy.updateMode: "Sometimes" is not one of Off, Initial, Recreate, InPlaceOrRecreate, Auto',
      'unknown field metadata.lables',
      'unknown field spec.targetref',
    ]);
  });

  test('the PodMonitor and PrometheusRule checks (CRD schemas) reject unknown fields and bad values', () => {
    const pm = structuredClone(one<Obj>('PodMonitor', 'network-telemetry'));
    assert.equal(kindKey(pm), PODMONITOR_KIND);
    const spec = pm.spec as Obj;
    spec.podMetricEndpoints = spec.podMetricsEndpoints; // typo of podMetricsEndpoints
    delete spec.podMetricsEndpoints;
    delete spec.selector;
    spec.jobLabel = 7;
    assert.deepEqual(schemaProblems(pm).sort(), ['spec.jobLabel: expected a string', 'spec.selector: required', 'unknown field spec.podMetricEndpoints']);
    const endpoint = structuredClone(one<Obj>('PodMonitor', 'network-telemetry'));
    ((endpoint.spec as Obj).podMetricsEndpoints as Obj[])[0]!.interval = '15 seconds';
    assert.match(schemaProblems(endpoint).join('\n'), /interval: "15 seconds" does not match/);

    const rule = structuredClone(one<Obj>('PrometheusRule', 'network-telemetry'));
    assert.equal(kindKey(rule), PROMETHEUSRULE_KIND);
    const first = (((rule.spec as Obj).groups as Obj[])[0]!.rules as Obj[])[0]!;
    first.record = 'x:y';
    first.duration = '5m'; // "for" under another name
    assert.deepEqual(schemaProblems(rule).sort(), [
      'spec.groups[0].rules[0]: "for" on a recording rule',
      'spec.groups[0].rules[0]: exactly one of alert and record',
      'unknown field spec.groups[0].rules[0].duration',
    ]);
  });

  test('the YAML parser reports duplicate keys (a silent override otherwise)', () => {
    const docs = parseAllDocuments('a: 1\na: 2\n');
    assert.ok(Array.isArray(docs) && (docs[0]?.errors.length ?? 0) > 0);
  });
});

// --- 2. consistency ----------------------------------------------------------------

describe('k8s manifests: references', () => {
  test('namespaced objects live in telemetry-system (defined here) or a documented external namespace', () => {
    assert.ok(OBJECTS.some((o) => kind(o) === 'Namespace' && nameOf(o) === NS));
    for (const o of OBJECTS) {
      if (kind(o) === 'Namespace') continue;
      const ns = meta(o).namespace;
      assert.ok(ns === NS || (ns !== undefined && EXTERNAL_NAMESPACES.has(ns)), `${kind(o)}/${nameOf(o)} namespace ${ns}`);
    }
  });

  test('Pod Security: the namespace enforces baseline (warns at restricted), and every pod passes baseline', () => {
    const ns = OBJECTS.find((o) => kind(o) === 'Namespace' && nameOf(o) === NS)!;
    const labels = meta(ns).labels ?? {};
    assert.equal(labels['pod-security.kubernetes.io/enforce'], 'baseline');
    assert.equal(labels['pod-security.kubernetes.io/warn'], 'restricted');
    // The capabilities baseline lets a container add (Pod Security Standards).
    const BASELINE_CAPS = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT', 'NET_RAW']);
    for (const w of WORKLOADS) {
      const pod = w.template.spec as unknown as Record<string, any>;
      for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) assert.notEqual(pod[k], true, `${w.name}: ${k}`);
      assert.ok(!(pod.volumes ?? []).some((v: Record<string, unknown>) => v.hostPath), `${w.name}: no hostPath`);
      for (const c of [...(pod.containers ?? []), ...(pod.initContainers ?? [])]) {
        assert.notEqual(c.securityContext?.privileged, true, `${w.name}/${c.name}: privileged`);
        for (const cap of c.securityContext?.capabilities?.add ?? []) assert.ok(BASELINE_CAPS.has(cap), `${w.name}/${c.name}: adds ${cap}, which baseline refuses`);
        assert.ok(!(c.ports ?? []).some((p: { hostPort?: number }) => p.hostPort), `${w.name}/${c.name}: hostPort`);
      }
    }
  });

  test('workload selectors match their own pod template labels', () => {
    assert.deepEqual(WORKLOADS.map((w) => w.name).sort(), ['grafana', 'influxdb', 'network-telemetry', 'redis']);
    for (const w of WORKLOADS) {
      assert.ok(matches(w.selector, podLabels(w)), `${w.kind}/${w.name}`);
      const others = WORKLOADS.filter((o) => o !== w && matches(w.selector, podLabels(o)));
      assert.deepEqual(others.map((o) => o.name), [], `${w.name}'s selector catches other pods`);
    }
  });

  test('every Service selects pods, and each targetPort is a container port of them', () => {
    for (const s of ofKind<IService>('Service')) {
      const pods = selected({ matchLabels: s.spec?.selector });
      assert.ok(pods.length > 0, `Service ${s.metadata?.name} selects nothing`);
      for (const p of s.spec?.ports ?? []) {
        for (const w of pods) {
          assert.ok(exposes(w, p.targetPort ?? p.port, p.protocol), `Service ${s.metadata?.name} port ${p.port} -> ${p.targetPort} on ${w.name}`);
        }
      }
    }
  });

  test('probes use ports their container exposes', () => {
    for (const w of WORKLOADS) {
      for (const c of containers(w)) {
        for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
          const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
          if (port !== undefined) assert.ok(exposes(w, port), `${w.name}/${c.name} probe port ${port}`);
        }
      }
    }
  });

  test('no Secret is applied with the manifests; the example documents every Secret and key they read', () => {
    assert.deepEqual(DOCS.filter((d) => kind(d.obj) === 'Secret').map((d) => d.where), [], 're-applying would reset them');
    assert.deepEqual(EXAMPLE_DOCS.map((d) => kind(d.obj)), EXAMPLE_DOCS.map(() => 'Secret'));
    const readme = readFileSync(join(K8S, 'README.md'), 'utf8');
    for (const d of EXAMPLE_DOCS) {
      const name = nameOf(d.obj);
      assert.ok(readme.includes(`create secret generic ${name}`), `k8s/README.md shows how to create ${name}`);
    }
    // Every secretKeyRef of the workloads is a key of the example, and vice versa.
    const used = new Set<string>();
    for (const w of WORKLOADS) for (const c of containers(w)) for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) used.add(`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`);
    const documented = new Set(EXAMPLE_DOCS.flatMap((d) => Object.keys(secretData(nameOf(d.obj))).map((k) => `${nameOf(d.obj)}/${k}`)));
    assert.deepEqual([...used].sort(), [...documented].sort());
  });

  test('every referenced ConfigMap, Secret and key exists (or the ConfigMap is generated and optional)', () => {
    const configMaps = new Set(ofKind<IConfigMap>('ConfigMap').map((c) => c.metadata?.name));
    const secrets = new Set(ofKind<ISecret>('Secret').map((c) => c.metadata?.name));
    const problems: string[] = [];
    for (const w of WORKLOADS) {
      const spec = must(w.template.spec, `${w.name} pod spec`);
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        for (const src of c.envFrom ?? []) {
          if (src.configMapRef && !configMaps.has(src.configMapRef.name)) problems.push(`${w.name}: envFrom ConfigMap ${src.configMapRef.name}`);
          if (src.secretRef && !secrets.has(src.secretRef.name)) problems.push(`${w.name}: envFrom Secret ${src.secretRef.name}`);
        }
        for (const e of c.env ?? []) {
          const cm = e.valueFrom?.configMapKeyRef;
          const sk = e.valueFrom?.secretKeyRef;
          if (cm && !(configMaps.has(cm.name) && cm.key in configMapData(must(cm.name, 'name')))) problems.push(`${w.name}: ${e.name} <- ConfigMap ${cm.name}/${cm.key}`);
          if (sk && !(secrets.has(sk.name) && sk.key in secretData(must(sk.name, 'name')))) problems.push(`${w.name}: ${e.name} <- Secret ${sk.name}/${sk.key}`);
        }
      }
      for (const v of spec.volumes ?? []) {
        const cm = v.configMap?.name;
        if (cm && !configMaps.has(cm)) {
          if (!GENERATED_CONFIGMAPS.has(cm)) problems.push(`${w.name}: volume ${v.name} ConfigMap ${cm}`);
          else if (v.configMap?.optional !== true) problems.push(`${w.name}: generated ConfigMap ${cm} must be optional`);
        }
        const sec = v.secret?.secretName;
        if (sec && !secrets.has(sec)) problems.push(`${w.name}: volume ${v.name} Secret ${sec}`);
      }
    }
    assert.deepEqual(problems, []);
    for (const name of GENERATED_CONFIGMAPS.keys()) assert.ok(!configMaps.has(name), `${name} is generated, so the manifests must not overwrite it`);
  });

  test('volumes: every mount has a volume, every volume is mounted, every PVC exists', () => {
    const claims = new Set(ofKind<IPersistentVolumeClaim>('PersistentVolumeClaim').map((c) => c.metadata?.name));
    for (const w of WORKLOADS) {
      const spec = must(w.template.spec, `${w.name} pod spec`);
      const volumes = new Set([...(spec.volumes ?? []).map((v) => v.name), ...w.claimTemplates]);
      const mounted = new Set(spec.containers.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)));
      for (const m of mounted) assert.ok(volumes.has(m), `${w.name}: mount of unknown volume ${m}`);
      for (const v of volumes) assert.ok(mounted.has(v), `${w.name}: volume ${v} is never mounted`);
      for (const v of spec.volumes ?? []) {
        const claim = v.persistentVolumeClaim?.claimName;
        if (claim) assert.ok(claims.has(claim), `${w.name}: PVC ${claim}`);
      }
    }
  });

  test('a ReadWriteOnce claim is used by one replica, replaced with Recreate', () => {
    const rwo = new Set(
      ofKind<IPersistentVolumeClaim>('PersistentVolumeClaim')
        .filter((c) => (c.spec?.accessModes ?? []).every((m) => m === 'ReadWriteOnce' || m === 'ReadWriteOncePod'))
        .map((c) => c.metadata?.name),
    );
    for (const d of ofKind<IDeployment>('Deployment')) {
      const claims = (d.spec?.template.spec?.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter((c) => c !== undefined);
      if (!claims.some((c) => rwo.has(c))) continue;
      assert.equal(d.spec?.replicas, 1, `${d.metadata?.name}: RWO storage cannot be shared by replicas`);
      assert.equal(d.spec?.strategy?.type, 'Recreate', `${d.metadata?.name}: a rolling update would wait for the volume`);
    }
  });

  test('PodDisruptionBudgets select a workload and still allow evictions', () => {
    const pdbs = ofKind<IPodDisruptionBudget>('PodDisruptionBudget');
    assert.deepEqual(pdbs.map((p) => p.metadata?.name).sort(), ['influxdb', 'network-telemetry']);
    for (const p of pdbs) {
      const pods = selected(p.spec?.selector);
      assert.equal(pods.length, 1, `PDB ${p.metadata?.name}`);
      const w = must(pods[0], 'workload');
      const allowed = p.spec?.maxUnavailable ?? w.replicas - Number(p.spec?.minAvailable ?? 0);
      assert.ok(Number(allowed) >= 1, `PDB ${p.metadata?.name} blocks every eviction`);
    }
    assert.equal(one<IPodDisruptionBudget>('PodDisruptionBudget', 'network-telemetry').spec?.maxUnavailable, 1);
    assert.equal(one<IPodDisruptionBudget>('PodDisruptionBudget', 'influxdb').spec?.maxUnavailable, 1);
  });

  test('the HPA scales the daemon StatefulSet exactly as docs/operations.md states', () => {
    const hpa = one<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler', 'network-telemetry-hpa');
    const spec = must(hpa.spec, 'HPA spec');
    assert.deepEqual(spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'network-telemetry' });
    one<IStatefulSet>('StatefulSet', spec.scaleTargetRef.name);
    assert.equal(spec.minReplicas, 3);
    assert.equal(spec.maxReplicas, 20);
    // No spec.replicas in the StatefulSet the HPA drives: kubectl apply would reset the HPA's count to it.
    assert.equal(one<IStatefulSet>('StatefulSet', 'network-telemetry').spec?.replicas, undefined, 'the HPA owns the count');
    assert.deepEqual(spec.metrics, [
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
      // Memory: 1.5x the measured steady state (docs/sizing.md "Memory"), not the guide's 80 %, which held every count reached.
      { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 120 } } },
      { type: 'Pods', pods: { metric: { name: HPA_METRIC }, target: { type: 'AverageValue', averageValue: '30' } } },
    ]);
    // "50% increase every 60s (max 2 pods)": the smaller of the two policies;
    // "10% decrease every 60s (5min stabilization)". Scale-up also waits 120 s,
    // longer than a round and a scrape: the metric's lag (docs/sizing.md).
    assert.deepEqual(spec.behavior, {
      scaleUp: {
        stabilizationWindowSeconds: 120,
        selectPolicy: 'Min',
        policies: [
          { type: 'Percent', value: 50, periodSeconds: 60 },
          { type: 'Pods', value: 2, periodSeconds: 60 },
        ],
      },
      scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }] },
    });
    // Utilization targets are relative to requests: the container must set them.
    const req = daemonContainer().resources?.requests ?? {};
    assert.ok(req.cpu !== undefined && req.memory !== undefined);
  });

  test('the prometheus-adapter rule serves the HPA metric per pod', () => {
    const cm = one<IConfigMap>('ConfigMap', 'prometheus-adapter-config');
    const ns = must(cm.metadata?.namespace, 'adapter namespace');
    assert.ok(EXTERNAL_NAMESPACES.has(ns));
    const config = parseYaml(must(cm.data?.['config.yaml'], 'config.yaml (the key the chart mounts)'), { uniqueKeys: true }) as Obj;
    assert.deepEqual(Object.keys(config), ['rules']);
    const rules = config.rules as Obj[];
    assert.equal(rules.length, 1);
    const rule = must(rules[0], 'rule');
    assert.deepEqual(Object.keys(rule).sort(), ['metricsQuery', 'name', 'resources', 'seriesQuery']);
    assert.equal(rule.seriesQuery, `${HPA_METRIC}{namespace!="",pod!=""}`);
    assert.deepEqual(rule.resources, { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } });
    const name = rule.name as { matches: string; as: string };
    assert.ok(new RegExp(name.matches).test(HPA_METRIC));
    assert.equal(name.as, HPA_METRIC);
    assert.equal(rule.metricsQuery, 'max(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)');
  });

  test('prometheus-adapter is installed with the Prometheus port, not only the URL (the chart appends 9090 otherwise)', () => {
    for (const f of ['README.md', 'prometheus-adapter-config.yaml']) {
      const text = readFileSync(join(K8S, f), 'utf8').replace(/\\\n\s*(#\s*)?/g, ' ');
      const installs = [...text.matchAll(/helm install prometheus-adapter [^\n]*/g)].map((m) => m[0]);
      assert.ok(installs.length > 0, `${f}: the helm install line`);
      for (const line of installs) {
        const url = /--set prometheus\.url=(\S+)/.exec(line)?.[1];
        const port = /--set prometheus\.port=(\d+)/.exec(line)?.[1];
        assert.ok(url, `${f}: ${line}`);
        assert.ok(port || /:\d+$/.test(new URL(url).host), `${f}: no port for ${url}: ${line}`);
        // The prometheus chart's Service (prometheus-server) listens on 80.
        if (url.includes('prometheus-server.')) assert.equal(port, '80', `${f}: ${line}`);
      }
    }
  });

  test('the daemon and Redis pods are scraped where Prometheus looks: annotations and PodMonitors', () => {
    for (const w of [daemon(), workload('redis')]) {
      const ann = w.template.metadata?.annotations ?? {};
      assert.equal(ann['prometheus.io/scrape'], 'true', w.name);
      assert.equal(ann['prometheus.io/path'], '/metrics', w.name);
      assert.ok(exposes(w, Number(ann['prometheus.io/port'])), `${w.name} exposes ${ann['prometheus.io/port']}`);
      // The PodMonitor of the same pods: their label, a port they expose, the label the rules select on.
      const pms = ofKind<Obj>('PodMonitor').filter((pm) => matches((pm.spec as Obj).selector as Workload['selector'], podLabels(w)));
      assert.equal(pms.length, 1, `one PodMonitor for ${w.name}`);
      const pm = must(pms[0], 'PodMonitor').spec as { podTargetLabels: string[]; jobLabel: string; podMetricsEndpoints: { port: string; path: string }[] };
      assert.deepEqual(pm.podTargetLabels, ['app.kubernetes.io/name']);
      assert.equal(pm.jobLabel, 'app.kubernetes.io/name');
      for (const e of pm.podMetricsEndpoints) {
        assert.ok(exposes(w, e.port), `${w.name}: PodMonitor port ${e.port}`);
        assert.equal(e.path, ann['prometheus.io/path']);
        assert.equal(w.template.spec?.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === e.port)?.containerPort, Number(ann['prometheus.io/port']), `${w.name}: same port both ways`);
      }
    }
  });

  test('the alerting rules select by a label every Kubernetes scrape carries (app.kubernetes.io/name as app_kubernetes_io_name)', () => {
    const rules = ruleFiles().map((f) => f.text).join('\n');
    const selected = new Set([...rules.matchAll(/app_kubernetes_io_name="([^"]+)"/g)].map((m) => m[1]!));
    assert.deepEqual([...selected].sort(), ['influxdb', 'network-telemetry', 'redis']);
    // Those on Kubernetes pods: the pods carry the label with that value.
    for (const app of ['network-telemetry', 'redis']) assert.equal(podLabels(workload(app))['app.kubernetes.io/name'], app);
    assert.doesNotMatch(rules, /job="network-telemetry"/, 'job differs between compose, the kubernetes-pods job and a PodMonitor');
  });

  test('the Kubernetes rules are prometheus/rules, as a PrometheusRule and as a plain ConfigMap, up to date (npm run k8s:rules)', () => {
    for (const [path, text] of Object.entries(generateRules())) {
      assert.equal(readFileSync(join(REPO, path), 'utf8'), text, `${path} is stale: run npm run k8s:rules`);
    }
    const groups = ruleFiles().flatMap((f) => (parseYaml(f.text) as { groups: unknown[] }).groups);
    assert.deepEqual((one<Obj>('PrometheusRule', 'network-telemetry').spec as Obj).groups, groups);
    const cm = one<IConfigMap>('ConfigMap', 'network-telemetry-rules');
    assert.equal(cm.metadata?.namespace, 'monitoring', 'next to the Prometheus that mounts it');
    assert.deepEqual(cm.data, Object.fromEntries(ruleFiles().map((f) => [f.name, f.text])));
    const alerts = groups.flatMap((g) => (g as { rules: { alert?: string }[] }).rules).map((r) => r.alert);
    for (const a of ['TelemetryAllCollectorsGone', 'RedisDown', 'TelemetryOutboxEndpointBehind', 'InfluxDBDiskSpaceLow']) assert.ok(alerts.includes(a), a);
  });

  test('the InfluxDB StatefulSet: headless service, storage, resources, setup shared with the daemon', () => {
    const sts = one<IStatefulSet>('StatefulSet', 'influxdb');
    const spec = must(sts.spec, 'sts spec');
    const headless = one<IService>('Service', spec.serviceName ?? '');
    assert.equal(headless.metadata?.name, 'influxdb-headless');
    assert.equal(headless.spec?.clusterIP, 'None');
    assert.ok(matches({ matchLabels: headless.spec?.selector }, podLabels(workload('influxdb'))));
    assert.equal(spec.replicas, 2);
    const claims = spec.volumeClaimTemplates ?? [];
    assert.equal(claims.length, 1);
    const claim = must(claims[0], 'claim template');
    assert.equal(claim.metadata?.name, 'influxdb-storage');
    assert.deepEqual(claim.spec?.accessModes, ['ReadWriteOnce']);
    assert.equal(quantity(claim.spec?.resources?.requests?.storage), 50 * 2 ** 30);
    const c = container(workload('influxdb'), 'influxdb');
    assert.equal(c.image, 'docker.io/library/influxdb:2.7');
    assert.deepEqual(c.volumeMounts?.find((m) => m.name === 'influxdb-storage')?.mountPath, '/var/lib/influxdb2');
    assert.equal(quantity(c.resources?.requests?.cpu), 0.5);
    assert.equal(quantity(c.resources?.requests?.memory), 2 ** 30);
    assert.equal(quantity(c.resources?.limits?.cpu), 1);
    assert.equal(quantity(c.resources?.limits?.memory), 2 * 2 ** 30);
    assert.equal(c.livenessProbe?.httpGet?.path, '/health');
    assert.equal(c.readinessProbe?.httpGet?.path, '/health');
    // One org, bucket and token for InfluxDB's setup, the daemons and Grafana.
    const influxEnv = containerEnv(c);
    const env = daemonEnv();
    assert.equal(influxEnv.DOCKER_INFLUXDB_INIT_MODE, 'setup');
    assert.equal(influxEnv.DOCKER_INFLUXDB_INIT_ORG, env.INFLUXDB_ORG);
    assert.equal(influxEnv.DOCKER_INFLUXDB_INIT_BUCKET, env.INFLUXDB_BUCKET);
    assert.equal(env.INFLUXDB_BUCKET, 'telemetry');
    const daemonToken = must(daemonContainer().env?.find((e) => e.name === 'INFLUXDB_TOKEN')?.valueFrom?.secretKeyRef, "the daemon's token");
    assert.deepEqual(c.env?.find((e) => e.name === 'DOCKER_INFLUXDB_INIT_ADMIN_TOKEN')?.valueFrom?.secretKeyRef, daemonToken);
    assert.ok((influxEnv.DOCKER_INFLUXDB_INIT_PASSWORD ?? '').length >= 8, 'InfluxDB setup refuses passwords under 8 characters');
  });

  test('the daemon writes to every InfluxDB pod (mirror mode) and finds Redis through its Service', () => {
    const env = daemonEnv();
    const sts = workload('influxdb');
    const svc = one<IStatefulSet>('StatefulSet', 'influxdb').spec?.serviceName;
    const port = must(one<IService>('Service', must(svc, 'serviceName')).spec?.ports?.[0]?.port, 'headless port');
    const expected = Array.from({ length: sts.replicas }, (_, i) => `http://influxdb-${i}.${svc}.${NS}.svc:${port}`);
    assert.deepEqual(must(env.INFLUXDB_URLS, 'INFLUXDB_URLS').split(','), expected);
    const redis = new URL(must(env.REDIS_URL, 'REDIS_URL'));
    const [svcName, svcNs, svcSuffix] = redis.hostname.split('.');
    assert.equal(`${svcNs}.${svcSuffix}`, `${NS}.svc`);
    const redisSvc = one<IService>('Service', must(svcName, 'redis service'));
    assert.ok(redisSvc.spec?.ports?.some((p) => p.port === Number(redis.port)));
    assert.deepEqual(container(workload('redis'), 'redis').args, ['redis-server', '--save', '', '--appendonly', 'no']);
    assert.equal(workload('redis').replicas, 1);
  });

  test('the VPA bounds the InfluxDB StatefulSet (500m..4000m CPU, 1..8Gi)', () => {
    const vpa = one<Obj>('VerticalPodAutoscaler', 'influxdb-vpa') as { spec: Obj };
    assert.deepEqual(vpa.spec.targetRef, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'influxdb' });
    assert.deepEqual(vpa.spec.updatePolicy, { updateMode: 'Recreate' });
    const policies = (vpa.spec.resourcePolicy as { containerPolicies: Obj[] }).containerPolicies;
    assert.equal(policies.length, 1);
    const p = must(policies[0], 'container policy') as { containerName: string; minAllowed: Obj; maxAllowed: Obj };
    const c = container(workload('influxdb'), p.containerName);
    assert.equal(quantity(p.minAllowed.cpu), 0.5);
    assert.equal(quantity(p.minAllowed.memory), 2 ** 30);
    assert.equal(quantity(p.maxAllowed.cpu), 4);
    assert.equal(quantity(p.maxAllowed.memory), 8 * 2 ** 30);
    for (const r of ['cpu', 'memory']) {
      const req = quantity(c.resources?.requests?.[r]);
      assert.ok(quantity(p.minAllowed[r]) <= req && req <= quantity(p.maxAllowed[r]), `${r} request inside the VPA bounds`);
    }
  });

  test('every image is fully qualified (registry host, path, tag)', () => {
    for (const w of WORKLOADS) {
      for (const c of containers(w)) assert.match(String(c.image), /^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?\/[a-z0-9._/-]+:[\w.-]+$/, `${w.name}/${c.name}: ${c.image}`);
    }
    assert.equal(daemonContainer().image, 'registry.example.com/network-telemetry/network-telemetry:0.1.0', 'a placeholder to replace');
  });

  test('the daemon StatefulSet: its outbox on a claim per replica that outlives the pod and a scale-down', () => {
    const sts = one<IStatefulSet>('StatefulSet', 'network-telemetry');
    const spec = must(sts.spec, 'spec');
    const headless = one<IService>('Service', must(spec.serviceName, 'serviceName'));
    assert.equal(headless.spec?.clusterIP, 'None');
    assert.ok(matches({ matchLabels: headless.spec?.selector }, podLabels(daemon())));
    assert.equal(spec.podManagementPolicy, 'Parallel', 'the HPA adds and removes several at once');
    assert.deepEqual(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
    const env = daemonEnv();
    const mount = must(daemonContainer().volumeMounts?.find((m) => m.mountPath === env.DATA_DIR), 'DATA_DIR mount');
    const claim = must(spec.volumeClaimTemplates?.find((t) => t.metadata?.name === mount.name), 'DATA_DIR is a claim template');
    assert.deepEqual(claim.spec?.accessModes, ['ReadWriteOnce']);
    // The outbox bound stays well under the claim (SQLite pages and WAL on top).
    assert.ok(quantity(claim.spec?.resources?.requests?.storage) >= 2 * Number(env.OUTBOX_MAX_BYTES), 'claim >= 2 x OUTBOX_MAX_BYTES');
    assert.ok(!(daemon().template.spec?.volumes ?? []).some((v) => v.name === mount.name), 'no pod volume shadows the claim');
    const readme = readFileSync(join(K8S, 'README.md'), 'utf8');
    assert.match(readme, /StatefulSet for the daemons, for the outbox/);
    assert.match(readme, /HPA scales a StatefulSet exactly as a Deployment/);
  });

  test('the daemon pods: replicas, resources, security, probes, graceful leave', () => {
    const w = daemon();
    const c = daemonContainer();
    const pod = must(w.template.spec, 'pod spec');
    const env = daemonEnv();
    assert.deepEqual(c.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    assert.equal(Number(env.PORT), 8080);
    assert.equal(quantity(c.resources?.requests?.cpu), 0.25);
    assert.equal(quantity(c.resources?.requests?.memory), 320 * 2 ** 20);
    assert.equal(quantity(c.resources?.limits?.cpu), 0.5);
    assert.equal(quantity(c.resources?.limits?.memory), 768 * 2 ** 20);
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 2000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    // allowPrivilegeEscalation stays true on purpose: under no_new_privs the
    // kernel ignores the file capabilities fping and mtr-packet get in the
    // image, and a uid-1000 process has no other way to NET_RAW.
    assert.deepEqual(c.securityContext, {
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: true,
      capabilities: { drop: ['ALL'], add: ['NET_RAW'] },
    });
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/health/live', port: 'http' });
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/health/ready', port: 'http' });

    // Writable paths on a read-only root: DATA_DIR (a claim, above) and /tmp (an emptyDir).
    const mounts = new Map((c.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
    const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
    assert.ok(mounts.has(must(env.DATA_DIR, 'DATA_DIR')));
    assert.ok(volumes.get(must(mounts.get('/tmp'), '/tmp mount'))?.emptyDir);
    // COLLECT_TOKEN from the Secret, required: one token for every replica behind the Service.
    assert.deepEqual(c.env?.find((e) => e.name === 'COLLECT_TOKEN')?.valueFrom?.secretKeyRef, { name: 'network-telemetry-secrets', key: 'COLLECT_TOKEN' });

    // preStop, then SIGTERM: the daemon's whole stop (cluster leave included)
    // is bounded by SHUTDOWN_TIMEOUT; the kubelet kills at the grace period.
    const cmd = must(c.lifecycle?.preStop?.exec?.command, 'preStop exec');
    assert.equal(cmd[0], '/bin/sleep');
    const preStop = Number(cmd[1]);
    assert.ok(preStop >= 3 && preStop <= 10, 'long enough for endpoints to drop the pod');
    const grace = must(pod.terminationGracePeriodSeconds, 'terminationGracePeriodSeconds');
    assert.ok(grace >= preStop + Number(env.SHUTDOWN_TIMEOUT) + 5, `grace ${grace} > preStop ${preStop} + SHUTDOWN_TIMEOUT ${env.SHUTDOWN_TIMEOUT}`);
  });

  test('the daemon may read its StatefulSet\'s scale and nothing else (the scale-down hand-off)', () => {
    const pod = must(daemon().template.spec, 'pod spec');
    assert.equal(pod.automountServiceAccountToken, true);
    const sa = must(
      OBJECTS.find((d) => kind(d) === 'ServiceAccount' && nameOf(d) === pod.serviceAccountName),
      'the ServiceAccount',
    );
    assert.equal(sa.automountServiceAccountToken, false, 'no other pod gets its token by default');
    const binding = must(
      OBJECTS.find((d) => kind(d) === 'RoleBinding' && (d.subjects as Obj[]).some((x) => x.kind === 'ServiceAccount' && x.name === pod.serviceAccountName)),
      'a RoleBinding of the ServiceAccount',
    );
    const role = must(
      OBJECTS.find((d) => kind(d) === 'Role' && nameOf(d) === (binding.roleRef as Obj).name),
      'the bound Role',
    );
    assert.deepEqual(role.rules, [{ apiGroups: ['apps'], resources: ['statefulsets/scale'], resourceNames: ['network-telemetry'], verbs: ['get'] }]);
    // The departure check names the pod and namespace through the downward API.
    const env = new Map((daemonContainer().env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    assert.equal(env.get('POD_NAME'), 'metadata.name');
    assert.equal(env.get('POD_NAMESPACE'), 'metadata.namespace');
  });

  test('the daemon\'s claim holds what its disk bounds allow (store + outbox + margin)', () => {
    const sts = one<IStatefulSet>('StatefulSet', 'network-telemetry');
    const claim = quantity(must(sts.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage, 'claim size'));
    const env = daemonEnv();
    const store = Number(must(env.EMBEDDED_MAX_BYTES, 'EMBEDDED_MAX_BYTES set in the ConfigMap (the default is 4 GiB)'));
    const outbox = Number(must(env.OUTBOX_MAX_BYTES, 'OUTBOX_MAX_BYTES set in the ConfigMap (the default is 1 GiB)'));
    assert.ok(claim >= store + outbox + 2 ** 30, `claim ${claim} >= EMBEDDED_MAX_BYTES ${store} + OUTBOX_MAX_BYTES ${outbox} + 1 GiB`);
  });

  test('every container has requests and limits, runs as non-root, drops all capabilities', () => {
    for (const w of WORKLOADS) {
      const pod = must(w.template.spec, 'pod spec');
      assert.equal(pod.securityContext?.runAsNonRoot, true, `${w.name} runAsNonRoot`);
      assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${w.name} seccomp`);
      // The daemon reads one thing from the API: its StatefulSet's scale, at SIGTERM (the next test).
      if (w.name === 'network-telemetry') assert.equal(pod.serviceAccountName, 'network-telemetry');
      else assert.equal(pod.automountServiceAccountToken, false, `${w.name} needs no API token`);
      for (const c of pod.containers) {
        for (const r of ['cpu', 'memory']) {
          const req = quantity(must(c.resources?.requests?.[r], `${w.name}/${c.name} request ${r}`));
          const lim = quantity(must(c.resources?.limits?.[r], `${w.name}/${c.name} limit ${r}`));
          assert.ok(req <= lim, `${w.name}/${c.name} ${r} request <= limit`);
        }
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${w.name}/${c.name}`);
        const added = c.securityContext?.capabilities?.add ?? [];
        assert.deepEqual(added, w.name === 'network-telemetry' ? ['NET_RAW'] : [], `${w.name}/${c.name} capabilities`);
        if (w.name !== 'network-telemetry') assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${w.name}/${c.name}`);
      }
    }
  });

  test('the example Secrets hold placeholders only', () => {
    for (const s of ofKind<ISecret>('Secret')) {
      for (const [k, v] of Object.entries(secretData(must(s.metadata?.name, 'name')))) {
        assert.match(v, /^(change-me(-please)?|admin)$/, `${s.metadata?.name}/${k}`);
      }
    }
  });

  test('Grafana: provisioned datasources read the bucket the daemons write, with a read-only credential, and Prometheus', () => {
    const w = workload('grafana');
    const c = container(w, 'grafana');
    const env = containerEnv(c);
    const mounts = new Map((c.volumeMounts ?? []).map((m) => [m.name, m.mountPath]));
    const volumes = new Map((w.template.spec?.volumes ?? []).map((v) => [v.name, v.configMap?.name]));
    const mountOf = (cm: string) => mounts.get(must([...volumes].find(([, n]) => n === cm)?.[0], `volume of ${cm}`));
    assert.equal(mountOf('grafana-datasources'), '/etc/grafana/provisioning/datasources');
    assert.equal(mountOf('grafana-dashboards-provider'), '/etc/grafana/provisioning/dashboards');

    const dsTexts = Object.values(configMapData('grafana-datasources'));
    const ds = dsTexts.flatMap((t) => (parseYaml(t, { uniqueKeys: true }) as { apiVersion: number; datasources: Obj[] }).datasources);
    const influx = must(ds.find((d) => d.type === 'influxdb'), 'influxdb datasource');
    const url = new URL(String(influx.url));
    const svc = one<IService>('Service', url.hostname);
    assert.ok(svc.spec?.ports?.some((p) => p.port === Number(url.port)));
    assert.ok(matches({ matchLabels: svc.spec?.selector }, podLabels(workload('influxdb'))));
    const json = influx.jsonData as Obj;
    assert.equal(json.dbName, '${INFLUXDB_BUCKET}');
    assert.equal(env.INFLUXDB_BUCKET, daemonEnv().INFLUXDB_BUCKET, 'InfluxQL database = the bucket the daemons write (virtual DBRP mapping)');
    assert.equal(json.httpHeaderName1, 'Authorization');
    assert.equal((influx.secureJsonData as Obj).httpHeaderValue1, 'Token ${INFLUXDB_TOKEN}');
    for (const t of dsTexts) for (const [, v] of t.matchAll(/\$\{(\w+)\}/g)) assert.ok(v && v in env, `Grafana has no env ${v}`);

    // Not the daemons' all-access token: the read-only v1 user the InfluxDB init script creates.
    assert.equal(c.env?.find((e) => e.name === 'INFLUXDB_TOKEN')?.value, 'grafana:$(GRAFANA_INFLUXDB_PASSWORD)');
    const grafanaPassword = must(c.env?.find((e) => e.name === 'GRAFANA_INFLUXDB_PASSWORD')?.valueFrom?.secretKeyRef, 'Grafana password ref');
    assert.notEqual(grafanaPassword.name, 'network-telemetry-secrets');
    const db = container(workload('influxdb'), 'influxdb');
    assert.deepEqual(db.env?.find((e) => e.name === 'GRAFANA_INFLUXDB_PASSWORD')?.valueFrom?.secretKeyRef, grafanaPassword, 'InfluxDB creates the user with the same password');
    const initMount = must(db.volumeMounts?.find((m) => m.mountPath === '/docker-entrypoint-initdb.d'), 'init scripts mount');
    const initCm = must(workload('influxdb').template.spec?.volumes?.find((v) => v.name === initMount.name)?.configMap?.name, 'init ConfigMap');
    const script = Object.values(configMapData(initCm)).join('\n');
    assert.match(script, /influx v1 auth create [^]*--username grafana [^]*--password "\$\{GRAFANA_INFLUXDB_PASSWORD\}" [^]*--read-bucket "\$\{DOCKER_INFLUXDB_INIT_BUCKET_ID\}"/);
    assert.doesNotMatch(script, /--write-bucket/);

    // The Prometheus datasource: a Service in "monitoring", reachable through the NetworkPolicy.
    const prom = must(ds.find((d) => d.type === 'prometheus'), 'prometheus datasource');
    assert.match(String(prom.url), /^http:\/\/[a-z0-9-]+\.monitoring\.svc:\d+$/, 'a Service in monitoring, with its port');

    const prov = parseYaml(must(Object.values(configMapData('grafana-dashboards-provider'))[0], 'provider'), { uniqueKeys: true }) as {
      providers: { type: string; options: { path: string } }[];
    };
    const provider = must(prov.providers[0], 'provider');
    assert.equal(provider.type, 'file');
    assert.equal(provider.options.path, mountOf('grafana-dashboards'));
    assert.equal(dirname(must(env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, 'home dashboard')), provider.options.path);
  });

  test("Grafana provisioning matches the compose stack's (grafana/provisioning), paths and URL aside", () => {
    const dir = join(REPO, 'grafana/provisioning');
    assert.ok(existsSync(dir), 'grafana/provisioning (the compose stack\'s) exists');
    const read = (sub: string) =>
      readdirSync(join(dir, sub))
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => parseYaml(readFileSync(join(dir, sub, f), 'utf8')) as Obj);
    const ours = (cm: string) => Object.values(configMapData(cm)).map((t) => parseYaml(t) as Obj);
    const withoutUrl = (d: Obj) => ({ ...d, url: undefined });
    const datasources = (f: Obj) => (f.datasources as Obj[]).map(withoutUrl);
    const byUid = (a: Obj, b: Obj) => String(a.uid).localeCompare(String(b.uid));
    assert.deepEqual(ours('grafana-datasources').flatMap(datasources).sort(byUid), read('datasources').flatMap(datasources).sort(byUid));
    const providers = (f: Obj) => (f.providers as Obj[]).map((p) => ({ name: p.name, folder: p.folder, type: p.type }));
    assert.deepEqual(ours('grafana-dashboards-provider').flatMap(providers), read('dashboards').flatMap(providers));
  });

  test('the generated dashboards ConfigMap is documented, and fits when built from grafana/dashboards', () => {
    const readme = readFileSync(join(K8S, 'README.md'), 'utf8');
    for (const [name, dir] of GENERATED_CONFIGMAPS) {
      assert.ok(readme.includes(`kubectl create configmap ${name} -n ${NS} --from-file=${dir}`), `k8s/README.md explains how to make ${name}`);
    }
    const dir = join(REPO, must(GENERATED_CONFIGMAPS.get('grafana-dashboards'), 'dir'));
    assert.ok(existsSync(dir), `${dir} exists`);
    // What `kubectl create configmap --from-file=DIR` does: one key per regular file.
    const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile());
    assert.ok(files.length > 0, 'no dashboard files');
    const data = Object.fromEntries(files.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'grafana-dashboards', namespace: NS }, data };
    assert.deepEqual(schemaProblems(cm), []);
    for (const k of files) assert.match(k, /^[-._a-zA-Z0-9]{1,253}$/, `${k} is not a valid ConfigMap key`);
    const bytes = files.reduce((n, f) => n + Buffer.byteLength(data[f] ?? ''), 0);
    assert.ok(bytes < 1024 * 1024, `${bytes} bytes: a ConfigMap holds at most 1 MiB`);
    const home = basename(must(containerEnv(container(workload('grafana'), 'grafana')).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, 'home'));
    assert.ok(files.includes(home), `home dashboard ${home} is among ${files.join(', ')}`);
    // Every datasource uid a dashboard names is provisioned here.
    const uids = new Set(Object.values(configMapData('grafana-datasources')).flatMap((t) => (parseYaml(t) as { datasources: { uid?: string }[] }).datasources.map((d) => d.uid)));
    const used = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Obj;
        const ds = o.datasource as { uid?: unknown } | undefined;
        if (ds && typeof ds === 'object' && typeof ds.uid === 'string') used.add(ds.uid);
        Object.values(o).forEach(walk);
      }
    };
    for (const f of files.filter((x) => x.endsWith('.json'))) walk(JSON.parse(data[f] ?? 'null'));
    const foreign = [...used].filter((u) => !u.startsWith('$') && !u.startsWith('-- ') && u !== 'grafana' && !uids.has(u));
    assert.deepEqual(foreign, [], 'dashboards use datasource uids that are not provisioned');
  });
});

describe('k8s manifests: network policies', () => {
  const policies = ofKind<INetworkPolicy>('NetworkPolicy');
  const policy = (name: string) => must(policies.find((p) => p.metadata?.name === name), `NetworkPolicy ${name}`);
  const inNamespacePeers = (peers: INetworkPolicyPeer[] | undefined) => (peers ?? []).filter((p) => p.podSelector && !p.namespaceSelector && !p.ipBlock);
  const portsOf = (ports: INetworkPolicyPort[] | undefined) => (ports ?? []).map((p) => `${p.protocol ?? 'TCP'}/${String(p.port)}`).sort();

  test('everything is denied by default, and every pod has its own allow rules', () => {
    const deny = policy('default-deny');
    assert.deepEqual(deny.spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    for (const w of WORKLOADS) {
      const own = policies.filter((p) => p !== deny && matches(p.spec?.podSelector, podLabels(w)));
      assert.equal(own.length, 1, `${w.name} has ${own.length} allow policies`);
    }
  });

  test('selectors and in-namespace peers select pods that exist; ports are their container ports', () => {
    for (const p of policies) {
      const spec = must(p.spec, 'policy spec');
      const targets = Object.keys(spec.podSelector.matchLabels ?? {}).length ? selected(spec.podSelector) : WORKLOADS;
      assert.ok(targets.length > 0, `${p.metadata?.name} selects nothing`);
      for (const rule of spec.ingress ?? []) {
        for (const peer of inNamespacePeers(rule.from)) assert.ok(Object.keys(peer.podSelector?.matchLabels ?? {}).length === 0 || selected(peer.podSelector).length > 0, `${p.metadata?.name}: ingress peer`);
        for (const port of rule.ports ?? []) for (const w of targets) assert.ok(exposes(w, port.port, port.protocol), `${p.metadata?.name}: ingress port ${port.port} on ${w.name}`);
      }
      for (const rule of spec.egress ?? []) {
        for (const peer of inNamespacePeers(rule.to)) {
          const peers = selected(peer.podSelector);
          assert.ok(peers.length > 0, `${p.metadata?.name}: egress peer selects nothing`);
          for (const port of rule.ports ?? []) for (const w of peers) assert.ok(exposes(w, port.port, port.protocol), `${p.metadata?.name}: egress port ${port.port} on ${w.name}`);
        }
      }
    }
  });

  test('daemon: API from the namespace and Prometheus; out to DNS, Redis, InfluxDB and any probe destination', () => {
    const spec = must(policy('network-telemetry').spec, 'spec');
    assert.deepEqual(spec.policyTypes, ['Ingress', 'Egress']);
    assert.equal(spec.ingress?.length, 1);
    const ingress = must(spec.ingress?.[0], 'ingress');
    assert.deepEqual(portsOf(ingress.ports), ['TCP/8080']);
    const adapterNs = one<IConfigMap>('ConfigMap', 'prometheus-adapter-config').metadata?.namespace;
    assert.deepEqual(ingress.from, [{ podSelector: {} }, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': adapterNs } } }]);

    const egress = spec.egress ?? [];
    const to = (app: string) => egress.filter((r) => (r.to ?? []).some((peer) => peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] === app && !peer.namespaceSelector));
    assert.deepEqual(to('redis').map((r) => portsOf(r.ports)), [['TCP/6379']]);
    // Member to member (the UI asks the owner of a target) by pod, not only through the ipBlock.
    assert.deepEqual(to('network-telemetry').map((r) => portsOf(r.ports)), [['TCP/8080']]);
    assert.deepEqual(to('influxdb').map((r) => portsOf(r.ports)), [['TCP/8086']]);
    const dns = egress.filter((r) => (r.to ?? []).some((peer) => peer.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns'));
    assert.deepEqual(dns.map((r) => portsOf(r.ports)), [['TCP/53', 'UDP/53']]);
    const anywhere = egress.filter((r) => (r.to ?? []).some((peer) => peer.ipBlock));
    assert.equal(anywhere.length, 1);
    const probe = must(anywhere[0], 'probe rule');
    assert.equal(probe.ports, undefined, 'no ports: ICMP cannot be named in a NetworkPolicy');
    assert.deepEqual((probe.to ?? []).map((peer) => peer.ipBlock?.cidr).sort(), ['0.0.0.0/0', '::/0']);
    assert.equal(egress.length, 5);
  });

  test('Redis only from daemons on 6379 (its exporter from monitoring); InfluxDB only from daemons and Grafana on 8086; Grafana on 3000', () => {
    const app = (name: string) => ({ podSelector: { matchLabels: { 'app.kubernetes.io/name': name } } });
    const monitoring = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } };
    const redis = must(policy('redis').spec, 'redis');
    assert.deepEqual(redis.ingress, [
      { from: [app('network-telemetry')], ports: [{ protocol: 'TCP', port: 6379 }] },
      { from: [monitoring], ports: [{ protocol: 'TCP', port: 9121 }] },
    ]);
    assert.deepEqual(redis.egress, []);
    const influx = must(policy('influxdb').spec, 'influxdb');
    assert.deepEqual(influx.ingress, [{ from: [app('network-telemetry'), app('grafana')], ports: [{ protocol: 'TCP', port: 8086 }] }]);
    assert.deepEqual(influx.egress, []);
    const grafana = must(policy('grafana').spec, 'grafana');
    assert.deepEqual(grafana.ingress, [{ ports: [{ protocol: 'TCP', port: 3000 }] }]);
    assert.deepEqual((grafana.egress ?? []).map((r) => portsOf(r.ports)), [['TCP/53', 'UDP/53'], ['TCP/8086'], ['TCP/9090']]);
    assert.deepEqual(grafana.egress?.[2]?.to, [monitoring], 'to Prometheus in monitoring');
  });
});

// --- 3. and 4. the daemon's configuration ------------------------------------------

describe('k8s manifests: the daemon configuration', () => {
  const known = new Set(Object.keys(envSchema.shape));
  const unknownNames = (names: string[]) => names.filter((n) => !known.has(n));

  test('every env var given to the daemon container is one the daemon reads', () => {
    const names = Object.keys(daemonEnv());
    assert.ok(names.length >= 15, `${names.length} variables`);
    assert.deepEqual(unknownNames(names), []);
    assert.deepEqual(unknownNames(['INFLUX_URLS']), ['INFLUX_URLS'], 'the check can fail');
  });

  test('the daemon config loader accepts the ConfigMap + Secret (cluster mode, mirror writes)', () => {
    const env = daemonEnv();
    let cfg: ReturnType<typeof loadConfig>;
    try {
      cfg = loadConfig(env);
    } catch (err) {
      assert.fail(err instanceof ConfigError ? err.problems.join('\n') : (err as Error));
    }
    assert.equal(cfg.influxUrls.length, 2);
    assert.equal(cfg.sourceName, env.SOURCE_NAME, 'cluster mode needs one SOURCE_NAME on every replica');
    assert.ok(cfg.env.REDIS_URL);
    assert.equal(cfg.env.INFLUX_API, 'v2');
    assert.ok(cfg.targets.length >= 2);
    // The documented Kubernetes values.
    assert.equal(cfg.env.MAX_CONNECTIONS, 100);
    assert.equal(cfg.env.MAX_CONCURRENT_TARGETS, 50);
    assert.equal(cfg.env.CIRCUIT_FAILURE_THRESHOLD, 5);
    assert.equal(cfg.env.PORT, 8080);
    assert.equal(cfg.env.DATA_DIR, '/data');
  });

  test('the loader check can fail: a missing org is reported', () => {
    const env = { ...daemonEnv(), INFLUXDB_ORG: '' };
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('INFLUXDB_ORG')),
    );
  });
});
