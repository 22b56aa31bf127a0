import { targetFromEntry, type Target, type TargetDefaults } from '../../src/config/targets.js';
import { HttpClient, type HttpClientOptions } from '../../src/http-client/http-client.js';
import type { ProbeContext } from '../../src/probes/types.js';
import { deadlineSignal } from '../../src/util/abort.js';

export const DEFAULTS: TargetDefaults = {
  intervalS: 60,
  timeoutS: 5,
  probes: null,
  icmp: { count: 5, packetIntervalS: 0.05, family: null },
  trace: { protocol: 'icmp', port: null, maxHops: 30, cycles: 3, packetIntervalS: 0.2, graceS: 0.3, intervalS: null },
  httpReuse: true,
};

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
  return new HttpClient(clientOptions(over));
}

/** A probe context with the target's deadline; dispose when done. */
export function ctx(t: Target, timeMs = Date.now()): ProbeContext & { dispose: () => void } {
  const { signal, dispose } = deadlineSignal(t.timeoutS * 1000);
  return { target: t, timeMs, tags: { target: t.name, source: 'test' }, signal, dispose };
}
