import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { Redis } from '../../scripts/lib/services.js';
import { startFakeIpApi, maxInAnyWindow } from '../geo/fake-ip-api.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/net.js';
import { inNs, Namespaces } from '../helpers/netns.js';

/**
 * Two daemons (GEO=http, one Redis) spend one API key's budget together:
 * GEO_HTTP_RATE_PER_MINUTE=6 for the cluster, not 6
 * each. They run in a network namespace whose loopback carries eight
 * public-looking addresses (81.2.x.y: they never leave the namespace), which
 * are their ICMP targets; every run asks the loopback imitation of ip-api
 * where its destination is (GEO_CACHE_TTL=1 keeps the demand far above the
 * budget on both). The API sends no rate headers, so only our budget can
 * hold the cluster to the limit.
 */
test('two daemons sharing Redis never exceed one GEO_HTTP_RATE_PER_MINUTE together', async (t) => {
  const ns = new Namespaces();
  const daemons: Daemon[] = [];
  let redis: Redis | undefined;
  let api: Awaited<ReturnType<typeof startFakeIpApi>> | undefined;
  try {
    const g = ns.add('g');
    const n = randomInt(100, 250);
    const host = `10.${n}.250.1`;
    const inside = `10.${n}.250.2`;
    ns.link(null, `${host}/30`, g, `${inside}/30`);
    const targets = Array.from({ length: 8 }, (_, i) => `81.2.${n}.${i + 1}`);
    for (const ip of targets) inNs(g, 'ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
    redis = await Redis.start(undefined, host);
    api = await startFakeIpApi({ host });
    const LIMIT = 6;
    const env = {
      TARGET_FQDNS: targets.join(','),
      DEFAULT_PROBES: 'icmp',
      COLLECTION_INTERVAL: '2',
      GEO: 'http',
      GEO_HTTP_URL: api.url,
      GEO_HTTP_RATE_PER_MINUTE: String(LIMIT),
      GEO_CACHE_TTL: '1',
      SOURCE_LAT: '51.5',
      SOURCE_LON: '-0.12',
      REDIS_URL: `redis://${host}:${redis.port}`,
      CLUSTER_SECRET: 'cluster-test-secret-0123',
      REDIS_KEY_PREFIX: `geo-budget-${process.pid}:`,
      COLLECT_TOKEN: 'geo-budget-token',
      CLUSTER_HEARTBEAT_INTERVAL: '0.5',
      CLUSTER_MEMBER_TTL: '3',
      LISTEN_ADDRESS: inside,
    };
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      daemons.push(await startDaemon({ ...env, PORT: String(port) }, { wrap: ['ip', 'netns', 'exec', g], waitLive: false }));
      urls.push(`http://${inside}:${port}`);
    }
    // A guard against a hung request, not a bound on the answer time (the daemons may share a busy CPU).
    const get = (u: string, path: string) => fetch(u + path, { signal: AbortSignal.timeout(30_000) });
    await waitFor(async () => (await Promise.all(urls.map(async (u) => (await (await get(u, '/api/cluster')).json()) as { members: unknown[] }))).every((v) => v.members.length === 2), 'two members', 120_000, 250);
    await waitFor(() => api!.log.length > 0, 'a first lookup', 30_000, 100);
    const t0 = api.log[0]!.at;
    // One full window and the start of the next: the budget is spent, then renewed (a request past the limit).
    await waitFor(() => api!.log.length > LIMIT + 1, 'the budget renewed after a window', 90_000, 250);
    const times = api.log.map((r) => r.at);
    const worst = maxInAnyWindow(times, 60_000);
    const metrics = await Promise.all(urls.map(async (u) => (await get(u, '/metrics')).text()));
    const asked = metrics.map((m) => m.split('\n').filter((l) => l.startsWith('telemetry_geo_lookups_total')).reduce((s, l) => s + Number(l.split(' ').pop()), 0));
    t.diagnostic(`${times.length} API requests in ${((Date.now() - t0) / 1000).toFixed(0)} s from two daemons, at most ${worst} in any 60 s (limit ${LIMIT} for the cluster); lookups asked per daemon ${JSON.stringify(asked)}`);
    assert.ok(worst <= LIMIT, `${worst} requests in one minute`);
    assert.ok(times.length > LIMIT, `the budget renewed after a window: ${times.length} requests`);
    for (const [i, a] of asked.entries()) assert.ok(a > 2 * LIMIT, `daemon ${i} wanted far more than the budget (${a} lookups)`);
    for (const m of metrics) assert.match(m, new RegExp(`^telemetry_geo_rate_limit_per_second\\{scope="cluster"\\} ${LIMIT / 60}$`, 'm'));
  } finally {
    await Promise.all(daemons.map((d) => d.cleanup()));
    await api?.close();
    await redis?.cleanup();
    ns.cleanup();
  }
});
