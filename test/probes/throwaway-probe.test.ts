import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { loadTargetsFile, TargetConfigError, type TargetDefaults } from '../../src/config/targets.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import { SpecError, type ProbeModule } from '../../src/probes/module.js';
import { createProbes, PROBE_MODULES, rollupsOf } from '../../src/probes/registry.js';
import { ProcessRunner } from '../../src/probes/tools/process-runner.js';
import { RouteMemory } from '../../src/probes/trace/route-memory.js';
import type { Probe, ProbeOutcome } from '../../src/probes/types.js';
import { rollup, US, type RollupSpec } from '../../src/samples/rollup.js';
import type { AnySample } from '../../src/samples/sample.js';
import { Collector } from '../../src/scheduler/collector.js';
import { EmbeddedStore } from '../../src/store/embedded-store.js';
import { MemoryCache } from '../../src/util/shared-cache.js';
import { Semaphore } from '../../src/util/semaphore.js';
import { App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load-config.js';
import { DEFAULTS, newClient } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/net.js';
import { ROOT } from '../helpers/daemon.js';
import { DAY, HOUR, MIN, openTestStore, T0 } from '../store/fixtures.js';
import { launchBrowser, type Browser } from '../web/browser.js';

const OUT = join(ROOT, 'test-output');

/**
 * Adding a probe is a folder exporting a ProbeModule and one line in
 * src/probes/registry.ts. This test proves the seam without touching src/:
 * a throwaway `echo` probe, defined here, connects to a local TCP echo
 * server, writes a line and times the answer. It goes through the same parts
 * a real probe does — the targets file schema and spec checks
 * (config/targets.ts with `modules`), createProbes, the real Collector (the
 * operations semaphore, the deadline, the `probe` point, the metrics) — into
 * a real embedded store, and the point is read back. Its read side too: the
 * store keeps its rollup in 5-minute and hourly buckets, and a whole App
 * built with it shows its figure as an overview column (in /api/targets and
 * in Chromium), its per-target metric in /metrics, and its panel on the
 * target page, drawn by a page that has no code for it (screenshot in
 * test-output/throwaway-probe.png).
 *
 * It fails if any of those keeps a list of its own: a hard-coded kind list in
 * the file schema ("targets[0].echo: unrecognized key"), a registry that
 * ignores `modules` ("no probe echo registered"), a store that only takes
 * known measurements (no point read back) or only rolls up known ones (no
 * `echo` in the 7-day series), a status board or overview with fixed columns
 * (no `Echo RTT`), a page with fixed charts (no #chart-echo).
 */

interface EchoSpec {
  port: number;
  payload: string;
}

/** The throwaway probe's measurement (a real probe declares it in its folder's measurements.ts). */
const ECHO = { tags: [], fields: { rtt_ms: 'float', bytes: 'integer', success: 'boolean' } } as const;

const echoProbe: Probe<EchoSpec> = ({ target, timeMs, tags, signal }, spec) =>
  new Promise<ProbeOutcome>((resolve) => {
    const t0 = performance.now();
    let socket: Socket | undefined;
    const done = (o: ProbeOutcome) => {
      signal.removeEventListener('abort', onAbort);
      socket?.destroy();
      resolve(o);
    };
    const failed = (reason: 'timeout' | 'refused', detail: string) =>
      done({ success: false, reason, detail, samples: [{ measurement: 'echo', tags, fields: { success: false }, timeMs } as unknown as AnySample], summary: {} });
    const onAbort = () => failed('timeout', 'no echo before the deadline');
    signal.addEventListener('abort', onAbort, { once: true });
    let got = '';
    socket = connect({ host: target.host, port: spec.port }, () => socket!.write(`${spec.payload}\n`));
    socket.on('data', (d) => {
      got += d.toString();
      if (!got.endsWith('\n')) return;
      const rtt = Math.round((performance.now() - t0) * 1000) / 1000;
      const ok = got.trim() === spec.payload;
      const sample = { measurement: 'echo', tags, fields: { rtt_ms: rtt, bytes: got.length, success: ok }, timeMs } as unknown as AnySample;
      done({ success: ok, samples: [sample], summary: { rtt_ms: rtt }, ...(ok ? {} : { reason: 'protocol_error' as const, detail: `echoed ${JSON.stringify(got.trim())}` }) });
    });
    socket.on('error', (err) => failed('refused', (err as NodeJS.ErrnoException).code ?? err.message));
  });

/** Its read side: what the store keeps, the overview's column, its panel, its per-target metric. */
const ECHO_ROLLUP: RollupSpec = {
  name: 'echo',
  measurement: 'echo',
  aggs: [rollup.count, rollup.ok, rollup.avg('rtt', 'rtt_ms'), rollup.max('rtt_max', 'rtt_ms')],
  outputs: [{ name: 'rtt_ms', from: 'mean', agg: 'rtt', scale: US }, { name: 'rtt_max_ms', from: 'column', column: 'rtt_max', scale: US }, ...rollup.counts],
};

const env = {};
const echoModule = {
  kind: 'echo',
  describe: 'TCP echo round trip',
  env,
  block: z.strictObject({ port: z.number().int().min(1).max(65535), payload: z.string().min(1).max(100).default('ping') }),
  defaultFor: [],
  measurements: { echo: ECHO },
  spec(raw): EchoSpec {
    const b = raw as { port: number; payload?: string } | undefined;
    if (!b) throw new SpecError('echo: needs a port (echo: { port: 7 })');
    return { port: b.port, payload: b.payload ?? 'ping' };
  },
  summary: (s: EchoSpec) => `echo "${s.payload}" on port ${s.port}`,
  create: () => echoProbe,
  rollups: [ECHO_ROLLUP],
  figures: [{ key: 'echo_rtt_ms', label: 'Echo RTT', unit: 'ms', measurement: 'echo', fields: ['rtt_ms'], sort: 'echo' }],
  panel: {
    charts: [
      {
        id: 'chart-echo',
        title: 'Echo round trip (mean and slowest)',
        rollup: 'echo',
        type: 'lines',
        lines: [
          { column: 'rtt_ms', label: 'mean', unit: 'ms' },
          { column: 'rtt_max_ms', label: 'slowest', unit: 'ms' },
        ],
        failed: 'failed',
      },
    ],
  },
  targetMetrics: [{ name: 'telemetry_echo_rtt_seconds', help: 'Last echo round trip of the target', measurement: 'echo', values: [{ field: 'rtt_ms', scale: 0.001 }] }],
} satisfies ProbeModule<EchoSpec, typeof env>;

const MODULES = [...PROBE_MODULES, echoModule] as readonly ProbeModule[];

test('a probe defined outside src/ runs from a targets file through the real Collector into the embedded store', async (t) => {
  const echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const port = (echo.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'nt-throwaway-'));
  const metrics = new TelemetryMetrics();
  const log = silentLogger();
  const http = newClient();
  const routeMemory = new RouteMemory(dir, log);
  const store = new EmbeddedStore({ dataDir: dir, retentionMs: 86_400_000, rawWindowMs: 6 * 3_600_000, maxBytes: 1024 ** 3, rollups: rollupsOf(MODULES) }, metrics, log);
  const defaults: TargetDefaults = { ...DEFAULTS, modules: MODULES };
  try {
    const file = join(dir, 'targets.yaml');
    writeFileSync(
      file,
      [
        'targets:',
        '  - name: echo-local',
        '    host: 127.0.0.1',
        '    probes: [echo]',
        `    echo: { port: ${port}, payload: hello }`,
        '  - name: echo-and-tcp',
        '    host: 127.0.0.1',
        '    probes: [echo, tcp]',
        `    echo: { port: ${port} }`,
        `    tcp: { port: ${port} }`,
        '',
      ].join('\n'),
    );
    const targets = loadTargetsFile(file, defaults);
    assert.deepEqual(
      targets.map((x) => [x.name, x.probes]),
      [
        ['echo-local', ['echo']],
        ['echo-and-tcp', ['tcp', 'echo']],
      ],
      'the probes of a target run in registry order: the new one last',
    );
    assert.deepEqual(targets[0]!.specs.echo, { port, payload: 'hello' });

    await store.start();
    await routeMemory.start();
    const probes = createProbes(
      { env: DEFAULTS.env, http, pingRunner: new ProcessRunner(1), traceRunner: new ProcessRunner(1), routeMemory, cache: new MemoryCache(100), metrics, log },
      MODULES,
    );
    const collector = new Collector(probes, new Semaphore(10), store, metrics, log, 'test-source');
    const slot = Math.floor(Date.now() / 60_000) * 60_000;
    for (const target of targets) {
      const run = await collector.collect(target, target.probes, { timeMs: slot, signal: new AbortController().signal });
      await run.settled;
      for (const r of run.results) assert.equal(r.success, true, `${target.name} ${r.probe}: ${r.reason} ${r.detail}`);
    }

    const echoes = (await store.query({ measurement: 'echo', limit: 10 })).points;
    assert.deepEqual(echoes.map((p) => p.tags.target).sort(), ['echo-and-tcp', 'echo-local']);
    for (const p of echoes) {
      assert.equal(p.timestamp_ms, slot, 'stored at the slot start');
      assert.equal(p.tags.source, 'test-source');
      assert.equal(p.fields.success, true);
      assert.ok(typeof p.fields.rtt_ms === 'number' && p.fields.rtt_ms > 0, `a measured round trip: ${JSON.stringify(p.fields)}`);
    }
    assert.equal(echoes.find((p) => p.tags.target === 'echo-local')!.fields.bytes, 'hello\n'.length);
    const probePoints = (await store.query({ measurement: 'probe', target: 'echo-local', limit: 10 })).points;
    assert.deepEqual(
      probePoints.map((p) => [p.tags.probe, p.fields.success]),
      [['echo', true]],
      'the Collector adds the probe point for the new kind too',
    );
    assert.match(await metrics.render(), /^telemetry_probes_total\{probe="echo",result="success"\} 2$/m);
    t.diagnostic(`echo rtt ${echoes.map((p) => p.fields.rtt_ms).join(', ')} ms`);
  } finally {
    await store.stop(Deadline.in(5000));
    await routeMemory.stop(Deadline.in(1000));
    await http.close();
    await new Promise<void>((r) => echo.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a new probe's settings are checked like a built-in's: errors name the file, line and target; without its module the kind is unknown", () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-throwaway-'));
  try {
    const file = join(dir, 'targets.yaml');
    writeFileSync(file, 'targets:\n  - name: ok\n    host: 127.0.0.1\n    probes: [tcp]\n    tcp: { port: 7 }\n  - name: no-port\n    host: 127.0.0.1\n    probes: [echo]\n');
    const problems = (defaults: TargetDefaults) => {
      try {
        loadTargetsFile(file, defaults);
        return [];
      } catch (err) {
        assert.ok(err instanceof TargetConfigError, String(err));
        return err.problems;
      }
    };
    assert.deepEqual(problems({ ...DEFAULTS, modules: MODULES }), [`TARGETS_FILE ${file}:6: targets[1]: echo: needs a port (echo: { port: 7 })`]);
    const unknown = problems(DEFAULTS);
    assert.equal(unknown.length, 1);
    assert.match(unknown[0]!, /targets\[1\]\.probes\[0\]/, 'the built-in registry alone does not know "echo"');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a new probe's rollup: the store keeps its points in hourly buckets, read back by the 7-day series", () => {
  const s = openTestStore({ rollups: rollupsOf(MODULES) });
  try {
    // Three hours of one echo point a minute: 10 ms in the first hour, 20 in the second, 30 in the third.
    const points: AnySample[] = [];
    for (let m = 0; m < 180; m++) {
      const rtt = 10 * (Math.floor(m / 60) + 1) + (m % 2); // 10/11, 20/21, 30/31: mean x.5, slowest x+1
      points.push({ measurement: 'echo', tags: { target: 'e', source: 's' }, fields: { rtt_ms: rtt, bytes: 5, success: m !== 7 }, timeMs: T0 + m * MIN } as unknown as AnySample);
    }
    s.engine.write(points);
    s.at(T0 + 4 * HOUR);
    const tables = s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'echo_%' ORDER BY name").pluck().all();
    assert.deepEqual(tables, ['echo_1h', 'echo_5m'], 'a table per tier for the new rollup');
    assert.equal(s.db.prepare('SELECT count(*) FROM echo_1h').pluck().get(), 3, 'three hourly buckets rolled up');
    const week = s.engine.series({ target: 'e', fromMs: T0 + 4 * HOUR - 7 * DAY, toMs: T0 + 4 * HOUR });
    assert.equal(week.tier, '1h', 'the 7-day view reads the hourly rollups');
    const echo = week.echo!;
    const at = (h: number) => echo.t.indexOf((T0 + h * HOUR) / 1000);
    assert.deepEqual([0, 1, 2].map((h) => echo.rtt_ms![at(h)]), [10.5, 20.5, 30.5], 'the mean of each hour');
    assert.deepEqual([0, 1, 2].map((h) => echo.rtt_max_ms![at(h)]), [11, 21, 31], 'the slowest of each hour');
    assert.deepEqual([0, 1, 2].map((h) => echo.failed![at(h)]), [1, 0, 0], 'failed runs per hour');
  } finally {
    s.close();
  }
});

test('a new probe on the pages: its overview column, its metric, and its panel drawn by a page with no code for it', { timeout: 120_000 }, async (t) => {
  const echo = createServer((sock) => sock.pipe(sock));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const port = (echo.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'nt-throwaway-app-'));
  const file = join(dir, 'targets.yaml');
  writeFileSync(file, ['targets:', '  - name: echo-page', '    host: 127.0.0.1', '    probes: [echo]', `    echo: { port: ${port}, payload: page }`, ''].join('\n'));
  const cfg = loadConfig({ DATA_DIR: dir, COLLECTION_INTERVAL: '1', PROBE_TIMEOUT: '0.9', PORT: '0', LISTEN_ADDRESS: '127.0.0.1', TARGET_FQDNS: '127.0.0.1:1' });
  cfg.targets = loadTargetsFile(file, { ...DEFAULTS, env: cfg.env, intervalS: 1, timeoutS: 0.9, modules: MODULES });
  const app = new App(cfg, silentLogger(), { modules: MODULES });
  let browser: Browser | undefined;
  try {
    await app.start();
    const base = `http://127.0.0.1:${app.apiPort}`;
    const json = async <T>(path: string) => (await (await fetch(base + path)).json()) as T;
    type List = { columns: { key: string; label: string; sort: string }[]; targets: { name: string; last: Record<string, unknown> }[] };
    const list = await waitFor(async () => {
      const l = await json<List>('/api/targets?sort=echo');
      return typeof l.targets[0]?.last.echo_rtt_ms === 'number' ? l : null;
    }, 'the echo figure in /api/targets', 20_000, 100);
    assert.deepEqual(list.columns.find((c) => c.key === 'echo_rtt_ms'), { key: 'echo_rtt_ms', label: 'Echo RTT', unit: 'ms', sort: 'echo' });
    assert.match(await (await fetch(`${base}/metrics`)).text(), /^telemetry_echo_rtt_seconds\{target="echo-page"\} 0\.\d+/m, 'its per-target metric, in seconds');
    const detail = await json<{ panels: { probe: string; charts: { id: string }[] }[]; settings: { probe: string; summary: string }[] }>('/api/targets/echo-page');
    assert.deepEqual(detail.panels.map((p) => [p.probe, p.charts.map((c) => c.id)]), [['echo', ['chart-echo']]]);
    assert.deepEqual(detail.settings, [{ probe: 'echo', summary: 'echo "page" on port ' + port }]);
    // Two slots at least: a line needs two points.
    await waitFor(async () => (await json<{ points: unknown[] }>('/api/points?measurement=echo&since=1m')).points.length >= 2, 'two echo points stored', 20_000, 100);

    browser = await launchBrowser();
    const page = await browser.page();
    await page.goto(`${base}/`);
    await page.waitForSelector('table.targets tbody tr[data-target="echo-page"]', { timeout: 30_000 });
    const head = await page.$$eval('table.targets thead th', (ths) => ths.map((th) => th.textContent?.replace(/[▲▼]/g, '').trim()));
    assert.ok(head.includes('Echo RTT'), `an overview column for the new figure: ${head.join(' | ')}`);
    const cell = await page.$eval('table.targets tbody tr[data-target="echo-page"]', (tr) => tr.textContent ?? '');
    assert.match(cell, /\d+(\.\d+)? ms/, `the row shows the echo time: ${cell}`);
    const from = Math.floor(Date.now() / 1000) - 120;
    await page.goto(`${base}/targets/echo-page?from=${from}&to=${from + 180}`);
    const chart = await page.waitForSelector('#chart-echo[data-buckets]', { timeout: 30_000 });
    assert.match((await chart.textContent()) ?? '', /Echo round trip/);
    const drawn = await page.$eval('#chart-echo', (f) => f.querySelectorAll('canvas').length);
    assert.ok(drawn >= 1, 'a canvas drawn for the new probe');
    assert.equal(await page.$('#route-section:not([hidden])'), null, 'no Route section: the probe declares none');
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'throwaway-probe.png'), fullPage: true });
    assert.deepEqual(page.errors, []);
    t.diagnostic(`overview columns: ${head.join(' | ')}`);
  } finally {
    await browser?.close();
    await app.stop(Deadline.in(5000));
    await new Promise<void>((r) => echo.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
});
