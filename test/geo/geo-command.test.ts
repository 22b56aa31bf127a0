import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanEnv, envSchema } from '../../src/config/env-schema.js';
import { geoCommand, type GeoCommandIo } from '../../src/geo/geo-command.js';
import type { HttpClient } from '../../src/http-client/http-client.js';
import { MemoryCache } from '../../src/util/shared-cache.js';
import { newClient } from '../helpers/fixtures.js';
import { startFakeIpApi, type FakeIpApi } from './fake-ip-api.js';

/**
 * `network-telemetry geo IP... [--json]`, run in-process (src/cli.ts wires
 * the command separately). Output is captured through the io parameter.
 */
let http: HttpClient;
let api: FakeIpApi;

before(async () => {
  http = newClient();
  api = await startFakeIpApi({ records: { '8.8.8.8': { country: 'United States', countryCode: 'US', city: 'Mountain View', lat: 37.422, lon: -122.084, as: 'AS15169 Google LLC' } } });
});
after(async () => {
  await http.close();
  await api.close();
});

async function run(args: string[], envVars: Record<string, string>, cache?: MemoryCache) {
  const out: string[] = [];
  const err: string[] = [];
  const io: GeoCommandIo = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await geoCommand(args, envSchema.parse(cleanEnv(envVars)), http, cache, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('geo 8.8.8.8 10.0.0.1 --json with GEO=offline: located, private marked, exit 0', async () => {
  const r = await run(['8.8.8.8', '10.0.0.1', '--json'], { GEO: 'offline' });
  assert.equal(r.code, 0, r.err);
  const rows = JSON.parse(r.out) as Record<string, unknown>[];
  assert.deepEqual(rows[0], {
    input: '8.8.8.8', ip: '8.8.8.8', backend: 'offline', status: 'found', reserved: null,
    country: 'US', country_name: null, city: null, lat: 37.751, lon: -97.822, asn: null, as_org: null, cached: false, error: null,
  });
  assert.deepEqual(rows[1], {
    input: '10.0.0.1', ip: '10.0.0.1', backend: 'offline', status: 'private', reserved: 'private',
    country: null, country_name: null, city: null, lat: null, lon: null, asn: null, as_org: null, cached: false, error: null,
  });
});

test('table output; an address without data makes the exit code 1', async () => {
  const r = await run(['9.9.9.9', '1.1.1.1', '::ffff:100.64.0.9'], { GEO: 'offline' });
  assert.equal(r.code, 1);
  const lines = r.out.split('\n');
  assert.match(lines[0]!, /^ADDRESS\s+RESULT\s+COUNTRY\s+CITY\s+LAT,LON\s+AS\s+FROM$/);
  assert.match(lines[1]!, /^9\.9\.9\.9\s+found\s+US\s+Berkeley\s+37\.8767,-122\.2676\s+-\s+offline backend$/);
  assert.match(lines[2]!, /^1\.1\.1\.1\s+no data\s+/);
  assert.match(lines[3]!, /^100\.64\.0\.9\s+private \(cgnat\)\s+.*not looked up$/);
});

test('GEO=http: the second run is answered from the cache, and says so', async () => {
  const cache = new MemoryCache(100);
  const env = { GEO: 'http', GEO_HTTP_URL: api.url };
  const first = await run(['8.8.8.8', '--json'], env, cache);
  assert.equal(first.code, 0, first.err);
  const a = (JSON.parse(first.out) as Record<string, unknown>[])[0]!;
  assert.deepEqual([a.cached, a.asn, a.as_org, a.country, a.country_name], [false, 15169, 'Google LLC', 'US', 'United States']);
  const second = await run(['8.8.8.8'], env, cache);
  assert.equal(second.code, 0);
  assert.match(second.out.split('\n')[1]!, /AS15169 Google LLC\s+cache$/);
  assert.equal(api.requestsFor('8.8.8.8'), 1);
});

test('the command locates only what it is asked about (no source lookup, no PUBLIC_IP_URL call)', async () => {
  const n0 = api.log.length;
  const r = await run(['8.8.4.4'], { GEO: 'http', GEO_HTTP_URL: api.url, SOURCE_IP: '9.9.9.9', PUBLIC_IP_URL: `${api.server.url}/myip` });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(api.log.slice(n0).map((q) => q.ip), ['8.8.4.4']);
  assert.equal(api.server.requests.filter((q) => q.url === '/myip').length, 0);
});

test('GEO=http with the API failing: the error is shown and the exit code is 1', async () => {
  api.mode = 503;
  try {
    const r = await run(['4.4.4.4', '--json'], { GEO: 'http', GEO_HTTP_URL: api.url });
    assert.equal(r.code, 1);
    const row = (JSON.parse(r.out) as Record<string, unknown>[])[0]!;
    assert.equal(row.status, 'failed');
    assert.match(String(row.error), /^error: HTTP 503/);
  } finally {
    api.mode = 'ok';
  }
});

test('usage errors exit 2: GEO=off explains how to enable, non-addresses and no arguments are refused', async () => {
  const off = await run(['8.8.8.8'], {});
  assert.equal(off.code, 2);
  assert.match(off.err, /GEO=off/);
  assert.match(off.err, /GEO=offline/);
  assert.match(off.err, /GEO=http/);
  const bad = await run(['8.8.8.8', 'example.com'], { GEO: 'offline' });
  assert.equal(bad.code, 2);
  assert.match(bad.err, /not an IP address: example\.com/);
  assert.equal((await run([], { GEO: 'offline' })).code, 2);
  assert.equal((await run(['--bogus', '8.8.8.8'], { GEO: 'offline' })).code, 2);
  const help = await run(['--help'], {});
  assert.equal(help.code, 0);
  assert.match(help.out, /Usage: network-telemetry geo IP/);
});
