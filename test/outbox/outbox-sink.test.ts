import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '../../src/http-client/http-client.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { createLogger, silentLogger } from '../../src/logging/logger.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { encodePoint } from '../../src/outbox/stored-point.js';
import { closeDb, openDb } from '../../src/sqlite/sqlite-db.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import { createOutboxSink } from '../../src/outbox/create-outbox-sink.js';
import { loadConfig } from '../../src/config/load-config.js';
import { reportErrors } from '../../src/lifecycle/error-reporter.js';

function sinkIn(dir: string, env: Record<string, string> = {}, log = silentLogger()) {
  const cfg = loadConfig({ DATA_DIR: dir, INFLUXDB_URL: 'http://127.0.0.1:1', INFLUXDB_TOKEN: 't', INFLUXDB_ORG: 'o', INFLUXDB_BUCKET: 'b', REMOTE_WRITE_URL: 'http://u:p@127.0.0.1:2/api/v1/write', ...env });
  const http = new HttpClient({ maxConnections: 4, maxConnectionsPerHost: 2, keepAliveTimeoutMs: 1000, connectTimeoutMs: 500, readTimeoutMs: 500, breaker: { failureThreshold: 5, successThreshold: 1, recoveryTimeoutMs: 1000, halfOpenMaxCalls: 1, idleEvictMs: 60_000, maxBreakers: 10 } });
  const metrics = new TelemetryMetrics(false);
  return { sink: createOutboxSink(cfg.env, cfg, http, metrics, log, reportErrors(metrics, log))!, http };
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

test('start on a damaged outbox.db: set aside, readable points salvaged into a fresh one, the count logged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-sink-'));
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', { destination: new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }) });
  try {
    const db = openDb(dir, 'outbox.db');
    const o = new Outbox(db, { maxBytes: 1e9 }).open();
    for (let i = 0; i < 10; i++) o.append(Array.from({ length: 500 }, (_, k) => encodePoint({ m: 'm', t: { t: 'x' }, f: { pad: 'y'.repeat(100) }, i: { v: i * 500 + k }, ts: i * 500 + k })));
    db.pragma('wal_checkpoint(TRUNCATE)');
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    const pages = Number(db.pragma('page_count', { simple: true }));
    closeDb(db);
    const fd = openSync(join(dir, 'outbox.db'), 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, pageSize * Math.floor(pages / 2));
    closeSync(fd);

    const { sink, http } = sinkIn(dir, {}, log);
    await sink.start();
    const salvaged = lines.find((l) => /^salvaged \d+ points/.test(String(l.msg)));
    assert.ok(salvaged, 'the salvage is logged');
    assert.ok((salvaged!.rows as number) > 4000 && (salvaged!.rows as number) < 5000, `salvaged ${salvaged!.rows} of 5000`);
    assert.equal(sink.outbox.points, salvaged!.rows, 'the fresh outbox holds them for every endpoint');
    assert.ok(readdirSync(dir).some((f) => f.startsWith('outbox.db.corrupt-')), 'the damaged file is kept aside');
    assert.equal(sink.health().status === 'failing', false);
    await sink.stop(Deadline.in(100));
    await http.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
