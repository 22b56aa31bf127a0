import type { Logger } from 'pino';
import type { Env } from '../config/env-schema.js';
import { StartupError } from '../lifecycle/startup-error.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { EmbeddedStore, type EmbeddedStoreOptions } from './embedded-store.js';

export type StoreEnv = Pick<Env, 'DATA_DIR' | 'EMBEDDED_STORE' | 'EMBEDDED_RETENTION_DAYS' | 'EMBEDDED_RAW_HOURS' | 'EMBEDDED_MAX_BYTES'>;

/**
 * The embedded store from the environment: the daemon's sink when no
 * database is configured (`role: 'sink'`), or the local window beside the
 * outbox (`role: 'mirror'`, see EmbeddedStoreOptions.role). Undefined when
 * EMBEDDED_STORE=false — which needs a database to send points to.
 */
/** What the probes want the store to summarize (registry rollupsOf(), sparklineOf()). */
export type StoreSpecs = Pick<EmbeddedStoreOptions, 'rollups' | 'sparkline'>;

export function createEmbeddedStore(env: StoreEnv, role: 'sink' | 'mirror', specs: StoreSpecs, metrics: TelemetryMetrics, log: Logger): EmbeddedStore | undefined {
  if (!env.EMBEDDED_STORE) {
    if (role === 'sink') {
      throw new StartupError('EMBEDDED_STORE', 'false leaves the points nowhere to go: set INFLUXDB_URL or REMOTE_WRITE_URL, or EMBEDDED_STORE=true', 2);
    }
    return undefined;
  }
  const retentionMs = env.EMBEDDED_RETENTION_DAYS * 86_400_000;
  return new EmbeddedStore(
    {
      dataDir: env.DATA_DIR,
      role,
      retentionMs,
      // A raw window longer than the retention keeps nothing more.
      rawWindowMs: Math.min(env.EMBEDDED_RAW_HOURS * 3_600_000, retentionMs),
      maxBytes: env.EMBEDDED_MAX_BYTES,
      ...specs,
    },
    metrics,
    log.child({ component: 'store' }),
  );
}
