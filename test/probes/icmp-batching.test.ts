// npm test: in pairs (500 targets within the interval with 0 % loss)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/net.js';

const fpingStarted = (metrics: string) => Number(/^telemetry_child_processes_started_total\{tool="fping"\} (\d+)/m.exec(metrics)?.[1] ?? 0);

test('500 ICMP targets in one slot: at most ceil(500 / BATCH_SIZE) fping processes, within the interval, 0% loss', async () => {
  const targets = Array.from({ length: 500 }, (_, i) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`);
  const d = await startDaemon({ TARGET_FQDNS: targets.join(','), DEFAULT_PROBES: 'icmp', BATCH_SIZE: '50', COLLECTION_INTERVAL: '10', ICMP_COUNT: '5' });
  try {
    const complete = () => d.logs.filter((l) => l.msg === 'round complete' && l.targets === 500);
    await waitFor(() => complete().length >= 1, 'a full round', 30_000, 100);
    const before = fpingStarted(await (await d.get('/metrics')).text());
    const seen = complete().length;
    await waitFor(() => complete().length > seen, 'the next full round', 30_000, 100);
    const after = fpingStarted(await (await d.get('/metrics')).text());
    const round = complete().at(-1)!;
    assert.ok(after - before <= 10, `${after - before} fping processes for 500 targets (BATCH_SIZE 50)`);
    assert.ok(after - before >= 1);
    assert.equal(round.probes_failed, 0);
    assert.equal(round.skipped_overrun, 0);
    assert.ok((round.duration_s as number) < 10, `round took ${round.duration_s} s`);
    const pts = await d.json<{ points: { fields: { loss_pct: number } }[] }>('/api/points?measurement=ping&limit=10000');
    assert.ok(pts.points.length >= 500);
    assert.ok(pts.points.every((p) => p.fields.loss_pct === 0));
    const metrics = await (await d.get('/metrics')).text();
    assert.match(metrics, /^telemetry_icmp_rtt_avg_seconds\{target="127\.1\.0\.1"\} [\d.e-]+$/m);
    assert.match(metrics, /^telemetry_icmp_loss_ratio\{target="127\.1\.0\.1"\} 0$/m);
  } finally {
    await d.cleanup();
  }
});
