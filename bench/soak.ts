/**
 * npm run soak [-- --minutes=60] [-- --targets=2000]   (not part of CI, nor of npm run bench)
 *
 * One daemon as shipped (node dist/cli.js) for --minutes, with --targets
 * loopback targets (icmp + http, 10 s interval), writing to VictoriaMetrics
 * as its InfluxDB (v2 write API), and:
 *   - a reload every 5 minutes: TARGETS_FILE rewritten with 10 % of the
 *     targets removed and as many new ones added (the file watch reloads it);
 *   - a database outage every 15 minutes: VictoriaMetrics stopped (SIGTERM,
 *     it flushes) for a minute, then started again on the same data.
 * Shorter runs scale both periods down (a 5-minute run: a reload every 25 s,
 * an outage every 75 s of 15 s), so the same events happen in a tryout.
 *
 * Figures: RSS every 5 s and its slope after the warm-up (the first fifth),
 * open files, event-loop lag p99 per 5 s window, and points lost — every
 * `ping` point the daemon's rounds say they collected (the `round complete`
 * log lines) that is not in VictoriaMetrics at the end, counted per (target,
 * slot). Written to bench/results/soak.json; docs/benchmarks.md gets its own
 * section (bench/run.ts --render).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, Proc, REPO, until } from '../scripts/lib/services.js';
import { benchDaemon } from './lib/daemon.js';
import { mb, r3, rss, sleep } from './lib/proc.js';
import { startTargetServer } from './lib/target-server.js';

export interface SoakResult {
  date: string;
  minutes: number;
  targets: number;
  intervalS: number;
  reloads: number;
  outages: number;
  outageSeconds: number;
  /** MB per hour, least squares over the samples after the warm-up. */
  rssSlopeMbPerHour: number;
  rssMbStart: number;
  rssMbEnd: number;
  rssMbMax: number;
  openFilesMin: number;
  openFilesMax: number;
  openFilesEnd: number;
  /** Worst and median of the 5 s windows' p99. */
  lagP99WorstMs: number;
  lagP99MedianMs: number;
  pointsExpected: number;
  pointsStored: number;
  pointsLost: number;
  failedProbes: number;
  overruns: number;
  command: string;
}

export function renderSoak(s: SoakResult): string {
  return `## Soak

\`${s.command}\` on ${s.date.slice(0, 10)}: ${s.minutes} minutes, ${s.targets.toLocaleString('en')} loopback targets (icmp + http, ${s.intervalS} s interval),
${s.reloads} reloads (10 % of the targets removed and as many added, TARGETS_FILE rewritten) and ${s.outages} outages of
VictoriaMetrics (the InfluxDB endpoint) of ${s.outageSeconds} s each. Points lost are counted from the database: every
\`ping\` point the rounds collected, per (target, slot), that VictoriaMetrics does not have at the end.

| figure | value |
|---|---|
| RSS slope after warm-up (first fifth) | ${s.rssSlopeMbPerHour} MB / hour |
| RSS start / end / highest | ${s.rssMbStart} / ${s.rssMbEnd} / ${s.rssMbMax} MB |
| open files min / max / end | ${s.openFilesMin} / ${s.openFilesMax} / ${s.openFilesEnd} |
| event-loop lag p99, worst / median 5 s window | ${s.lagP99WorstMs} / ${s.lagP99MedianMs} ms |
| points lost | **${s.pointsLost}** of ${s.pointsExpected} (${s.pointsStored} stored) |
| failed probes / overruns | ${s.failedProbes} / ${s.overruns} |
`;
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den ? num / den : 0;
}

function writeTargets(file: string, names: number[], httpUrl: string, intervalS: number): void {
  const lines = [`defaults: { interval: ${intervalS}, timeout: ${Math.min(5, intervalS * 0.8)} }`, 'targets:'];
  for (const i of names) lines.push(`  - { name: s${i}, host: "127.7.${Math.floor(i / 250) % 250}.${(i % 250) + 1}", probes: [icmp, http], http: { url: "${httpUrl}/s/${i}" } }`);
  writeFileSync(file, `${lines.join('\n')}\n`);
}

function victoria(port: number, dir: string): Proc {
  return new Proc('victoria-metrics', [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-search.latencyOffset=0s', '-loggerLevel=WARN', '-retentionPeriod=1d']).start();
}

export async function soak(o: { minutes: number; targets: number }): Promise<SoakResult> {
  const intervalS = 10;
  const scale = Math.min(1, o.minutes / 60);
  const reloadEveryMs = Math.max(20_000, 300_000 * scale);
  const outageEveryMs = Math.max(60_000, 900_000 * scale);
  const outageMs = Math.max(15_000, 60_000 * scale);
  const dir = mkdtempSync(join(tmpdir(), 'nt-soak-'));
  const vmDir = join(dir, 'vm');
  mkdirSync(vmDir);
  const vmPort = await freePort();
  let vm = victoria(vmPort, vmDir);
  const vmUrl = `http://127.0.0.1:${vmPort}`;
  const server = await startTargetServer(5);
  const log = (m: string) => console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${m}`);
  try {
    await until(async () => (await fetch(`${vmUrl}/health`)).ok, 'victoria-metrics');
    const file = join(dir, 'targets.yaml');
    let next = o.targets;
    let names = Array.from({ length: o.targets }, (_, i) => i);
    writeTargets(file, names, server.url, intervalS);
    const d = await benchDaemon({
      TARGETS_FILE: file,
      INFLUXDB_URL: vmUrl,
      INFLUX_API: 'v2',
      INFLUXDB_TOKEN: 'soak',
      INFLUXDB_ORG: 'soak',
      INFLUXDB_BUCKET: 'soak',
      BATCH_SIZE: '100',
      MAX_CONCURRENT_TARGETS: '1000',
      MAX_CONCURRENT_OPERATIONS: '1000',
      LOG_LEVEL: 'info',
    });
    const pid = d.proc.pid!;
    const samples: { t: number; rss: number; fds: number; lag: number }[] = [];
    const t0 = Date.now();
    const end = t0 + o.minutes * 60_000;
    let reloads = 0;
    let outages = 0;
    let nextReload = t0 + reloadEveryMs;
    let nextOutage = t0 + outageEveryMs;
    let outageEnds = 0;
    try {
      while (Date.now() < end) {
        await sleep(5000 - ((Date.now() - t0) % 5000));
        const text = await (await d.get('/metrics')).text();
        const lag = Number(/^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text)?.[1] ?? 0) * 1000;
        samples.push({ t: Date.now() - t0, rss: rss(pid), fds: readdirSync(`/proc/${pid}/fd`).length, lag });
        const now = Date.now();
        if (now >= nextReload) {
          const cut = Math.round(names.length * 0.1);
          names = [...names.slice(cut), ...Array.from({ length: cut }, () => next++)];
          writeTargets(file, names, server.url, intervalS);
          reloads++;
          nextReload += reloadEveryMs;
          log(`reload ${reloads}: -${cut} +${cut} targets`);
        }
        if (outageEnds && now >= outageEnds) {
          vm = victoria(vmPort, vmDir);
          await until(async () => (await fetch(`${vmUrl}/health`)).ok, 'victoria-metrics back');
          outageEnds = 0;
          log('database back');
        } else if (!outageEnds && now >= nextOutage && now + outageMs < end) {
          await vm.stop('SIGTERM');
          outages++;
          outageEnds = now + outageMs;
          nextOutage += outageEveryMs;
          log(`database outage ${outages} for ${outageMs / 1000} s`);
        }
      }
      if (outageEnds) {
        vm = victoria(vmPort, vmDir);
        await until(async () => (await fetch(`${vmUrl}/health`)).ok, 'victoria-metrics back');
      }
      // Stop collecting, let the outbox drain, then count.
      const lastSlot = Math.floor(Date.now() / (intervalS * 1000)) * intervalS * 1000;
      d.proc.kill('SIGTERM');
      await d.exited;
      log('daemon stopped (SIGTERM: its outbox flushed as far as the deadline allows); restarting it to drain the rest');
      const rounds = d.logs.filter((l) => l.msg === 'round complete');
      const expected = rounds.reduce((a, r) => a + (r.targets as number), 0);
      const failed = rounds.reduce((a, r) => a + (r.probes_failed as number), 0);
      const overruns = rounds.reduce((a, r) => a + (r.skipped_overrun as number), 0);
      // The same data dir and config: the outbox left behind is delivered by the next start.
      const drain = await benchDaemon({ TARGETS_FILE: join(dir, 'none.yaml'), INFLUXDB_URL: vmUrl, INFLUX_API: 'v2', INFLUXDB_TOKEN: 'soak', INFLUXDB_ORG: 'soak', INFLUXDB_BUCKET: 'soak', TARGET_FQDNS: '127.0.0.1', DEFAULT_PROBES: 'icmp', COLLECTION_INTERVAL: '3600' }).catch(() => undefined);
      void drain;
      void lastSlot;
      throw new Error('unfinished');
    } finally {
      await d.cleanup();
    }
  } finally {
    await vm.stop('SIGKILL');
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  void execFileSync;
  void REPO;
  void r3;
  void mb;
  void slope;
}
