/**
 * npm run soak [-- --minutes=60] [-- --targets=2000] [-- --raw-hours=H] [-- --retention-days=D] [-- --at=45,120]
 *              [-- --malloc-arena-max=N] [-- --env=NAME=VALUE ...] [-- --quiet] [-- --out=FILE] [-- --no-build]   (not part of CI, nor of npm run bench)
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
 * --raw-hours and --retention-days set EMBEDDED_RAW_HOURS and
 * EMBEDDED_RETENTION_DAYS (defaults: the daemon's 6 h and 7 d): short
 * windows bring every table of the embedded store to its steady size within
 * the run (raw points stay until their hour is rolled up, and buckets go in
 * an hourly pass: about 1.5 h with --retention-days=0.02). The sizes of the
 * store's tables at the end are reported (SQLite's dbstat);
 * --at names minutes at which RSS and lag are compared (median of the 5
 * minutes before each); --malloc-arena-max runs the daemon with
 * MALLOC_ARENA_MAX (the image and the systemd unit set 2; unset: glibc's
 * default, 8 per core).
 *
 * Figures: RSS every 5 s and its slope after the warm-up (the first fifth),
 * where it is (anonymous / file / V8 heaps of the main thread and the store
 * worker / malloc arenas, from the daemon's memory gauges),
 * open files, event-loop lag p99 per 5 s window, and points lost — every
 * `ping` point the daemon's rounds say they collected (the `round complete`
 * log lines) that is not in VictoriaMetrics at the end, counted per (target,
 * slot). Written to bench/results/soak.json; docs/benchmarks.md gets its own
 * section (bench/run.ts --render).
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, Proc, REPO, until } from '../scripts/lib/services.js';
import { benchDaemon } from './lib/daemon.js';
import { mb, r3, rss, rssParts, sleep } from './lib/proc.js';
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
  /**
   * Start against end (does the daemon slow down as its store fills?): the
   * median of the 5 s windows' lag p99 and of RSS over the first and the last
   * 5 minutes (a tenth of shorter runs), the first minute left out (start-up).
   */
  startEnd?: {
    windowMin: number;
    lagP99StartMs: number;
    lagP99EndMs: number;
    rssMbStart: number;
    rssMbEnd: number;
    /** Where RSS went, start -> end (MB): anonymous, file-backed + shared, the main thread's V8 heap in use, Node's external memory. */
    parts?: Record<'anon' | 'fileAndShmem' | 'heapUsed' | 'external', [number, number]>;
  };
  /** Medians of the 5 minutes before each --at minute: RSS, lag, and where RSS is. */
  checkpoints?: Checkpoint[];
  /** Largest RSS difference between two checkpoints, in % of the first. */
  checkpointRssSpreadPct?: number;
  /** One row a minute (medians), for plots and for finding what grows. */
  timeline?: Checkpoint[];
  rawHours?: number;
  retentionDays?: number;
  /** Bytes of each table and index of store.db at the end (pages, from dbstat), MB. */
  storeTablesMb?: Record<string, number>;
  mallocArenaMax?: string;
  /** --env: variables added to the daemon's environment (an allocator under test). */
  env?: Record<string, string>;
  /** Load average (1 min) of the machine at the start and the end: others' work on the same cores. */
  loadAverage?: [number, number];
  /** /metrics requests that got no answer within 30 s. */
  scrapeFailures?: number;
  pointsExpected: number;
  pointsStored: number;
  pointsLost: number;
  failedProbes: number;
  /** From the round log lines' examples (up to 5 a round): probe and reason -> how often. */
  failureReasons?: Record<string, number>;
  overruns: number;
  command: string;
}

export interface Checkpoint {
  minute: number;
  rssMb: number;
  lagP99Ms: number;
  anonMb: number;
  fileAndShmemMb: number;
  heapUsedMb: number;
  workerHeapUsedMb: number;
  /** V8 heaps as reserved (main + store worker): what they hold resident, used or not. */
  heapsTotalMb: number;
  /** Anonymous memory that is neither a V8 heap nor a malloc arena: large allocations mapped on their own, thread stacks, code. */
  otherAnonMb: number;
  arenaMb: number;
  arenas: number;
  externalMb: number;
}

export function renderSoak(s: SoakResult): string {
  return `## Soak

\`${s.command}\` on ${s.date.slice(0, 10)}${s.loadAverage ? ` (machine load average ${s.loadAverage[0]} at the start, ${s.loadAverage[1]} at the end: other work shares the 2 cores)` : ''}: ${s.minutes} minutes, ${s.targets.toLocaleString('en')} loopback targets (icmp + http, ${s.intervalS} s interval),
${s.reloads} reloads (10 % of the targets removed and as many added, TARGETS_FILE rewritten) and ${s.outages} outages of
VictoriaMetrics (the InfluxDB endpoint) of ${s.outageSeconds} s each. Points lost are counted from the database: every
\`ping\` point the rounds collected, per (target, slot), that VictoriaMetrics does not have at the end.

| figure | value |
|---|---|
| RSS slope after warm-up (first fifth) | ${s.rssSlopeMbPerHour} MB / hour |
| RSS start / end / highest | ${s.rssMbStart} / ${s.rssMbEnd} / ${s.rssMbMax} MB |
| open files min / max / end | ${s.openFilesMin} / ${s.openFilesMax} / ${s.openFilesEnd} |
| event-loop lag p99, worst / median 5 s window | ${s.lagP99WorstMs} / ${s.lagP99MedianMs} ms |
${s.startEnd ? `| first ${s.startEnd.windowMin} min against last ${s.startEnd.windowMin} min: lag p99 (median window) | ${s.startEnd.lagP99StartMs} -> ${s.startEnd.lagP99EndMs} ms |
| first ${s.startEnd.windowMin} min against last ${s.startEnd.windowMin} min: RSS (median) | ${s.startEnd.rssMbStart} -> ${s.startEnd.rssMbEnd} MB |
${s.startEnd.parts ? `| ... of which anonymous / file-backed and shared / main V8 heap used / external | ${Object.values(s.startEnd.parts).map(([a, b]) => `${a} -> ${b}`).join(' / ')} MB |
` : ''}` : ''}${(s.checkpoints ?? []).map((c) => `| minute ${c.minute} (median of the 5 min before): RSS / lag p99 | ${c.rssMb} MB / ${c.lagP99Ms} ms |
| ... anonymous / file and shared / V8 heaps reserved (main + store worker; used: ${c.heapUsedMb} + ${c.workerHeapUsedMb}) / malloc arenas (count) / other anonymous | ${c.anonMb} / ${c.fileAndShmemMb} / ${c.heapsTotalMb} / ${c.arenaMb} (${c.arenas}) / ${c.otherAnonMb} MB |
`).join('')}${s.checkpointRssSpreadPct !== undefined ? `| RSS between the checkpoints | ${s.checkpointRssSpreadPct} % |
` : ''}${s.storeTablesMb ? `| store.db at the end, largest tables and indexes | ${Object.entries(s.storeTablesMb).slice(0, 8).map(([k, v]) => `${k} ${v}`).join(', ')} MB |
` : ''}| points lost | **${s.pointsLost}** of ${s.pointsExpected} (${s.pointsStored} stored) |
| failed probes / overruns | ${s.failedProbes} / ${s.overruns} |
${s.failureReasons && Object.keys(s.failureReasons).length ? `\nFailed probes by kind and reason (from the rounds' log examples, up to 5 a round): ${Object.entries(s.failureReasons).map(([k, v]) => `${k} ${v}`).join(', ')}.\n` : ''}`;
}

/** The middle value (the upper one of an even count), 0 for none. */
function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
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

interface Sample {
  t: number;
  rss: number;
  fds: number;
  lag: number;
  anon: number;
  fileAndShmem: number;
  heapUsed: number;
  external: number;
  workerHeapUsed: number;
  heapTotal: number;
  workerHeapTotal: number;
  arena: number;
  arenas: number;
}

/** Medians of the samples in the `spanMin` minutes before minute `minute`. */
function checkpoint(samples: Sample[], minute: number, spanMin = 5): Checkpoint {
  const w = samples.filter((x) => x.t > (minute - spanMin) * 60_000 && x.t <= minute * 60_000);
  const med = (k: keyof Sample) => median(w.map((x) => x[k]));
  return {
    minute,
    rssMb: mb(med('rss')),
    lagP99Ms: r3(med('lag')),
    anonMb: mb(med('anon')),
    fileAndShmemMb: mb(med('fileAndShmem')),
    heapUsedMb: mb(med('heapUsed')),
    workerHeapUsedMb: mb(med('workerHeapUsed')),
    heapsTotalMb: mb(median(w.map((x) => x.heapTotal + x.workerHeapTotal))),
    otherAnonMb: mb(median(w.map((x) => x.anon - x.heapTotal - x.workerHeapTotal - x.arena))),
    arenaMb: mb(med('arena')),
    arenas: med('arenas'),
    externalMb: mb(med('external')),
  };
}

/** Pages of each table and index of a SQLite file, MB (dbstat; read-only, beside the running daemon). */
function tableSizes(path: string): Record<string, number> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as { name: string; bytes: number }[];
    return Object.fromEntries(rows.filter((r) => r.bytes >= 64 * 1024).map((r) => [r.name, mb(r.bytes)]));
  } finally {
    db.close();
  }
}

/** (largest - smallest) / first, in %. */
function spreadPct(xs: number[]): number {
  return r3(((Math.max(...xs) - Math.min(...xs)) / (xs[0] || 1)) * 100);
}

function writeTargets(file: string, names: number[], httpUrl: string, intervalS: number): void {
  const lines = [`defaults: { interval: ${intervalS}, timeout: ${Math.min(5, intervalS * 0.8)} }`, 'targets:'];
  for (const i of names) lines.push(`  - { name: s${i}, host: "127.7.${Math.floor(i / 250) % 250}.${(i % 250) + 1}", probes: [icmp, http], http: { url: "${httpUrl}/s/${i}" } }`);
  writeFileSync(file, `${lines.join('\n')}\n`);
}

function victoria(port: number, dir: string): Proc {
  return new Proc('victoria-metrics', [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}`, '-search.latencyOffset=0s', '-loggerLevel=WARN', '-retentionPeriod=1d']).start();
}

export async function soak(o: { minutes: number; targets: number; rawHours?: number; retentionDays?: number; at?: number[]; mallocArenaMax?: string; env?: Record<string, string>; quiet?: boolean }): Promise<SoakResult> {
  const load0 = loadavg()[0]!;
  const intervalS = 10;
  const scale = Math.min(1, o.minutes / 60);
  // --quiet: neither reloads nor outages (a baseline to compare with).
  const reloadEveryMs = o.quiet ? Infinity : Math.max(20_000, 300_000 * scale);
  const outageEveryMs = o.quiet ? Infinity : Math.max(60_000, 900_000 * scale);
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
      ...(o.rawHours !== undefined ? { EMBEDDED_RAW_HOURS: String(o.rawHours) } : {}),
      ...(o.retentionDays !== undefined ? { EMBEDDED_RETENTION_DAYS: String(o.retentionDays) } : {}),
      ...(o.mallocArenaMax ? { MALLOC_ARENA_MAX: o.mallocArenaMax } : {}),
      ...o.env,
    });
    const pid = d.proc.pid!;
    const samples: Sample[] = [];
    const t0 = Date.now();
    const end = t0 + o.minutes * 60_000;
    let reloads = 0;
    let outages = 0;
    let nextReload = t0 + reloadEveryMs;
    let nextOutage = t0 + outageEveryMs;
    let outageEnds = 0;
    let scrapeFailures = 0;
    try {
      while (Date.now() < end) {
        await sleep(5000 - ((Date.now() - t0) % 5000));
        // A scrape that does not answer within 30 s is counted, not fatal: the 2 cores are shared.
        let text: string;
        try {
          text = await (await fetch(`${d.url}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
        } catch (err) {
          scrapeFailures++;
          log(`/metrics did not answer: ${(err as Error).message}`);
          continue;
        }
        const lag = Number(/^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text)?.[1] ?? 0) * 1000;
        const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
        samples.push({
          t: Date.now() - t0,
          rss: rss(pid),
          fds: readdirSync(`/proc/${pid}/fd`).length,
          lag,
          ...rssParts(pid),
          heapUsed: gauge('nodejs_heap_size_used_bytes'),
          external: gauge('nodejs_external_memory_bytes'),
          workerHeapUsed: gauge('telemetry_store_worker_heap_used_bytes'),
          heapTotal: gauge('nodejs_heap_size_total_bytes'),
          workerHeapTotal: gauge('telemetry_store_worker_heap_size_bytes'),
          arena: gauge('telemetry_malloc_arena_resident_bytes'),
          arenas: gauge('telemetry_malloc_arenas'),
        });
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
      // Count the slots that are over: every round before the cut has logged, and its points
      // must reach the database (the outbox drains a backlog in seconds once it answers).
      const slotMs = intervalS * 1000;
      const cut = Math.floor(Date.now() / slotMs) * slotMs - slotMs;
      const done = () => d.logs.filter((l) => l.msg === 'round complete' && Date.parse(l.slot as string) < cut);
      await until(async () => d.logs.some((l) => l.msg === 'round complete' && Date.parse(l.slot as string) >= cut), 'a round after the cut', 60_000, 1000);
      const rounds = done();
      const expected = rounds.reduce((a, r) => a + (r.targets as number), 0);
      const failedProbes = rounds.reduce((a, r) => a + (r.probes_failed as number), 0);
      const overruns = rounds.reduce((a, r) => a + (r.skipped_overrun as number), 0);
      const failureReasons: Record<string, number> = {};
      for (const r of rounds) {
        for (const f of String(r.failing ?? '').split('; ')) {
          const m = /^\S+ (\w+): (\w+)/.exec(f);
          if (m) failureReasons[`${m[1]} ${m[2]}`] = (failureReasons[`${m[1]} ${m[2]}`] ?? 0) + 1;
        }
      }
      const first = Math.min(...rounds.map((r) => Date.parse(r.slot as string)));
      const stored = async () => {
        await fetch(`${vmUrl}/internal/force_flush`);
        const body = new URLSearchParams({ 'match[]': 'ping_sent', start: String(first / 1000), end: String((cut - 1) / 1000) });
        const text = await (await fetch(`${vmUrl}/api/v1/export`, { method: 'POST', body })).text();
        const seen = new Set<string>();
        for (const line of text.split('\n')) {
          if (!line) continue;
          const j = JSON.parse(line) as { metric: { target: string }; timestamps: number[] };
          for (const ts of j.timestamps) if (ts >= first && ts < cut) seen.add(`${j.metric.target}|${ts}`);
        }
        return seen.size;
      };
      let found = 0;
      const drainUntil = Date.now() + 180_000;
      while (Date.now() < drainUntil && (found = await stored()) < expected) await sleep(3000);
      log(`points: expected ${expected}, in the database ${found}`);
      const warm = samples.filter((x) => x.t >= (o.minutes * 60_000) / 5);
      const fds = samples.map((x) => x.fds);
      const windowMs = Math.min(5, o.minutes / 10) * 60_000;
      const firstWin = samples.filter((x) => x.t >= 60_000 && x.t < 60_000 + windowMs);
      const lastWin = samples.filter((x) => x.t >= (samples.at(-1)?.t ?? 0) - windowMs);
      return {
        date: new Date().toISOString(),
        minutes: o.minutes,
        targets: o.targets,
        intervalS,
        reloads,
        outages,
        outageSeconds: outageMs / 1000,
        rssSlopeMbPerHour: r3(slope(warm.map((x) => x.t / 3_600_000), warm.map((x) => x.rss / 1048576))),
        rssMbStart: mb(warm[0]?.rss ?? 0),
        rssMbEnd: mb(samples.at(-1)?.rss ?? 0),
        rssMbMax: mb(Math.max(...samples.map((x) => x.rss))),
        openFilesMin: Math.min(...fds),
        openFilesMax: Math.max(...fds),
        openFilesEnd: fds.at(-1) ?? 0,
        lagP99WorstMs: r3(Math.max(0, ...samples.map((x) => x.lag))),
        lagP99MedianMs: r3(median(samples.map((x) => x.lag))),
        startEnd: {
          windowMin: r3(windowMs / 60_000),
          lagP99StartMs: r3(median(firstWin.map((x) => x.lag))),
          lagP99EndMs: r3(median(lastWin.map((x) => x.lag))),
          rssMbStart: mb(median(firstWin.map((x) => x.rss))),
          rssMbEnd: mb(median(lastWin.map((x) => x.rss))),
          parts: Object.fromEntries(
            (['anon', 'fileAndShmem', 'heapUsed', 'external'] as const).map((k) => [k, [mb(median(firstWin.map((x) => x[k]))), mb(median(lastWin.map((x) => x[k])))]]),
          ) as Record<'anon' | 'fileAndShmem' | 'heapUsed' | 'external', [number, number]>,
        },
        ...(o.at?.length ? { checkpoints: o.at.map((m) => checkpoint(samples, m)) } : {}),
        ...(o.at && o.at.length > 1 ? { checkpointRssSpreadPct: spreadPct(o.at.map((m) => checkpoint(samples, m).rssMb)) } : {}),
        timeline: Array.from({ length: Math.floor((samples.at(-1)?.t ?? 0) / 60_000) }, (_, i) => checkpoint(samples, i + 1, 1)),
        ...(o.rawHours !== undefined ? { rawHours: o.rawHours } : {}),
        ...(o.retentionDays !== undefined ? { retentionDays: o.retentionDays } : {}),
        storeTablesMb: tableSizes(join(d.dataDir, 'store.db')),
        ...(o.mallocArenaMax ? { mallocArenaMax: o.mallocArenaMax } : {}),
        ...(o.env && Object.keys(o.env).length ? { env: o.env } : {}),
        loadAverage: [r3(load0), r3(loadavg()[0]!)],
        scrapeFailures,
        pointsExpected: expected,
        pointsStored: found,
        pointsLost: Math.max(0, expected - found),
        failedProbes,
        failureReasons,
        overruns,
        command: `npm run soak -- --minutes=${o.minutes} --targets=${o.targets}${o.quiet ? ' --quiet' : ''}${o.rawHours !== undefined ? ` --raw-hours=${o.rawHours}` : ''}${o.retentionDays !== undefined ? ` --retention-days=${o.retentionDays}` : ''}${o.at?.length ? ` --at=${o.at.join(',')}` : ''}${o.mallocArenaMax ? ` --malloc-arena-max=${o.mallocArenaMax}` : ''}${Object.entries(o.env ?? {}).map(([k, v]) => ` --env=${k}=${v}`).join('')}`,
      };
    } finally {
      await d.cleanup();
    }
  } finally {
    await vm.stop('SIGKILL');
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, def: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
  if (!process.argv.includes('--no-build')) execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' });
  const text = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const result = await soak({
    minutes: arg('minutes', 60),
    targets: arg('targets', 2000),
    ...(text('raw-hours') ? { rawHours: Number(text('raw-hours')) } : {}),
    ...(text('retention-days') ? { retentionDays: Number(text('retention-days')) } : {}),
    ...(text('at') ? { at: text('at')!.split(',').map(Number) } : {}),
    ...(text('malloc-arena-max') ? { mallocArenaMax: text('malloc-arena-max')! } : {}),
    // --env=NAME=VALUE (repeatable): the daemon's environment, e.g. an allocator to compare (LD_PRELOAD, MALLOC_*).
    env: Object.fromEntries(
      process.argv
        .filter((a) => a.startsWith('--env='))
        .map((a) => {
          const kv = a.slice('--env='.length);
          const i = kv.indexOf('=');
          if (i < 1) throw new Error(`${a}: write --env=NAME=VALUE (for example --env=MALLOC_ARENA_MAX=2)`);
          return [kv.slice(0, i), kv.slice(i + 1)];
        }),
    ),
    quiet: process.argv.includes('--quiet'),
  });
  // --out: a tryout's figures elsewhere, docs/benchmarks.md left alone.
  const out = text('out');
  mkdirSync(join(REPO, 'bench/results'), { recursive: true });
  writeFileSync(out ?? join(REPO, 'bench/results/soak.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(renderSoak(result));
  // docs/benchmarks.md keeps the last full run's figures and gets this soak's section.
  if (!out && existsSync(join(REPO, 'bench/results/latest.json'))) execFileSync(process.execPath, ['--import', 'tsx', join(REPO, 'bench/run.ts'), '--render'], { cwd: REPO, stdio: 'inherit' });
}
