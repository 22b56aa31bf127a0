import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Response as PwResponse } from 'playwright-core';
import { freePort, until, Victoria } from '../../scripts/lib/services.js';
import { ROOT, startDaemon, type Daemon } from '../helpers/daemon.js';
import { buildThreeSites, SITE_NAMES, type SiteName } from '../helpers/netns.js';
import { launchBrowser } from '../web/browser.js';

/**
 * Three sites in network namespaces (test/helpers/netns.ts buildThreeSites):
 * sources a, b and c probe one target over paths of their own that join on a
 * shared LAN before it, all three write to one VictoriaMetrics by remote
 * write, and site a shows every source (SITES=b,c; QUERY_URL=VictoriaMetrics).
 * In sequence, each waited for by the condition that proves it:
 *   1. loss on b's path from its second hop: the verdict names b's path and
 *      that hop; the matrix shows b degraded; the page draws three sources;
 *   2. c rerouted through a slow hop: the verdict names c's path and the
 *      new hop where the latency begins; c's route change is listed;
 *   3. the target down: the verdict names the target and the hops all paths
 *      share;
 *   4. b and c stopped: their history still draws, from VictoriaMetrics.
 */

// 3 s slots with 2.7 s for a run: room for 20 echoes and a 5-cycle trace that wait for lost replies on b's lossy path.
const INTERVAL_S = 3;
const OUT = join(ROOT, 'test-output');
type Doc = { document: { querySelector(s: string): { getAttribute(n: string): string | null } | null } };

interface Sources {
  sources: { source: string; state: string; available: boolean }[];
  verdict: {
    domain: string;
    summary: string;
    affected: string[];
    healthy: string[];
    no_data: string[];
    common_hops?: { ttl: number; ip: string }[];
    paths?: { source: string; loss_begins: { ttl: number; ip: string } | null; latency_begins: { ttl: number; ip: string; value: number } | null; summary: string }[];
  };
}

test('three sites: one target from every vantage point, the fault domain in three scenarios, history from VictoriaMetrics with the other sites stopped', { timeout: 420_000 }, async (t) => {
  const net = buildThreeSites();
  const started = Date.now();
  const vm = await Victoria.start(undefined, net.mgmt.root);
  // An HTTP server in the target's namespace: HTTP timings per source.
  const web = spawn('ip', ['netns', 'exec', net.targetNs, process.execPath, '-e', "require('http').createServer((q, r) => r.end('ok')).listen(8080, '0.0.0.0')"], { stdio: 'ignore' });
  const httpTarget = `http://${net.targetIp}:8080/`;
  const ports = Object.fromEntries(await Promise.all(SITE_NAMES.map(async (s) => [s, await freePort()]))) as Record<SiteName, number>;
  const siteUrl = (s: SiteName) => `http://${net.mgmt.site[s]}:${ports[s]}`;
  const daemons = {} as Record<SiteName, Daemon>;
  const browser = await launchBrowser({ width: 1400, height: 1000 });
  try {
    for (const s of SITE_NAMES) {
      daemons[s] = await startDaemon(
        {
          SOURCE_NAME: s,
          TARGET_FQDNS: `${net.targetIp},${httpTarget}`,
          COLLECTION_INTERVAL: String(INTERVAL_S),
          PROBE_TIMEOUT: '2.7',
          TRACE_CYCLES: '5',
          TRACE_PACKET_INTERVAL: '0.2',
          TRACE_GRACE: '0.5',
          THRESHOLD_RTT_MS: '30',
          LISTEN_ADDRESS: net.mgmt.site[s],
          PORT: String(ports[s]),
          REMOTE_WRITE_URL: `${vm.url}/api/v1/write`,
          INFLUX_FLUSH_INTERVAL: '0.2',
          ...(s === 'a' ? { SITES: `b=${siteUrl('b')},c=${siteUrl('c')}`, SITES_REFRESH: '1', SITE_TIMEOUT: '1.5', QUERY_URL: vm.url } : {}),
        },
        { wrap: ['ip', 'netns', 'exec', net.site[s]], waitLive: false },
      );
    }
    const a = siteUrl('a');
    const api = async <T>(path: string): Promise<T> => {
      const r = await fetch(a + path, { signal: AbortSignal.timeout(10_000) });
      assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
      return (await r.json()) as T;
    };
    const target = encodeURIComponent(net.targetIp);
    const sources = () => api<Sources>(`/api/targets/${target}`);
    /** Poll site a's verdict until `ok` accepts it; the last one seen is in the error. */
    const verdictUntil = async (what: string, ok: (s: Sources) => boolean, ms = 120_000) => {
      let last: Sources | undefined;
      try {
        return await until(async () => ((last = await sources()), ok(last) ? last : null), what, ms, 500);
      } catch (err) {
        throw new Error(`${(err as Error).message}\nlast verdict: ${JSON.stringify(last?.verdict)}\nstates: ${JSON.stringify(last?.sources.map((s) => [s.source, s.state]))}`);
      }
    };
    await until(async () => (await Promise.all(SITE_NAMES.map(async (s) => (await fetch(`${siteUrl(s)}/health/live`)).ok))).every(Boolean), 'three daemons live', 120_000, 250).catch((err: Error) => {
      throw new Error(`${err.message}\n${SITE_NAMES.map((s) => `${s}: ${daemons[s].stderr().slice(-2000)}`).join('\n')}`);
    });
    await verdictUntil('every source ok', (s) => s.verdict.domain === 'none' && s.verdict.affected.length === 0 && s.verdict.healthy.length === 3);
    const healthyS = Math.floor(Date.now() / 1000);
    mkdirSync(OUT, { recursive: true });

    await t.test('loss from the second hop of b: the verdict names b and that hop; the matrix shows b degraded; the page draws every source', async (t2) => {
      net.lossOnB(20);
      t2.after(() => net.clearLossOnB());
      const v = await verdictUntil('the path from b named, loss from its second hop', (s) => s.verdict.domain === 'path' && s.verdict.affected.join() === 'b' && s.verdict.paths?.[0]?.loss_begins?.ttl === 2);
      assert.equal(v.verdict.paths![0]!.loss_begins!.ip, net.hops.b[1], "b's second router");
      // The matrix reads each site's rows as of its last refresh (SITES_REFRESH), which
      // may be a slot older than the verdict just read: wait for b's cell to catch up.
      type Matrix = { targets: { name: string; cells: { state: string; why: string | null }[] }[]; sources: { name: string }[] };
      let matrix: Matrix | undefined;
      const rowOf = (m: Matrix) => m.targets.find((x) => x.name === net.targetIp)!;
      await until(
        async () => ((matrix = await api<Matrix>(`/api/matrix?q=${target}`)), rowOf(matrix).cells[matrix.sources.findIndex((x) => x.name === 'b')]?.state !== 'ok'),
        "b's cell in the matrix past ok",
        15_000,
        250,
      ).catch(() => undefined);
      const row = rowOf(matrix!);
      assert.deepEqual(
        matrix!.sources.map((s, i) => [s.name, row.cells[i]!.state]),
        [
          ['a', 'ok'],
          ['b', 'degraded'],
          ['c', 'ok'],
        ],
        `cells: ${JSON.stringify(row.cells)}`,
      );
      const metrics = await (await fetch(`${a}/metrics`)).text();
      assert.match(metrics, new RegExp(`telemetry_target_fault_domain\\{target="${net.targetIp.replace(/\./g, '\\.')}",domain="path"\\} 1`));
      assert.match(metrics, new RegExp(`telemetry_target_fault_source\\{target="${net.targetIp.replace(/\./g, '\\.')}",source="b"\\} 1`));

      // The target page: three sources on the latency chart, each with the buckets its answer had.
      const page = await browser.page();
      const toS = Math.floor(Date.now() / 1000);
      const seriesAnswer = page.waitForResponse((r: PwResponse) => r.url().includes('/sources/series'));
      await page.goto(`${a}/targets/${target}?from=${healthyS - 60}&to=${toS}`);
      const answer = (await (await seriesAnswer).json()) as { history: string; sources: { source: string; series?: { ping?: { rtt_median: (number | null)[] } } }[] };
      assert.equal(answer.history, 'query_url');
      const drawnAttr = await (await page.waitForSelector('#chart-sources-latency[data-drawn]', { timeout: 30_000 })).getAttribute('data-drawn');
      const drawn = JSON.parse(drawnAttr!) as Record<string, number>;
      for (const s of SITE_NAMES) {
        const expected = answer.sources.find((x) => x.source === s)!.series!.ping!.rtt_median.filter((x) => x !== null).length;
        assert.ok(expected > 0, `${s} has history`);
        assert.equal(drawn[s], expected, `the latency chart draws every bucket of ${s} (${drawn[s]} of ${expected})`);
      }
      await page.waitForSelector('#verdict[data-domain="path"]', { timeout: 30_000 });
      assert.equal(await page.$eval('#verdict li[data-source="b"]', (li) => li.getAttribute('data-loss-ttl')), '2');
      assert.match((await page.textContent('#verdict'))!, new RegExp(`b .*loss begins at hop 2 \\(${net.hops.b[1]!.replace(/\./g, '\\.')}\\)`));
      assert.equal(await page.$eval(`#routes-side-by-side td.hop.onset[data-source="b"]`, (td) => td.getAttribute('data-ip')), net.hops.b[1]);
      assert.equal(await page.$eval(`#routes-side-by-side td.hop[data-source="a"][data-ip="${net.shared[0]}"]`, (td) => td.className.includes('shared')), true, 'the LAN router is shared');
      await page.screenshot({ path: join(OUT, 'sites-target.png'), fullPage: true });
      assert.deepEqual(page.errors, []);

      await page.goto(`${a}/matrix`);
      const cell = await page.waitForSelector(`tr[data-target="${net.targetIp}"] td.cell[data-source="b"]`, { timeout: 30_000 });
      assert.equal(await cell.getAttribute('data-state'), 'degraded');
      assert.equal(await page.$eval(`tr[data-target="${net.targetIp}"] td.cell[data-source="a"]`, (td) => td.getAttribute('data-state')), 'ok');
      await page.screenshot({ path: join(OUT, 'sites-matrix.png'), fullPage: true });
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    await t.test('c rerouted through a slow hop: the verdict names c and the new hop where latency begins; c has a route change', async (t2) => {
      const slow = await net.rerouteCThroughSlowHop(60);
      t2.after(() => net.restoreC());
      const v = await verdictUntil('the path from c named, latency from the slow hop', (s) => s.verdict.domain === 'path' && s.verdict.affected.join() === 'c' && s.verdict.paths?.[0]?.latency_begins?.ttl === 2 && s.verdict.paths[0].latency_begins.ip === slow && s.verdict.paths[0].latency_begins.value > 40);
      const changes = await until(async () => {
        const r = await api<{ sources: { source: string; routes?: { changes: unknown[] } }[] }>(`/api/targets/${target}/sources/routes?from=${healthyS * 1000}`);
        return r.sources.find((s) => s.source === 'c')!.routes!.changes.length >= 1 ? r : null;
      }, "c's route change in its store", 60_000, 500);
      assert.equal(changes.sources.find((s) => s.source === 'a')!.routes!.changes.length, 0, "a's route did not change");
    });

    await t.test('the target down: failing from every source, the target or the hops every path shares', async (t2) => {
      net.targetDown();
      t2.after(() => net.targetUp());
      const v = await verdictUntil('the target named', (s) => s.verdict.domain === 'target' && s.verdict.affected.length === 3);
      assert.deepEqual(
        v.verdict.common_hops!.map((h) => h.ip),
        [...net.shared],
      );
    });

    await t.test('with QUERY_URL and the other sites stopped, every source still draws from VictoriaMetrics', async () => {
      await Promise.all([daemons.b.kill('SIGTERM'), daemons.c.kill('SIGTERM')]);
      const v = await verdictUntil('b and c unavailable', (s) => s.sources.filter((x) => !x.available).length === 2);
      assert.deepEqual(v.verdict.no_data, ['b', 'c'], 'the stopped sites are not counted: the page still renders');
      const page = await browser.page();
      await page.goto(`${a}/targets/${target}?from=${healthyS - 60}&to=${Math.floor(Date.now() / 1000)}`);
      await page.waitForSelector('#sources-history-note[data-history="query_url"]', { timeout: 30_000 });
      const drawn = JSON.parse((await page.getAttribute('#chart-sources-latency', 'data-drawn'))!) as Record<string, number>;
      for (const s of SITE_NAMES) assert.ok(drawn[s]! > 0, `${s} drawn from VictoriaMetrics (${JSON.stringify(drawn)})`);
      await page.waitForFunction(() => (globalThis as unknown as Doc).document.querySelector('#sources-table tr[data-source="b"]')?.getAttribute('data-available') === '0', undefined, { timeout: 30_000 });
      assert.deepEqual(page.errors, []);
      await page.close();
    });
    t.diagnostic(`three-site run: ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    await browser.close();
    await Promise.all(Object.values(daemons).map((d) => d.cleanup()));
    web.kill('SIGKILL');
    await vm.cleanup();
    net.cleanup();
  }
});
