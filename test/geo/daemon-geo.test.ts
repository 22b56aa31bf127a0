import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAEMON_COMMAND, ROOT, TEST_ENV } from '../helpers/daemon.js';
import { buildChain } from '../helpers/netns.js';

/**
 * End to end: the probe runner in the client namespace of a chain whose
 * addresses look public (81.2.x.y — they never leave our namespaces), with
 * GEO=offline: hop points carry geo fields and a geo point is written.
 */
test('GEO=offline: hops and destination of a real trace get located, a geo point with distance is written', async () => {
  const chain = buildChain({ prefix: '81.2' });
  const dataDir = mkdtempSync(join(tmpdir(), 'nt-geo-e2e-'));
  try {
    const r = spawnSync('ip', ['netns', 'exec', chain.client, ...DAEMON_COMMAND, 'collect', '--once', '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: '/root', ...TEST_ENV, DATA_DIR: dataDir, TARGET_FQDNS: chain.serverIp, DEFAULT_PROBES: 'trace', GEO: 'offline', SOURCE_LAT: '51.5074', SOURCE_LON: '-0.1278', COLLECTION_INTERVAL: '60', PROBE_TIMEOUT: '20' },
      timeout: 120_000,
    });
    const results = JSON.parse(r.stdout) as { probe: string; points: { measurement: string; tags: Record<string, string>; fields: Record<string, unknown> }[] }[];
    const points = results.flatMap((x) => x.points);
    const hops = points.filter((p) => p.measurement === 'hop');
    assert.equal(hops.length, 4, r.stderr);
    const { default: geoip } = await import('geoip-lite');
    for (const h of hops) {
      const ref = geoip.lookup(String(h.fields.ip));
      assert.equal(typeof h.fields.lat, 'number', `hop ${h.tags.ttl} located`);
      assert.equal(h.fields.country, ref?.country, `hop ${h.tags.ttl} (${h.fields.ip}) in the database's country`);
      assert.equal(h.fields.lat, ref?.ll[0]);
    }
    const geo = points.find((p) => p.measurement === 'geo');
    assert.ok(geo, 'a geo point');
    assert.equal(geo!.tags.dst_country, geoip.lookup(chain.serverIp)?.country);
    assert.equal(geo!.fields.dst_ip, chain.serverIp);
    assert.equal(geo!.fields.src_lat, 51.5074);
    assert.equal(typeof geo!.fields.distance_km, 'number');
  } finally {
    chain.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
