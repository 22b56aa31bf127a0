import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { App } from '../../src/app.js';
import { Deadline } from '../../src/lifecycle/component.js';
import type { ProbeResult } from '../../src/probes/types.js';
import { loadConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/logging/logger.js';
import { clientOptions, newClient } from '../helpers/fixtures.js';
import { HttpClient } from '../../src/http-client/http-client.js';
import { freePort, waitFor } from '../helpers/net.js';

/** A server on a fixed port that can answer 500, answer 200, or be gone (refused). */
class SwitchServer {
  mode: '500' | 'ok' = '500';
  accepted = 0;
  requests = 0;
  private server?: Server;
  constructor(readonly port: number) {}
  async up(): Promise<void> {
    const s = createServer((_q, r) => {
      this.requests++;
      r.statusCode = this.mode === '500' ? 500 : 200;
      r.end(this.mode);
    });
    s.on('connection', () => this.accepted++);
    this.server = s;
    await new Promise<void>((r) => s.listen(this.port, '127.0.0.1', r));
  }
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

async function appWithClock(env: Record<string, string>) {
  let now = 1_000_000;
  const dataDir = mkdtempSync(join(tmpdir(), 'nt-breaker-'));
  const cfg = loadConfig({ DATA_DIR: dataDir, CIRCUIT_RECOVERY_TIMEOUT: '60', ...env });
  const app = new App(cfg, silentLogger(), { server: false, schedule: false, now: () => now });
  // The embedded store commits in its worker: it must run before probes write.
  await app.store!.start();
  return {
    app,
    advance: (ms: number) => (now += ms),
    cleanup: async () => {
      await app.stop(Deadline.in(2000));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function results(run: Awaited<ReturnType<App['collectNow']>>): ProbeResult[] {
  if ('rejected' in run) throw new Error(run.message);
  return run.results;
}

const metricValue = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);

test('breaker against a real server: 500 x5 opens, open costs no connection, failed trial re-opens, 3 successes close; /metrics shows each step', async () => {
  const port = await freePort();
  const srv = new SwitchServer(port);
  await srv.up();
  const url = `http://127.0.0.1:${port}/`;
  const { app, advance, cleanup } = await appWithClock({ TARGET_FQDNS: url });
  const host = `http://127.0.0.1:${port}`;
  const state = async () => metricValue(await app.metrics.render(), new RegExp(`^telemetry_circuit_breaker_state\\{host="${host}"\\} (\\d)`, 'm'));
  const transitions = async (to: string) => metricValue(await app.metrics.render(), new RegExp(`^telemetry_circuit_breaker_transitions_total\\{to="${to}"\\} (\\d+)`, 'm'));
  try {
    // A success between failures resets the count.
    for (let i = 0; i < 4; i++) assert.equal((await app.http.request(url)).ok, true);
    srv.mode = 'ok';
    await app.http.request(url);
    srv.mode = '500';
    for (let i = 0; i < 4; i++) await app.http.request(url);
    assert.equal(await state(), 0, 'still closed: 4 + 1 success + 4');
    await app.http.request(url);
    assert.equal(await state(), 2, 'open after 5 consecutive 500s');
    assert.equal(await transitions('open'), 1);

    // Open: fail fast, the server sees nothing.
    const seen = { accepted: srv.accepted, requests: srv.requests };
    for (let i = 0; i < 10; i++) {
      const o = await app.http.request(url);
      assert.equal(!o.ok && o.error.code, 'CIRCUIT_OPEN');
    }
    assert.deepEqual({ accepted: srv.accepted, requests: srv.requests }, seen);
    assert.match(await app.metrics.render(), /^telemetry_circuit_breaker_rejections_total 10$/m);

    // After the recovery timeout: one trial; the server is gone (refused) -> open again.
    await srv.down();
    advance(60_000);
    assert.equal(await state(), 1, 'half-open');
    const trial = await app.http.request(url);
    assert.equal(!trial.ok && trial.error.code, 'ECONNREFUSED');
    assert.equal(await state(), 2, 'the failed trial re-opened it');
    assert.equal(await transitions('half_open'), 1);

    // Later: back up and healthy, 3 successes close it.
    await srv.up();
    srv.mode = 'ok';
    advance(30_000);
    const early = await app.http.request(url);
    assert.equal(!early.ok && early.error.code, 'CIRCUIT_OPEN');
    assert.equal(await state(), 2, 'the recovery timer restarted at the failed trial');
    advance(30_000);
    for (let i = 0; i < 3; i++) assert.equal((await app.http.request(url)).ok, true);
    assert.equal(await state(), 0, 'closed after 3 successes');
    assert.equal(await transitions('closed'), 1);
    assert.equal(await transitions('half_open'), 2);
    assert.equal(await transitions('open'), 2);
  } finally {
    await cleanup();
    await srv.down();
  }
});

test('an http probe against an open circuit writes a circuit_open point and sends nothing', async () => {
  const port = await freePort();
  const srv = new SwitchServer(port);
  await srv.up();
  const url = `http://127.0.0.1:${port}/probe`;
  const { app, cleanup } = await appWithClock({ TARGET_FQDNS: url });
  try {
    const target = app.cfg.targets[0]!;
    for (let i = 0; i < 5; i++) await app.collectNow([target.name], ['http'], { adhoc: false });
    const before = srv.requests;
    const [r] = results(await app.collectNow([target.name], ['http'], { adhoc: false }));
    assert.equal(r!.success, false);
    assert.equal(r!.reason, 'circuit_open');
    assert.equal(srv.requests, before, 'the target server saw no request');
    const pts = await app.store!.query({ measurement: 'probe', limit: 100 });
    const last = pts.points.at(-1)!;
    assert.equal(last.fields.reason, 'circuit_open');
    assert.equal(last.fields.success, false);
    assert.ok((await app.store!.query({ measurement: 'http', limit: 100 })).points.length >= 6, 'the http point is written too');
    const open = app.http.health().open_circuits;
    assert.deepEqual(open, [{ host: `http://127.0.0.1:${port}`, state: 'open' }]);
    // The operator reset closes it without a restart.
    assert.deepEqual(app.http.breakers.reset(), [`http://127.0.0.1:${port}`]);
    srv.mode = 'ok';
    const [again] = results(await app.collectNow([target.name], ['http'], { adhoc: false }));
    assert.equal(again!.success, true);
  } finally {
    await cleanup();
    await srv.down();
  }
});

test('5,000 distinct hosts touched once then idle: breakers, pools, timers and memory return to baseline', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const port = await freePort();
  // The breakers' clock is ours: frozen while hosts are touched (a slow machine
  // must not evict early), moved past the idle bound to let the sweep evict.
  let clock = Date.now();
  const c = new HttpClient(clientOptions({ maxConnections: 200, breaker: { idleEvictMs: 4000 } as never }), undefined, () => clock);
  void c.start();
  try {
    // Warm up code paths so lazily compiled code does not count as growth.
    await Promise.all(Array.from({ length: 200 }, (_, i) => c.request(`http://127.9.${Math.floor(i / 250)}.${(i % 250) + 1}:${port}/`)));
    clock += 5000;
    await waitFor(() => c.breakers.size === 0 && Object.keys((c as any).agents.strict.stats).length === 0, 'warm-up evicted', 10_000, 100);
    const heap0 = heap();
    const timers0 = timers();
    for (let batch = 0; batch < 25; batch++) {
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => {
          const n = batch * 200 + i;
          return c.request(`http://127.10.${Math.floor(n / 250)}.${(n % 250) + 1}:${port}/`);
        }),
      );
    }
    assert.equal(c.breakers.size, 5000);
    const peakHeap = heap();
    clock += 5000;
    await waitFor(() => c.breakers.size === 0, 'idle breakers evicted', 10_000, 100);
    await waitFor(() => Object.keys((c as any).agents.strict.stats).length === 0, 'undici origin pools gone', 10_000, 100);
    assert.equal(c.budget.openSockets, 0);
    assert.equal(timers(), timers0, 'no timer left per host');
    const heap1 = heap();
    t.diagnostic(`heap: +${((peakHeap - heap0) / 1048576).toFixed(2)} MiB at 5,000 hosts, +${((heap1 - heap0) / 1048576).toFixed(2)} MiB after eviction`);
    assert.ok(heap1 - heap0 < 1.5 * 1024 * 1024, `heap ${((heap1 - heap0) / 1048576).toFixed(2)} MiB above baseline after eviction (peak +${((peakHeap - heap0) / 1048576).toFixed(2)} MiB)`);
  } finally {
    await c.close();
  }
});
