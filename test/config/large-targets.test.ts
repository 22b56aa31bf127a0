// npm test: alone (the longest event-loop stall of a 10,000-target reload under 200 ms)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/net.js';

/** N tcp targets to a closed loopback port, an hour apart (a few run during the test: the load is the file's). */
function targetsYaml(n: number): string {
  const lines = ['defaults: { interval: 3600, timeout: 2 }', 'targets:'];
  for (let i = 0; i < n; i++) lines.push(`  - { name: t${i}, host: 127.0.0.1, probes: [tcp], tcp: { port: 9 } }`);
  return `${lines.join('\n')}\n`;
}

const lagMaxS = (metrics: string) => Number(/^nodejs_eventloop_lag_max_seconds ([\d.e+-]+)$/m.exec(metrics)?.[1] ?? NaN);

test('a large TARGETS_FILE: /health/ready says "loading" during the start while /health/live answers; a reload adding 10,000 targets keeps the event loop free (longest stall under 200 ms)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-large-'));
  const file = join(dir, 'targets.yaml');
  // 4,000 targets (300 KB) is past the size loaded in the background (256 KiB): the start says "loading".
  writeFileSync(file, targetsYaml(4000));
  // /health/live is what startDaemon waits for: the loading listener answers it.
  const d = await startDaemon({ TARGETS_FILE: file, COLLECT_TOKEN: 'large-targets-token' });
  try {
    const first = await d.get('/health/ready');
    const body = (await first.json()) as { ready: boolean; status: string; reasons: string[]; targets_total: number };
    assert.equal(first.status, 503, JSON.stringify(body));
    assert.equal(body.status, 'loading', JSON.stringify(body));
    assert.match(body.reasons[0]!, /^loading targets: /);
    assert.equal((await d.get('/health/live')).status, 200);
    assert.equal((await d.get('/api/targets')).status, 503, 'the API says it is not there yet');
    await waitFor(async () => (await d.get('/health/ready')).status === 200, 'ready once the targets are loaded', 90_000, 100);
    assert.ok(d.logs.some((l) => l.msg === 'loaded TARGETS_FILE: 4000 targets'), 'the load is logged with its count');

    // The reload: 10,000 more targets. The scrape before it starts the lag record afresh (prom-client resets it at each scrape).
    writeFileSync(file, targetsYaml(14_000));
    await (await d.get('/metrics')).text();
    d.proc.kill('SIGHUP');
    const reloaded = await waitFor(() => d.logs.find((l) => l.msg === 'configuration reloaded'), 'the reload', 90_000, 100);
    assert.equal(reloaded.targets, 14_000);
    assert.equal(reloaded.added, 10_000);
    const lag = lagMaxS(await (await d.get('/metrics')).text());
    t.diagnostic(`longest event-loop stall during the reload: ${Math.round(lag * 1000)} ms`);
    // The longest stretch the event loop was blocked (monitorEventLoopDelay's max), in the daemon itself: not wall time.
    assert.ok(lag < 0.2, `the event loop was blocked for ${Math.round(lag * 1000)} ms during the reload`);
  } finally {
    await d.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
