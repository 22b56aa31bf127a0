/**
 * node --import tsx bench/targets-load.ts [--sizes=10000,100000]
 *
 * Large targets files, with the daemon as shipped (node dist/cli.js; run
 * `npm run build` first): for each size, start-up (spawn to /health/live,
 * which the loading listener answers, and to /health/ready 200) and a reload
 * from 10 targets to that size (SIGHUP to the "configuration reloaded" line)
 * with the event loop's longest stall during it (nodejs_eventloop_lag_max_seconds,
 * read in the daemon: the scrape before the reload starts its record afresh).
 * Targets are tcp probes of a closed loopback port an hour apart, so the
 * figures are the configuration's, not the probes'. Prints a Markdown table.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchDaemon } from './lib/daemon.js';
import { sleep } from './lib/proc.js';

const sizes = (process.argv.find((a) => a.startsWith('--sizes='))?.slice(8) ?? '10000,100000').split(',').map(Number);

function targetsYaml(n: number): string {
  const lines = ['defaults: { interval: 3600, timeout: 2 }', 'targets:'];
  for (let i = 0; i < n; i++) lines.push(`  - { name: t${i}, host: 127.0.0.1, probes: [tcp], tcp: { port: 9 } }`);
  return `${lines.join('\n')}\n`;
}

const lagMax = async (get: (p: string) => Promise<Response>) => Number(/^nodejs_eventloop_lag_max_seconds ([\d.e+-]+)$/m.exec(await (await get('/metrics')).text())?.[1] ?? NaN);

async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() - t0 > timeoutMs) throw new Error('timed out');
    await sleep(50);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'nt-targets-load-'));
const rows: string[] = [];
try {
  for (const n of sizes) {
    const file = join(dir, `t${n}.yaml`);
    writeFileSync(file, targetsYaml(n));
    const load0 = loadavg()[0]!;
    const t0 = Date.now();
    const d = await benchDaemon({ TARGETS_FILE: file, LOG_LEVEL: 'info', RELOAD_MAX_REMOVAL: '1' });
    const liveS = (Date.now() - t0) / 1000;
    try {
      await waitFor(async () => (await d.get('/health/ready')).status === 200, 600_000);
      const readyS = (Date.now() - t0) / 1000;
      const startLag = await lagMax(d.get);
      // The reload: from 10 targets to n (added), in a second daemon-free step: rewrite, SIGHUP.
      writeFileSync(file, targetsYaml(10));
      d.proc.kill('SIGHUP');
      await waitFor(() => d.logs.find((l) => l.msg === 'configuration reloaded' && l.targets === 10), 600_000);
      await sleep(2000);
      writeFileSync(file, targetsYaml(n));
      await lagMax(d.get);
      const r0 = Date.now();
      d.proc.kill('SIGHUP');
      await waitFor(() => d.logs.find((l) => l.msg === 'configuration reloaded' && l.targets === n), 600_000);
      const reloadS = (Date.now() - r0) / 1000;
      const lag = await lagMax(d.get);
      const row = `| ${n.toLocaleString('en')} | ${liveS.toFixed(1)} | ${readyS.toFixed(1)} | ${reloadS.toFixed(1)} | ${Math.round(lag * 1000)} | ${Math.round(startLag * 1000)} | ${load0.toFixed(1)} |`;
      console.error(row);
      rows.push(row);
    } finally {
      await d.cleanup();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log('| targets | start to /health/live (s) | start to ready (s) | reload adding them (s) | longest event-loop stall during the reload (ms) | longest stall, start-up (ms) | load average at start |');
console.log('|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
