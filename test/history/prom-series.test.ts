import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PromQueryClient, queryEndpoint } from '../../src/history/prom-query.js';
import { PromSeries, type DbSeries } from '../../src/history/prom-series.js';
import { HttpClient } from '../../src/http-client/http-client.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { toStoredPoint } from '../../src/outbox/stored-point.js';
import { RemoteWriteTransport, remoteWriteEndpoint } from '../../src/outbox/transports/remote-write.js';
import type { AnySample } from '../../src/samples/sample.js';
import { rollupsOf } from '../../src/probes/registry.js';
import { rollupsWith } from '../../src/store/rollup-spec.js';
import type { SeriesResult } from '../../src/store/types.js';
import { Victoria } from '../../scripts/lib/services.js';
import { PrometheusReceiver } from '../helpers/prometheus.js';
import { startHttpServer, waitFor } from '../helpers/net.js';
import { http, openTestStore, ping, probe, tcp } from '../store/fixtures.js';

/**
 * The target page's history read from a shared database through the
 * Prometheus query API gives the numbers the embedded store gives for the
 * same points: 40 minutes of 10 s slots from two sources (loss, failures,
 * gaps, changing RTT), written to the embedded store (source a) and by
 * remote write to VictoriaMetrics and Prometheus (both sources), read back
 * column by column at the slot resolution and in 30 s buckets.
 */

const SLOT = 10_000;
const client = () =>
  new HttpClient({
    maxConnections: 10,
    maxConnectionsPerHost: 4,
    keepAliveTimeoutMs: 5000,
    connectTimeoutMs: 2000,
    readTimeoutMs: 10_000,
    breaker: { failureThreshold: 3, successThreshold: 1, recoveryTimeoutMs: 60_000, halfOpenMaxCalls: 1, idleEvictMs: 60_000, maxBreakers: 10 },
  });

/** Slot i of source s: a ping with changing loss and RTT, icmp/http/tcp runs, some failing, some slots missing. */
function slot(source: string, t0: number, i: number): AnySample[] {
  const ts = t0 + i * SLOT;
  const tag = (x: AnySample): AnySample => ({ ...x, tags: { ...x.tags, target: 'web', source } }) as AnySample;
  if (i % 17 === 5) return []; // a missed slot: a gap, not a zero
  const k = source === 'a' ? 1 : 3;
  const received = i % 7 === 3 ? 0 : 5 - (i % 3 === 0 ? 1 : 0);
  const out = [
    ping(ts, { median: k * (10 + (i % 5)), min: k * 9, max: k * (20 + (i % 4)), avg: k * (11 + (i % 3)), sent: 5, received, jitter: 0.5 + (i % 2), mos: 4.1 }),
    probe(ts, 'icmp', received > 0),
    http(ts, 40 + (i % 6) * k, i % 11 === 0 ? 503 : 200),
    probe(ts, 'http', i % 11 !== 0),
    tcp(ts, 2 + (i % 4) * 0.25 * k),
    probe(ts, 'tcp', true),
  ];
  return out.map(tag);
}

function compare(db: DbSeries, store: SeriesResult, what: string): void {
  assert.equal(db.step_s, store.step_s, `${what}: step`);
  assert.equal(db.from, store.from, `${what}: first bucket`);
  assert.equal(db.buckets, store.buckets, `${what}: buckets`);
  for (const kind of ['ping', 'http', 'tcp'] as const) {
    const a = db[kind] as unknown as Record<string, (number | null)[]>;
    const b = store[kind] as unknown as Record<string, (number | null)[]>;
    assert.ok(a && b, `${what}: ${kind} in both`);
    for (const col of Object.keys(b)) {
      if (col.startsWith('status_')) continue; // not read from the database (see prom-series.ts)
      assert.deepEqual(a[col], b[col], `${what}: ${kind}.${col}`);
    }
  }
  for (const p of ['icmp', 'http', 'tcp']) assert.deepEqual(db.probes?.[p], store.probes?.[p], `${what}: probes.${p}`);
}

for (const db of ['VictoriaMetrics', 'Prometheus'] as const) {
  test(`history from ${db} through the query API: the embedded store's numbers, per source`, { timeout: 120_000 }, async () => {
    const now = Math.floor(Date.now() / SLOT) * SLOT;
    const t0 = now - 40 * 60_000;
    const store = openTestStore({}, now);
    const http = client();
    const server = db === 'VictoriaMetrics' ? await Victoria.start() : await PrometheusReceiver.start();
    try {
      const a: AnySample[] = [];
      const b: AnySample[] = [];
      for (let i = 0; i < 240; i++) {
        a.push(...slot('a', t0, i));
        b.push(...slot('b', t0, i));
      }
      // An ad-hoc run of source a: kept out of the history, as the store keeps it out.
      const adhoc = ping(t0 + 15_000, { median: 900 });
      a.push({ ...adhoc, tags: { ...adhoc.tags, target: 'web', source: 'a', mode: 'adhoc' } } as AnySample);
      store.engine.write(a);
      const writeUrl = db === 'VictoriaMetrics' ? `${server.url}/api/v1/write` : (server as PrometheusReceiver).writeUrl;
      const rw = new RemoteWriteTransport(remoteWriteEndpoint(writeUrl, {}), http);
      for (const batch of [a, b]) {
        const body = await rw.encode(batch.map((s) => toStoredPoint(s)!).filter(Boolean));
        const r = await rw.send(body!, AbortSignal.timeout(10_000));
        assert.equal(r.kind, 'ok', JSON.stringify(r));
      }
      if (server instanceof Victoria) await fetch(`${server.url}/internal/force_flush`);
      const rollups = rollupsWith(rollupsOf());
      const series = new PromSeries(new PromQueryClient(queryEndpoint(server.url, {}), http), rollups);
      const q = { target: 'web', fromMs: t0, toMs: now, intervalS: 10 };
      // New samples may take a moment to be searchable: wait for the last slot of both sources.
      const fine = await waitFor(async () => {
        const r = await series.run({ ...q, maxBuckets: 240 }, Deadline.in(10_000));
        assert.ok(r.ok, JSON.stringify(r));
        const last = (s: string) => r.sources.find((x) => x.source === s)?.series.probes?.icmp?.ok?.at(-1);
        return r.sources.length === 2 && last('a') !== null && last('b') !== null ? r : null;
      }, `both sources' last slot in ${db}`, 30_000, 500);
      assert.deepEqual(
        fine.sources.map((s) => s.source),
        ['a', 'b'],
      );
      assert.equal(fine.queries, rollups.length, 'one query per rollup (the range ends on a bucket boundary)');
      const aFine = fine.sources[0]!.series;
      assert.equal(aFine.resolution, 'raw');
      compare(aFine, store.engine.series({ target: 'web', fromMs: t0, toMs: now, maxBuckets: 240 }), 'every slot');
      // Source b has its own numbers (three times a's RTT): not a copy of a's.
      assert.notDeepEqual(fine.sources[1]!.series.ping!.rtt_median, aFine.ping!.rtt_median);
      assert.equal(fine.sources[1]!.series.ping!.rtt_min!.find((v) => v !== null), 27);

      const coarse = await series.run({ ...q, maxBuckets: 80 }, Deadline.in(10_000));
      assert.ok(coarse.ok);
      const aCoarse = coarse.sources.find((s) => s.source === 'a')!.series;
      assert.equal(aCoarse.step_s, 30);
      assert.equal(aCoarse.resolution, 'rollup');
      compare(aCoarse, store.engine.series({ target: 'web', fromMs: t0, toMs: now, maxBuckets: 80 }), '30 s buckets');
      // Loss over a bucket is lost / sent of its slots, not a mean of percentages.
      const i = aCoarse.ping!.loss_pct!.findIndex((v) => v !== null && v > 0);
      assert.ok(i >= 0);

      const onlyB = await series.run({ ...q, maxBuckets: 80, sources: ['b'] }, Deadline.in(10_000));
      assert.ok(onlyB.ok);
      assert.deepEqual(
        onlyB.sources.map((s) => s.source),
        ['b'],
      );
    } finally {
      await server.cleanup();
      await http.close();
      store.close();
    }
  });
}

test('a database that refuses, is down or answers nonsense: an answer that says why, never a throw; auth and tenant headers sent', async () => {
  const seen: Record<string, unknown>[] = [];
  let mode: 'error' | 'html' | 'vector' = 'error';
  const srv = await startHttpServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', mode === 'html' ? 'text/html' : 'application/json');
    if (mode === 'error') res.writeHead(400).end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error at char 3' }));
    else if (mode === 'html') res.writeHead(502).end('<html>bad gateway</html>');
    else res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }));
  });
  const http = client();
  try {
    const c = new PromQueryClient(queryEndpoint(`http://reader:s%40cret@127.0.0.1:${srv.port}/select/0/prometheus/`, { orgId: 'tenant-1', bearerToken: 'unused' }), http);
    assert.equal(c.endpoint.url, `http://127.0.0.1:${srv.port}/select/0/prometheus`, 'no credentials in the shown URL');
    const r1 = await c.queryRange('up', 1, 2, 1, Deadline.in(5000));
    assert.deepEqual(r1, { ok: false, reason: 'http_status', detail: `http://127.0.0.1:${srv.port}/select/0/prometheus/api/v1/query_range: HTTP 400: bad_data: parse error at char 3` });
    assert.equal(seen[0]!.authorization, `Basic ${Buffer.from('reader:s@cret').toString('base64')}`);
    assert.equal(seen[0]!['x-scope-orgid'], 'tenant-1');
    mode = 'html';
    const r2 = await c.queryRange('up', 1, 2, 1, Deadline.in(5000));
    assert.ok(!r2.ok && r2.reason === 'http_status' && /HTTP 502, not JSON: <html>bad gateway/.test(r2.detail), JSON.stringify(r2));
    mode = 'vector';
    const r3 = await c.queryRange('up', 1, 2, 1, Deadline.in(5000));
    assert.ok(!r3.ok && r3.reason === 'bad_answer', JSON.stringify(r3));
    await srv.close();
    const r4 = await c.queryRange('up', 1, 2, 1, Deadline.in(5000));
    assert.ok(!r4.ok && r4.reason === 'unreachable', JSON.stringify(r4));
    // After CIRCUIT_FAILURE_THRESHOLD (3) consecutive failures the breaker answers at once (the 502 was the first).
    await c.queryRange('up', 1, 2, 1, Deadline.in(5000));
    await c.queryRange('up', 1, 2, 1, Deadline.in(5000));
    const r5 = await c.queryRange('up', 1, 2, 1, Deadline.in(5000));
    assert.ok(!r5.ok && r5.reason === 'circuit_open', JSON.stringify(r5));
  } finally {
    await http.close();
  }
});
