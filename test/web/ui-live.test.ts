import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, until } from '../../scripts/lib/services.js';
import { ROOT, startDaemon } from '../helpers/daemon.js';
import { buildChain } from '../helpers/netns.js';
import { launchBrowser } from './browser.js';

/**
 * The pages in a real browser against a live daemon. The daemon runs in the
 * client namespace of a chain client -> r1 -> r2 -> r3 -> server whose
 * addresses look public (81.2.x.y, never leaving our namespaces), with
 * GEO=offline so hops get located; the browser and this test reach it over a
 * veth link from the root namespace, where an HTTP server is a fourth target.
 * Targets: the chain's server (icmp + trace), an address nobody owns
 * (failing), the namespace's loopback, and a URL with `?` in its name.
 * Mid-test r4 is put between r1 and r3: the route changes.
 */

const INTERVAL_S = 5;
const OUT = join(ROOT, 'test-output');

/** The page's document in functions run by the page (this file is type-checked without the DOM library). */
type Doc = { document: { querySelector(s: string): unknown; querySelectorAll(s: string): { length: number } } };

interface Point {
  timestamp_ms: number;
  fields: Record<string, unknown>;
}

test('web UI against a live daemon: overview, SmokePing chart of the stored points, route change, map, probe now, no console error', { timeout: 540_000 }, async (t) => {
  const chain = buildChain({ prefix: '81.2' });
  const n = randomInt(100, 250);
  const rootIp = `10.${n}.251.1`;
  const daemonIp = `10.${n}.251.2`;
  chain.ns.link(null, `${rootIp}/30`, chain.client, `${daemonIp}/30`);
  const web = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('hello'));
  await new Promise<void>((r) => web.listen(0, rootIp, r));
  const httpTarget = `http://${rootIp}:${(web.address() as AddressInfo).port}/status?probe=1`;
  const targets = [chain.serverIp, chain.unownedIp, '127.0.0.1', httpTarget];
  const token = `ui-token-${randomInt(1e9)}`;
  const port = await freePort();
  const daemon = await startDaemon(
    {
      TARGET_FQDNS: targets.join(','),
      COLLECTION_INTERVAL: String(INTERVAL_S),
      PROBE_TIMEOUT: '3',
      GEO: 'offline',
      SOURCE_LAT: '51.5074',
      SOURCE_LON: '-0.1278',
      COLLECT_TOKEN: token,
      LISTEN_ADDRESS: daemonIp,
      PORT: String(port),
    },
    { wrap: ['ip', 'netns', 'exec', chain.client], waitLive: false },
  );
  const base = `http://${daemonIp}:${port}`;
  const api = async <T>(path: string): Promise<T> => {
    const r = await fetch(base + path, { signal: AbortSignal.timeout(30_000) });
    assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
    return (await r.json()) as T;
  };
  const points = async (measurement: string, target: string, extra = ''): Promise<Point[]> =>
    (await api<{ points: Point[] }>(`/api/points?measurement=${measurement}&target=${encodeURIComponent(target)}&limit=10000${extra}`)).points;
  const browser = await launchBrowser();
  try {
    const startS = Math.floor(Date.now() / 1000);
    await until(async () => (await fetch(`${base}/health/live`)).ok, 'daemon live in the client namespace', 60_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}\n${daemon.stderr()}`);
    });
    // A few rounds on the first route, then r4 changes it.
    await until(async () => (await points('route', chain.serverIp)).length >= 2 && (await points('ping', chain.serverIp)).length >= 3, 'first route and pings stored', 120_000, 500);
    const r4 = chain.rerouteViaR4();
    await until(async () => (await points('route', chain.serverIp)).some((p) => p.fields.route_changed === true), 'the route change stored', 120_000, 500);
    await until(async () => (await points('ping', targets[1]!)).length >= 1 && (await points('http', httpTarget)).length >= 1, 'every target probed once', 60_000, 500);
    mkdirSync(OUT, { recursive: true });

    await t.test('the overview lists every configured target with its status', async () => {
      const page = await browser.page();
      await page.goto(`${base}/`);
      await page.waitForSelector('table.targets tbody tr[data-target]', { timeout: 30_000 });
      await page.waitForSelector('.status-strip [data-health]', { timeout: 30_000 });
      const rows = await page.$$eval('table.targets tbody tr[data-target]', (trs) => trs.map((tr) => ({ name: tr.getAttribute('data-target'), status: tr.getAttribute('data-status'), text: tr.textContent })));
      assert.deepEqual(rows.map((r) => r.name).sort(), [...targets].sort());
      const by = new Map(rows.map((r) => [r.name, r]));
      assert.equal(by.get(chain.serverIp)!.status, 'ok');
      assert.equal(by.get('127.0.0.1')!.status, 'ok');
      assert.equal(by.get(httpTarget)!.status, 'ok');
      assert.equal(by.get(chain.unownedIp)!.status, 'failing');
      assert.match(by.get(chain.unownedIp)!.text!, /icmp: \w+/, 'the failing row names the probe and its reason');
      const sparkPoints = Number(await page.getAttribute(`tr[data-target="${chain.serverIp}"] canvas.spark`, 'data-points'));
      // The sparkline draws every bucket of the last hour the API has a value for (60 s buckets).
      const api = (await (await fetch(`${base}/api/targets?q=${encodeURIComponent(chain.serverIp)}`)).json()) as { targets: { name: string; spark: { rtt_ms: (number | null)[] } | null }[] };
      const withData = api.targets.find((r) => r.name === chain.serverIp)!.spark!.rtt_ms.filter((v) => v !== null).length;
      assert.ok(withData >= 1, 'the API has rtt for the last hour');
      assert.equal(sparkPoints, withData, `the sparkline draws every bucket with data (${sparkPoints} of ${withData})`);
      // Filter by status from the keyboard: Tab to the chip, Space to press it.
      await page.focus('[data-status-filter="failing"]');
      await page.keyboard.press('Space');
      // Functions, not strings, run in the page: its CSP forbids eval.
      await page.waitForFunction(() => (globalThis as unknown as Doc).document.querySelectorAll('table.targets tbody tr[data-target]').length === 1, undefined, { timeout: 15_000 });
      assert.equal(await page.$eval('table.targets tbody tr[data-target]', (tr) => tr.getAttribute('data-target')), chain.unownedIp);
      assert.match(page.url(), /status=failing/);
      await page.goto(`${base}/`);
      await page.waitForSelector('table.targets tbody tr[data-target]');
      await page.screenshot({ path: join(OUT, 'overview.png'), fullPage: true });
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    await t.test('the latency chart draws one median per stored ping point of the range', async () => {
      // A closed range ending two slots ago, its edges between slot times: no point can still arrive in it.
      const from = startS - INTERVAL_S - 2;
      let to = 0;
      const stored = await until(async () => {
        to = Math.floor(Date.now() / 1000 / INTERVAL_S) * INTERVAL_S - 2 * INTERVAL_S + 2;
        const p = (await points('ping', chain.serverIp, `&since=${from * 1000}&until=${to * 1000}`)).filter((x) => typeof x.fields.rtt_median_ms === 'number');
        return p.length >= 3 ? p : null;
      }, 'three ping points in a closed range', 60_000, 1000);
      const page = await browser.page();
      await page.goto(`${base}/targets/${encodeURIComponent(chain.serverIp)}?from=${from}&to=${to}`);
      const drawn = await page.waitForSelector('#chart-latency[data-points]', { timeout: 30_000 });
      assert.equal(Number(await drawn.getAttribute('data-points')), stored.length, 'a median bar per stored point');
      assert.ok(Number(await page.$eval('#chart-loss', (f) => f.getAttribute('data-points'))) >= stored.length, 'loss drawn for every slot');
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    await t.test('the route change is a marker on every chart and in the route list; the map draws source, hops and destination', async () => {
      const page = await browser.page();
      // From the daemon's start to a little past now: the whole short history fills the charts.
      await page.goto(`${base}/targets/${encodeURIComponent(chain.serverIp)}?from=${startS - 10}&to=${Math.ceil(Date.now() / 1000) + 10}`);
      await page.waitForSelector('#chart-latency[data-route-markers]', { timeout: 30_000 });
      for (const id of ['chart-latency', 'chart-loss', 'chart-jitter']) {
        assert.ok(Number(await page.$eval(`#${id}`, (f) => f.getAttribute('data-route-markers'))) >= 1, `${id} shows the route change`);
      }
      await page.waitForSelector('#route-changes li', { timeout: 30_000 });
      assert.ok((await page.$$('#route-changes li')).length >= 1);
      assert.ok((await page.$$('#routes-earlier tbody tr')).length >= 1, 'the first route is listed as an earlier route');
      const hops = await page.$$eval('#route-current tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
      assert.equal(hops.length, 4);
      assert.ok(hops[1]!.includes(r4), `hop 2 of the current route is r4 (${r4}): ${hops[1]}`);
      const map = await page.waitForSelector('#path-map[data-hops]:not([data-hops="0"])', { timeout: 30_000 });
      assert.equal(await map.getAttribute('data-source'), '1');
      assert.equal(await map.getAttribute('data-destination'), '1');
      assert.equal(Number(await map.getAttribute('data-hops')), 3, 'the three routers are located');
      assert.equal((await page.$$('#path-map .map-land path')).length > 100, true, 'country outlines drawn from world-atlas');
      await page.screenshot({ path: join(OUT, 'target.png'), fullPage: true });
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    await t.test('probe now asks for the collect token once, then shows the result', async () => {
      const page = await browser.page();
      await page.goto(`${base}/targets/${encodeURIComponent(httpTarget)}`);
      await page.waitForSelector('#target-status', { timeout: 30_000 });
      assert.equal(await page.$eval('h1', (e) => e.textContent?.includes('?probe=1')), true, 'a name with ? survives the URL');
      await page.click('#probe-now');
      await page.waitForSelector('#collect-token', { timeout: 30_000 });
      await page.fill('#collect-token', token);
      await page.keyboard.press('Enter');
      const result = await page.waitForSelector('.probe-results', { timeout: 60_000 });
      assert.equal(await result.getAttribute('data-ok'), '1');
      assert.equal(await page.$eval('.probe-results tr[data-probe="http"]', (tr) => tr.textContent?.includes('ok')), true);
      // The token is kept for the tab: a second run needs no prompt.
      await page.click('#probe-now');
      await page.waitForFunction(
        () => {
          const d = (globalThis as unknown as Doc).document;
          return d.querySelector('.probe-results') && !d.querySelector('#probe-now[aria-busy]');
        },
        undefined,
        { timeout: 60_000 },
      );
      assert.equal(await page.$('#collect-token'), null);
      // 401 in the console is the daemon asking for the token, an answer the page handles.
      assert.deepEqual(
        page.errors.filter((e) => !/401/.test(e)),
        [],
      );
      await page.close();
    });
  } finally {
    await browser.close();
    await daemon.cleanup();
    web.close();
    chain.cleanup();
  }
});
