import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis, Victoria } from '../../scripts/lib/services.js';
import { membersEverywhere } from '../helpers/cluster-rig.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { startHttpServer, waitFor } from '../helpers/net.js';
import { readStoreFile } from '../helpers/store-file.js';
import { vmEnv } from '../helpers/write-stack.js';

/**
 * Scale-down strands nothing. Two real replicas share a real Redis and write
 * to a real VictoriaMetrics (standing in for InfluxDB), which is down when
 * the second replica stops:
 *
 * - scaled down (the StatefulSet's scale says 1, this is ordinal 1): the
 *   leaving replica hands its undelivered points to the hand-off stream and
 *   exits with an empty outbox; the survivor takes them into its own outbox
 *   while the database is still down and delivers them once it is back;
 * - restarting (the scale still says 2): the replica keeps its outbox on its
 *   volume, comes back on the same DATA_DIR and delivers it.
 *
 * Either way every point either replica stored (read from their store.db
 * files afterwards) is in the database at the end: 0 lost.
 *
 * The scale subresource is served by the test (no Kubernetes here): the
 * one answer the departure check asks for (src/cluster/departure.ts).
 *
 * Broken once to see it fail: OutboxSink.close() ignoring the departure
 * (writers stopped, no hand-over) -> "the leaving replica's outbox is empty"
 * fails (its rows stay in outbox.db).
 */

/** GET .../statefulsets/nt/scale -> {spec: {replicas}}, as the API server answers. */
async function scaleApi(): Promise<{ url: string; replicas: number; asked: number; close(): Promise<void> }> {
  const state = { replicas: 2, asked: 0 };
  const server: Server = createServer((req, res) => {
    if (req.url === '/apis/apps/v1/namespaces/test/statefulsets/nt/scale') {
      state.asked++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'nt', namespace: 'test' }, spec: { replicas: state.replicas } }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}

/** Rows in a stopped replica's outbox.db. */
function outboxRows(dataDir: string): number {
  const db = new Database(join(dataDir, 'outbox.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** (measurement, target, time) of every probe and http point the replicas stored, against the database. */
async function lost(vm: Victoria, dataDirs: string[]): Promise<{ stored: number; missing: string[] }> {
  const want = new Set<string>();
  for (const dir of dataDirs) for (const p of readStoreFile(dir, ['probe', 'http'])) want.add(`${p.measurement}|${p.target}@${p.ts}`);
  let have = new Set<string>();
  await waitFor(async () => {
    have = new Set();
    for (const r of await vm.export('{__name__=~"probe_success|http_success"}')) for (const ts of r.timestamps) have.add(`${r.metric.__name__!.replace(/_success$/, '')}|${r.metric.target}@${ts}`);
    return [...want].every((k) => have.has(k));
  }, 'every stored point in the database', 20_000, 250).catch(() => {});
  return { stored: want.size, missing: [...want].filter((k) => !have.has(k)) };
}

async function rig(name: string) {
  const redis = await Redis.start();
  const vm = await Victoria.start();
  const web = await startHttpServer((_q, r) => r.end('ok'), { logRequests: false });
  const scale = await scaleApi();
  const env = {
    TARGET_FQDNS: Array.from({ length: 8 }, (_, i) => `${web.url}/t/${i}`).join(','),
    COLLECTION_INTERVAL: '1',
    REDIS_URL: redis.url,
    // One per deployment: cluster mode refuses to start without it.
    COLLECT_TOKEN: `${name}-token-${process.pid}`,
    REDIS_KEY_PREFIX: `${name}-${process.pid}:`,
    CLUSTER_HEARTBEAT_INTERVAL: '0.2',
    CLUSTER_MEMBER_TTL: '1',
    SHUTDOWN_TIMEOUT: '5',
    INFLUX_RETRY_MAX: '0.5',
    KUBERNETES_API_URL: scale.url,
    POD_NAMESPACE: 'test',
    ...vmEnv([vm.url]),
  };
  const daemons: Daemon[] = [];
  return {
    redis,
    vm,
    scale,
    env,
    start: async (ordinal: number, dataDir?: string) => {
      // Start-up takes seconds through tsx; far longer when the shared 2 cores are busy.
      const d = await startDaemon({ ...env, POD_NAME: `nt-${ordinal}` }, { liveTimeoutMs: 90_000, ...(dataDir ? { dataDir } : {}) });
      daemons.push(d);
      return d;
    },
    cleanup: async () => {
      for (const d of daemons) await d.cleanup();
      await Promise.all([redis.cleanup(), vm.cleanup(), web.close(), scale.close()]);
    },
  };
}

const outboxPoints = async (d: Daemon) => (await d.json('/health')).components.sink.outbox_points as number;

test('scaled down while the database is down: the leaving replica hands its outbox over, the survivor delivers it once the database is back; 0 lost', { timeout: 300_000 }, async (t) => {
  const r = await rig('handoff-down');
  try {
    const [d0, d1] = [await r.start(0), await r.start(1)];
    await membersEverywhere([d0, d1], 2, 20_000);
    await waitFor(async () => (await outboxPoints(d0)) === 0 && (await outboxPoints(d1)) === 0 && (await d1.json('/health')).components.sink.points_stored > 0, 'both delivering', 20_000, 100);
    await r.vm.down('SIGTERM');
    await waitFor(async () => (await outboxPoints(d1)) >= 30, 'a backlog on the replica that will leave', 20_000, 100);
    r.scale.replicas = 1;
    d1.proc.kill('SIGTERM');
    assert.equal(await d1.exited, 0, 'the leaving replica exits 0');
    const decided = d1.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('stop: '));
    assert.match(String(decided?.msg), /ordinal 1 >= nt replicas 1: scaled down, leaving for good/);
    const handed = d1.logs.find((l) => l.msg === 'handed the points not yet delivered over to the cluster (another replica delivers them)');
    assert.ok(handed && (handed.points as number) >= 30, `handed over: ${JSON.stringify(handed)}`);
    assert.equal(outboxRows(d1.dataDir), 0, "the leaving replica's outbox is empty: nothing waits on its volume");
    // The survivor takes them in while the database is still down: they wait on its disk, not in Redis.
    await waitFor(async () => (await d0.json('/health')).components.handoff.points_received >= (handed!.points as number), 'the survivor took the handed-over points', 15_000, 100);
    assert.equal((await d0.json('/health')).components.handoff.stream_bytes, 0, 'the stream is empty again');
    await r.vm.up();
    await waitFor(async () => (await outboxPoints(d0)) < 20, 'the survivor delivered the backlog', 20_000, 100);
    d0.proc.kill('SIGTERM');
    assert.equal(await d0.exited, 0);
    const { stored, missing } = await lost(r.vm, [d0.dataDir, d1.dataDir]);
    t.diagnostic(`handed over ${handed!.points} points; stored by both replicas ${stored}; missing from the database ${missing.length}`);
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${stored} points lost`);
  } finally {
    await r.cleanup();
  }
});

test('restarting (the same ordinal comes back) while the database is down: the replica keeps its outbox on its volume and delivers it; 0 lost', { timeout: 300_000 }, async (t) => {
  const r = await rig('handoff-restart');
  try {
    const d0 = await r.start(0);
    const d1 = await r.start(1);
    await membersEverywhere([d0, d1], 2, 20_000);
    await waitFor(async () => (await outboxPoints(d1)) === 0 && (await d1.json('/health')).components.sink.points_stored > 0, 'delivering', 20_000, 100);
    await r.vm.down('SIGTERM');
    await waitFor(async () => (await outboxPoints(d1)) >= 30, 'a backlog', 20_000, 100);
    d1.proc.kill('SIGTERM');
    assert.equal(await d1.exited, 0);
    const decided = d1.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('stop: '));
    assert.match(String(decided?.msg), /ordinal 1 < nt replicas 2: restarting, the outbox stays on this volume/);
    const kept = outboxRows(d1.dataDir);
    assert.ok(kept >= 30, `the outbox kept its ${kept} rows on the volume`);
    assert.equal((await d0.json('/health')).components.handoff.points_received, 0, 'nothing was handed over');
    const again = await r.start(1, d1.dataDir);
    await r.vm.up();
    await waitFor(async () => (await outboxPoints(again)) < 20 && (await outboxPoints(d0)) < 20, 'both delivered their backlog', 20_000, 100);
    for (const d of [again, d0]) {
      d.proc.kill('SIGTERM');
      assert.equal(await d.exited, 0);
    }
    const { stored, missing } = await lost(r.vm, [d0.dataDir, d1.dataDir]);
    t.diagnostic(`kept on the volume ${kept} points; stored by both replicas ${stored}; missing from the database ${missing.length}`);
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${stored} points lost`);
  } finally {
    await r.cleanup();
  }
});
