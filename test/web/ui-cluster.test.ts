import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { membersEverywhere, startClusterRig } from '../helpers/cluster-rig.js';
import { ROOT, startDaemon, type Daemon } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/net.js';
import { launchBrowser } from './browser.js';

/**
 * The web UI of a cluster: two real daemons share a real
 * Redis and ten HTTP targets (a recording server on loopback), each
 * advertising its API with CLUSTER_ADVERTISE_URL. In headless Chromium:
 *   - the overview of either daemon lists every target with its status and
 *     the replica that probes it (rows come from each owner's
 *     /api/local/targets);
 *   - a target the other replica owns opens on its target page with the
 *     owner's data (probe table, HTTP chart);
 *   - one replica SIGKILLed: within one CLUSTER_MEMBER_TTL its targets show
 *     as `unavailable` on the survivor's overview, with the reason, then as
 *     the survivor's (ok or unknown), none unavailable.
 * The overview refreshes every 30 s by itself; here each check is a fresh
 * page load, as a person pressing reload (or a Service sending each load to
 * another pod) gets.
 *
 * Broken once each to see it fail: /api/targets built from this replica's
 * own rows only -> "A's overview lists every target"; rows of a dead owner
 * shown from this replica's stale state instead of `unavailable` -> "B's
 * targets unavailable"; the owner line left out of the status cell ->
 * "probed by".
 */

const N = 10;
const INTERVAL = 2000;
const HEARTBEAT = 1000;
const TTL = 8000;

/** The status strip's cluster line ("2 of 2 members" ...). */
async function clusterStrip(page: import('playwright-core').Page): Promise<string> {
  const item = page.locator('.status-strip .strip-item', { hasText: 'Cluster' });
  await item.waitFor({ timeout: 30_000 });
  return ((await item.textContent()) ?? '').replace(/\s+/g, ' ');
}

interface Row {
  name: string;
  status: string;
  owner: string;
  text: string;
}

test('cluster UI: either replica lists every target with status and owner, opens a target the other owns, and shows a killed replica\'s targets unavailable, then taken over', { timeout: 300_000 }, async (t) => {
  const rig = await startClusterRig({ targets: N, intervalMs: INTERVAL, heartbeatMs: HEARTBEAT, ttlMs: TTL, name: 'ui-cluster' });
  const daemons: Daemon[] = [];
  const browser = await launchBrowser();
  try {
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      daemons.push(await startDaemon({ ...rig.env, PORT: String(port), CLUSTER_ADVERTISE_URL: `http://127.0.0.1:${port}`, SHUTDOWN_TIMEOUT: '5' }));
    }
    const [a, b] = daemons as [Daemon, Daemon];
    await membersEverywhere(daemons, 2, 20_000);
    const [ca, cb] = (await Promise.all(daemons.map((d) => d.json('/api/cluster')))) as { member: string; owned_targets: string[]; peers: { url: string }[] }[];
    assert.deepEqual(ca!.peers.map((p) => p.url).sort(), [a.url, b.url].sort(), 'each member advertises CLUSTER_ADVERTISE_URL');
    const ownerOf = new Map<string, string>();
    for (const c of [ca!, cb!]) for (const x of c.owned_targets) ownerOf.set(x, c.member);
    assert.equal(ownerOf.size, N, 'every target owned once');
    const ofB = rig.targets.filter((x) => ownerOf.get(x) === cb!.member);
    assert.ok(ofB.length > 0 && ofB.length < N, `both replicas own targets (B owns ${ofB.length} of ${N})`);
    // Every target has a result at its owner before the pages are looked at.
    await waitFor(async () => ((await a.json('/api/targets?limit=1000')) as { counts: { ok: number } }).counts.ok === N, 'every target ok in the cluster-wide list', 60_000, 250);

    let strip = '';
    const overview = async (d: Daemon): Promise<Row[]> => {
      const page = await browser.page();
      try {
        await page.goto(`${d.url}/`);
        await page.waitForSelector('table.targets tbody tr[data-target]', { timeout: 30_000 });
        strip = await clusterStrip(page);
        assert.deepEqual(page.errors, [], 'no console error on the overview');
        return await page.$$eval('table.targets tbody tr[data-target]', (trs) =>
          trs.map((tr) => ({ name: tr.getAttribute('data-target') ?? '', status: tr.getAttribute('data-status') ?? '', owner: tr.getAttribute('data-owner') ?? '', text: tr.textContent ?? '' })),
        );
      } finally {
        await page.close();
      }
    };

    for (const [label, d] of [
      ['A', a],
      ['B', b],
    ] as const) {
      const rows = await overview(d);
      assert.deepEqual(rows.map((r) => r.name).sort(), [...rig.targets].sort(), `${label}'s overview lists every target`);
      assert.match(strip, /2 of 2 members/, `${label}'s status strip: ${strip}`);
      assert.doesNotMatch(strip, /unavailable/, `${label}'s status strip: ${strip}`);
      for (const r of rows) {
        assert.equal(r.status, 'ok', `${label}'s overview: ${r.name} is ${r.status}: ${r.text}`);
        assert.equal(r.owner, ownerOf.get(r.name), `${label}'s overview: ${r.name} owned by ${ownerOf.get(r.name)}`);
        assert.ok(r.text.includes(`probed by ${ownerOf.get(r.name)}`), `${label}'s overview names the replica probing ${r.name}: ${r.text}`);
      }
    }

    // A target B owns, opened on A: the page shows B's data.
    const remote = ofB[0]!;
    const page = await browser.page();
    await page.goto(`${a.url}/targets/${encodeURIComponent(remote)}`);
    await page.waitForSelector('#target-status[data-status="ok"]', { timeout: 30_000 });
    assert.match((await page.textContent('body')) ?? '', new RegExp(`probed by ${cb!.member}`), 'the page names the owner');
    assert.equal(await page.$eval('tr[data-probe="http"] .badge', (e) => e.textContent), 'ok', "the owner's probe state");
    const chart = await page.waitForSelector('#chart-http[data-buckets]', { timeout: 30_000 });
    const buckets = Number(await chart.getAttribute('data-buckets'));
    const series = (await a.json(`/api/targets/${encodeURIComponent(remote)}/series?from=${Math.floor(Date.now() / 1000) - 3600}`)) as { http?: { t: number[] } };
    assert.ok(buckets >= 1 && (series.http?.t.length ?? 0) >= 1, `the HTTP chart draws the owner's points (${buckets} buckets)`);
    assert.deepEqual(page.errors, []);
    const out = join(ROOT, 'test-output');
    mkdirSync(out, { recursive: true });
    await page.screenshot({ path: join(out, 'cluster-remote-target.png'), fullPage: true });
    await page.close();

    // SIGKILL B: its targets turn unavailable on A within one TTL, with the reason; then A owns them.
    const tKill = Date.now();
    await b.kill('SIGKILL');
    let unavailable: Row[] = [];
    await waitFor(
      async () => {
        const rows = await overview(a);
        unavailable = rows.filter((r) => r.status === 'unavailable');
        return ofB.every((x) => unavailable.some((r) => r.name === x));
      },
      "B's targets unavailable on A's overview",
      TTL,
      100,
    );
    const sawUnavailable = Date.now() - tKill;
    // The status strip says it too, while B is still in A's view (until its TTL runs out).
    await waitFor(
      async () => {
        await overview(a);
        return new RegExp(`1 of 2 members.*${cb!.member} unavailable`).test(strip);
      },
      "A's status strip naming B unavailable",
      Math.max(1000, TTL - (Date.now() - tKill)),
      100,
    );
    assert.deepEqual(unavailable.map((r) => r.name).sort(), [...ofB].sort(), "only B's targets are unavailable");
    for (const r of unavailable) assert.match(r.text, new RegExp(`owner ${cb!.member}: (unreachable|circuit_open|timeout)`), `the reason is shown: ${r.text}`);
    {
      const p = await browser.page();
      await p.goto(`${a.url}/`);
      await p.waitForSelector('table.targets tbody tr[data-status="unavailable"]', { timeout: 30_000 });
      await p.screenshot({ path: join(out, 'cluster-unavailable.png'), fullPage: true });
      await p.close();
    }

    let rows: Row[] = [];
    await waitFor(
      async () => {
        rows = await overview(a);
        return rows.length === N && rows.every((r) => r.owner === ca!.member && (r.status === 'ok' || r.status === 'unknown'));
      },
      "A's overview: every target A's, none unavailable",
      TTL + 4 * INTERVAL,
      250,
    );
    const tookOver = Date.now() - tKill;
    // Then A probes them itself.
    await waitFor(async () => (await overview(a)).every((r) => r.status === 'ok'), 'B\'s former targets ok again, probed by A', 6 * INTERVAL, 500);
    t.diagnostic(`B owned ${ofB.length} of ${N}; after SIGKILL: unavailable on A's overview after ${sawUnavailable} ms, all A's after ${tookOver} ms (CLUSTER_MEMBER_TTL ${TTL} ms)`);
  } finally {
    await browser.close();
    await Promise.all(daemons.map((d) => d.cleanup()));
    await rig.cleanup();
  }
});
