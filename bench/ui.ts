/**
 * The web UI in headless Chromium (Debian package): how soon the overview
 * shows its first page of rows with 10,000 targets configured, and what each
 * page weighs on the wire.
 *
 *   node --import tsx bench/ui.ts            # a live daemon (from source) with 10,000 loopback icmp targets
 *   node --import tsx bench/ui.ts --dev      # scripts/dev-ui.ts: GENERATED data, only the browser's side is real
 *   node --import tsx bench/ui.ts --targets=2000 --runs=3
 *
 * Per run, a new tab: first contentful paint (the shell, header and status
 * strip), rows painted (the frame after the first 100 rows and their
 * sparklines were added: the `nt-rows-painted` mark of overview-page.ts),
 * and the /api/targets request's own time. The first run loads the assets
 * cold; the others from the browser cache, as a returning user.
 * Page weight: every file a page loads, fetched with Accept-Encoding gzip
 * (what the daemon sends a client without brotli), plus brotli as Chromium
 * gets it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { until } from '../scripts/lib/services.js';
import { startDevUi } from '../scripts/dev-ui.js';
import { startDaemon } from '../test/helpers/daemon.js';
import { launchBrowser } from '../test/web/browser.js';

export interface UiRow {
  mode: 'daemon' | 'dev';
  targets: number;
  runs: { fcp_ms: number; rows_painted_ms: number; api_ms: number; cold: boolean }[];
  rows_painted_ms_median: number;
  rows_painted_ms_max: number;
  weight: { page: string; files: number; identity_bytes: number; gzip_bytes: number; br_bytes: number }[];
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

/** N loopback targets (127.6.x.y), icmp only at 60 s: enough load to be a real daemon, no outside traffic. */
function writeTargets(file: string, n: number): void {
  const lines = ['defaults: { interval: 60, timeout: 5 }', 'targets:'];
  for (let i = 0; i < n; i++) lines.push(`  - { name: t${String(i).padStart(5, '0')}, host: "127.6.${Math.floor(i / 250)}.${(i % 250) + 1}", probes: [icmp] }`);
  writeFileSync(file, `${lines.join('\n')}\n`);
}

async function pageWeight(base: string, urls: string[]): Promise<{ files: number; identity_bytes: number; gzip_bytes: number; br_bytes: number }> {
  let identity = 0;
  let gzip = 0;
  let br = 0;
  const { request } = await import('node:http');
  const size = (url: string, enc?: string) =>
    new Promise<number>((resolve, reject) => {
      request(url, { headers: enc ? { 'accept-encoding': enc } : {} }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => resolve(n));
      })
        .on('error', reject)
        .end();
    });
  for (const u of urls) {
    const url = u.startsWith('http') ? u : base + u;
    identity += await size(url);
    gzip += await size(url, 'gzip');
    br += await size(url, 'br');
  }
  return { files: urls.length, identity_bytes: identity, gzip_bytes: gzip, br_bytes: br };
}

export async function benchUi(o: { dev: boolean; targets: number; runs: number }): Promise<UiRow> {
  const dir = mkdtempSync(join(tmpdir(), 'nt-bench-ui-'));
  let base: string;
  let close: () => Promise<void>;
  if (o.dev) {
    const d = await startDevUi({ targets: o.targets });
    base = d.url;
    close = d.close;
  } else {
    const file = join(dir, 'targets.yaml');
    writeTargets(file, o.targets);
    const d = await startDaemon({ TARGETS_FILE: file, LOG_LEVEL: 'warn', BATCH_SIZE: '100', MAX_CONCURRENT_TARGETS: '2000', MAX_CONCURRENT_OPERATIONS: '2000' });
    base = d.url;
    close = d.cleanup;
    // Data in the overview: wait for the first full round.
    await until(async () => ((await d.json<{ last_round: unknown }>('/api/status')).last_round ? true : false), 'a first round', 180_000, 1000);
  }
  const browser = await launchBrowser();
  try {
    const page0 = await browser.page();
    await page0.goto(`${base}/`); // bundles the UI when the daemon runs from source: not measured
    await page0.waitForSelector('table.targets tbody tr[data-target]', { timeout: 60_000 });
    await page0.close();
    await browser.context.clearCookies();
    const runs: UiRow['runs'] = [];
    let overviewFiles: string[] = [];
    for (let i = 0; i < o.runs; i++) {
      const page = await browser.page();
      if (i === 0) await page.route('**/*', (r) => r.continue({ headers: { ...r.request().headers(), 'cache-control': 'no-cache' } }));
      await page.goto(`${base}/`);
      // Functions, not strings: the page's CSP forbids eval, and string predicates are eval'd.
      await page.waitForFunction(() => performance.getEntriesByName('nt-rows-painted').length > 0, undefined, { timeout: 60_000 });
      const m = await page.evaluate(() => {
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        const rows = performance.getEntriesByName('nt-rows-painted')[0]!;
        const api = performance.getEntriesByType('resource').find((r) => r.name.includes('/api/targets')) as { responseEnd: number; startTime: number } | undefined;
        const href = (globalThis as unknown as { location: { href: string } }).location.href;
        return { fcp: fcp ? fcp.startTime : -1, rows: rows.startTime, api: api ? api.responseEnd - api.startTime : -1, files: [href, ...performance.getEntriesByType('resource').map((r) => r.name).filter((n) => n.includes('/ui/'))] };
      });
      if (i === 0) overviewFiles = m.files;
      runs.push({ fcp_ms: Math.round(m.fcp), rows_painted_ms: Math.round(m.rows), api_ms: Math.round(m.api), cold: i === 0 });
      if (page.errors.length) throw new Error(`console errors: ${page.errors.join('; ')}`);
      await page.close();
    }
    const tp = await browser.page();
    const first = (await (await fetch(`${base}/api/targets?limit=1&sort=name`)).json()) as { targets: { name: string }[] };
    await tp.goto(`${base}/targets/${encodeURIComponent(first.targets[0]!.name)}`);
    await tp.waitForSelector('#chart-latency, #charts .error, #charts + *', { timeout: 60_000 }).catch(() => undefined);
    await tp.waitForTimeout(1500); // the map's atlas loads after the routes answer
    const targetFiles = await tp.evaluate(() => [(globalThis as unknown as { location: { href: string } }).location.href, ...performance.getEntriesByType('resource').map((r) => r.name).filter((n) => n.includes('/ui/'))]);
    await tp.close();
    const rp = runs.map((r) => r.rows_painted_ms);
    return {
      mode: o.dev ? 'dev' : 'daemon',
      targets: o.targets,
      runs,
      rows_painted_ms_median: median(rp),
      rows_painted_ms_max: Math.max(...rp),
      weight: [
        { page: 'overview', ...(await pageWeight(base, overviewFiles)) },
        { page: 'target (charts + map)', ...(await pageWeight(base, targetFiles)) },
      ],
    };
  } finally {
    await browser.close();
    await close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderUi(r: UiRow): string {
  const kb = (b: number) => `${(b / 1024).toFixed(1)} kB`;
  return [
    `## Web UI`,
    '',
    `Headless Chromium (Debian package) on this machine, ${r.targets.toLocaleString('en')} targets, ${r.mode === 'daemon' ? 'a live daemon' : 'the development server with generated data'}; \`node --import tsx bench/ui.ts${r.mode === 'dev' ? ' --dev' : ''}\`.`,
    '',
    `Overview, first page of 100 rows painted: median ${r.rows_painted_ms_median} ms, worst ${r.rows_painted_ms_max} ms over ${r.runs.length} loads (first load cold).`,
    '',
    '| load | first contentful paint | rows painted | /api/targets |',
    '|---|---|---|---|',
    ...r.runs.map((x, i) => `| ${i + 1}${x.cold ? ' (cold)' : ''} | ${x.fcp_ms} ms | ${x.rows_painted_ms} ms | ${x.api_ms} ms |`),
    '',
    '| page | files | uncompressed | gzip | brotli |',
    '|---|---|---|---|---|',
    ...r.weight.map((w) => `| ${w.page} | ${w.files} | ${kb(w.identity_bytes)} | ${kb(w.gzip_bytes)} | ${kb(w.br_bytes)} |`),
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { dev: { type: 'boolean', default: false }, targets: { type: 'string', default: '10000' }, runs: { type: 'string', default: '5' }, json: { type: 'string' } } });
  const row = await benchUi({ dev: values.dev!, targets: Number(values.targets), runs: Number(values.runs) });
  if (values.json) writeFileSync(values.json, `${JSON.stringify(row, null, 2)}\n`);
  console.log(renderUi(row));
}
