// npm test: alone (/health/live p99 under 200 ms and event-loop lag under attack)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { attack } from '../helpers/attacker.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { startHttpServer, waitFor } from '../helpers/net.js';

/**
 * The unauthenticated bcrypt flood, replayed: basic auth on (a cost-10 hash,
 * as `htpasswd -nBC 10` makes), 50 keep-alive connections from 50 loopback
 * addresses sending wrong passwords back to back for FLOOD_S seconds, while
 * the daemon probes 10 targets every second. Passwords are checked in a
 * worker thread behind a bounded queue, and each address is throttled (429)
 * after 5 failures, so /health/live stays quick (p99 under 200 ms), the
 * event loop's lag stays low, no slot is skipped, and a user who signed in
 * before the flood keeps reading.
 *
 * Seen failing before the fix: /health/live p99 in seconds and event-loop
 * lag of seconds (every wrong password one bcrypt run on the main thread).
 */
const FLOOD_S = 10;
const PASSWORD = 'correct horse battery staple';

/** GET on a fresh connection; status and time, never throws. */
function get(port: number, path: string, auth?: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const q = request({ host: '127.0.0.1', port, path, agent: false, headers: auth ? { authorization: auth } : {}, timeout: 30_000 }, (r) => {
      r.resume();
      r.on('end', () => resolve({ status: r.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    q.on('timeout', () => q.destroy(new Error('timeout')));
    q.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    q.end();
  });
}

const metric = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

test('50 connections of wrong passwords: /health/live p99 under 200 ms, low event-loop lag, no slot skipped, a signed-in user still served', { timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-hostile-auth-'));
  writeFileSync(join(dir, 'web.yml'), `basic_auth_users:\n  alice: ${await bcrypt.hash(PASSWORD, 10)}\n`);
  const web = await startHttpServer((_q, r) => r.end('ok'));
  const targets = Array.from({ length: 10 }, (_, i) => `${web.url}/t${i}`);
  const daemons: Daemon[] = [];
  // Everything started is inside the try: a daemon that fails to start fails the test at once, and nothing is left to keep this process alive.
  try {
    const d = await startDaemon({ WEB_CONFIG_FILE: join(dir, 'web.yml'), TARGET_FQDNS: targets.join(','), COLLECTION_INTERVAL: '1', COLLECT_TOKEN: 'hostile-auth-token-0123' });
    daemons.push(d);
    const alice = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
    const scrape = async () => (await d.get('/metrics', { headers: { authorization: alice } })).text();
    await waitFor(() => d.logs.some((l) => l.msg === 'round complete'), 'a first round', 30_000, 100);
    // Alice signs in before the flood (one bcrypt run, then remembered for a minute).
    assert.equal((await get(d.port, '/api/status', alice)).status, 200);
    const before = await scrape();

    const flood = attack({ kind: 'basic', port: d.port, connections: 50, seconds: FLOOD_S, path: '/api/status' });
    const floodFrom = await flood.started;
    let flooding = true;
    const report = flood.done.finally(() => (flooding = false));
    const live: number[] = [];
    const aliceStatuses: number[] = [];
    // Give the attacker a moment to connect, then sample every 100 ms while it runs.
    await new Promise((r) => setTimeout(r, 500));
    while (flooding) {
      const [l, a] = await Promise.all([get(d.port, '/health/live'), live.length % 10 === 0 ? get(d.port, '/api/status', alice) : Promise.resolve(undefined)]);
      if (!flooding) {
        t.diagnostic(`last sample after the flood ended: live ${JSON.stringify(l)}, alice ${JSON.stringify(a)}`);
        break;
      }
      live.push(l.status === 200 ? l.ms : Infinity);
      if (a) aliceStatuses.push(a.status);
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await report;
    const after = await scrape();
    const rounds = d.logs.filter((l) => l.msg === 'round complete' && Date.parse(String(l.slot)) >= floodFrom && Date.parse(String(l.slot)) + 1000 <= r.endedAt);

    live.sort((x, y) => x - y);
    const p = (q: number) => live[Math.min(live.length - 1, Math.floor(q * live.length))]!;
    const lagMax = metric(after, 'nodejs_eventloop_lag_max_seconds');
    const lagP99 = metric(after, 'nodejs_eventloop_lag_p99_seconds');
    const skipped = metric(after, 'telemetry_targets_skipped_total') - metric(before, 'telemetry_targets_skipped_total');
    t.diagnostic(`attacker: ${JSON.stringify(r.statuses)} (${r.errors} errors) in ${FLOOD_S} s`);
    t.diagnostic(`/health/live during the flood: ${live.length} samples, p50 ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms, max ${live[live.length - 1]!.toFixed(1)} ms`);
    t.diagnostic(`event-loop lag over the flood: p99 ${(lagP99 * 1000).toFixed(1)} ms, max ${(lagMax * 1000).toFixed(1)} ms; rounds ${rounds.length} (${rounds.map((x) => x.targets).join(',')} targets); skipped ${skipped}; alice ${aliceStatuses.join(',')}`);

    assert.ok(live.length >= 20, `${live.length} samples`);
    assert.ok(p(0.99) < 200, `/health/live p99 ${p(0.99)} ms`);
    assert.ok(lagP99 < 0.2, `event-loop lag p99 ${lagP99} s over the flood`);
    assert.equal(skipped, 0, 'slots skipped during the flood');
    assert.ok(rounds.length >= FLOOD_S - 2 && rounds.every((x) => x.targets === targets.length), `rounds during the flood: ${JSON.stringify(rounds.map((x) => [x.slot, x.targets]))}`);
    assert.ok(aliceStatuses.length > 0 && aliceStatuses.every((s) => s === 200), `alice during the flood: ${aliceStatuses}`);
    assert.ok((r.statuses['429'] ?? 0) > 0, 'repeat offenders are throttled');
    assert.ok(!Object.keys(r.statuses).some((s) => s.startsWith('2')), 'no wrong password let in');
    assert.match(after, /telemetry_api_auth_failures_total\{result="throttled"\} [1-9]/);
  } finally {
    await Promise.all(daemons.map((d) => d.cleanup()));
    await web.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
