import type { Logger } from 'pino';
import type { AppConfig } from '../config/load-config.js';
import type { HttpClient } from '../http-client/http-client.js';
import { createOutboxSink } from '../outbox/create-outbox-sink.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { DiscardSink } from './discard-sink.js';
import { createEmbeddedStore, type StoreSpecs } from '../store/create-embedded-store.js';
import type { EmbeddedStore } from '../store/embedded-store.js';
import { FanoutSink } from './fanout-sink.js';
import type { SinkComponent } from './sink.js';
import type { ErrorReporter } from '../lifecycle/error-reporter.js';

export interface Sinks {
  /** What the collector writes to. */
  sink: FanoutSink;
  /** Every sink, each a lifecycle part of its own. */
  parts: SinkComponent[];
  /** The embedded store, when kept (the UI's and /api/points' source). */
  store?: EmbeddedStore;
}

interface SinkDeps {
  cfg: AppConfig;
  /** What the embedded store summarizes: the probes' rollups and the overview's sparkline. */
  storeSpecs: StoreSpecs;
  http: HttpClient;
  metrics: TelemetryMetrics;
  log: Logger;
  /** The daemon's error reporter (reportErrors). */
  errors: ErrorReporter;
}

/**
 * Every kind of database sink, in one literal: each builds its sink when the
 * configuration asks for it. The embedded store is kept beside them (the UI
 * works without and during outages of the databases) unless turned off.
 */
const DATABASE_SINKS: Record<string, (d: SinkDeps) => SinkComponent | undefined> = {
  // InfluxDB (v1/v2) and Prometheus remote write: one durable outbox, a cursor per endpoint.
  outbox: ({ cfg, http, metrics, log, errors }) => createOutboxSink(cfg.env, cfg, http, metrics, log, errors),
};

export function createSinks(d: SinkDeps, o: { discard?: boolean } = {}): Sinks {
  if (o.discard) {
    const none = new DiscardSink();
    return { sink: new FanoutSink(none, [], d.metrics, d.log), parts: [] };
  }
  const databases = Object.values(DATABASE_SINKS)
    .map((make) => make(d))
    .filter((s): s is SinkComponent => s !== undefined);
  // The only sink without a database; beside the outbox otherwise (its failures never fail the outbox's write).
  const store = createEmbeddedStore(d.cfg.env, databases.length ? 'mirror' : 'sink', d.storeSpecs, d.metrics, d.log);
  const all = store ? [...databases, store] : databases;
  const [primary, ...others] = all;
  return { sink: new FanoutSink(primary!, others, d.metrics, d.log), parts: store ? [store, ...databases] : databases, store };
}
