import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { ROOT } from '../helpers/daemon.js';
import { GeoLocator } from '../../src/geo/geo-locator.js';
import { OfflineBackend } from '../../src/geo/offline-backend.js';
import type { GeoBackend } from '../../src/geo/types.js';

const backend = new OfflineBackend();

/** Countries geoip-lite 1.4's data gives for well-known public addresses (checked against its data). */
const KNOWN: [string, string][] = [
  ['8.8.8.8', 'US'], // Google Public DNS
  ['9.9.9.9', 'US'], // Quad9
  ['208.67.222.222', 'US'], // OpenDNS
  ['193.0.14.129', 'NL'], // k.root-servers.net (RIPE NCC, Amsterdam)
  ['202.12.27.33', 'JP'], // m.root-servers.net (WIDE)
  ['77.88.8.8', 'RU'], // Yandex DNS
  ['81.2.69.142', 'GB'], // MaxMind's own test address
  ['200.160.2.3', 'BR'], // NIC.br
  ['1.0.0.1', 'AU'], // APNIC research prefix
  ['2001:4860:4860::8888', 'US'], // Google Public DNS over IPv6
];

test('offline database: known public addresses resolve to the right country', async (t) => {
  await backend.start();
  const s = backend.stats!;
  t.diagnostic(`geoip-lite load in this process: ${s.loadMs} ms, RSS +${(s.rssBytes / 2 ** 20).toFixed(1)} MiB, heap +${(s.heapBytes / 2 ** 20).toFixed(1)} MiB, external (Buffers) +${(s.externalBytes / 2 ** 20).toFixed(1)} MiB`);
  for (const [ip, country] of KNOWN) {
    const r = await backend.lookup(ip);
    assert.ok(r && !('failure' in r), `${ip}: ${JSON.stringify(r)}`);
    assert.equal(r.country, country, ip);
    assert.equal(typeof r.lat, 'number', `${ip} has coordinates`);
    assert.equal(r.asn, undefined, 'geoip-lite has no ASN data');
  }
  const quad9 = await backend.lookup('9.9.9.9');
  assert.ok(quad9 && !('failure' in quad9));
  assert.equal(quad9.city, 'Berkeley');

  // Cost of one lookup once loaded (binary search over in-memory Buffers).
  const n = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await backend.lookup(`${1 + (i % 222)}.${(i * 7) % 256}.${(i * 13) % 256}.${i % 256}`);
  t.diagnostic(`offline lookup: ${((1000 * (performance.now() - t0)) / n).toFixed(1)} µs each (${n} IPv4 addresses)`);
});

test('a range the database knows without a location is "no data", never 0,0', async () => {
  // geoip-lite 1.4.10 has 1.1.1.1 as a range with no location record.
  assert.equal(await backend.lookup('1.1.1.1'), undefined);
});

test('load time and memory of the database, measured in a fresh process', (t) => {
  const script = `
    const m0 = process.memoryUsage(); const t0 = performance.now();
    await import('geoip-lite');
    const t1 = performance.now(); const m1 = process.memoryUsage();
    console.log(JSON.stringify({ ms: t1 - t0, rss: m1.rss - m0.rss, heap: m1.heapUsed - m0.heapUsed, ext: m1.external - m0.external, rssTotal: m1.rss }));`;
  const runs = [0, 1, 2].map(() => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as Record<string, number>);
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  for (const r of runs) {
    t.diagnostic(`geoip-lite import: ${r.ms!.toFixed(0)} ms, RSS +${mib(r.rss!)} MiB (process ${mib(r.rssTotal!)} MiB), heap +${mib(r.heap!)} MiB, external +${mib(r.ext!)} MiB`);
  }
  // Sanity bounds, not a benchmark: the numbers go to the README.
  for (const r of runs) {
    assert.ok(r.ext! > 100 * 2 ** 20 && r.ext! < 400 * 2 ** 20, 'the database lives in Buffers (~140 MiB)');
    assert.ok(r.ms! < 10_000);
  }
});

test('importing the geo module does not load the database; only start() or a first lookup does', () => {
  const script = `
    import { createRequire } from 'node:module';
    const { createGeo } = await import('./src/geo/index.ts');
    const { envSchema, cleanEnv } = await import('./src/config/env-schema.ts');
    const { silentLogger } = await import('./src/logging/logger.ts');
    const { HttpClient } = await import('./src/http-client/http-client.ts');
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('geoip-lite'));
    const env = envSchema.parse(cleanEnv({ GEO: 'offline' }));
    const http = new HttpClient({ maxConnections: 1, maxConnectionsPerHost: 1, keepAliveTimeoutMs: 1000, connectTimeoutMs: 1000, readTimeoutMs: 1000,
      breaker: { failureThreshold: 5, successThreshold: 1, recoveryTimeoutMs: 1000, halfOpenMaxCalls: 1, idleEvictMs: 60000, maxBreakers: 10 } });
    const out = { afterImport: loaded() };
    const geo = createGeo(env, http, undefined, silentLogger());
    out.afterCreate = loaded();
    await geo.start();
    out.afterStart = loaded();
    await geo.stop(); await http.close();
    console.log(JSON.stringify(out));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').at(-1)!);
  assert.deepEqual(out, { afterImport: false, afterCreate: false, afterStart: true });
});

test('private and reserved addresses never reach the offline backend', async () => {
  let calls = 0;
  const seen: string[] = [];
  const counting: GeoBackend = {
    name: 'offline',
    cacheable: false,
    lookup: (ip) => {
      calls++;
      seen.push(ip);
      return backend.lookup(ip);
    },
  };
  const locator = new GeoLocator(counting, undefined);
  const reserved = ['10.0.0.1', '172.20.1.1', '192.168.1.254', '100.64.0.1', '127.0.0.1', '169.254.1.1', '0.0.0.0', '192.0.2.1', '198.51.100.1', '203.0.113.1', '198.18.0.1', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', 'ff02::1', '2001:db8::1', '::ffff:10.0.0.1', '::ffff:192.168.0.1'];
  for (const ip of reserved) {
    const a = await locator.lookup(ip);
    assert.equal(a.status, 'private', ip);
  }
  assert.equal(calls, 0, `sent to the backend: ${seen.join(', ')}`);
  const pub = await locator.lookup('::ffff:8.8.8.8');
  assert.equal(pub.status, 'found');
  assert.deepEqual(seen, ['8.8.8.8'], 'a mapped public address is looked up as its IPv4 form');
});
