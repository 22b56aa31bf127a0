import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { DaemonEnv } from '../env/daemon-env.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { HttpClient } from './http-client.js';

/** The one outbound HTTP client, from the pool and breaker settings (MAX_CONNECTIONS*, CIRCUIT_*). */
export function createHttpClient(env: DaemonEnv, metrics: TelemetryMetrics, log: Logger, now?: () => number): HttpClient {
  return new HttpClient(
    {
      maxConnections: env.MAX_CONNECTIONS,
      maxConnectionsPerHost: env.MAX_CONNECTIONS_PER_HOST,
      keepAliveTimeoutMs: env.KEEPALIVE_TIMEOUT * 1000,
      connectTimeoutMs: env.CONNECTION_TIMEOUT * 1000,
      readTimeoutMs: env.READ_TIMEOUT * 1000,
      breaker: {
        failureThreshold: env.CIRCUIT_FAILURE_THRESHOLD,
        successThreshold: env.CIRCUIT_SUCCESS_THRESHOLD,
        recoveryTimeoutMs: env.CIRCUIT_RECOVERY_TIMEOUT * 1000,
        halfOpenMaxCalls: env.CIRCUIT_HALF_OPEN_MAX_CALLS,
        idleEvictMs: env.CIRCUIT_IDLE_EVICT * 1000,
        maxBreakers: env.CIRCUIT_MAX_HOSTS,
      },
      peerCa: env.WEB_CLIENT_CA_FILE ? readFileSync(env.WEB_CLIENT_CA_FILE) : undefined,
    },
    metrics,
    now,
    log,
  );
}
