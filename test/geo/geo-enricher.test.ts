// npm test: alone (lookups cut at their 200 ms budget)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, envSchema } from '../../src/config/env-schema.js';
import { createGeo, type Geo } from '../../src/geo/geo.js';
import { createGeoEnricher } from '../../src/geo/geo-enricher.js';
import type { GeoAnswer, GeoLookupResult } from '../../src/geo/geo-locator.js';
import type { HttpClient } from '../../src/http-client/http-client.js';
import { silentLogger } from '../../src/logging/logger.js';
import { ProcessRunner } from '../../src/probes/tools/process-runner.js';
import { RouteMemory } from '../../src/probes/trace/route-memory.js';
import { createTraceProbe } from '../../src/probes/trace/trace-probe.js';
import { toLineProtocol } from '../../src/outbox/transports/line-protocol.js';
import type { AnySample, Sample } from '../../src/samples/sample.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { newClient, spec, target } from '../helpers/fixtures.js';

/** Independent reference distance (3-D vectors, see haversine.test.ts). */
function vectorKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const v = (p: { lat: number; lon: number }) => {
    const la = (p.lat * Math.PI) / 180;
    const lo = (p.lon * Math.PI) / 180;
    return [Math.cos(la) * Math.cos(lo), Math.cos(la) * Math.sin(lo), Math.sin(la)];
  };
  const [x1, y1, z1] = v(a) as [number, number, number];
  const [x2, y2, z2] = v(b) as [number, number, number];
  return Math.atan2(Math.hypot(y1 * z2 - z1 * y2, z1 * x2 - x1 * z2, x1 * y2 - y1 * x2), x1 * x2 + y1 * y2 + z1 * z2) * 6371.0088;
}

/**
 * `mtr --raw` output for a path with private, CGNAT, silent, ECMP and public
 * hops (3 cycles), printed by a stand-in `mtr` script so the real trace probe
 * (and the real process runner) produce the samples.
 */
function mtrRaw(): string {
  const hops: (string[] | null)[] = [['192.168.1.1'], ['100.64.0.1'], null, ['193.0.14.129', '81.2.69.142'], ['8.8.8.8']];
  const lines: string[] = [];
  let seq = 33000;
  for (let cycle = 0; cycle < 3; cycle++) {
    hops.forEach((ips, i) => {
      lines.push(`x ${i} ${seq}`);
      if (ips) {
        const ip = ips[cycle % ips.length]!;
        lines.push(`h ${i} ${ip}`, `p ${i} ${1000 * (i + 1) + cycle * 10} ${seq}`);
      }
      seq++;
    });
  }
  return lines.join('\n') + '\n';
}

// Deadline timers are unref'd (they must not hold a daemon at exit); in this
// bare test process something must keep the event loop alive.
let keepAlive: NodeJS.Timeout;
let dir: string;
let http: HttpClient;
let geo: Geo;
let memory: RouteMemory;
const results: GeoLookupResult[] = [];
const PARIS = { lat: 48.8566, lon: 2.3522 };

before(async () => {
  keepAlive = setInterval(() => {}, 1000);
  dir = mkdtempSync(join(tmpdir(), 'nt-geo-enrich-'));
  writeFileSync(join(dir, 'trace.txt'), mtrRaw());
  writeFileSync(join(dir, 'mtr'), `#!/bin/sh\ncat '${join(dir, 'trace.txt')}'\n`);
  chmodSync(join(dir, 'mtr'), 0o755);
  memory = new RouteMemory(dir);
  await memory.start();
  http = newClient();
  const env = envSchema.parse(cleanEnv({ GEO: 'offline', SOURCE_LAT: String(PARIS.lat), SOURCE_LON: String(PARIS.lon) }));
  geo = createGeo(env, http, undefined, silentLogger(), { onLookup: (_b, r) => results.push(r) });
  await geo.start();
});

after(async () => {
  clearInterval(keepAlive);
  await geo?.stop();
  await http?.close();
  await memory?.stop(Deadline.in(1000));
  rmSync(dir, { recursive: true, force: true });
});

async function traceRun(tags: Record<string, string>): Promise<AnySample[]> {
  const probe = createTraceProbe(new ProcessRunner(2), memory, { mtrPath: join(dir, 'mtr') }, silentLogger());
  const t = target('8.8.8.8');
  const out = await probe({ target: t, timeMs: 1_700_000_000_000, tags, signal: AbortSignal.timeout(5000) }, spec(t, 'trace'));
  assert.equal(out.success, true, out.detail);
  return out.samples;
}

test('trace samples: public hops get what the database says, private hops get geo_private, the geo point is right', async () => {
  const tags = { target: '8.8.8.8', source: 'test' };
  const samples = await traceRun(tags);
  const hops = samples.filter((s): s is Sample<'hop'> => s.measurement === 'hop');
  assert.deepEqual(hops.map((h) => h.fields.ip), ['192.168.1.1', '100.64.0.1', '*', '193.0.14.129', '8.8.8.8']);
  assert.equal(hops[3]!.fields.ecmp_ips, '81.2.69.142');
  results.length = 0;

  const extra = await geo.enricher.enrich(target('8.8.8.8'), samples, { timeMs: 1_700_000_000_000, tags, signal: AbortSignal.timeout(5000) });

  const geoFields = (h: Sample<'hop'>) => {
    const { lat, lon, country, city, asn, as_org, geo_private } = h.fields;
    return Object.fromEntries(Object.entries({ lat, lon, country, city, asn, as_org, geo_private }).filter(([, v]) => v !== undefined));
  };
  assert.deepEqual(geoFields(hops[0]!), { geo_private: true });
  assert.deepEqual(geoFields(hops[1]!), { geo_private: true }, 'CGNAT is private too');
  assert.deepEqual(geoFields(hops[2]!), {}, 'a silent hop has nothing to locate');
  // geoip-lite has no city for this range and no ASN at all: those fields stay out.
  assert.deepEqual(geoFields(hops[3]!), { lat: 52.3824, lon: 4.8995, country: 'NL' });
  assert.deepEqual(geoFields(hops[4]!), { lat: 37.751, lon: -97.822, country: 'US' });
  // One lookup per distinct first address; the ECMP sibling is not looked up.
  assert.deepEqual([...results].sort(), ['miss', 'miss', 'private', 'private']);

  assert.equal(extra.length, 1);
  const p = extra[0] as Sample<'geo'>;
  assert.equal(p.measurement, 'geo');
  assert.deepEqual(p.tags, { target: '8.8.8.8', source: 'test', dst_country: 'US' });
  assert.equal(p.timeMs, 1_700_000_000_000);
  const dst = { lat: 37.751, lon: -97.822 };
  const { distance_km, ...rest } = p.fields;
  assert.deepEqual(Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)), { dst_lat: 37.751, dst_lon: -97.822, dst_ip: '8.8.8.8', src_lat: PARIS.lat, src_lon: PARIS.lon });
  assert.ok(Math.abs(distance_km! - vectorKm(PARIS, dst)) < 0.001, `${distance_km} vs ${vectorKm(PARIS, dst)}`);

  // The points encode with the schema's types (coordinates are fields, country the only tag).
  const line = toLineProtocol(p)!;
  assert.match(line, /^geo,dst_country=US,source=test,target=8\.8\.8\.8 /);
  assert.match(line, /dst_ip="8\.8\.8\.8"/);
  assert.match(toLineProtocol(hops[0]!)!, /geo_private=T,/);
  assert.match(toLineProtocol(hops[4]!)!, /country="US".*lat=37\.751,lon=-97\.822/);
});

test('ad-hoc tags are kept; the ping address names the destination when there is no trace', async () => {
  const tags = { target: 'k-root', source: 'test', mode: 'adhoc' };
  const ping: Sample<'ping'> = { measurement: 'ping', tags: { ...tags, family: 'ipv4' }, fields: { ip: '193.0.14.129', sent: 5, received: 5, success: true }, timeMs: 5 };
  const extra = await geo.enricher.enrich(target('193.0.14.129'), [ping], { timeMs: 5, tags, signal: AbortSignal.timeout(5000) });
  assert.equal(extra.length, 1);
  assert.deepEqual(extra[0]!.tags, { ...tags, dst_country: 'NL' });
  assert.equal((extra[0] as Sample<'geo'>).fields.dst_ip, '193.0.14.129');
  assert.deepEqual(ping.tags, { ...tags, family: 'ipv4' }, 'input tags untouched');
});

test('no source location: the geo point has the destination only, no src_* and no distance', async () => {
  const h2 = newClient();
  const g = createGeo(envSchema.parse(cleanEnv({ GEO: 'offline' })), h2, undefined, silentLogger());
  try {
    const http: Sample<'http'> = { measurement: 'http', tags: { target: 't', source: 's', method: 'GET' }, fields: { ip: '8.8.8.8', status_code: 200 }, timeMs: 1 };
    const [p] = (await g.enricher.enrich(target('dns.google'), [http], { timeMs: 1, tags: { target: 't', source: 's' }, signal: AbortSignal.timeout(5000) })) as Sample<'geo'>[];
    assert.ok(p);
    assert.equal(p.fields.dst_lat, 37.751);
    assert.equal(p.fields.src_lat, undefined);
    assert.equal(p.fields.distance_km, undefined);
  } finally {
    await g.stop();
    await h2.close();
  }
});

test('a destination without a location gives no geo point; samples without addresses cost nothing', async () => {
  // 1.1.1.1: geoip-lite 1.4.10 knows the range but has no location for it.
  const tcp: Sample<'tcp'> = { measurement: 'tcp', tags: { target: 't', source: 's', port: '53' }, fields: { ip: '1.1.1.1', success: true }, timeMs: 1 };
  assert.deepEqual(await geo.enricher.enrich(target('1.1.1.1:53'), [tcp], { timeMs: 1, tags: { target: 't', source: 's' }, signal: AbortSignal.timeout(5000) }), []);
  const dns: AnySample = { measurement: 'dns', tags: { target: 't', source: 's', record: 'A' }, fields: { success: true }, timeMs: 1 };
  assert.deepEqual(await geo.enricher.enrich(target('example.com'), [dns], { timeMs: 1, tags: { target: 't', source: 's' }, signal: AbortSignal.timeout(5000) }), []);
});

test('the enrichment is bounded: lookups that do not answer within the budget leave the hops bare', async () => {
  const never = (ip: string, signal: AbortSignal) =>
    new Promise<GeoAnswer>((resolve) =>
      signal.addEventListener('abort', () => resolve({ ip, backend: 'http', status: 'failed', failure: { failure: 'timeout', detail: 'late' }, cached: false }), { once: true }),
    );
  const enricher = createGeoEnricher({ lookup: never, source: async () => ({ lat: 1, lon: 2, from: 'config' }), budgetMs: 200 });
  const hop: Sample<'hop'> = { measurement: 'hop', tags: { target: 't', source: 's', ttl: '1' }, fields: { ip: '8.8.8.8' }, timeMs: 1 };
  const t0 = Date.now();
  const extra = await enricher.enrich(target('8.8.8.8'), [hop], { timeMs: 1, tags: { target: 't', source: 's' }, signal: AbortSignal.timeout(5000) });
  const took = Date.now() - t0;
  assert.deepEqual(extra, []);
  assert.deepEqual(hop.fields, { ip: '8.8.8.8' });
  assert.ok(took >= 190 && took < 1000, `${took} ms`);

  // The caller's signal (shutdown, probe deadline) cuts it short too.
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(), 50);
  const t1 = Date.now();
  await createGeoEnricher({ lookup: never, source: async () => undefined, budgetMs: 5000 }).enrich(target('8.8.8.8'), [hop], { timeMs: 1, tags: {}, signal: ctl.signal });
  assert.ok(Date.now() - t1 < 1000);
});
