// npm test: alone (1000 targets every 5 s with no overrun)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon } from '../helpers/daemon.js';
import { startHttpServer, waitFor } from '../helpers/net.js';

test('1000 targets at a 5 s interval: no overrun, never more than MAX_CONCURRENT_OPERATIONS in flight (server side)', async () => {
  // 80 ms per answer: 1000 probes per 5 s need ~16 in flight on average, so
  // bursts would pass 20 without the bound; with it the work still fits.
  const web = await startHttpServer((_q, r) => setTimeout(() => r.end('ok'), 80), { logRequests: true });
  const targets = Array.from({ length: 1000 }, (_, i) => `${web.url}/t/${i}`);
  const d = await startDaemon({ TARGET_FQDNS: targets.join(','), COLLECTION_INTERVAL: '5', MAX_CONCURRENT_OPERATIONS: '20', LOG_LEVEL: 'info' });
  try {
    const rounds = await waitFor(() => {
      const r = d.logs.filter((l) => l.msg === 'round complete' && l.targets === 1000);
      return r.length >= 3 ? r : null;
    }, 'three complete rounds of 1000 targets', 40_000, 200);
    for (const r of rounds) {
      assert.equal(r.skipped_overrun, 0);
      assert.equal(r.probes_failed, 0);
      assert.ok((r.duration_s as number) < 5, `round took ${r.duration_s} s`);
    }
    const metrics = await (await d.get('/metrics')).text();
    assert.match(metrics, /^telemetry_targets_skipped_total 0$/m);
    assert.ok(web.maxActive <= 20, `server saw ${web.maxActive} requests at once`);
    assert.ok(web.maxActive >= 15, `the bound was actually reached (${web.maxActive}), so the test can fail`);
    // Every target was probed in every slot it had.
    const perPath = new Map<string, number>();
    for (const q of web.requests) perPath.set(q.url, (perPath.get(q.url) ?? 0) + 1);
    assert.equal(perPath.size, 1000);
  } finally {
    await d.cleanup();
    await web.close();
  }
});
