import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, until } from '../../scripts/lib/services.js';
import { ROOT, startDaemon } from '../helpers/daemon.js';
import { buildChain, inNs } from '../helpers/netns.js';
import { launchBrowser } from './browser.js';

/**
 * The pages built for diagnosis, on a network that is really bad: one daemon
 * in the client namespace of client -> r1 -> r2 -> r3 -> server, where r3
 * drops echo requests at random (nftables, fping's 84-byte packets only, so
 * traces are not touched) and r1 is rerouted through r4 mid-run:
 *
 *   route   the server's address: icmp + trace, 15 % loss, rerouted (hop 2 changes)
 *   lossy   a second server address, icmp, 20 % loss: degraded (loss_pct >= 5)
 *   lenient a third, 20 % loss, `thresholds: { loss_pct: 50 }`: ok
 *   dead    an address nobody owns: failing (100 % loss)
 *   tcp     a port in the root namespace: ok, with a TCP column
 *
 * One daemon and one browser serve every check (CI time). Screenshots go to
 * test-output/ (the README's come from this run: docs/img).
 */

const INTERVAL_S = 5;
const OUT = join(ROOT, 'test-output');

type Doc = { document: { documentElement: { scrollWidth: number; clientWidth: number } } };

interface Row {
  name: string;
  status: string;
  crossed: { threshold: string; text: string }[];
  loss_hour_pct: number | null;
}

interface Summary {
  sent: number;
  received: number;
  loss_pct: number | null;
}

test('diagnosis under real loss and a reroute: states, worst first, loss as sent/received against nftables and fping, stat row, per-hop history, the hop diff, 390 px', { timeout: 600_000 }, async (t) => {
  const chain = buildChain({ prefix: '81.2' });
  const n = randomInt(100, 250);
  const rootIp = `10.${n}.252.1`;
  const daemonIp = `10.${n}.252.2`;
  const dataDir = mkdtempSync(join(tmpdir(), 'nt-diag-'));
  chain.ns.link(null, `${rootIp}/30`, chain.client, `${daemonIp}/30`);
  const base4 = chain.serverIp.replace(/\.\d+$/, '');
  const lossyIp = `${base4}.3`;
  const lenientIp = `${base4}.4`;
  const serverIf = inNs(chain.server, 'ip', ['-o', '-4', 'addr', 'show']).split('\n').find((l) => l.includes(chain.serverIp))!.split(/\s+/)[1]!;
  inNs(chain.server, 'ip', ['addr', 'add', `${lossyIp}/24`, 'dev', serverIf]);
  inNs(chain.server, 'ip', ['addr', 'add', `${lenientIp}/24`, 'dev', serverIf]);
  // Loss on echo requests of fping's size (84 bytes) only: mtr's 64-byte probes pass, so the route is measured clean.
  const drop = (ip: string, pct: number) =>
    `ip daddr ${ip} icmp type echo-request ip length 84 counter\n    ip daddr ${ip} icmp type echo-request ip length 84 numgen random mod 100 < ${pct} counter drop`;
  chain.ns.nft(
    chain.r3,
    `table inet lossy {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ${drop(chain.serverIp, 15)}
    ${drop(lossyIp, 20)}
    ${drop(lenientIp, 20)}
  }
}`,
  );
  const tcp = createTcpServer((s) => s.end());
  await new Promise<void>((r) => tcp.listen(0, rootIp, r));
  const tcpTarget = `${rootIp}:${(tcp.address() as AddressInfo).port}`;
  const file = join(dataDir, 'targets.yaml');
  writeFileSync(
    file,
    `targets:
  - { name: route, host: ${chain.serverIp}, probes: [icmp, trace] }
  - { name: lossy, host: ${lossyIp}, probes: [icmp], thresholds: { hysteresis_slots: 2 } }
  - { name: lenient, host: ${lenientIp}, probes: [icmp], thresholds: { loss_pct: 50, hysteresis_slots: 2 } }
  - { name: dead, host: ${chain.unownedIp}, probes: [icmp] }
  - { name: db, host: ${rootIp}, probes: [tcp], tcp: { port: ${tcpTarget.split(':')[1]} } }
`,
  );
  const port = await freePort();
  const daemon = await startDaemon(
    { TARGETS_FILE: file, COLLECTION_INTERVAL: String(INTERVAL_S), PROBE_TIMEOUT: '4', LISTEN_ADDRESS: daemonIp, PORT: String(port), DATA_DIR: dataDir },
    { wrap: ['ip', 'netns', 'exec', chain.client], waitLive: false },
  );
  const base = `http://${daemonIp}:${port}`;
  const api = async <T>(path: string): Promise<T> => {
    const r = await fetch(base + path, { signal: AbortSignal.timeout(30_000) });
    assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
    return (await r.json()) as T;
  };
  const rows = async () => (await api<{ targets: Row[] }>('/api/targets?sort=status')).targets;
  // A zone away from UTC (the host's is often UTC), so the UTC toggle changes what is shown.
  const browser = await launchBrowser({ timezoneId: 'Asia/Kolkata' });
  try {
    const startS = Math.floor(Date.now() / 1000) - INTERVAL_S;
    await until(async () => (await fetch(`${base}/health/live`)).ok, 'daemon live in the client namespace', 60_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}\n${daemon.stderr()}`);
    });
    mkdirSync(OUT, { recursive: true });
    const points = async (m: string, target: string) => (await api<{ points: { fields: Record<string, unknown> }[] }>(`/api/points?measurement=${m}&target=${target}&since=${startS}&limit=10000`)).points;
    await until(async () => (await points('route', 'route')).length >= 3, 'three traces of the first route', 120_000, 500);
    const r4 = chain.rerouteViaR4();
    await until(async () => (await points('route', 'route')).some((p) => p.fields.route_changed === true), 'the reroute stored', 120_000, 500).catch(async (err: Error) => {
      const seen = (await points('route', 'route')).map((p) => `${String(p.fields.path)} ${String(p.fields.success)} ${String(p.fields.route_changed)}`);
      const probes = (await points('probe', 'route')).slice(-10).map((p) => JSON.stringify(p.fields));
      throw new Error(`${err.message}\nroutes:\n${seen.join('\n')}\nprobes:\n${probes.join('\n')}`);
    });
    // Two slots agree on each state (hysteresis_slots: 2) before they show.
    await until(async () => {
      const all = await rows();
      const by = new Map(all.map((r) => [r.name, r.status]));
      const lossyWhy = all.find((r) => r.name === 'lossy')?.crossed.map((c) => c.threshold).join();
      return by.get('lossy') === 'degraded' && lossyWhy === 'loss_pct' && by.get('lenient') === 'ok' && by.get('dead') === 'failing' && by.get('db') === 'ok';
    }, 'lossy degraded, lenient ok, dead failing, db ok', 120_000, 500);

    await t.test('states in /api/targets, /metrics and /health: 20 % loss degraded, 100 % failing, a per-target threshold makes it ok', async () => {
      const by = new Map((await rows()).map((r) => [r.name, r]));
      assert.equal(by.get('lossy')!.status, 'degraded');
      assert.deepEqual(by.get('lossy')!.crossed.map((c) => c.threshold), ['loss_pct']);
      assert.match(by.get('lossy')!.crossed[0]!.text, /^loss_pct \d+(\.\d+)? % >= 5 %$/);
      assert.equal(by.get('lenient')!.status, 'ok', 'the same loss under its own loss_pct: 50');
      assert.equal(by.get('dead')!.status, 'failing');
      const metrics = await (await fetch(`${base}/metrics`)).text();
      const state = (name: string) => new RegExp(`^telemetry_target_state\\{target="${name}"\\} (\\d)$`, 'm').exec(metrics)?.[1];
      assert.deepEqual([state('lossy'), state('lenient'), state('dead'), state('db')], ['1', '0', '2', '0']);
      const health = await api<{ components: { targets: { target_states: Record<string, number> } } }>('/health');
      assert.equal(health.components.targets.target_states.failing, 1);
      assert.ok((health.components.targets.target_states.degraded ?? 0) >= 1);
      const changes = daemon.logs.filter((l) => /^target (degraded|failing|ok again)/.test(String(l.msg)) && l.target === 'lossy');
      assert.ok(changes.length >= 1 && changes.every((l) => l.msg !== 'target ok again' || changes.indexOf(l) > 0), 'lossy logs its change of state');
    });

    await t.test('loss over the range is echoes lost over echoes sent: equal to what nftables dropped, and close to fping on the same path', async () => {
      // The exact truth: r3's counters of lossy's echo requests, read when no slot is in flight.
      const counters = () => {
        const text = inNs(chain.r3, 'nft', ['list', 'chain', 'inet', 'lossy', 'forward']);
        const c = [...text.matchAll(new RegExp(`ip daddr ${lossyIp.replace(/\./g, '\\.')} .*?counter packets (\\d+)`, 'g'))].map((m) => Number(m[1]));
        return { seen: c[0]!, dropped: c[1]! };
      };
      const summary = async () => (await api<{ summary: { ping: Summary } }>(`/api/targets/lossy/series?from=${startS - 60}&to=${Math.ceil(Date.now() / 1000) + 60}`)).summary.ping;
      // off = echoes the router saw minus echoes stored: the echoes of the run in flight, plus
      // those of runs cut short (their counts are unknown; they raise it for good). A sample
      // whose off is the lowest of the last slot and more has no run in flight. Between two
      // such samples with the same off every echo the router saw is stored: the differences
      // must agree exactly.
      type Sample = Awaited<ReturnType<typeof summary>> & { seen: number; dropped: number; off: number; t: number };
      const samples: Sample[] = [];
      const settled = (x: Sample) => {
        const window = samples.filter((y) => y.t >= x.t - (INTERVAL_S + 1) * 1000 && y.t <= x.t);
        return window[0]!.t <= x.t - INTERVAL_S * 1000 && window.every((y) => y.off >= x.off);
      };
      let first: Sample | undefined;
      let last = '';
      const end = await until(async () => {
        const before = counters();
        const sum = await summary();
        const after = counters();
        if (before.seen !== after.seen || before.dropped !== after.dropped) return null;
        const x: Sample = { ...sum, ...after, off: after.seen - sum.sent, t: Date.now() };
        samples.push(x);
        if (!settled(x)) return null;
        if (!first || x.off !== first.off) {
          first = x; // the first settled moment, or a run was cut short since: start again here
          return null;
        }
        last = `from ${JSON.stringify(first)} to ${JSON.stringify(x)}`;
        return x.seen - first.seen >= 100 ? x : null;
      }, '100 echoes between two settled moments', 150_000, 150).catch((err: Error) => {
        throw new Error(`${err.message}: ${last}; samples ${samples.slice(-20).map((x) => `${x.seen}/${x.sent}`).join(' ')}`);
      });
      first = first!;
      const sent = end.sent - first.sent;
      const lost = sent - (end.received - first.received);
      assert.equal(sent, end.seen - first.seen, `every echo the router saw is counted as sent (${last})`);
      assert.equal(lost, end.dropped - first.dropped, `lost ${lost} of ${sent}; the router dropped ${end.dropped - first.dropped} (${last})`);
      const s = await summary();
      assert.equal(s.loss_pct, Math.round((100_000 * (s.sent - s.received)) / s.sent) / 1000, 'the range loss is lost over sent');
      const c = { dropped: end.dropped - first.dropped, seen: end.seen - first.seen };
      // fping on the same path, in the same namespace: the same loss within sampling error.
      // fping prints -C results on stderr, and exits 0 when some replies came back.
      const out = spawnSync('ip', ['netns', 'exec', chain.client, 'fping', '-C', '200', '-p', '10', '-q', lossyIp], { encoding: 'utf8', timeout: 30_000 }).stderr;
      const echoes = /:\s+([\d.\s-]+)$/m.exec(out)?.[1]?.trim().split(/\s+/) ?? [];
      assert.equal(echoes.length, 200, out);
      const fpingLoss = (100 * echoes.filter((e) => e === '-').length) / echoes.length;
      // Two samples of a 20 % drop: 200 and >= 100 echoes differ by more than 15 points less than once in 10^4.
      assert.ok(Math.abs(fpingLoss - s.loss_pct!) < 15, `fping ${fpingLoss} %, daemon ${s.loss_pct} %`);
      t.diagnostic(`loss truth: between two settled moments the daemon lost ${lost} of ${sent} echoes and the router dropped ${c.dropped} of ${c.seen}; over the range the daemon ${s.sent - s.received} of ${s.sent} (${s.loss_pct} %); fping ${fpingLoss} % of 200`);
    });

    await t.test('the overview lists failing, then degraded, first by default; a degraded row says why; last-hour loss and a TCP column; no sideways scroll at 390 px', async () => {
      const page = await browser.page();
      await page.setViewportSize({ width: 1400, height: 900 });
      // On a loaded host a run can time out; the page is taken when lossy's last run answered (its crossed threshold shows).
      await until(async () => {
        await page.goto(`${base}/`);
        await page.waitForSelector('table.targets tbody tr[data-target="lossy"]', { timeout: 30_000 });
        return /loss_pct \d/.test((await page.textContent('tr[data-target="lossy"] .status-cell')) ?? '');
      }, 'the lossy row says why it is degraded', 60_000, 1000);
      const order = await page.$$eval('table.targets tbody tr[data-target]', (trs) => trs.map((tr) => [tr.getAttribute('data-target'), tr.getAttribute('data-status')]));
      const rank: Record<string, number> = { failing: 0, degraded: 1, unavailable: 2, unknown: 3, ok: 4 };
      assert.equal(order[0]![1], 'failing', `failing first: ${JSON.stringify(order)}`);
      const at = (name: string) => order.findIndex((o) => o[0] === name);
      assert.ok(at('dead') < at('lossy') && at('lossy') < at('lenient') && at('lossy') < at('db'), `dead, then lossy, then the ok ones: ${JSON.stringify(order)}`);
      for (let i = 1; i < order.length; i++) assert.ok(rank[order[i - 1]![1]!]! <= rank[order[i]![1]!]!, `worst first: ${JSON.stringify(order)}`);
      assert.match((await page.textContent('tr[data-target="lossy"] .status-cell'))!, /loss_pct \d/);
      assert.match((await page.textContent('tr[data-target="lossy"] td.loss-hour'))!, /\d+(\.\d)? %/);
      assert.equal(await page.$$eval('thead th', (ths) => ths.some((th) => th.textContent?.startsWith('TCP'))), true, 'a TCP column');
      await page.screenshot({ path: join(OUT, 'diag-overview.png'), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.reload();
      await page.waitForSelector('table.targets tbody tr[data-target="lossy"]', { timeout: 30_000 });
      const w = await page.evaluate(() => ({ scroll: (globalThis as unknown as Doc).document.documentElement.scrollWidth, client: (globalThis as unknown as Doc).document.documentElement.clientWidth }));
      assert.ok(w.scroll <= w.client, `the page does not scroll sideways at 390 px (${w.scroll} > ${w.client})`);
      await page.screenshot({ path: join(OUT, 'diag-overview-390.png'), fullPage: true });
      assert.deepEqual(page.errors, []);
      await page.close();
    });

    await t.test('the target page: stat row, smoke, per-hop history, the hop diff of the reroute, UTC toggle, 390 px', async () => {
      const page = await browser.page();
      await page.setViewportSize({ width: 1400, height: 1000 });
      const range = `from=${startS - 10}&to=${Math.ceil(Date.now() / 1000) + 10}`;
      await until(async () => {
        await page.goto(`${base}/targets/lossy?${range}`);
        await page.waitForSelector('#stat-loss', { timeout: 30_000 });
        return /icmp: loss_pct/.test((await page.textContent('#target-head, .target-head')) ?? '');
      }, 'the lossy page says why it is degraded', 60_000, 1000);
      assert.equal(await page.getAttribute('#target-status', 'data-status'), 'degraded');
      assert.match((await page.textContent('#state-why'))!, /icmp: loss_pct/);
      for (const id of ['rtt-now', 'rtt-avg', 'rtt-p95', 'loss', 'availability']) assert.match((await page.textContent(`#stat-${id} .stat-value`))!, /\d/, id);
      assert.equal(await page.$('#route-section:not([hidden])'), null, 'no trace probe: no route section');
      await page.waitForSelector('#chart-latency[data-smoke]');
      assert.equal(await page.getAttribute('#chart-latency', 'data-smoke'), 'percentiles');
      await page.screenshot({ path: join(OUT, 'diag-target-loss.png'), fullPage: true });

      await page.goto(`${base}/targets/route?${range}`);
      await page.waitForSelector('#hop-history tbody tr', { timeout: 30_000 });
      const hops = await page.$$eval('#hop-history tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
      assert.equal(hops.length, 4, hops.join('\n'));
      assert.ok(hops[1]!.includes(`${chain.hopIps[1]} → ${r4}`), `hop 2 shows both routers it had: ${hops[1]}`);
      assert.ok(Number(await page.getAttribute('#hop-history tbody tr[data-ttl="2"] canvas', 'data-points')) >= 3, 'a latency strip per hop');
      await page.waitForSelector('#route-changes li[data-diff]');
      const diff = await page.$$eval('#route-changes li', (lis) => lis.map((li) => li.getAttribute('data-diff') ?? ''));
      assert.ok(diff.includes(`hop 2: ${chain.hopIps[1]} -> ${r4}`), `the change names the moved hop: ${JSON.stringify(diff)}`);
      assert.match((await page.textContent('#charts-caption'))!, /raw points, 5 s steps/);
      await page.screenshot({ path: join(OUT, 'diag-target-route.png'), fullPage: true });
      assert.match((await page.textContent('#charts-caption'))!, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\+05:30 – /, 'local times name their zone');
      await page.click('#tz-toggle');
      await page.waitForFunction(() => /UTC\b/.test(String((globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector('#charts-caption')?.textContent)));
      assert.match((await page.textContent('#charts-caption'))!, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC – /);
      // The range inputs in the same format (not the browser's locale), and a typo named.
      assert.match(await page.inputValue('#range-from'), /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
      await page.fill('#range-to', '07/12/2026 1:05 PM');
      await page.click('.custom-range button[type=submit]');
      assert.match((await page.textContent('.custom-range [role=alert]'))!, /YYYY-MM-DD HH:MM \(UTC\)/);
      await page.setViewportSize({ width: 390, height: 844 });
      await page.reload();
      await page.waitForSelector('#hop-history tbody tr', { timeout: 30_000 });
      await page.waitForSelector('#chart-latency[data-points]');
      const w = await page.evaluate(() => ({ scroll: (globalThis as unknown as Doc).document.documentElement.scrollWidth, client: (globalThis as unknown as Doc).document.documentElement.clientWidth }));
      assert.ok(w.scroll <= w.client, `the target page does not scroll sideways at 390 px (${w.scroll} > ${w.client})`);
      await page.screenshot({ path: join(OUT, 'diag-target-390.png'), fullPage: true });
      assert.deepEqual(page.errors, []);
      await page.close();
    });
  } finally {
    await browser.close();
    await daemon.cleanup();
    tcp.close();
    chain.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
