import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Influx1 } from '../../scripts/lib/services.js';
import { afterRounds, startDaemon, type Daemon } from '../helpers/daemon.js';
import { freePort, startHttpServer, waitFor } from '../helpers/net.js';

const v1Env = (url: string) => ({
  INFLUXDB_URL: url,
  INFLUX_API: 'v1',
  INFLUXDB_DB: 'telemetry',
  INFLUX_FLUSH_INTERVAL: '0.5',
});

async function stopAndCount(d: Daemon): Promise<{ stored: number; outbox: number }> {
  d.proc.kill('SIGTERM');
  assert.equal(await d.exited, 0);
  const s = d.logs.find((l) => l.msg === 'stopped')!;
  return { stored: s.points_stored as number, outbox: s.outbox_points as number };
}

async function countAll(db: Influx1): Promise<number> {
  let n = 0;
  // Every point of these measurements has the field counted (the collector's own points included).
  for (const [m, field] of [['http', 'success'], ['tcp', 'success'], ['probe', 'success'], ['collector', 'targets_run']]) {
    const rows = await db.rows(`SELECT count("${field}") FROM "${m}"`);
    n += rows.reduce((a, r) => a + Number(r.count ?? 0), 0);
  }
  return n;
}

// The four cases are independent - each starts its own InfluxDB, its own web server and its own
// daemons on ports of their own - so they run at once: the file takes about as long as its longest case.
describe('InfluxDB 1.x (INFLUX_API=v1)', { concurrency: true }, () => {
  test('InfluxDB 1.x via INFLUX_API=v1: strings and booleans stored as such', async (t) => {
    const db = await Influx1.start();
    t.after(() => db.cleanup());
    const web = await startHttpServer((_q, r) => r.end('hello'));
    t.after(() => web.close());
    const d = await startDaemon({ TARGET_FQDNS: `${web.url}/a,127.0.0.1:${await freePort()}`, COLLECTION_INTERVAL: '2', ...v1Env(db.url) });
    try {
      await waitFor(async () => (await db.rows('SELECT * FROM "http"')).length >= 1, 'http points in InfluxDB', 20_000, 250);
      const [http] = await db.rows('SELECT * FROM "http" LIMIT 1');
      assert.equal(http!.ip, '127.0.0.1');
      assert.equal(http!.success, true);
      assert.equal(http!.status_code, 200);
      assert.equal(http!.method, 'GET');
      assert.equal(http!.source, 'test-source');
      assert.equal(Number(http!.time) % 2000, 0, 'slot timestamp');
      // The closed port's point, a string field beside a boolean. (The first run may be a timeout
      // instead: the timing thread starts with it, which on a loaded machine can take the whole deadline.)
      const [failed] = await waitFor(async () => {
        const rows = await db.rows(`SELECT * FROM "probe" WHERE "probe" = 'tcp' AND "reason" = 'refused' LIMIT 1`);
        return rows.length ? rows : undefined;
      }, 'a refused tcp point', 20_000, 250);
      assert.equal(failed!.success, false);
      assert.equal(failed!.reason, 'refused');
      const types = await db.rows('SHOW FIELD KEYS FROM "http"');
      const byKey = Object.fromEntries(types.map((r) => [r.fieldKey, r.fieldType]));
      assert.deepEqual(
        { ip: byKey.ip, success: byKey.success, status_code: byKey.status_code, total_ms: byKey.total_ms, reused: byKey.reused },
        { ip: 'string', success: 'boolean', status_code: 'integer', total_ms: 'float', reused: 'boolean' },
      );
    } finally {
      await d.cleanup();
    }
  });

  test('the same slot collected twice (two standalone daemons) is one point, not two', async (t) => {
    const db = await Influx1.start();
    t.after(() => db.cleanup());
    const web = await startHttpServer((_q, r) => r.end('x'));
    t.after(() => web.close());
    const env = { TARGET_FQDNS: `${web.url}/one,${web.url}/two`, COLLECTION_INTERVAL: '2', ...v1Env(db.url) };
    const [a, b] = [await startDaemon(env), await startDaemon(env)];
    try {
      // Both daemons write the same slots for four rounds.
      await Promise.all([afterRounds(a, 4, 2), afterRounds(b, 4, 2)]);
      await Promise.all([stopAndCount(a), stopAndCount(b)]);
      const rows = await db.rows(`SELECT "total_ms" FROM "http" WHERE "target" = '${web.url}/one'`);
      const times = rows.map((r) => Number(r.time));
      assert.equal(new Set(times).size, times.length, 'one point per slot');
      // From the first slot both daemons ran (one may have started rounds earlier), both probed every
      // slot: the server saw about twice as many requests as there are points.
      const both = Math.max(...[a, b].map((d) => Date.parse(String(d.logs.find((l) => l.msg === 'round complete')!.slot))));
      const shared = times.filter((x) => x >= both);
      assert.ok(shared.length >= 3, `${shared.length} slots both daemons ran`);
      const hits = web.requests.filter((q) => q.url === '/one' && q.at >= both).length;
      assert.ok(hits >= 2 * shared.length - 2, `${hits} probes for ${shared.length} points`);
    } finally {
      await a.cleanup();
      await b.cleanup();
    }
  });

  test('a batch with one bad point: the database answers 400, only that point is dropped', async (t) => {
    const db = await Influx1.start();
    t.after(() => db.cleanup());
    // Make "detail" a float in this shard: our string detail of a failed probe now conflicts.
    assert.equal(await db.write(`probe,probe=seed,source=seed,target=seed detail=1.5 ${Date.now()}000000`), 204);
    const web = await startHttpServer((_q, r) => r.end('x'));
    t.after(() => web.close());
    const closed = await freePort();
    const targets = [...Array.from({ length: 9 }, (_, i) => `${web.url}/ok${i}`), `127.0.0.1:${closed}`];
    const d = await startDaemon({ TARGET_FQDNS: targets.join(','), COLLECTION_INTERVAL: '3', ...v1Env(db.url), INFLUX_FLUSH_INTERVAL: '4' });
    try {
      await waitFor(() => d.logs.filter((l) => l.msg === 'point rejected by the database: dropped').length >= 1, 'a rejected point', 30_000, 200);
      // A round more after the first rejection: the batches that follow it are written whole.
      await afterRounds(d, 1, 3);
      const { stored, outbox } = await stopAndCount(d);
      assert.equal(outbox, 0);
      const rejected = d.logs.filter((l) => l.msg === 'point rejected by the database: dropped');
      for (const r of rejected) assert.match(String(r.point), /^\{"m":"probe",.*"probe":"tcp"/);
      assert.ok(String(rejected[0]!.error).includes('field type conflict'), String(rejected[0]!.error));
      const inDb = await countAll(db); // the seed point has no success field: not counted
      assert.equal(inDb, stored - rejected.length, `${inDb} in the database, ${stored} stored, ${rejected.length} rejected`);
    } finally {
      await d.cleanup();
    }
  });

  test('InfluxDB SIGKILLed and restarted during steady collection: zero lost', async (t) => {
    const db = await Influx1.start();
    t.after(() => db.cleanup());
    const web = await startHttpServer((_q, r) => r.end('x'), { logRequests: false });
    t.after(() => web.close());
    const targets = Array.from({ length: 50 }, (_, i) => `${web.url}/t/${i}`);
    const d = await startDaemon({ TARGET_FQDNS: targets.join(','), COLLECTION_INTERVAL: '2', SHUTDOWN_TIMEOUT: '15', ...v1Env(db.url) });
    try {
      await waitFor(async () => (await d.json('/health')).components.sink.endpoints?.every((e: { lastSuccess: string | null }) => e.lastSuccess), 'first deliveries', 30_000, 200);
      await afterRounds(d, 2, 2, 'two rounds delivered');
      await db.down('SIGKILL'); // influxd syncs its WAL before it acknowledges: a crash loses nothing acknowledged
      await waitFor(async () => (await d.json('/health')).status === 'degraded', 'degraded', 15_000, 200);
      await afterRounds(d, 4, 2, 'four rounds collected while InfluxDB is down');
      const held = (await d.json('/health')).components.sink.outbox_points as number;
      assert.ok(held >= 50 * 4, `the outbox holds the outage's rounds: ${held} points`);
      await db.up();
      // Caught up: nothing from the outage left, only the current round inside its flush window.
      await waitFor(async () => {
        const s = (await d.json('/health')).components.sink;
        return s.outbox_points === 0 || s.outbox_oldest_age_s <= 1;
      }, 'catching up', 30_000, 200);
      const { stored, outbox } = await stopAndCount(d);
      assert.equal(outbox, 0);
      assert.equal(await countAll(db), stored);
    } finally {
      await d.cleanup();
    }
  });
});
