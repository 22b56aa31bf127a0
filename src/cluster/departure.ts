import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Agent, request } from 'undici';
import type { Deadline } from '../lifecycle/component.js';

/**
 * Is this replica leaving for good, or only restarting? Asked once, at
 * stop, by a replica that has an outbox to hand over (src/outbox/handoff.ts).
 *
 * A StatefulSet sends SIGTERM alike for a scale-down, a rolling update, an
 * eviction and `kubectl delete pod`; only the first never brings this
 * ordinal (and its volume) back. The HPA lowers the StatefulSet's scale
 * before the controller deletes the pods above it, so at SIGTERM the
 * answer is in the scale subresource: this pod's ordinal (the number its
 * name ends in) at or above `spec.replicas` is leaving for good; below it,
 * the same ordinal comes back with the same volume and keeps its outbox.
 *
 * OUTBOX_HANDOFF:
 * - `auto`: ask the Kubernetes API when running in a pod (the service
 *   account token is mounted and KUBERNETES_SERVICE_HOST is set) or when
 *   KUBERNETES_API_URL names one (`kubectl proxy`, or the StatefulSet of
 *   `npm run scale-sim`); elsewhere (systemd, compose) a stop is a restart;
 * - `always`: every stop hands over (a host that is being retired);
 * - `never`: every stop keeps the outbox on disk.
 *
 * When the API cannot answer (no permission, unreachable) the replica hands
 * over: points in the shared stream are delivered by whoever runs, while
 * points kept on a volume wait for an ordinal that may not return.
 */
export interface DepartureEnv {
  OUTBOX_HANDOFF: 'auto' | 'always' | 'never';
  KUBERNETES_API_URL?: string;
  POD_NAME?: string;
  POD_NAMESPACE?: string;
}

export interface Departure {
  leaving: boolean;
  /** One line for the log: how it was decided. */
  why: string;
}

/** Where a pod finds its service account (Kubernetes mounts it there). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface ApiAccess {
  url: string;
  token?: string;
  ca?: string;
  namespace?: string;
}

function apiAccess(env: DepartureEnv, processEnv: NodeJS.ProcessEnv, saDir: string): ApiAccess | undefined {
  const read = (f: string) => (existsSync(`${saDir}/${f}`) ? readFileSync(`${saDir}/${f}`, 'utf8').trim() : undefined);
  if (env.KUBERNETES_API_URL) return { url: env.KUBERNETES_API_URL.replace(/\/$/, ''), token: read('token'), namespace: read('namespace') };
  const host = processEnv.KUBERNETES_SERVICE_HOST;
  const token = read('token');
  if (!host || !token) return undefined;
  const port = processEnv.KUBERNETES_SERVICE_PORT ?? '443';
  return { url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, token, ca: read('ca.crt'), namespace: read('namespace') };
}

/** `network-telemetry-4` -> the StatefulSet `network-telemetry`, ordinal 4. */
export function parsePodName(name: string): { statefulSet: string; ordinal: number } | undefined {
  const m = /^(.+)-(\d+)$/.exec(name);
  return m ? { statefulSet: m[1]!, ordinal: Number(m[2]) } : undefined;
}

export async function decideDeparture(
  env: DepartureEnv,
  deadline: Deadline,
  o: { processEnv?: NodeJS.ProcessEnv; serviceAccountDir?: string } = {},
): Promise<Departure> {
  if (env.OUTBOX_HANDOFF === 'always') return { leaving: true, why: 'OUTBOX_HANDOFF=always' };
  if (env.OUTBOX_HANDOFF === 'never') return { leaving: false, why: 'OUTBOX_HANDOFF=never' };
  const processEnv = o.processEnv ?? process.env;
  const access = apiAccess(env, processEnv, o.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  if (!access) return { leaving: false, why: 'not in Kubernetes (OUTBOX_HANDOFF=auto): a stop is a restart' };
  const podName = env.POD_NAME ?? processEnv.HOSTNAME ?? hostname();
  const pod = parsePodName(podName);
  if (!pod) return { leaving: true, why: `pod name ${podName} has no StatefulSet ordinal: handing over` };
  const namespace = env.POD_NAMESPACE ?? access.namespace;
  if (!namespace) return { leaving: true, why: 'no namespace (POD_NAMESPACE, or the service account\'s): handing over' };
  const path = `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/statefulsets/${encodeURIComponent(pod.statefulSet)}/scale`;
  const dispatcher = access.ca ? new Agent({ connect: { ca: access.ca } }) : undefined;
  try {
    const ms = Math.max(100, deadline.remaining());
    const res = await request(`${access.url}${path}`, {
      headers: { accept: 'application/json', ...(access.token ? { authorization: `Bearer ${access.token}` } : {}) },
      signal: AbortSignal.timeout(ms),
      headersTimeout: ms,
      bodyTimeout: ms,
      ...(dispatcher ? { dispatcher } : {}),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) return { leaving: true, why: `GET ${path} answered ${res.statusCode} (${text.slice(0, 120)}): handing over` };
    const replicas = (JSON.parse(text) as { spec?: { replicas?: unknown } }).spec?.replicas;
    if (typeof replicas !== 'number') return { leaving: true, why: `GET ${path} has no spec.replicas: handing over` };
    return pod.ordinal >= replicas
      ? { leaving: true, why: `ordinal ${pod.ordinal} >= ${pod.statefulSet} replicas ${replicas}: scaled down, leaving for good` }
      : { leaving: false, why: `ordinal ${pod.ordinal} < ${pod.statefulSet} replicas ${replicas}: restarting, the outbox stays on this volume` };
  } catch (err) {
    return { leaving: true, why: `could not read ${path} (${(err as Error).message}): handing over` };
  } finally {
    await dispatcher?.close().catch(() => {});
  }
}
