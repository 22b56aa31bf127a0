import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Victoria } from '../../scripts/lib/services.js';
import { afterRounds, startDaemon, type Daemon } from '../helpers/daemon.js';
import { startHttpServer, waitFor } from '../helpers/net.js';
import { PrometheusReceiver } from '../helpers/prometheus.js';

/** (target, slot) of every round the daemon reported complete: their points were committed to the outbox. */
function probed(daemons: Daemon[], targets: string[]): Set<string> {
  const out = new Set<string>();
  for (const d of daemons) {
    for (const l of d.logs) {
      if (l.msg !== 'round complete' || (l.targets as number) !== targets.length) continue;
      const slot = Date.parse(String(l.slot));
      for (const t of targets) out.add(`${t}@${slot}`);
    }
  }
  return out;
}

test('remote write to Prometheus 2.42 and VictoriaMetrics: one receiver stopped for five rounds, the daemon SIGKILLed once, 0 points lost', async (t) => {
  const web = await startHttpServer((_q, r) => r.end('ok'), { logRequests: false });
  const prom = await PrometheusReceiver.start();
  const vm = await Victoria.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'nt-rwd-'));
  const targets = Array.from({ length: 10 }, (_, i) => `${web.url}/t/${i}`);
  const env = {
    TARGET_FQDNS: targets.join(','),
    COLLECTION_INTERVAL: '2',
    SHUTDOWN_TIMEOUT: '15',
    REMOTE_WRITE_URLS: `${prom.writeUrl},${vm.url}/api/v1/write`,
    INFLUX_FLUSH_INTERVAL: '0.5',
  };
  const daemons: Daemon[] = [];
  try {
    let d = await startDaemon(env, { dataDir });
    daemons.push(d);
    await waitFor(async () => (await d.json('/health')).components.sink.endpoints?.every((e: { lastSuccess: string | null }) => e.lastSuccess), 'both receivers written', 30_000, 200);
    await prom.down('SIGTERM');
    await waitFor(async () => (await d.json('/health')).status === 'degraded', 'degraded while Prometheus is away', 15_000, 200);
    await afterRounds(d, 5, 2, 'five rounds collected while Prometheus is away');
    const during = (await d.json('/health')).components.sink;
    assert.ok(during.outbox_points >= targets.length * 5, `the outbox holds the outage's rounds: ${during.outbox_points} points`);
    await prom.up();
    // SIGKILL while the backlog is on its way: once Prometheus has taken a first batch again, a round later.
    const upAt = new Date().toISOString();
    await waitFor(async () => (await d.json('/health')).components.sink.endpoints.every((e: { lastSuccess: string | null }) => e.lastSuccess && e.lastSuccess >= upAt), 'Prometheus written again', 30_000, 100);
    await afterRounds(d, 1, 2);
    await d.kill('SIGKILL');
    d = await startDaemon(env, { dataDir });
    daemons.push(d);
    // Two rounds of the new process, then what is left of the backlog drains.
    await afterRounds(d, 2, 2, 'two rounds after the restart');
    await waitFor(async () => (await d.json('/health')).components.sink.outbox_points < 40, 'caught up after the restart', 30_000, 200);
    d.proc.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    const stopped = d.logs.find((l) => l.msg === 'stopped')!;
    assert.equal(stopped.outbox_points, 0, 'drained before exit');
    const m = d.logs.filter((l) => /already stored/.test(String(l.msg)));
    const rejected = d.logs.filter((l) => l.msg === 'point rejected by the database: dropped');

    const want = probed(daemons, targets);
    const key = (metric: Record<string, string>, ms: number) => `${metric.target}@${ms}`;
    const inProm = new Set<string>();
    for (const s of await prom.samples('telemetry_probe_success{probe="http"}')) for (const [sec] of s.values) inProm.add(key(s.metric, Math.round(sec * 1000)));
    const inVm = await waitFor(async () => {
      const got = new Set<string>();
      for (const s of await vm.export('telemetry_probe_success{probe="http"}')) for (const ms of s.timestamps) got.add(key(s.metric, ms));
      return [...want].every((k) => got.has(k)) ? got : undefined;
    }, 'VictoriaMetrics holding every probed slot', 20_000, 500).catch(() => new Set<string>());
    const missingProm = [...want].filter((k) => !inProm.has(k));
    const missingVm = [...want].filter((k) => !inVm.has(k));
    t.diagnostic(
      `probed ${want.size} (target, slot) pairs in ${daemons.length} runs; Prometheus stored ${inProm.size} (missing ${missingProm.length}), VictoriaMetrics ${inVm.size} (missing ${missingVm.length}); ` +
        `outbox held ${during.outbox_points} points while Prometheus was away; re-sent batches already stored: ${m.length}; rejected: ${rejected.length}`,
    );
    assert.ok(want.size >= targets.length * 10, `enough slots probed: ${want.size}`);
    assert.deepEqual(missingProm.slice(0, 5), [], `${missingProm.length} probed slots missing in Prometheus`);
    assert.deepEqual(missingVm.slice(0, 5), [], `${missingVm.length} probed slots missing in VictoriaMetrics`);
    assert.equal(rejected.length, 0, 'nothing dropped');
    // Every target has every slot it was probed in, on both.
    for (const target of targets) assert.ok([...inProm].some((k) => k.startsWith(`${target}@`)));
  } finally {
    for (const d of daemons) await d.cleanup();
    await prom.cleanup();
    await vm.cleanup();
    await web.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
