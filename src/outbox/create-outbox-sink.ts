import type { Logger } from 'pino';
import type { Env } from '../config/env-schema.js';
import type { HttpClient } from '../http-client/http-client.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { OutboxSink } from './outbox-sink.js';
import { InfluxTransport, influxEndpoint } from './transports/influx.js';
import { RemoteWriteTransport, remoteWriteEndpoint } from './transports/remote-write.js';
import type { Transport } from './transports/transport.js';
import type { ErrorReporter } from '../lifecycle/error-reporter.js';

/**
 * The outbox sink with one transport per configured endpoint (InfluxDB
 * URLs and remote-write URLs side by side, each with its own cursor), or
 * undefined when no remote database is configured (the embedded store is
 * then the sink). Wiring is this one call.
 */
export function createOutboxSink(
  env: Env,
  endpoints: { influxUrls: readonly string[]; remoteWriteUrls: readonly string[] },
  http: HttpClient,
  metrics: TelemetryMetrics,
  log: Logger,
  errors: ErrorReporter,
): OutboxSink | undefined {
  const transports: Transport[] = [
    ...endpoints.influxUrls.map(
      (u) =>
        new InfluxTransport(
          influxEndpoint(u, {
            api: env.INFLUX_API,
            token: env.INFLUXDB_TOKEN,
            org: env.INFLUXDB_ORG,
            bucket: env.INFLUXDB_BUCKET,
            db: env.INFLUXDB_DB,
            rp: env.INFLUXDB_RP,
            username: env.INFLUXDB_USERNAME,
            password: env.INFLUXDB_PASSWORD,
          }),
          http,
        ),
    ),
    ...endpoints.remoteWriteUrls.map(
      (u) => new RemoteWriteTransport(remoteWriteEndpoint(u, { username: env.REMOTE_WRITE_USERNAME, password: env.REMOTE_WRITE_PASSWORD, bearerToken: env.REMOTE_WRITE_BEARER_TOKEN }), http),
    ),
  ];
  if (!transports.length) return undefined;
  const names = new Set<string>();
  for (const t of transports) {
    if (names.has(t.name)) throw new Error(`the write endpoint ${t.name} is configured twice (INFLUXDB_URLS / REMOTE_WRITE_URLS)`);
    names.add(t.name);
  }
  return new OutboxSink(
    transports,
    {
      dataDir: env.DATA_DIR,
      maxBytes: env.OUTBOX_MAX_BYTES,
      writer: {
        batchSize: env.INFLUX_BATCH_SIZE,
        flushMs: env.INFLUX_FLUSH_INTERVAL * 1000,
        maxBackoffMs: env.INFLUX_RETRY_MAX * 1000,
        requestTimeoutMs: (env.CONNECTION_TIMEOUT + env.READ_TIMEOUT) * 1000,
      },
    },
    metrics,
    log,
    errors,
  );
}
