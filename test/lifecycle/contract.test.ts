// npm test: in pairs (a no-op stop() or start() within 100 ms)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch, type RequestInit } from 'undici';
import { Redis, Victoria } from '../../scripts/lib/services.js';
import { App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load-config.js';
import { Deadline, type Component } from '../../src/lifecycle/component.js';
import { silentLogger } from '../../src/logging/logger.js';
import { startFakeIpApi, type FakeIpApi } from '../geo/fake-ip-api.js';
import { startHttpServer, waitFor, type TestServer } from '../helpers/net.js';
import { activeCounts, grown, ResourceTracker } from '../helpers/open-resources.js';

/**
 * The lifecycle contract of src/lifecycle/component.ts, checked over every
 * long-lived component the app builds — taken from `new App(cfg).lifecycle`
 * for a configuration that turns everything on: embedded store, outbox to
 * InfluxDB (v1 API) and Prometheus remote write (both VictoriaMetrics), Redis
 * cluster, GEO=http (the loopback ip-api), TARGETS_FILE (watched), icmp +
 * trace and http targets, the API and the web UI.
 *
 * The contract, as component.ts states it: no I/O in constructors; start()
 * twice is a no-op; stop(deadline) is idempotent, safe without start and
 * done by its deadline; health() never throws and is truthful before start,
 * while running and after stop; start after stop rejects ("start after
 * stop") and starts nothing again. Every component is a BaseComponent, so
 * the test accepts that one behaviour only.
 *
 * "Leaves nothing running" is checked two ways (test/helpers/open-resources.ts):
 * process.getActiveResourcesInfo() back at its baseline, and no handle or
 * timer created by src/ still open (which also sees unref'ed ones).
 *
 * Broken on purpose once each, these fail: Deadline.race without its
 * clearTimeout -> "Timeout made at ... Deadline.sleep" left after stop;
 * ApiServer.onStop without destroying its sockets -> "api: still busy after
 * stop() resolved: connections=1"; Scheduler.onStop without aborting its
 * in-flight runs -> "scheduler: ... in_flight=1"; the previous embedded
 * store (points.db opened in its constructor, start() arming its sweeper on
 * every call) -> "constructors did I/O: points.db" and "Timeout made at ...
 * EmbeddedStore.start".
 */

const INTERVAL_S = 2;
let redis: Redis;
let vm: Victoria;
let ipApi: FakeIpApi;
let slow: TestServer;
let fast: TestServer;
let dir: string;
let targetsFile: string;
/** Requests the slow server holds: released at the end so nothing of ours stays open. */
const held = new Set<ServerResponse>();
let runs = 0;

before(async () => {
  [redis, vm, ipApi] = await Promise.all([Redis.start(), Victoria.start(), startFakeIpApi()]);
  // Answers nothing until released: every probe of it is in flight until its deadline.
  slow = await startHttpServer((_req: IncomingMessage, res: ServerResponse) => {
    held.add(res);
    res.on('close', () => held.delete(res));
  });
  fast = await startHttpServer((_req, res) => res.end('ok'));
  dir = mkdtempSync(join(tmpdir(), 'nt-contract-'));
  targetsFile = join(dir, 'targets.yaml');
  writeFileSync(
    targetsFile,
    [
      'targets:',
      '  - host: 127.0.0.1',
      '    probes: [icmp, trace]',
      // Its probes outlast every stop deadline below: stopping means cutting them short.
      `  - name: slow`,
      `    interval: 10`,
      `    timeout: 8`,
      `    http: { url: "${slow.url}/slow" }`,
      `  - name: fast`,
      `    http: { url: "${fast.url}/fast" }`,
      '',
    ].join('\n'),
  );
});

after(async () => {
  for (const r of held) r.destroy();
  await Promise.all([redis?.cleanup(), vm?.cleanup(), ipApi?.close(), slow?.close(), fast?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A fresh app on its own data dir and Redis key prefix (nothing shared between checks). */
function newApp(): { app: App; dataDir: string } {
  const dataDir = join(dir, `data-${++runs}`);
  const cfg = loadConfig({
    DATA_DIR: dataDir,
    TARGETS_FILE: targetsFile,
    COLLECTION_INTERVAL: String(INTERVAL_S),
    TRACE_PACKET_INTERVAL: '0.2',
    TRACE_GRACE: '0.3',
    ICMP_PACKET_INTERVAL: '0.05',
    INFLUXDB_URL: vm.url,
    INFLUX_API: 'v1',
    INFLUXDB_DB: 'telemetry',
    REMOTE_WRITE_URL: `${vm.url}/api/v1/write`,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `contract-${process.pid}-${runs}:`,
    CLUSTER_HEARTBEAT_INTERVAL: '0.5',
    CLUSTER_MEMBER_TTL: '2',
    SOURCE_NAME: 'contract',
    GEO: 'http',
    GEO_HTTP_URL: ipApi.url,
    SOURCE_LAT: '51.5',
    SOURCE_LON: '-0.1',
    PORT: '0',
    LISTEN_ADDRESS: '127.0.0.1',
    COLLECT_TOKEN: 'contract-token-0123456789',
  });
  return { app: new App(cfg, silentLogger()), dataDir };
}

const STATUSES = new Set(['ok', 'degraded', 'failing']);
/** Fields that claim something is live: before start none may be true. */
const LIVE_CLAIMS = ['listening', 'running', 'connected', 'open', 'loaded', 'checked'];

function healthOf(c: Component): Record<string, unknown> {
  let h: Record<string, unknown>;
  assert.doesNotThrow(() => (h = c.health()), `${c.name}: health() threw`);
  assert.ok(STATUSES.has(h!.status as string), `${c.name}: health().status is ${String(h!.status)}`);
  return h!;
}

function dataFiles(dataDir: string): string[] {
  return existsSync(dataDir) ? readdirSync(dataDir) : [];
}

/** Stop within `ms` (the deadline given), or fail naming the component. */
async function stopWithin(c: Component, ms: number, graceMs = 300): Promise<number> {
  const t0 = Date.now();
  const done = await Deadline.in(ms + graceMs).race(c.stop(Deadline.in(ms)).then(() => true));
  const took = Date.now() - t0;
  assert.ok(done, `${c.name}: stop(deadline in ${ms} ms) still pending after ${took} ms`);
  return took;
}

/** Stop twice: the second call is the same promise or settles at once. */
async function stopAgain(c: Component): Promise<void> {
  const t0 = Date.now();
  await c.stop(Deadline.in(5000));
  assert.ok(Date.now() - t0 < 100, `${c.name}: a second stop() took ${Date.now() - t0} ms (must be a no-op)`);
}

/** Start after stop rejects, naming the component (that nothing started again is checked by the leftovers afterwards). */
async function startAfterStop(c: Component): Promise<'rejected'> {
  await assert.rejects(c.start(), new RegExp(`^Error: ${c.name}: start after stop$`), `${c.name}: start() after stop() did not reject`);
  return 'rejected';
}

/** Everything back to the baseline, or the leftovers named with who made them. */
async function nothingLeft(what: string, base: Map<string, number>, tracker: ResourceTracker): Promise<void> {
  const ours = (r: { stack: string }) => r.stack.includes('/src/');
  try {
    await waitFor(() => grown(base, activeCounts()).length === 0 && tracker.open(ours).length === 0, what, 5000, 50);
  } catch {
    const left = tracker.open(ours).map((r) => `${r.type}${r.peer ? ` to ${r.peer}` : ''} made at ${r.stack}`);
    assert.fail(`${what}: still running: ${[...grown(base, activeCounts()), ...left].join('\n  ') || '(nothing now: it took more than 5 s to close)'}`);
  }
}

/** Work a component counts in its health: none may be left once stop() has resolved. */
const IN_USE = ['in_flight', 'connections', 'connections_open', 'pending', 'queue'];

/**
 * Returning by the deadline is not enough: what the component was doing must
 * be over (aborted, closed) when stop() resolves, not merely abandoned. Sockets
 * close a loop turn after destroy(), hence the short poll.
 */
async function releasedAtStop(c: Component): Promise<void> {
  const busy = () => IN_USE.filter((k) => typeof c.health()[k] === 'number' && (c.health()[k] as number) > 0).map((k) => `${k}=${String(c.health()[k])}`);
  await waitFor(() => busy().length === 0, `${c.name} idle after stop`, 250, 10).catch(() => assert.fail(`${c.name}: still busy after stop() resolved: ${busy().join(', ')}`));
  if ('listening' in c.health()) assert.equal(c.health().listening, false, `${c.name}: listening after stop`);
}

function expectEverything(components: readonly Component[]): void {
  const names = components.map((c) => c.name);
  for (const n of ['state', 'http-client', 'store', 'sink', 'probe-tools', 'cluster', 'geo', 'scheduler', 'config', 'web-ui', 'api']) {
    assert.ok(names.includes(n), `the app built no "${n}" component (has ${names.join(', ')})`);
  }
}

test('health() before start never throws and claims nothing live; constructors do no I/O', () => {
  const base = activeCounts();
  const tracker = new ResourceTracker().start();
  try {
    const { app, dataDir } = newApp();
    expectEverything(app.lifecycle.components);
    assert.deepEqual(dataFiles(dataDir), [], `constructors did I/O: ${dataFiles(dataDir).join(', ')} in DATA_DIR`);
    assert.deepEqual(grown(base, activeCounts()), [], 'constructors opened handles');
    assert.deepEqual(tracker.open((r) => r.stack.includes('/src/')).map((r) => `${r.type} ${r.stack}`), [], 'constructors started timers or handles');
    for (const c of app.lifecycle.components) {
      const h = healthOf(c);
      for (const k of LIVE_CLAIMS) assert.notEqual(h[k], true, `${c.name}: health() before start says ${k}: true`);
      assert.equal(h.status, 'ok', `${c.name}: nothing has gone wrong before start, yet health says ${String(h.status)}`);
    }
  } finally {
    tracker.stop();
  }
});

test('stop() without start settles at once, twice, and leaves nothing; start() after it rejects', async (t) => {
  const base = activeCounts();
  const tracker = new ResourceTracker().start();
  try {
    const { app, dataDir } = newApp();
    const components = [...app.lifecycle.components].reverse();
    const outcomes: string[] = [];
    for (const c of components) {
      const took = await stopWithin(c, 2000);
      assert.ok(took < 500, `${c.name}: stop() without start took ${took} ms`);
      await stopAgain(c);
      healthOf(c);
    }
    await nothingLeft('after stop without start', base, tracker);
    for (const c of components) outcomes.push(`${c.name}: ${await startAfterStop(c)}`);
    await nothingLeft('after start() of stopped components', base, tracker);
    assert.deepEqual(dataFiles(dataDir), [], `start() after stop() did I/O: ${dataFiles(dataDir).join(', ')}`);
    for (const c of components) healthOf(c);
    t.diagnostic(`start after stop: ${outcomes.join(', ')}`);
  } finally {
    tracker.stop();
  }
});

test('each component: start (after what it needs), start again, stop within its deadline, stop again, start after stop; nothing left running', async (t) => {
  const names = newApp().app.lifecycle.components.map((c) => c.name);
  const report: string[] = [];
  for (let i = 0; i < names.length; i++) {
    await t.test(names[i]!, async () => {
      const base = activeCounts();
      const tracker = new ResourceTracker().start();
      const { app } = newApp();
      const parts = app.lifecycle.components;
      const c = parts[i]!;
      const started: Component[] = [];
      try {
        // What it depends on starts before it, as in the app.
        for (const p of parts.slice(0, i + 1)) {
          await p.start();
          started.push(p);
        }
        const t0 = Date.now();
        await c.start();
        assert.ok(Date.now() - t0 < 100, `${c.name}: a second start() took ${Date.now() - t0} ms (must be a no-op)`);
        const running = healthOf(c);
        if ('listening' in running) assert.equal(running.listening, true, `${c.name}: started, yet health says not listening`);
        const took = await stopWithin(c, 3000);
        await stopAgain(c);
        const afterStop = healthOf(c);
        if ('listening' in running) assert.equal(afterStop.listening, false, `${c.name}: health says listening after stop`);
        const again = await startAfterStop(c);
        report.push(`${c.name}: stop ${took} ms, start after stop ${again}`);
      } finally {
        for (const p of started.reverse()) await p.stop(Deadline.in(3000));
      }
      try {
        await nothingLeft(`${c.name}: once it and what it needs are stopped`, base, tracker);
      } finally {
        tracker.stop();
      }
    });
  }
  t.diagnostic(report.join('; '));
});

test('stop under load: with probes, POST /collect and API reads in flight, each component stops within its deadline and nothing is left', async (t) => {
  const base = activeCounts();
  const tracker = new ResourceTracker().start();
  const { app } = newApp();
  const client = new Agent({ connections: 16 });
  let loading = true;
  const inFlight = new Set<Promise<unknown>>();
  try {
    await app.start();
    const api = `http://127.0.0.1:${app.apiPort}`;
    const get = (path: string, init: RequestInit = {}) => {
      const p = undiciFetch(api + path, { ...init, dispatcher: client, signal: AbortSignal.timeout(20_000) })
        .then((r) => r.arrayBuffer())
        .catch(() => undefined);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      return p;
    };
    // Readers keep the API busy until the end.
    const readers = Array.from({ length: 4 }, async (_, k) => {
      const paths = ['/api/targets', '/metrics', '/api/points?since=1m', '/health'];
      while (loading) await get(paths[k]!);
    });
    await waitFor(() => (app.scheduler.health().last_round_age_s as number | null) !== null, 'a first round', 30_000, 100);
    // A probe of the slow target in flight from the schedule and one from POST /collect.
    void get('/collect', { method: 'POST', headers: { authorization: 'Bearer contract-token-0123456789', 'content-type': 'application/json' }, body: JSON.stringify({ targets: ['slow'] }) });
    await waitFor(() => held.size >= 2 && (app.scheduler.health().in_flight as number) > 0, 'scheduled and ad-hoc probes of the slow target in flight', 30_000, 20);
    const took: string[] = [];
    for (const c of [...app.lifecycle.components].reverse()) {
      const ms = await stopWithin(c, 2000);
      took.push(`${c.name} ${ms} ms`);
      await releasedAtStop(c);
    }
    loading = false;
    await Promise.all(readers);
    t.diagnostic(`stopped under load: ${took.join(', ')}; vm ${vm.port} slow ${slow.port} fast ${fast.port} ipapi ${ipApi.server.port} redis ${redis.port}`);
  } finally {
    loading = false;
    await app.stop(Deadline.in(3000));
    await Promise.allSettled([...inFlight]);
    await client.destroy();
    for (const r of held) r.destroy();
  }
  try {
    await nothingLeft('after the app stopped under load', base, tracker);
  } finally {
    tracker.stop();
  }
});
