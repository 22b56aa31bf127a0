/**
 * The matrix (targets x sources) at 1,000 targets x 10 sources: a live
 * daemon with 1,000 loopback icmp targets and nine other sites, each a
 * stand-in that answers GET /api/site/targets with the daemon's own answer
 * (recorded once) renamed to its source, with a share of cells degraded and
 * failing so every colour is drawn. What the daemon does per page (merge,
 * count, filter, sort, page 10,000 cells) and what the browser does with
 * the answer are real; the stand-ins only spare running ten daemons. They
 * answer 503 until the answer is recorded, so the daemon's breakers open at
 * first: CIRCUIT_RECOVERY_TIMEOUT is 2 s here to get on with it.
 *
 *   node --import tsx bench/matrix.ts [--targets=1000 --sources=10 --runs=10 --screenshot=matrix.png]
 *
 * Figures: one site's /api/site/targets (what every other site reads per
 * SITES_REFRESH), /api/matrix at 200 and 1,000 rows a page (sorted by worst
 * and by one source's RTT), and in headless Chromium the matrix page at
 * 1,000 rows: the answer, the table drawn, and a re-sort by a site's header.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, until } from '../scripts/lib/services.js';
import { startDaemon } from '../test/helpers/daemon.js';
import { launchBrowser } from '../test/web/browser.js';

export interface MatrixRow {
  targets: number;
  sources: number;
  site_answer: { ms_median: number; ms_max: number; bytes: number };
  api: { query: string; ms_median: number; ms_max: number; bytes: number }[];
  page: { rows: number; answer_ms_median: number; draw_ms_median: number; resort_ms_median: number; runs: number };
}

/**
 * Run in the page (this file is type-checked without the DOM library):
 * click s3's header, resolve with the milliseconds until the table's
 * data-gen changes (the page's next render).
 */
type El = { getAttribute(n: string): string | null; click(): void };
type PageGlobal = { document: { querySelector(s: string): El | null }; MutationObserver: new (cb: (m: unknown, o: { disconnect(): void }) => void) => { observe(t: El, o: object): void } };
const RESORT_IN_PAGE = () =>
  new Promise<number>((resolve) => {
    const g = globalThis as unknown as PageGlobal;
    const table = g.document.querySelector('table.matrix')!;
    const gen = table.getAttribute('data-gen');
    const t0 = performance.now();
    new g.MutationObserver((_m, obs) => {
      if (table.getAttribute('data-gen') === gen) return;
      obs.disconnect();
      resolve(performance.now() - t0);
    }).observe(table, { attributes: true, attributeFilter: ['data-gen'] });
    g.document.querySelector('th.src[data-source="s3"] button.sort')!.click();
  });

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

async function timed(url: string, runs: number): Promise<{ ms_median: number; ms_max: number; bytes: number; body: string }> {
  const ms: number[] = [];
  let body = '';
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await fetch(url);
    body = await r.text();
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${body.slice(0, 200)}`);
    ms.push(performance.now() - t0);
  }
  return { ms_median: Math.round(median(ms) * 10) / 10, ms_max: Math.round(Math.max(...ms) * 10) / 10, bytes: Buffer.byteLength(body), body };
}

export async function benchMatrix(o: { targets: number; sources: number; runs: number; screenshot?: string }): Promise<MatrixRow> {
  const dir = mkdtempSync(join(tmpdir(), 'nt-bench-matrix-'));
  const file = join(dir, 'targets.yaml');
  const lines = ['defaults: { interval: 30, timeout: 5 }', 'targets:'];
  for (let i = 0; i < o.targets; i++) lines.push(`  - { name: t${String(i).padStart(5, '0')}, host: "127.7.${Math.floor(i / 250)}.${(i % 250) + 1}", probes: [icmp] }`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  let recorded = '';
  const standIns: Server[] = [];
  const others = Array.from({ length: o.sources - 1 }, (_, i) => `s${i + 1}`);
  for (const name of others) {
    const k = others.indexOf(name) + 1;
    const srv = createServer((_req, res) => {
      if (!recorded) return void res.writeHead(503).end('{"error":"not recorded yet"}');
      const a = JSON.parse(recorded) as { targets: { state: string; why: string | null; last: { rtt_ms: number | null; loss_pct: number | null } }[] };
      a.targets.forEach((t, i) => {
        const h = (i * 7919 + k * 104729) % 100;
        t.state = h < 2 ? 'failing' : h < 7 ? 'degraded' : t.state;
        t.why = h < 2 ? 'icmp: timeout' : h < 7 ? 'loss_pct 20 % >= 5 %' : t.why;
        if (t.last.rtt_ms !== null) t.last.rtt_ms = Math.round(t.last.rtt_ms * (k + 1) * 1000) / 1000;
        if (h < 7) t.last.loss_pct = h < 2 ? 100 : 20;
      });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ...a, source: name }));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    standIns.push(srv);
  }
  const sites = others.map((n, i) => `${n}=http://127.0.0.1:${(standIns[i]!.address() as AddressInfo).port}`).join(',');
  const d = await startDaemon({ TARGETS_FILE: file, SOURCE_NAME: 's0', SITES: sites, SITES_REFRESH: '2', CIRCUIT_RECOVERY_TIMEOUT: '2', LOG_LEVEL: 'warn', BATCH_SIZE: '100', MAX_CONCURRENT_TARGETS: '2000', MAX_CONCURRENT_OPERATIONS: '2000', PORT: String(await freePort()) }, { waitLive: false });
  const browser = await launchBrowser({ width: 1600, height: 1000 });
  try {
    await until(async () => (await fetch(`${d.url}/health/live`)).ok, 'the daemon', 180_000, 500);
    await until(async () => ((await d.json<{ last_round: unknown }>('/api/status')).last_round ? true : false), 'a first round', 180_000, 1000);
    const site = await timed(`${d.url}/api/site/targets`, o.runs);
    recorded = site.body;
    await until(async () => (await d.json<{ sources: { available: boolean }[] }>('/api/matrix?limit=1')).sources.every((s) => s.available), 'every stand-in read', 60_000, 500);
    const api: MatrixRow['api'] = [];
    for (const q of ['limit=200&sort=worst', 'limit=1000&sort=worst', `limit=1000&sort=rtt&source=s3&order=desc`, 'limit=200&state=degraded']) {
      const r = await timed(`${d.url}/api/matrix?${q}`, o.runs);
      api.push({ query: q, ms_median: r.ms_median, ms_max: r.ms_max, bytes: r.bytes });
    }
    const answers: number[] = [];
    const draws: number[] = [];
    const resorts: number[] = [];
    const page = await browser.page();
    await page.goto(`${d.url}/matrix?limit=1000`); // bundles the UI when run from source: not measured
    await page.waitForSelector('table.matrix[data-rows="1000"]', { timeout: 60_000 });
    const runs = Math.max(3, Math.min(o.runs, 5));
    for (let i = 0; i < runs; i++) {
      await page.goto(`${d.url}/matrix?limit=1000`);
      const t = await page.waitForSelector('table.matrix[data-rows="1000"]', { timeout: 60_000 });
      answers.push(Number(await t.getAttribute('data-answer-ms')));
      draws.push(Number(await t.getAttribute('data-draw-ms')));
      // Click to drawn, timed in the page: a click on a site's header until the table's next render.
      resorts.push(await page.evaluate(RESORT_IN_PAGE));
    }
    if (o.screenshot) {
      // What a person sees at this size: the first screen of the page, sorted worst first.
      await page.goto(`${d.url}/matrix?limit=1000`);
      await page.waitForSelector('table.matrix[data-rows="1000"]', { timeout: 60_000 });
      await page.screenshot({ path: o.screenshot });
    }
    if (page.errors.length) throw new Error(`console errors: ${page.errors.join('; ')}`);
    return {
      targets: o.targets,
      sources: o.sources,
      site_answer: { ms_median: site.ms_median, ms_max: site.ms_max, bytes: site.bytes },
      api,
      page: { rows: 1000, runs, answer_ms_median: Math.round(median(answers)), draw_ms_median: Math.round(median(draws)), resort_ms_median: Math.round(median(resorts)) },
    };
  } finally {
    await browser.close();
    await d.cleanup();
    for (const s of standIns) s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderMatrix(r: MatrixRow): string {
  const kb = (b: number) => `${(b / 1024).toFixed(0)} kB`;
  return [
    '## Matrix (several sites)',
    '',
    `${r.targets.toLocaleString('en')} targets x ${r.sources} sources: a live daemon (${r.targets.toLocaleString('en')} loopback icmp targets) and ${r.sources - 1} other sites answering with its own recorded answer; \`node --import tsx bench/matrix.ts\`.`,
    '',
    `One site's view for the others (\`GET /api/site/targets\`, read by every site that lists it once per \`SITES_REFRESH\`): ${kb(r.site_answer.bytes)}, ${r.site_answer.ms_median} ms (worst ${r.site_answer.ms_max} ms).`,
    '',
    '| `/api/matrix?` | median | worst | answer |',
    '|---|---|---|---|',
    ...r.api.map((a) => `| \`${a.query}\` | ${a.ms_median} ms | ${a.ms_max} ms | ${kb(a.bytes)} |`),
    '',
    `The matrix page in headless Chromium at ${r.page.rows.toLocaleString('en')} rows (${(r.page.rows * (r.sources + 2)).toLocaleString('en')} cells), median of ${r.page.runs} loads: answer ${r.page.answer_ms_median} ms, table drawn in ${r.page.draw_ms_median} ms, re-sorted by a site's RTT (click to drawn) in ${r.page.resort_ms_median} ms.`,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { targets: { type: 'string', default: '1000' }, sources: { type: 'string', default: '10' }, runs: { type: 'string', default: '10' }, json: { type: 'string' }, screenshot: { type: 'string' } } });
  const row = await benchMatrix({ targets: Number(values.targets), sources: Number(values.sources), runs: Number(values.runs), screenshot: values.screenshot });
  if (values.json) writeFileSync(values.json, `${JSON.stringify(row, null, 2)}\n`);
  console.log(renderMatrix(row));
}
