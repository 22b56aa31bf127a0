import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '../../src/http-client/http-client.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import { createOutboxSink } from '../../src/outbox/create-outbox-sink.js';
import { loadConfig } from '../../src/config/load-config.js';

function sinkIn(dir: string, env: Record<string, string> = {}) {
  const cfg = loadConfig({ DATA_DIR: dir, INFLUXDB_URL: 'http://127.0.0.1:1', INFLUXDB_TOKEN: 't', INFLUXDB_ORG: 'o', INFLUXDB_BUCKET: 'b', REMOTE_WRITE_URL: 'http://u:p@127.0.0.1:2/api/v1/write', ...env });
  const http = new HttpClient({ maxConnections: 4, maxConnectionsPerHost: 2, keepAliveTimeoutMs: 1000, connectTimeoutMs: 500, readTimeoutMs: 500, breaker: { failureThreshold: 5, successThreshold: 1, recoveryTimeoutMs: 1000, halfOpenMaxCalls: 1, idleEvictMs: 60_000, maxBreakers: 10 } });
  return { sink: createOutboxSink(cfg.env, cfg, http, new TelemetryMetrics(false), silentLogger())!, http };
}

test('lifecycle: no I/O before start, health before start, stop without start and twice, write after stop refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-sink-'));
  const data = join(dir, 'data');
  const { sink, http } = sinkIn(data);
  try {
    assert.equal(existsSync(data), false, 'the constructor touched nothing');
    assert.equal(sink.health().status, 'ok');
    await assert.rejects(Promise.resolve(sink.write([])), /not started/);
    await sink.stop(Deadline.in(100));
    await sink.stop(Deadline.in(100));
    assert.equal(existsSync(data), false, 'stop without start opened nothing');

    const second = sinkIn(data);
    await second.sink.start();
    await second.sink.start();
    assert.deepEqual(second.sink.writers.map((w) => [w.transport.kind, w.name]), [
      ['influxdb', 'http://127.0.0.1:1'],
      ['remote_write', 'http://127.0.0.1:2/api/v1/write'],
    ]);
    await second.sink.stop(Deadline.in(200));
    await second.sink.stop(Deadline.in(200));
    assert.equal(second.sink.health().closed, true);
    await assert.rejects(Promise.resolve(second.sink.write([])), /closed/);
    await second.http.close();
  } finally {
    await http.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('remote-write settings: one line per problem', () => {
  assert.throws(() => loadConfig({ REMOTE_WRITE_URLS: 'ftp://x/y', REMOTE_WRITE_PASSWORD: 'p' }), (err: Error) => {
    assert.match(err.message, /REMOTE_WRITE_URLS: an entry is not an http\(s\) URL/);
    assert.match(err.message, /REMOTE_WRITE_USERNAME: required with REMOTE_WRITE_PASSWORD/);
    assert.doesNotMatch(err.message, /ftp:\/\/x/, 'the URL (it may hold credentials) is not printed');
    return true;
  });
  assert.deepEqual(loadConfig({ REMOTE_WRITE_URLS: 'http://a/api/v1/write, http://b/api/v1/write' }).remoteWriteUrls, ['http://a/api/v1/write', 'http://b/api/v1/write']);
});
