import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanEnv, envSchema } from '../../src/config/env-schema.js';
import { createGeo } from '../../src/geo/geo.js';
import { GeoLocator } from '../../src/geo/geo-locator.js';
import { OfflineBackend } from '../../src/geo/offline-backend.js';
import { parsePublicIp, SourceLocator } from '../../src/geo/source-location.js';
import type { HttpClient } from '../../src/http-client/http-client.js';
import { silentLogger } from '../../src/logging/logger.js';
import { newClient } from '../helpers/fixtures.js';
import { sleep, startHttpServer, type TestServer } from '../helpers/net.js';
import { startFakeIpApi } from './fake-ip-api.js';

let keepAlive: NodeJS.Timeout; // deadline timers are unref'd; keep this bare test process alive
let http: HttpClient;
let offline: GeoLocator;
let myIp: TestServer;
let answer: { status: number; body: string; type: string } = { status: 200, body: '193.0.14.129\n', type: 'text/plain' };

before(async () => {
  keepAlive = setInterval(() => {}, 1000);
  http = newClient();
  offline = new GeoLocator(new OfflineBackend(), undefined);
  await offline.start();
  // A "what is my IP" endpoint on loopback, as an operator would point PUBLIC_IP_URL at.
  myIp = await startHttpServer((_req, res) => {
    res.writeHead(answer.status, { 'content-type': answer.type });
    res.end(answer.body);
  });
});

after(async () => {
  clearInterval(keepAlive);
  offline.stop();
  await http.close();
  await myIp.close();
});

test('SOURCE_LAT/SOURCE_LON are used as given, nothing is asked', async () => {
  const s = new SourceLocator({ lat: 48.8566, lon: 2.3522, ip: '8.8.8.8', publicIpUrl: `${myIp.url}/` }, offline, http);
  const before = myIp.requests.length;
  assert.deepEqual(await s.get(), { lat: 48.8566, lon: 2.3522, from: 'config' });
  assert.equal(myIp.requests.length, before);
});

test('only one of SOURCE_LAT/SOURCE_LON set is ignored (with a warning), not half-used', async () => {
  const s = new SourceLocator({ lat: 48.8566 }, offline, http);
  assert.equal(s.configured, false);
  assert.equal(await s.get(), undefined);
});

test('SOURCE_IP is located through the configured backend (http: one API request, then remembered)', async () => {
  const api = await startFakeIpApi({ records: { '81.2.69.142': { country: 'United Kingdom', countryCode: 'GB', city: 'St Albans', lat: 51.75, lon: -0.33, as: 'AS20712 Andrews & Arnold Ltd' } } });
  const env = envSchema.parse(cleanEnv({ GEO: 'http', GEO_HTTP_URL: api.url, SOURCE_IP: '81.2.69.142' }));
  const geo = createGeo(env, http, undefined, silentLogger());
  try {
    await geo.start();
    const loc = await geo.sourceLocation(AbortSignal.timeout(5000));
    assert.deepEqual(loc, { lat: 51.75, lon: -0.33, from: 'source_ip', ip: '81.2.69.142', country: 'GB', city: 'St Albans' });
    assert.deepEqual(await geo.sourceLocation(), loc);
    assert.equal(api.log.length, 1);
  } finally {
    await geo.stop();
    await api.close();
  }
});

test('PUBLIC_IP_URL: plain text or JSON {ip} / {query}, then located', async () => {
  for (const [body, type] of [
    ['193.0.14.129\n', 'text/plain'],
    ['{"ip":"193.0.14.129"}', 'application/json'],
    ['{"status":"success","query":"193.0.14.129"}', 'application/json'],
  ] as const) {
    answer = { status: 200, body, type };
    const s = new SourceLocator({ publicIpUrl: `${myIp.url}/ip` }, offline, http);
    const loc = await s.get(AbortSignal.timeout(5000));
    assert.deepEqual(loc, { lat: 52.3824, lon: 4.8995, from: 'public_ip', ip: '193.0.14.129', country: 'NL', city: undefined }, body);
  }
});

test('PUBLIC_IP_URL down or answering a private address: no source location, retried later (not every round)', async () => {
  answer = { status: 503, body: 'down', type: 'text/plain' };
  const s = new SourceLocator({ publicIpUrl: `${myIp.url}/ip`, retryMs: 300 }, offline, http);
  const n0 = myIp.requests.length;
  assert.equal(await s.get(AbortSignal.timeout(5000)), undefined);
  assert.equal(await s.get(AbortSignal.timeout(5000)), undefined);
  assert.equal(myIp.requests.length - n0, 1, 'the failure is remembered until the retry time');
  answer = { status: 200, body: '10.1.2.3', type: 'text/plain' };
  await sleep(350);
  assert.equal(await s.get(AbortSignal.timeout(5000)), undefined, 'a private "public" address locates nothing');
  answer = { status: 200, body: '8.8.8.8', type: 'text/plain' };
  await sleep(350);
  const loc = await s.get(AbortSignal.timeout(5000));
  assert.equal(loc?.from, 'public_ip');
  assert.equal(loc?.ip, '8.8.8.8');
  assert.equal(myIp.requests.length - n0, 3);
});

test('nothing configured: no source location and no request anywhere', async () => {
  const n0 = myIp.requests.length;
  const s = new SourceLocator({}, offline, http);
  assert.equal(s.configured, false);
  assert.equal(await s.get(), undefined);
  assert.equal(myIp.requests.length, n0);
});

test('parsePublicIp accepts what common endpoints return and nothing else', () => {
  assert.equal(parsePublicIp(' 203.0.113.5 \n'), '203.0.113.5');
  assert.equal(parsePublicIp('2001:DB8::1'), '2001:db8::1');
  assert.equal(parsePublicIp('{"ip": "8.8.8.8"}'), '8.8.8.8');
  assert.equal(parsePublicIp('{"query": "8.8.4.4", "status": "success"}'), '8.8.4.4');
  assert.equal(parsePublicIp('<html>8.8.8.8</html>'), undefined);
  assert.equal(parsePublicIp('{"ip": 12}'), undefined);
  assert.equal(parsePublicIp('{bad json'), undefined);
});
