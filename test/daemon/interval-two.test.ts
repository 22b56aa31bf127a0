// npm test: alone (every trace of a round must fit its 1.6 s timeout)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/net.js';

/**
 * The shortest interval with the default targets: the daemon adapts what
 * does not fit (and says so once), and then every trace finishes within its
 * timeout. Apart from test/daemon/first-hour.test.ts because it times the
 * traces, which a busy CPU would stretch (test/README.md).
 */
test('COLLECTION_INTERVAL=2 with the default targets: starts, says once what it adapted, every trace fits its timeout', async () => {
  const d = await startDaemon({ COLLECTION_INTERVAL: '2', TRACE_PACKET_INTERVAL: '', TRACE_GRACE: '' });
  try {
    const notes = d.logs.filter((l) => String(l.msg).startsWith('adapted to fit: '));
    assert.ok(notes.some((l) => /TRACE_CYCLES 3 -> 1/.test(String(l.msg))), JSON.stringify(notes));
    assert.equal(new Set(notes.map((l) => l.msg)).size, notes.length, 'each adaptation said once');
    const started = d.logs.find((l) => String(l.msg).startsWith('network-telemetry started'));
    assert.match(String(started?.msg), /UI and API at http:\/\/127\.0\.0\.1:\d+\/, 2 default target\(s\) \(set TARGET_FQDNS or TARGETS_FILE for yours\), first probes in \d+ s, a round every 2 s/);
    // Three rounds of traces: each one succeeded (the adapted run fits in the 1.6 s timeout, not 'timeout after 1982 ms').
    const pts = await waitFor(
      async () => {
        const r = await d.json<{ points: { fields: { success: boolean; reason?: string; detail?: string } }[] }>('/api/points?measurement=route');
        return r.points.length >= 3 ? r.points : null;
      },
      'three route points',
      60_000,
      250,
    );
    for (const p of pts) assert.equal(p.fields.success, true, JSON.stringify(p.fields));
  } finally {
    await d.cleanup();
  }
});
