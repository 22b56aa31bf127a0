// npm test: alone (hop lookups must answer within the enrichment budget)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from '../../scripts/lib/services.js';
import { collectOnceInNetns } from '../helpers/daemon.js';
import { buildChain } from '../helpers/netns.js';
import { startFakeIpApi } from './fake-ip-api.js';

/** The probe runner in the client namespace, to completion; its JSON results. */
function collect(ns: string, env: Record<string, string>, dataDir: string): Promise<{ points: { measurement: string; fields: Record<string, unknown> }[] }[]> {
  return collectOnceInNetns(ns, env, dataDir);
}

/**
 * Two daemons (two processes) tracing a path of public-looking addresses,
 * GEO=http against the loopback imitation of ip-api, sharing one Redis: the
 * second is served from the cache, so the API sees each address once.
 */
test('two daemons sharing Redis: an address looked up by one is served from the cache to the other', async () => {
  const chain = buildChain({ prefix: '81.2' });
  // A link from the client namespace to the root namespace, where Redis and the API listen.
  const n = randomInt(100, 250);
  chain.ns.link(null, `10.${n}.250.1/30`, chain.client, `10.${n}.250.2/30`);
  const host = `10.${n}.250.1`;
  const api = await startFakeIpApi({ host });
  const redis = await Redis.start(undefined, host);
  const dirs = [mkdtempSync(join(tmpdir(), 'nt-geo-a-')), mkdtempSync(join(tmpdir(), 'nt-geo-b-'))];
  const env = {
    TARGET_FQDNS: chain.serverIp,
    DEFAULT_PROBES: 'trace',
    GEO: 'http',
    GEO_HTTP_URL: api.url,
    REDIS_URL: `redis://${host}:${redis.port}`,
    CLUSTER_SECRET: 'cluster-test-secret-0123',
    REDIS_KEY_PREFIX: `geo-e2e-${process.pid}:`,
    COLLECT_TOKEN: 'geo-e2e-token',
  };
  try {
    const first = await collect(chain.client, env, dirs[0]!);
    const hopIps = [...chain.hopIps, chain.serverIp];
    for (const ip of hopIps) assert.equal(api.requestsFor(ip), 1, `the first daemon looked ${ip} up once`);
    const located = first.flatMap((r) => r.points).filter((p) => p.measurement === 'hop' && typeof p.fields.lat === 'number');
    assert.equal(located.length, 4);
    const second = await collect(chain.client, env, dirs[1]!);
    for (const ip of hopIps) assert.equal(api.requestsFor(ip), 1, `the second daemon got ${ip} from the shared cache`);
    const again = second.flatMap((r) => r.points).filter((p) => p.measurement === 'hop' && typeof p.fields.lat === 'number');
    assert.equal(again.length, 4, 'and still located every hop');
    assert.ok(second.flatMap((r) => r.points).some((p) => p.measurement === 'geo'));
  } finally {
    await redis.cleanup();
    await api.close();
    chain.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
