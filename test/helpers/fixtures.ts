import { cleanEnv, envSchema } from '../../src/config/env-schema.js';
import { targetFromEntry, type Target, type TargetDefaults } from '../../src/config/targets.js';
import { HttpClient, type HttpClientOptions } from '../../src/http-client/http-client.js';
import type { ProbeContext } from '../../src/probes/types.js';
import { deadlineSignal } from '../../src/util/abort.js';

/** Test defaults: a 60 s interval, a 5 s timeout, fast echo requests and traces. */
const testEnv = { COLLECTION_INTERVAL: '60', PROBE_TIMEOUT: '5', ICMP_PACKET_INTERVAL: '0.05', TRACE_PACKET_INTERVAL: '0.2', TRACE_GRACE: '0.3' };
export const DEFAULTS: TargetDefaults = {
  env: envSchema.parse(cleanEnv(testEnv)),
  explicit: new Set(Object.keys(testEnv)),
  intervalS: 60,
  timeoutS: 5,
  probes: null,
  lookupEnv: (name) => process.env[name],
  note: () => {},
};

/** The settings of one probe of a target (typed by the caller). */
export function spec<S = Record<string, unknown>>(t: Target, kind: string): S {
  return t.specs[kind] as S;
}

/** A target as the config loader would build it from a TARGET_FQDNS entry. */
export function target(entry: string, over: Partial<Target> = {}): Target {
  return { ...targetFromEntry(entry, DEFAULTS), ...over };
}

export function clientOptions(over: Partial<HttpClientOptions> = {}): HttpClientOptions {
  return {
    maxConnections: 100,
    maxConnectionsPerHost: 30,
    keepAliveTimeoutMs: 30_000,
    connectTimeoutMs: 10_000,
    readTimeoutMs: 30_000,
    ...over,
    breaker: {
      failureThreshold: 5,
      successThreshold: 3,
      recoveryTimeoutMs: 60_000,
      halfOpenMaxCalls: 1,
      idleEvictMs: 600_000,
      maxBreakers: 10_000,
      ...over.breaker,
    },
  };
}

export function newClient(over: Partial<HttpClientOptions> = {}): HttpClient {
  const c = new HttpClient(clientOptions(over));
  void c.start(); // the breaker sweep
  return c;
}

/** A probe context with the target's deadline; dispose when done. */
export function ctx(t: Target, timeMs = Date.now()): ProbeContext & { dispose: () => void } {
  const { signal, dispose } = deadlineSignal(t.timeoutS * 1000);
  return { target: t, timeMs, tags: { target: t.name, source: 'test' }, signal, dispose };
}
