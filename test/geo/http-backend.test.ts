// npm test: alone (request rate counted per window of a few hundred ms)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanEnv, envSchema } from '../../src/config/env-schema.js';
import { createGeo, type Geo, type GeoOptions } from '../../src/geo/geo.js';
import type { GeoLookupResult } from '../../src/geo/geo-locator.js';
import type { BreakerRegistryOptions } from '../../src/http-client/breaker-registry.js';
import type { HttpClient } from '../../src/http-client/http-client.js';
import { silentLogger } from '../../src/logging/logger.js';
import type { AnySample, Sample } from '../../src/samples/sample.js';
import { MemoryCache } from '../../src/util/shared-cache.js';
import { newClient, target } from '../helpers/fixtures.js';
import { sleep, waitFor } from '../helpers/net.js';
import { maxInAnyWindow, startFakeIpApi, type FakeIpApi } from './fake-ip-api.js';

// The rate limiter's timers are unref'd (they must not hold a daemon at
// exit); in this bare test process something must keep the loop alive.
let keepAlive: NodeJS.Timeout;
before(() => (keepAlive = setInterval(() => {}, 1000)));
after(() => clearInterval(keepAlive));

const GOOGLE = { country: 'United States', countryCode: 'US', city: 'Mountain View', lat: 37.422, lon: -122.084, as: 'AS15169 Google LLC' };

interface Rig {
  api: FakeIpApi;
  http: HttpClient;
  geo: Geo;
  results: GeoLookupResult[];
  close(): Promise<void>;
}

async function rig(
  o: { api?: Parameters<typeof startFakeIpApi>[0]; env?: Record<string, string>; geo?: GeoOptions; breaker?: Partial<BreakerRegistryOptions> } = {},
): Promise<Rig> {
  const api = await startFakeIpApi(o.api);
  // clientOptions() fills in the breaker fields not given.
  const http = newClient(o.breaker ? { breaker: o.breaker as BreakerRegistryOptions } : {});
  const env = envSchema.parse(cleanEnv({ GEO: 'http', GEO_HTTP_URL: api.url, GEO_HTTP_RATE_PER_MINUTE: '45', ...o.env }));
  const results: GeoLookupResult[] = [];
  const geo = createGeo(env, http, new MemoryCache(1000), silentLogger(), { onLookup: (_b, r) => results.push(r), ...o.geo });
  await geo.start();
  return {
    api,
    http,
    geo,
    results,
    close: async () => {
      await geo.stop();
      await http.close();
      await api.close();
    },
  };
}

test('answers like ip-api: location, AS number and organisation, country as ISO code', async () => {
  const r = await rig({ api: { records: { '8.8.8.8': GOOGLE } } });
  try {
    const a = await r.geo.lookup('8.8.8.8');
    assert.equal(a.status, 'found');
    assert.ok(a.status === 'found');
    assert.deepEqual(a.geo, { country: 'US', countryName: 'United States', city: 'Mountain View', lat: 37.422, lon: -122.084, asn: 15169, asOrg: 'Google LLC' });
    assert.equal(a.cached, false);
    const u = new URL(r.api.log[0]!.url, 'http://x');
    assert.equal(u.pathname, '/json/8.8.8.8');
    assert.equal(u.searchParams.get('fields'), 'status,message,country,countryCode,city,lat,lon,as,query');
    assert.equal(u.searchParams.has('key'), false);
    const again = await r.geo.lookup('8.8.8.8');
    assert.equal(again.cached, true);
    assert.equal(r.api.log.length, 1, 'the second lookup came from the cache');
    assert.deepEqual(r.results, ['miss', 'hit']);
  } finally {
    await r.close();
  }
});

test('GEO_HTTP_KEY is sent as key= (ip-api pro); a rejected key is a failure, not "no data"', async () => {
  const r = await rig({ api: { key: 's3cret', records: { '8.8.8.8': GOOGLE } }, env: { GEO_HTTP_KEY: 's3cret' } });
  const bad = await rig({ api: { key: 's3cret' }, env: { GEO_HTTP_KEY: 'wrong' } });
  try {
    assert.equal((await r.geo.lookup('8.8.8.8')).status, 'found');
    assert.equal(new URL(r.api.log[0]!.url, 'http://x').searchParams.get('key'), 's3cret');
    const a = await bad.geo.lookup('8.8.8.8');
    assert.ok(a.status === 'failed' && a.failure.failure === 'error' && /HTTP 403/.test(a.failure.detail), JSON.stringify(a));
  } finally {
    await r.close();
    await bad.close();
  }
});

test('never exceeds the configured rate in any window (20 per window, 100 distinct addresses)', async (t) => {
  const W = 1000;
  // The server enforces the same budget as ip-api does (and would answer 429).
  const r = await rig({ api: { limit: 20, windowMs: W }, env: { GEO_HTTP_RATE_PER_MINUTE: '20' }, geo: { windowMs: W, marginMs: 50, maxQueue: 200 } });
  try {
    const ips = Array.from({ length: 100 }, (_, i) => `11.0.${i >> 8}.${(i & 255) + 1}`);
    const t0 = Date.now();
    const answers = await Promise.all(ips.map((ip) => r.geo.lookup(ip)));
    const elapsed = Date.now() - t0;
    assert.ok(answers.every((a) => a.status === 'found'), JSON.stringify(answers.filter((a) => a.status !== 'found').slice(0, 3)));
    const times = r.api.log.map((q) => q.at);
    assert.equal(times.length, 100);
    const worst = maxInAnyWindow(times, W);
    t.diagnostic(`100 lookups at 20 per ${W} ms: ${elapsed} ms; most requests in any ${W} ms window at the server: ${worst}`);
    assert.ok(worst <= 20, `${worst} requests in one window`);
    assert.equal(r.api.log.filter((q) => q.status === 429).length, 0, 'the server never had to say 429');
    // Not needlessly slow either: 5 batches, 4 waits of one window + margin.
    assert.ok(elapsed >= 4 * W && elapsed < 4 * (W + 50) + 1500, `${elapsed} ms`);
  } finally {
    await r.close();
  }
});

test('429 with Retry-After: the lookup fails (not cached) and nothing is sent until the pause ends', async () => {
  const r = await rig({ api: { records: { '8.8.8.8': GOOGLE } } });
  try {
    r.api.force429(1, { 'Retry-After': '1' });
    const a = await r.geo.lookup('8.8.8.8');
    assert.ok(a.status === 'failed' && a.failure.failure === 'throttled', JSON.stringify(a));
    assert.equal(r.geo.stats().throttled, true);
    const b = await r.geo.lookup('8.8.4.4');
    assert.equal(b.status, 'found');
    const gap = r.api.log[1]!.at - r.api.log[0]!.at;
    assert.ok(gap >= 990, `next request ${gap.toFixed(0)} ms after the 429`);
    const again = await r.geo.lookup('8.8.8.8');
    assert.ok(again.status === 'found' && !again.cached, 'the failure was not cached');
    assert.deepEqual(r.results, ['throttled', 'miss', 'miss']);
  } finally {
    await r.close();
  }
});

test('429 with only X-Rl: 0 / X-Ttl (what ip-api sends) backs off for X-Ttl', async () => {
  const r = await rig();
  try {
    r.api.force429(1, { 'X-Rl': '0', 'X-Ttl': '1' });
    assert.equal((await r.geo.lookup('8.8.8.8')).status, 'failed');
    assert.equal((await r.geo.lookup('8.8.4.4')).status, 'found');
    const gap = r.api.log[1]!.at - r.api.log[0]!.at;
    assert.ok(gap >= 990, `next request ${gap.toFixed(0)} ms after the 429`);
  } finally {
    await r.close();
  }
});

test('X-Rl: 0 on a successful answer: the next request waits X-Ttl seconds', async () => {
  const r = await rig();
  try {
    r.api.forceRateHeaders(1, { 'X-Rl': '0', 'X-Ttl': '1' });
    assert.equal((await r.geo.lookup('8.8.8.8')).status, 'found');
    assert.equal((await r.geo.lookup('8.8.4.4')).status, 'found');
    const gap = r.api.log[1]!.at - r.api.log[0]!.at;
    assert.ok(gap >= 990, `next request ${gap.toFixed(0)} ms later`);
  } finally {
    await r.close();
  }
});

test('{"status":"fail"} (e.g. reserved range) is "no data", and is cached', async () => {
  const r = await rig({ api: { failFor: { '45.45.45.45': 'reserved range' } } });
  try {
    const a = await r.geo.lookup('45.45.45.45');
    assert.deepEqual([a.status, a.cached], ['none', false]);
    const b = await r.geo.lookup('45.45.45.45');
    assert.deepEqual([b.status, b.cached], ['none', true]);
    assert.equal(r.api.requestsFor('45.45.45.45'), 1);
  } finally {
    await r.close();
  }
});

test('repeated 5xx open the breaker (later lookups never reach the API), lookups recover after the server heals', async () => {
  const r = await rig({ breaker: { failureThreshold: 3, recoveryTimeoutMs: 500, successThreshold: 1 } });
  try {
    r.api.mode = 500;
    for (const ip of ['8.8.8.8', '8.8.4.4', '9.9.9.9']) {
      const a = await r.geo.lookup(ip);
      assert.ok(a.status === 'failed' && a.failure.failure === 'error', JSON.stringify(a));
    }
    assert.equal(r.api.log.length, 3);
    for (const ip of ['8.8.8.8', '1.0.0.1', '4.4.4.4']) {
      const a = await r.geo.lookup(ip);
      assert.ok(a.status === 'failed' && a.failure.failure === 'circuit_open', JSON.stringify(a));
    }
    assert.equal(r.api.log.length, 3, 'an open circuit sends nothing');
    r.api.mode = 'ok';
    await sleep(550);
    const healed = await r.geo.lookup('8.8.8.8');
    assert.equal(healed.status, 'found', 'the 5xx was not cached: asked again, answered');
    assert.equal((await r.geo.lookup('9.9.9.9')).status, 'found');
    assert.equal(r.api.log.length, 5);
  } finally {
    await r.close();
  }
});

test('a full queue refuses lookups at once instead of growing; stop() releases the waiting ones', async () => {
  const r = await rig({ env: { GEO_HTTP_RATE_PER_MINUTE: '1' }, geo: { maxQueue: 2 } });
  try {
    const pending = ['11.1.1.1', '11.1.1.2', '11.1.1.3', '11.1.1.4', '11.1.1.5'].map((ip) => r.geo.lookup(ip));
    // The first lookup spends the window's one request and is answered; the next two wait in the queue.
    await waitFor(() => r.results.includes('miss'), 'the first lookup answered', 10_000, 10);
    assert.equal(r.geo.stats().queueDepth, 2);
    assert.equal(r.geo.stats().queueMax, 2);
    await r.geo.stop();
    const answers = await Promise.all(pending);
    assert.deepEqual(
      answers.map((a) => (a.status === 'failed' ? a.failure.failure : a.status)),
      ['found', 'aborted', 'aborted', 'queue_full', 'queue_full'],
    );
    assert.equal(r.api.log.length, 1);
    assert.deepEqual(r.results.filter((x) => x === 'throttled').length, 2);
  } finally {
    await r.close();
  }
});

test('a caller whose budget ends stops waiting, and the late answer still fills the cache', async () => {
  const r = await rig({ env: { GEO_HTTP_RATE_PER_MINUTE: '1' }, geo: { windowMs: 600, marginMs: 0 } });
  try {
    assert.equal((await r.geo.lookup('8.8.8.8')).status, 'found');
    const late = await r.geo.lookup('8.8.4.4', AbortSignal.timeout(100));
    assert.ok(late.status === 'failed' && late.failure.failure === 'aborted', JSON.stringify(late));
    await sleep(700);
    const cached = await r.geo.lookup('8.8.4.4');
    assert.deepEqual([cached.status, cached.cached], ['found', true]);
    assert.equal(r.api.requestsFor('8.8.4.4'), 1);
  } finally {
    await r.close();
  }
});

/** A trace run's samples as the trace probe emits them (see trace-probe.ts), plus an icmp ping point. */
function traceSamples(hopIps: string[], dst: string): AnySample[] {
  const tags = { target: 'dst', source: 'test' };
  const route: Sample<'route'> = { measurement: 'route', tags: { ...tags, protocol: 'icmp' }, fields: { success: true, ip: dst, hop_count: hopIps.length, reached: true }, timeMs: 1000 };
  const hops: Sample<'hop'>[] = hopIps.map((ip, i) => ({ measurement: 'hop', tags: { ...tags, ttl: String(i + 1) }, fields: { ip, loss_pct: 0, sent: 3, rtt_avg_ms: 1 + i }, timeMs: 1000 }));
  return [route, ...hops];
}

const GEO_FIELDS = ['lat', 'lon', 'country', 'city', 'asn', 'as_org'];

test('a failed lookup leaves the hop without geo fields and gives no geo point — never made-up values', async () => {
  const r = await rig({ breaker: { failureThreshold: 100 } });
  try {
    r.api.mode = 503;
    const samples = traceSamples(['192.168.1.1', '*', '8.8.4.4', '8.8.8.8'], '8.8.8.8');
    const extra = await r.geo.enricher.enrich(target('8.8.8.8'), samples, { timeMs: 1000, tags: { target: 'dst', source: 'test' }, signal: AbortSignal.timeout(5000) });
    assert.deepEqual(extra, []);
    const hops = samples.filter((s) => s.measurement === 'hop');
    assert.equal(hops[0]!.fields.geo_private, true);
    for (const h of hops) for (const f of GEO_FIELDS) assert.equal((h.fields as Record<string, unknown>)[f], undefined, `${h.fields.ip}: ${f}`);
    for (const h of hops.slice(1)) assert.equal(h.fields.geo_private, undefined);
    assert.equal(r.api.log.length, 2, 'only the two public addresses were asked');
  } finally {
    await r.close();
  }
});

test('private and reserved addresses are never sent to the API', async () => {
  const r = await rig();
  try {
    const reserved = ['10.0.0.1', '172.16.5.4', '192.168.0.1', '100.64.12.1', '127.0.0.1', '169.254.169.254', '192.0.2.10', '198.51.100.3', '203.0.113.77', '198.18.0.9', '224.0.0.5', '240.0.0.1', '0.0.0.0', '::1', 'fe80::1%eth0', 'fd00::53', 'ff02::1', '2001:db8::1', '::ffff:10.1.2.3', '64:ff9b:1::1'];
    for (const ip of reserved) assert.equal((await r.geo.lookup(ip)).status, 'private', ip);
    const samples = traceSamples(['10.0.0.1', '100.64.0.1', '172.31.0.1', '192.168.100.1'], '10.9.9.9');
    const extra = await r.geo.enricher.enrich(target('10.9.9.9'), samples, { timeMs: 1000, tags: { target: 'dst', source: 'test' }, signal: AbortSignal.timeout(5000) });
    assert.deepEqual(extra, [], 'a private destination has no place on the map');
    for (const h of samples.filter((s) => s.measurement === 'hop')) assert.equal(h.fields.geo_private, true);
    assert.deepEqual(r.api.log, [], 'the API saw nothing');
    assert.ok(r.results.every((x) => x === 'private'));
  } finally {
    await r.close();
  }
});
