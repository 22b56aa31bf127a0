import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StartupError } from '../../src/lifecycle/startup-error.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import { createEmbeddedStore, type StoreEnv } from '../../src/store/create-embedded-store.js';
import { STORE_SPECS } from './fixtures.js';

const env: StoreEnv = { DATA_DIR: '/nonexistent', EMBEDDED_STORE: true, EMBEDDED_RETENTION_DAYS: 7, EMBEDDED_RAW_HOURS: 6, EMBEDDED_MAX_BYTES: 1024 ** 3 };

test('EMBEDDED_STORE=false: no store beside a database; as the only sink a one-line configuration error naming the variable', () => {
  const m = new TelemetryMetrics(false);
  assert.equal(createEmbeddedStore({ ...env, EMBEDDED_STORE: false }, 'mirror', STORE_SPECS, m, silentLogger()), undefined);
  assert.throws(
    () => createEmbeddedStore({ ...env, EMBEDDED_STORE: false }, 'sink', STORE_SPECS, m, silentLogger()),
    (err: unknown) => err instanceof StartupError && err.exitCode === 2 && /^EMBEDDED_STORE: .*INFLUXDB_URL or REMOTE_WRITE_URL/.test(err.message),
  );
});

test('the store built from the environment: its role and bounds, a raw window never longer than the retention, no I/O before start', () => {
  const s = createEmbeddedStore({ ...env, EMBEDDED_RETENTION_DAYS: 0.1, EMBEDDED_RAW_HOURS: 6 }, 'mirror', STORE_SPECS, new TelemetryMetrics(false), silentLogger())!;
  assert.equal(s.health().role, 'mirror');
  const o = (s as unknown as { o: { rawWindowMs: number; retentionMs: number; maxBytes: number } }).o;
  assert.equal(o.retentionMs, 8_640_000);
  assert.equal(o.rawWindowMs, 8_640_000, 'clamped to the retention');
  assert.equal(o.maxBytes, 1024 ** 3);
});
