/**
 * HTTP timing truth: the http probe's ttfb_ms and total_ms against curl's
 * time_starttransfer and time_total, against the same server, one request
 * at a time, alternating. The server (its own process)
 * sends the headers after 200 ms and ends the body 300 ms later.
 *
 *   cold: `network-telemetry collect --once` (a fresh process per probe, as
 *         an operator runs it), then curl, N times;
 *   warm: a daemon probing the URL every 2 s (keep-alive), each of its
 *         points paired with a curl run made between two of its probes.
 *
 *   node --import tsx bench/timing.ts [--runs=10]   (after npm run build)
 *
 * curl's time_starttransfer runs from the call (DNS, connect, request) to the
 * first byte; our ttfb_ms from the request written to the first byte: on
 * loopback they differ by the connect time (~0.1 ms). time_total and
 * total_ms both run from the call to the end of the body.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../scripts/lib/services.js';
import { benchDaemon } from './lib/daemon.js';
import { r3, sleep } from './lib/proc.js';

const run = promisify(execFile);

export interface TimingRow {
  mode: 'cold (collect --once)' | 'warm (daemon, keep-alive)';
  runs: number;
  /** Median and mean of ours - curl's, ms; max = the largest difference either way. */
  ttfbDiffMedianMs: number;
  ttfbDiffMeanMs: number;
  ttfbDiffMaxMs: number;
  totalDiffMedianMs: number;
  totalDiffMeanMs: number;
  totalDiffMaxMs: number;
  oursTotalMedianMs: number;
  curlTotalMedianMs: number;
}

/** A server in its own process: headers after 200 ms, the body's end 300 ms later. */
function delayedServer(): Promise<{ url: string; close: () => void }> {
  const code = `
    const s = require('node:http').createServer((req, res) => setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain' }); res.write('a'); setTimeout(() => res.end('b'), 300); }, 200));
    s.keepAliveTimeout = 65000;
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve({ url: `http://127.0.0.1:${Number(d.toString().trim())}/timing`, close: () => child.kill('SIGKILL') }));
    child.once('exit', (c) => reject(new Error(`timing server exited ${c}`)));
  });
}

async function curl(url: string): Promise<{ ttfb: number; total: number }> {
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{time_starttransfer} %{time_total}', url]);
  const [a, b] = stdout.trim().split(' ').map(Number);
  return { ttfb: a! * 1000, total: b! * 1000 };
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

function row(mode: TimingRow['mode'], pairs: { ours: { ttfb: number; total: number }; curl: { ttfb: number; total: number } }[]): TimingRow {
  const d = (k: 'ttfb' | 'total') => pairs.map((p) => p.ours[k] - p.curl[k]);
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const maxAbs = (a: number[]) => a.reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 0);
  return {
    mode,
    runs: pairs.length,
    ttfbDiffMedianMs: r3(median(d('ttfb'))),
    ttfbDiffMeanMs: r3(mean(d('ttfb'))),
    ttfbDiffMaxMs: r3(maxAbs(d('ttfb'))),
    totalDiffMedianMs: r3(median(d('total'))),
    totalDiffMeanMs: r3(mean(d('total'))),
    totalDiffMaxMs: r3(maxAbs(d('total'))),
    oursTotalMedianMs: r3(median(pairs.map((p) => p.ours.total))),
    curlTotalMedianMs: r3(median(pairs.map((p) => p.curl.total))),
  };
}

export async function benchTiming(o: { runs: number }): Promise<TimingRow[]> {
  const server = await delayedServer();
  const dataDir = mkdtempSync(join(tmpdir(), 'nt-timing-'));
  const rows: TimingRow[] = [];
  try {
    await curl(server.url); // the server's own first request
    const cold: Parameters<typeof row>[1] = [];
    for (let i = 0; i < o.runs; i++) {
      const { stdout } = await run(process.execPath, [join(REPO, 'dist/cli.js'), 'collect', '--once', '--json'], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TARGET_FQDNS: server.url, DATA_DIR: dataDir, LOG_LEVEL: 'warn', SOURCE_NAME: 'bench' },
      });
      const results = JSON.parse(stdout) as { points: { fields: { ttfb_ms: number; total_ms: number } }[] }[];
      const f = results[0]!.points[0]!.fields;
      cold.push({ ours: { ttfb: f.ttfb_ms, total: f.total_ms }, curl: await curl(server.url) });
    }
    rows.push(row('cold (collect --once)', cold));

    const interval = 2;
    const d = await benchDaemon({ TARGET_FQDNS: server.url, COLLECTION_INTERVAL: String(interval), HTTP_REUSE_CONNECTIONS: 'true' });
    try {
      // Past the first (connecting) probe; then one curl run in the middle of each gap between probes.
      await sleep((interval * 2 + 1) * 1000);
      const since = new Date().toISOString();
      const curls: { ttfb: number; total: number }[] = [];
      for (let i = 0; i < o.runs; i++) {
        const slotMs = interval * 1000;
        await sleep(slotMs - (Date.now() % slotMs) + 900); // the probe runs 0-600 ms into its slot
        curls.push(await curl(server.url));
      }
      await sleep(1000);
      const pts = await d.json<{ points: { fields: { ttfb_ms: number; total_ms: number } }[] }>(`/api/points?measurement=http&since=${since}&limit=1000`);
      const ours = pts.points.map((p) => ({ ttfb: p.fields.ttfb_ms, total: p.fields.total_ms })).slice(-o.runs);
      rows.push(row('warm (daemon, keep-alive)', ours.map((x, i) => ({ ours: x, curl: curls[i % curls.length]! }))));
    } finally {
      await d.cleanup();
    }
  } finally {
    server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 10);
  console.log(JSON.stringify(await benchTiming({ runs }), null, 2));
}

