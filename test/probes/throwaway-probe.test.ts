import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
import { createProbes, PROBE_MODULES } from '../../src/probes/registry.js';
import { ProcessRunner } from '../../src/probes/tools/process-runner.js';
import { RouteMemory } from '../../src/probes/trace/route-memory.js';
import type { Probe, ProbeOutcome } from '../../src/probes/types.js';
import type { AnySample } from '../../src/samples/sample.js';
import { Collector } from '../../src/scheduler/collector.js';
import { EmbeddedStore } from '../../src/sinks/embedded-store.js';
import { MemoryCache } from '../../src/util/shared-cache.js';
import { Semaphore } from '../../src/util/semaphore.js';
import { DEFAULTS, newClient } from '../helpers/fixtures.js';

/**
 * Adding a probe is a folder exporting a ProbeModule and one line in
 * src/probes/registry.ts (issue #17). This test proves the seam without
 * touching src/: a throwaway `echo` probe, defined here, connects to a local
 * TCP echo server, writes a line and times the answer. It goes through the
 * same parts a real probe does — the targets file schema and spec checks
 * (config/targets.ts with `modules`), createProbes, the real Collector (the
 * operations semaphore, the deadline, the `probe` point, the metrics) — into
 * a real embedded store, and the point is read back.
 *
 * It fails if any of those keeps a list of its own: a hard-coded kind list in
 * the file schema ("targets[0].echo: unrecognized key"), a registry that
 * ignores `modules` ("no probe echo registered"), a store that only takes
 * known measurements (no point read back).
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
  const store = new EmbeddedStore(dir, 86_400_000, metrics, log);
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

    const echoes = store.query({ measurement: 'echo', limit: 10 }).points;
    assert.deepEqual(echoes.map((p) => p.tags.target).sort(), ['echo-and-tcp', 'echo-local']);
    for (const p of echoes) {
      assert.equal(p.timestamp_ms, slot, 'stored at the slot start');
      assert.equal(p.tags.source, 'test-source');
      assert.equal(p.fields.success, true);
      assert.ok(typeof p.fields.rtt_ms === 'number' && p.fields.rtt_ms > 0, `a measured round trip: ${JSON.stringify(p.fields)}`);
    }
    assert.equal(echoes.find((p) => p.tags.target === 'echo-local')!.fields.bytes, 'hello\n'.length);
    const probePoints = store.query({ measurement: 'probe', target: 'echo-local', limit: 10 }).points;
    assert.deepEqual(
      probePoints.map((p) => [p.tags.probe, p.fields.success]),
      [['echo', true]],
      'the Collector adds the probe point for the new kind too',
    );
    assert.match(await metrics.render(), /^telemetry_probes_total\{probe="echo",result="success"\} 2$/m);
    t.diagnostic(`echo rtt ${echoes.map((p) => p.fields.rtt_ms).join(', ')} ms`);
  } finally {
    await store.stop();
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
