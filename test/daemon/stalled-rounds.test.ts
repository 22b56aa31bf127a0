// npm test: in pairs (liveness fails within three intervals)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertReceiver, renderAlertmanagerConfig } from '../../scripts/lib/alert-receiver.js';
import { freePort, Proc, REPO } from '../../scripts/lib/services.js';
import { startDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/net.js';

/**
 * A replica whose rounds stop while it still answers scrapes: its wall clock
 * is stepped back an hour (an NTP step, a VM restored from a snapshot; here
 * libfaketime, with the monotonic clock left alone). Slots are named by the
 * wall clock, so the next one is an hour away and no round completes. Liveness
 * (on the monotonic clock) must fail within LIVENESS_MISSED_ROUNDS (3)
 * intervals, and the TelemetryRoundsStalled alert must travel the real
 * pipeline: Prometheus (the project's rule) -> Alertmanager (the project's
 * config, rendered by its entrypoint) -> the ops webhook receiver; the
 * Watchdog reaches the watchdog receiver all along.
 *
 * Compressed for the test: a 4 s interval (liveness limit 12 s), 1 s scrapes
 * and evaluations, the stalled rule's `for` and the ops route's group_wait cut
 * to 1 s (their production values are covered by the promtool unit tests).
 */
const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const INTERVAL_S = 4;

test('rounds stalled while owning targets: /health/live fails within 3 intervals and TelemetryRoundsStalled reaches the webhook receiver', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-stall-'));
  // The daemon's wall clock: an offset libfaketime rereads at most every second.
  const clock = join(dir, 'clock');
  writeFileSync(clock, '+0');
  const receiver = await AlertReceiver.start();
  const procs: Proc[] = [];
  const daemon = await startDaemon({
    TARGET_FQDNS: '127.0.0.1',
    DEFAULT_PROBES: 'icmp',
    COLLECTION_INTERVAL: String(INTERVAL_S),
    LD_PRELOAD: FAKETIME,
    FAKETIME_TIMESTAMP_FILE: clock,
    FAKETIME_CACHE_DURATION: '1',
    DONT_FAKE_MONOTONIC: '1',
  });
  try {
    // Alertmanager and Prometheus with the project's files.
    const amPort = await freePort();
    const promPort = await freePort();
    const amConfig = await renderAlertmanagerConfig(REPO, join(dir, 'am'), receiver);
    writeFileSync(amConfig, readFileSync(amConfig, 'utf8').replace(/^ {2}group_wait: 10s$/m, '  group_wait: 1s'));
    procs.push(new Proc('prometheus-alertmanager', [`--config.file=${amConfig}`, `--storage.path=${join(dir, 'am-data')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address=']).start());
    const rules = readFileSync(join(REPO, 'prometheus/rules/availability_alerts.yml'), 'utf8');
    const fast = rules.replace(/(- alert: TelemetryRoundsStalled[\s\S]*?\n\s+for: )1m/, '$11s');
    assert.notEqual(fast, rules, 'the stalled rule has a `for` of 1m to shorten');
    writeFileSync(join(dir, 'rules.yml'), fast);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      JSON.stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [join(dir, 'rules.yml')],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
        scrape_configs: [{ job_name: 'network-telemetry', static_configs: [{ targets: [`127.0.0.1:${daemon.port}`], labels: { app_kubernetes_io_name: 'network-telemetry' } }] }],
      }),
    );
    procs.push(
      new Proc('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'prom-data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--rules.alert.resend-delay=1s']).start(),
    );

    // Healthy first: rounds complete, liveness 200, only the Watchdog fires.
    await waitFor(async () => Number(/^telemetry_last_round_timestamp_seconds (\S+)$/m.exec(await (await daemon.get('/metrics')).text())?.[1] ?? 0) > 0, 'a first completed round', 30_000, 200);
    assert.equal((await daemon.get('/health/live')).status, 200);
    await waitFor(() => receiver.find('/watchdog', 'Watchdog').length > 0, 'the Watchdog at its receiver', 60_000, 200);

    // Step the daemon's wall clock back an hour: its next slot is an hour away.
    writeFileSync(clock, '-1h');
    const steppedAt = Date.now();
    const lastRound = async () => Number(/^telemetry_last_round_timestamp_seconds (\S+)$/m.exec(await (await daemon.get('/metrics')).text())?.[1]) * 1000;
    const failedAt = await waitFor(async () => ((await daemon.get('/health/live')).status === 503 ? Date.now() : 0), 'liveness failing', 60_000, 100);
    const body = (await (await daemon.get('/health/live')).json()) as { status: string; problem: string };
    // The last round as this host's clock saw it: the gauge carries the
    // daemon's clock, so a round that was under way at the step and completed
    // after it reads an hour early (libfaketime's offset is exact).
    const gauge = await lastRound();
    const stalledSince = gauge < steppedAt - 1800_000 ? gauge + 3600_000 : gauge;
    assert.equal(body.status, 'stalled');
    assert.match(body.problem, /^no round completed for \d+ s \(limit 12 s\) while this replica owns targets$/);
    // From the last completed round: more than 3 intervals, and less than 3 intervals plus one (a check every 100 ms, a loaded machine).
    const afterLastRound = (failedAt - stalledSince) / 1000;
    assert.ok(afterLastRound > 3 * INTERVAL_S && afterLastRound < 4 * INTERVAL_S + 2, `liveness failed ${afterLastRound} s after the last completed round`);

    const firing = await waitFor(() => receiver.find('/ops', 'TelemetryRoundsStalled')[0], 'TelemetryRoundsStalled at the ops receiver', 60_000, 200);
    const alertAt = Date.now();
    assert.equal(firing.labels.severity, 'critical');
    assert.equal(firing.labels.instance, `127.0.0.1:${daemon.port}`);
    t.diagnostic(`stalled rounds: liveness 503 ${afterLastRound.toFixed(1)} s after the last completed round (limit ${3 * INTERVAL_S} s; clock stepped back ${((failedAt - steppedAt) / 1000).toFixed(1)} s before), TelemetryRoundsStalled at the webhook ${((alertAt - failedAt) / 1000).toFixed(1)} s after that`);
  } finally {
    await daemon.cleanup();
    for (const p of procs) await p.stop('SIGKILL');
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
