import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis as IORedis } from 'ioredis';
import { Redis } from '../../scripts/lib/services.js';
import { RedisCache } from '../../src/cluster/redis-cache.js';
import { redisOptions } from '../../src/cluster/redis-coordinator.js';
import { cleanEnv, envSchema } from '../../src/config/env-schema.js';
import { createGeo, type Geo } from '../../src/geo/geo.js';
import type { HttpClient } from '../../src/http-client/http-client.js';
import { silentLogger } from '../../src/logging/logger.js';
import { MemoryCache } from '../../src/util/shared-cache.js';
import { newClient } from '../helpers/fixtures.js';
import { startFakeIpApi, type FakeIpApi } from './fake-ip-api.js';

/**
 * Two daemons' geo parts — each with its own HTTP client, its own in-process
 * LRU and its own Redis connection, as two replicas have — against one real
 * redis-server and one loopback ip-api: an address looked up by one is
 * served to the other from Redis, and the API sees one request.
 */
let redis: Redis;
let api: FakeIpApi;
const prefix = `geo-test-${process.pid}:cache:`;
const replicas: { geo: Geo; http: HttpClient; conn: IORedis }[] = [];

before(async () => {
  redis = await Redis.start();
  api = await startFakeIpApi({ failFor: { '45.45.45.45': 'reserved range' } });
  const env = envSchema.parse(cleanEnv({ GEO: 'http', GEO_HTTP_URL: api.url, GEO_CACHE_TTL: '3600' }));
  for (let i = 0; i < 2; i++) {
    const conn = new IORedis(redis.url, redisOptions());
    conn.on('error', () => {});
    await conn.connect();
    const http = newClient();
    const geo = createGeo(env, http, new RedisCache(new MemoryCache(env.GEO_CACHE_SIZE), () => conn, prefix), silentLogger());
    await geo.start();
    replicas.push({ geo, http, conn });
  }
});

after(async () => {
  for (const r of replicas) {
    await r.geo.stop();
    await r.http.close();
    r.conn.disconnect();
  }
  await api?.close();
  await redis?.cleanup();
});

test('an address looked up by one replica is served to the other from Redis (one API request)', async () => {
  const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
  const first = await a.geo.lookup('8.8.8.8');
  assert.deepEqual([first.status, first.cached], ['found', false]);
  const second = await b.geo.lookup('8.8.8.8');
  assert.deepEqual([second.status, second.cached], ['found', true]);
  assert.ok(first.status === 'found' && second.status === 'found');
  assert.deepEqual(second.geo, first.geo);
  assert.equal(api.requestsFor('8.8.8.8'), 1);

  // Stored under geo:<backend>:<ip> with the configured TTL.
  const ttl = await a.conn.ttl(`${prefix}geo:http:8.8.8.8`);
  assert.ok(ttl > 3500 && ttl <= 3600, `ttl ${ttl}`);
});

test('"no data" answers are shared too', async () => {
  const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
  assert.equal((await a.geo.lookup('45.45.45.45')).status, 'none');
  const again = await b.geo.lookup('45.45.45.45');
  assert.deepEqual([again.status, again.cached], ['none', true]);
  assert.equal(api.requestsFor('45.45.45.45'), 1);
});

test('the enricher of the second replica places hops from the shared cache', async () => {
  const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
  await a.geo.lookup('9.9.9.9');
  const hop = { measurement: 'hop' as const, tags: { target: 't', source: 's', ttl: '1' }, fields: { ip: '9.9.9.9' } as Record<string, unknown>, timeMs: 1 };
  await b.geo.enricher.enrich({ name: 't' } as never, [hop as never], { timeMs: 1, tags: { target: 't', source: 's' }, signal: AbortSignal.timeout(5000) });
  assert.equal(typeof hop.fields.lat, 'number');
  assert.equal(api.requestsFor('9.9.9.9'), 1);
});
