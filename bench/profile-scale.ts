/**
 * Watch (and optionally profile) one daemon at scale, the way the scale
 * benchmark runs it: prints RSS, heap, external memory and event-loop lag p99
 * every 5 s, then the rounds. This is how the hot spots in docs/benchmarks.md
 * were found.
 *
 *   node --import tsx bench/profile-scale.ts [--targets=10000] [--rounds=3] [--no-trace] [--cpu-prof]
 *
 * --cpu-prof writes a .cpuprofile (open it in Chrome DevTools) to the current
 * directory when the daemon exits. Run `npm run build` first: the daemon runs
 * from dist/ as shipped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnDaemon } from '../scripts/lib/daemon-process.js';
import { REPO } from '../scripts/lib/services.js';
import { mb, rss, sleep } from './lib/proc.js';
import { SCALE_ENV, writeScaleTargets } from './scale.js';
import { startTargetServer } from './lib/target-server.js';

const arg = (name: string, def: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def;
const targets = Number(arg('targets', '10000'));
const rounds = Number(arg('rounds', '3'));
const trace = !process.argv.includes('--no-trace');
const nodeFlags = process.argv.includes('--cpu-prof') ? ['--cpu-prof', `--cpu-prof-dir=${process.cwd()}`] : [];

const dir = mkdtempSync(join(tmpdir(), 'nt-profile-'));
const server = await startTargetServer(0);
try {
  const file = join(dir, 'targets.yaml');
  writeScaleTargets(file, { targets, intervalS: 60, httpUrl: server.url, trace });
  const d = await spawnDaemon({ SOURCE_NAME: 'bench', TARGETS_FILE: file, ...SCALE_ENV }, { entry: [process.execPath, ...nodeFlags, join(REPO, 'dist/cli.js')] });
  const done = () => d.logs.filter((l) => l.msg === 'round complete');
  const t0 = Date.now();
  const tick = setInterval(() => {
    void d
      .get('/metrics')
      .then((r) => r.text())
      .then((t) => {
        const g = (name: string) => Number(new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(t)?.[1]);
        const mib = (name: string) => (g(name) / 2 ** 20).toFixed(1);
        console.log(
          `${((Date.now() - t0) / 1000).toFixed(0)} s  rss ${mb(rss(d.proc.pid!))} MB  heap used ${mib('nodejs_heap_size_used_bytes')} / total ${mib('nodejs_heap_size_total_bytes')} MiB  external ${mib('nodejs_external_memory_bytes')} MiB  lag p99 ${(g('nodejs_eventloop_lag_p99_seconds') * 1000).toFixed(1)} ms  rounds ${done().length}`,
        );
      })
      .catch(() => {});
  }, 5000);
  try {
    while (done().length < rounds) await sleep(1000);
  } finally {
    clearInterval(tick);
  }
  for (const r of done()) console.log(`round ${r.slot}: ${r.duration_s} s, ${r.probes_ok} ok, ${r.probes_failed} failed, ${r.skipped_overrun} overruns`);
  // SIGTERM, not SIGKILL: the profile is written when the daemon exits.
  d.proc.kill('SIGTERM');
  if (d.proc.exitCode === null) await new Promise((r) => d.proc.once('exit', r));
  await d.cleanup();
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
