/**
 * The embedded store's figures (src/store/README.md, "Figures"):
 *
 *   node --import tsx bench/store.ts [--quick]
 *
 * 1. Insert cost (the worker's engine, µs per point) and the daemon thread's
 *    event-loop lag while points are written through the worker, with an
 *    empty store, 1 M and 10 M raw rows.
 * 2. /api/points query times at 1 M rows, each filter combination.
 * 3. A simulated week of N targets (60 s slots: ping + http + their probe
 *    points, a 10-hop trace every 10 minutes), maintained as the worker does:
 *    size on disk per target-day (extrapolated to 10,000 targets x 7 days),
 *    series() for 1 h / 24 h / 7 d with response bytes, sparklines, latest.
 * 4. A retention sweep of 1 M expired raw rows by the worker: the daemon
 *    thread's lag meanwhile and the worker's longest step.
 *
 * Stores are filled in-process through the same engine the worker runs
 * (StoreEngine) with a simulated clock, so a week takes a minute.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Deadline } from '../src/lifecycle/component.js';
import { silentLogger } from '../src/logging/logger.js';
import { TelemetryMetrics } from '../src/metrics/telemetry-metrics.js';
import { rollupsOf, sparklineOf } from '../src/probes/registry.js';
import type { AnySample } from '../src/samples/sample.js';
import { EmbeddedStore, WAL_ALLOWANCE_BYTES } from '../src/store/embedded-store.js';
import { StoreEngine, type EngineOptions } from '../src/store/store-engine.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const OPTIONS: EngineOptions = { rawWindowMs: 6 * HOUR, retentionMs: 7 * DAY, maxBytes: 64 * 1024 ** 3, walAllowanceBytes: WAL_ALLOWANCE_BYTES, rollups: rollupsOf(), sparkline: sparklineOf() };
/** Points per write: what the collector's group commit hands the sink when an fping batch of ~100 targets ends. */
const CHUNK = 500;

const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const sortNum = (a: number[]) => [...a].sort((x, y) => x - y);
const MB = (b: number) => `${r1(b / 1024 / 1024)} MB`;

// --- samples ---------------------------------------------------------------

const HOPS = Array.from({ length: 10 }, (_, i) => `10.${i}.0.1`);

/** One target's points for one slot: ping + http + their probe points; every 10th slot a 10-hop trace. */
function targetSlot(target: string, index: number, ts: number, out: AnySample[]): void {
  const tags = { target, source: 'bench' };
  const j = ((index * 7919 + ts / MIN) % 97) / 97; // deterministic variation
  out.push(
    {
      measurement: 'ping',
      tags: { ...tags, family: 'ipv4' },
      fields: { sent: 5, received: j < 0.02 ? 4 : 5, loss_pct: j < 0.02 ? 20 : 0, rtt_min_ms: 10 + j, rtt_avg_ms: 11 + j, rtt_max_ms: 14 + 3 * j, rtt_median_ms: 10.8 + j, rtt_stddev_ms: 0.9, jitter_ms: 0.4 + j, r_factor: 93.1, mos: 4.41, ip: '192.0.2.10', success: true },
      timeMs: ts,
    },
    { measurement: 'probe', tags: { ...tags, probe: 'icmp' }, fields: { success: true, duration_ms: 812.4 }, timeMs: ts },
    {
      measurement: 'http',
      tags: { ...tags, method: 'GET' },
      fields: { status_code: 200, success: true, dns_ms: 1.2, connect_ms: 10.3 + j, tls_ms: 21.7, ttfb_ms: 40.1 + 5 * j, transfer_ms: 0.8, total_ms: 74.1 + 5 * j, bytes: 5120, reused: false, cert_expiry_days: 80.5, http_version: '1.1', ip: '192.0.2.10' },
      timeMs: ts,
    },
    { measurement: 'probe', tags: { ...tags, probe: 'http' }, fields: { success: true, duration_ms: 74.9 }, timeMs: ts },
  );
  if ((ts / MIN + index) % 10 === 0) {
    out.push({
      measurement: 'route',
      tags: { ...tags, protocol: 'icmp' },
      fields: { success: true, hop_count: 10, reached: true, responding_hops: 10, route_hash: 'a1b2c3d4e5f6', route_changed: false, path: HOPS.join('>'), ip: '192.0.2.10' },
      timeMs: ts,
    });
    HOPS.forEach((ip, h) =>
      out.push({ measurement: 'hop', tags: { ...tags, ttl: String(h + 1) }, fields: { ip, sent: 3, loss_pct: 0, rtt_avg_ms: h + 1.5, rtt_best_ms: h + 1, rtt_worst_ms: h + 2.5, rtt_stddev_ms: 0.4 }, timeMs: ts }),
    );
    out.push({ measurement: 'probe', tags: { ...tags, probe: 'trace' }, fields: { success: true, duration_ms: 1450 }, timeMs: ts });
  }
}

function chunked<T>(a: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += n) out.push(a.slice(i, i + n));
  return out;
}

export function slotSamples(targets: readonly string[], ts: number): AnySample[] {
  const out: AnySample[] = [];
  targets.forEach((t, i) => targetSlot(t, i, ts, out));
  return out;
}

export const names = (n: number) => Array.from({ length: n }, (_, i) => `target-${String(i).padStart(5, '0')}.example.net`);

// --- an in-process store with a simulated clock -----------------------------

const checkpoint = (db: Database.Database) => db.pragma('wal_checkpoint(PASSIVE)');

interface Sim {
  dir: string;
  db: Database.Database;
  engine: StoreEngine;
  clock: { now: number };
  close(): void;
}

export function openSim(dir: string, now: number, o: EngineOptions = OPTIONS): Sim {
  const db = new Database(join(dir, 'store.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`journal_size_limit = ${o.walAllowanceBytes}`);
  // As in the daemon, checkpoints are not the writer's: checkpoint() below
  // stands for the WAL checkpointer's thread, outside the timed work.
  db.pragma('wal_autocheckpoint = 0');
  const clock = { now };
  const engine = new StoreEngine(db, o, { now: () => clock.now });
  return {
    dir,
    db,
    engine,
    clock,
    close() {
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
    },
  };
}

interface FillStats {
  points: number;
  seconds: number;
  /** Maintenance (rollups, retention) time per 5-minute bucket of simulated time. */
  maintenanceMsPer5m: number;
}

/** Write `slots` 60-s slots for every target, ending at `endMs`, maintaining after each slot like the worker. */
export function fill(s: Sim, targets: readonly string[], slots: number, endMs: number): FillStats {
  let points = 0;
  let maintMs = 0;
  const t0 = performance.now();
  for (let k = slots - 1; k >= 0; k--) {
    const ts = endMs - (endMs % MIN) - k * MIN;
    const batch = slotSamples(targets, ts);
    for (let i = 0; i < batch.length; i += CHUNK) points += s.engine.write(batch.slice(i, i + CHUNK));
    s.clock.now = ts + 50_000;
    const m0 = performance.now();
    s.engine.maintainAll();
    maintMs += performance.now() - m0;
    checkpoint(s.db);
  }
  return { points, seconds: r1((performance.now() - t0) / 1000), maintenanceMsPer5m: r1(maintMs / Math.max(1, slots / 5)) };
}

const rawRows = (db: Database.Database) => (db.prepare('SELECT count(*) AS n FROM raw').get() as { n: number }).n;

// --- 1. insert cost and event-loop lag ------------------------------------------

interface InsertRow {
  rows: number;
  insertUsPerPoint: number;
  insertP99ChunkMs: number;
  lagIdleP99Ms: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  mainThreadUsPerPoint: number;
  commitP99Ms: number;
  pointsPerSecond: number;
  /** RSS added by starting the worker (its isolate, modules, SQLite's page cache), measured idle after start. */
  rssMb: number;
}

/**
 * µs per point for CHUNK-point writes of the next slots, in-process (what
 * the worker spends). The first slot is not timed: it creates the series
 * of an empty store, a one-off cost.
 */
function insertCost(s: Sim, targets: readonly string[], endMs: number): { us: number; p99: number } {
  const chunks: number[] = [];
  let points = 0;
  let total = 0;
  for (const chunk of chunked(slotSamples(targets.slice(0, Math.min(targets.length, 2000)), endMs), CHUNK)) s.engine.write(chunk);
  for (let k = 1; k <= 2; k++) {
    const batch = slotSamples(targets.slice(0, Math.min(targets.length, 2000)), endMs + k * MIN);
    for (let i = 0; i < batch.length; i += CHUNK) {
      checkpoint(s.db);
      const t0 = performance.now();
      points += s.engine.write(batch.slice(i, i + CHUNK));
      const dt = performance.now() - t0;
      chunks.push(dt);
      total += dt;
    }
  }
  return { us: r2((total * 1000) / points), p99: r2(pct(sortNum(chunks), 99)) };
}

async function lagWhileWriting(dir: string, targets: readonly string[], seconds: number, pointsPerSecond: number): Promise<Omit<InsertRow, 'rows' | 'insertUsPerPoint' | 'insertP99ChunkMs'>> {
  const metrics = new TelemetryMetrics(false);
  const store = new EmbeddedStore({ dataDir: dir, retentionMs: OPTIONS.retentionMs, rawWindowMs: OPTIONS.rawWindowMs, maxBytes: OPTIONS.maxBytes, rollups: rollupsOf(), sparkline: sparklineOf() }, metrics, silentLogger());
  const rss0 = process.memoryUsage().rss;
  await store.start();
  try {
    const idle = monitorEventLoopDelay({ resolution: 1 });
    idle.enable();
    await new Promise((r) => setTimeout(r, 3000));
    idle.disable();
    // Before the samples below are built (they live on this thread's heap).
    const rssMb = r1((process.memoryUsage().rss - rss0) / 1024 / 1024);
    const h = monitorEventLoopDelay({ resolution: 1 });
    const commits: number[] = [];
    let mainMs = 0;
    let written = 0;
    const every = 50;
    const perTick = Math.round((pointsPerSecond * every) / 1000);
    const pending: Promise<void>[] = [];
    const now = Date.now();
    const base = now - (now % MIN);
    // Samples are built per tick, a few targets' worth, as probes build them
    // (building a whole round up front filled this thread's heap and its
    // garbage collection showed up as lag).
    let next = 0;
    const nextBatch = (): AnySample[] => {
      const out: AnySample[] = [];
      while (out.length < perTick) {
        const i = next++;
        targetSlot(targets[i % targets.length]!, i % targets.length, base - Math.floor(i / targets.length) * MIN, out);
      }
      return out;
    };
    h.enable();
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const batch = nextBatch();
      const c0 = performance.now();
      const p = store.write(batch);
      mainMs += performance.now() - c0;
      written += batch.length;
      pending.push(p.then(() => void commits.push(performance.now() - c0)));
      await new Promise((r) => setTimeout(r, every));
    }
    await Promise.all(pending);
    h.disable();
    const elapsed = (performance.now() - t0) / 1000;
    return {
      lagIdleP99Ms: r1(idle.percentile(99) / 1e6),
      lagP50Ms: r1(h.percentile(50) / 1e6),
      lagP99Ms: r1(h.percentile(99) / 1e6),
      lagMaxMs: r1(h.max / 1e6),
      mainThreadUsPerPoint: r2((mainMs * 1000) / written),
      commitP99Ms: r1(pct(sortNum(commits), 99)),
      pointsPerSecond: Math.round(written / elapsed),
      rssMb,
    };
  } finally {
    await store.stop(Deadline.in(10_000));
  }
}

// --- 2. /api/points at 1 M rows -------------------------------------------------

function time<T>(fn: () => T, runs = 20): { median: number; max: number; value: T } {
  const ms: number[] = [];
  let value = fn(); // warm-up (page cache, prepared statements), not counted
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    value = fn();
    ms.push(performance.now() - t0);
  }
  const s = sortNum(ms);
  return { median: r2(pct(s, 50)), max: r2(s[s.length - 1]!), value };
}

// --- main ---------------------------------------------------------------------------

/** Run every part; returns the README section (markdown). */
/** The figures bench/run.ts judges in its Targets table. */
export interface StoreFigures {
  /** Insert cost and daemon-thread lag while writing, by raw rows already stored (empty first, largest last). */
  inserts: { rows: number; insertUsPerPoint: number; lagP99Ms: number }[];
  /** Size on disk at steady state for 10,000 targets x 7 days (extrapolated from the simulated week). */
  diskGiB10kWeek: number;
  /** Daemon-thread lag p99 while the worker sweeps ~1 M expired rows. */
  sweepLagP99Ms: number;
}

export async function benchStore(o: { quick: boolean }): Promise<{ markdown: string; figures: StoreFigures }> {
  const quick = o.quick;
  const root = mkdtempSync(join(tmpdir(), 'nt-bench-store-'));
  const out: string[] = [];
  const say = (line: string) => {
    out.push(line);
    console.error(line);
  };
  try {
    const now = Date.now();
    const T = quick ? 1000 : 10_000;
    const targets = names(T);
    const perSlot = slotSamples(targets, 0).length;
    const sizes = quick ? [0, 100_000] : [0, 1_000_000, 10_000_000];
    const lagSeconds = quick ? 5 : 15;
    const lagRate = 10_000;
    const inserts: InsertRow[] = [];
    let oneMillionDir: string | undefined;
    let fillRate = '';
    for (const size of sizes) {
      const dir = mkdtempSync(join(root, `s${size}-`));
      const slots = Math.ceil(size / perSlot);
      const s = openSim(dir, now - slots * MIN);
      if (slots) {
        const f = fill(s, targets, slots, now - MIN);
        fillRate = `${f.points} points in ${f.seconds} s (${Math.round(f.points / f.seconds)} points/s in one thread, maintenance ${f.maintenanceMsPer5m} ms per 5 minutes of data at ${T} targets)`;
        say(`filled ${rawRows(s.db)} raw rows: ${fillRate}`);
      }
      s.clock.now = now;
      const rows = rawRows(s.db);
      const ins = insertCost(s, targets, now);
      s.close();
      const lag = await lagWhileWriting(dir, targets, lagSeconds, lagRate);
      inserts.push({ rows, insertUsPerPoint: ins.us, insertP99ChunkMs: ins.p99, ...lag });
      say(`rows ${rows}: ${JSON.stringify(inserts.at(-1))}`);
      if (size === sizes[1]) oneMillionDir = dir;
      else rmSync(dir, { recursive: true, force: true });
    }

    // 2. /api/points at 1 M rows.
    const q = openSim(oneMillionDir!, Date.now());
    const t1 = targets[1234 % T]!;
    const queries: [string, () => unknown][] = [
      ['measurement=ping (last hour, newest 1000)', () => q.engine.query({ measurement: 'ping', limit: 1000 })],
      ['measurement=route (rarer)', () => q.engine.query({ measurement: 'route', limit: 1000 })],
      ['target=X', () => q.engine.query({ target: t1, limit: 1000 })],
      ['target=X&measurement=http', () => q.engine.query({ target: t1, measurement: 'http', limit: 1000 })],
      ['no filter', () => q.engine.query({ limit: 1000 })],
      ['measurement=ping&limit=10000', () => q.engine.query({ measurement: 'ping', limit: 10_000 })],
      ['measurement=hop&since=0 (whole raw window)', () => q.engine.query({ measurement: 'hop', sinceMs: 0, limit: 1000 })],
    ];
    const queryRows = queries.map(([name, fn]) => {
      const r = time(fn);
      return { name, ...r, points: (r.value as { points: unknown[] }).points.length };
    });
    const latestAll = time(() => q.engine.latest(), 5);
    const spark = time(() => q.engine.sparklines(targets.slice(0, 100)), 10);
    const sparkBytes = JSON.stringify(spark.value).length;
    const rows1m = rawRows(q.db);
    q.close();

    // 4. Retention sweep of ~1 M expired rows, by the worker.
    const sweepDir = mkdtempSync(join(root, 'sweep-'));
    const sw = openSim(sweepDir, now - 8 * HOUR);
    const sweepTargets = targets.slice(0, Math.min(T, 5000));
    const sweepSlots = Math.ceil((quick ? 100_000 : 1_000_000) / slotSamples(sweepTargets, 0).length);
    fill(sw, sweepTargets, sweepSlots, now - 7 * HOUR);
    const sweepRows = rawRows(sw.db);
    sw.close();
    const sweep = await sweepThroughWorker(sweepDir);
    rmSync(sweepDir, { recursive: true, force: true });

    // 3. A simulated week of N targets.
    const N = quick ? 20 : 100;
    const weekDir = mkdtempSync(join(root, 'week-'));
    const days = 7;
    const start = now - days * DAY - HOUR;
    const wk = openSim(weekDir, start);
    const weekTargets = names(N);
    const wf = fill(wk, weekTargets, days * 1440 + 60, now);
    wk.clock.now = now + 2 * MIN;
    wk.engine.maintainAll();
    wk.db.pragma('wal_checkpoint(TRUNCATE)');
    while ((wk.db.pragma('freelist_count', { simple: true }) as number) > 0) wk.db.pragma('incremental_vacuum(1000)');
    const file = (wk.db.pragma('page_count', { simple: true }) as number) * (wk.db.pragma('page_size', { simple: true }) as number);
    const tables = wk.db
      .prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC")
      .all() as { name: string; bytes: number }[];
    const target = weekTargets[7]!;
    const series = (['1 h', '24 h', '7 d'] as const).map((label) => {
      const from = now - { '1 h': HOUR, '24 h': DAY, '7 d': 7 * DAY }[label];
      const r = time(() => wk.engine.series({ target, fromMs: from, toMs: now }));
      return { label, median: r.median, max: r.max, tier: r.value.tier, buckets: r.value.buckets, bytes: JSON.stringify(r.value).length };
    });
    const routes = time(() => wk.engine.routes({ target }));
    wk.close();
    rmSync(weekDir, { recursive: true, force: true });

    // --- report -------------------------------------------------------------
    const perTarget = file / N;
    const lines = [
      `Measured ${new Date().toISOString().slice(0, 10)} with \`node --import tsx bench/store.ts${quick ? ' --quick' : ''}\` on this project's 2-core machine, shared with other work (load average ${loadavg()[0]!.toFixed(1)} at the end of the run), Node ${process.version}. Times are wall-clock: on a busy machine they include waiting for a core.`,
      '',
      `**Insert cost and event-loop lag** (${T} targets, ${perSlot} points per slot; writes of ${CHUNK} points; lag measured on the daemon thread while ${lagRate} points/s go through the worker for ${lagSeconds} s):`,
      '',
      '| raw rows | insert µs/point (worker) | p99 per 500-point write | daemon-thread µs/point | commit p99 | lag idle p99 | lag p50 / p99 / max while writing | RSS of the started worker |',
      '|---|---|---|---|---|---|---|---|',
      ...inserts.map((r) => `| ${r.rows.toLocaleString('en-US')} | ${r.insertUsPerPoint} | ${r.insertP99ChunkMs} ms | ${r.mainThreadUsPerPoint} | ${r.commitP99Ms} ms | ${r.lagIdleP99Ms} ms | ${r.lagP50Ms} / ${r.lagP99Ms} / ${r.lagMaxMs} ms | ${r.rssMb} MB |`),
      '',
      `Fill: ${fillRate}.`,
      '',
      `**/api/points at ${rows1m.toLocaleString('en-US')} raw rows** (engine time, median / max of 20 after one warm-up run; default window: the last hour):`,
      '',
      '| query | median | max | points |',
      '|---|---|---|---|',
      ...queryRows.map((r) => `| \`${r.name}\` | ${r.median} ms | ${r.max} ms | ${r.points} |`),
      '',
      `latest() for all ${T} targets: ${latestAll.median} ms (max ${latestAll.max}); sparklines() for 100 targets: ${spark.median} ms, ${sparkBytes} bytes of JSON.`,
      '',
      `**A week of ${N} targets** (${wf.points.toLocaleString('en-US')} points written in ${wf.seconds} s; maintenance ${wf.maintenanceMsPer5m} ms per 5 minutes of data):`,
      '',
      '| series() range | source | buckets | median | max | response |',
      '|---|---|---|---|---|---|',
      ...series.map((r) => `| ${r.label} | ${r.tier} | ${r.buckets} | ${r.median} ms | ${r.max} ms | ${(r.bytes / 1024).toFixed(1)} KiB |`),
      '',
      `routes(): ${routes.median} ms. Size on disk at steady state (raw ${OPTIONS.rawWindowMs / HOUR} h, 5-minute buckets 3 d, hourly 7 d, routes): ${MB(file)} for ${N} targets = ${Math.round(perTarget / 1024)} KiB per target, ${Math.round(perTarget / 7 / 1024)} KiB per target-day; **10,000 targets x 7 days: ${r1((perTarget * 10_000) / 1024 ** 3)} GiB** (extrapolated, linear in targets). By table: ${tables
        .slice(0, 8)
        .map((t) => `${t.name} ${MB(t.bytes * (10_000 / N))}`)
        .join(', ')} (at 10,000 targets).`,
      '',
      `**Retention sweep by the worker**: ${sweepRows.toLocaleString('en-US')} expired raw rows deleted in ${sweep.seconds} s; daemon-thread lag meanwhile p99 ${sweep.lagP99Ms} ms, max ${sweep.lagMaxMs} ms; the worker's maintenance: ${sweep.steps}, longest ${sweep.maxStepMs} ms (a write or query waits at most one step).`,
    ];
    return {
      markdown: `${lines.join('\n')}\n`,
      figures: {
        inserts: inserts.map((r) => ({ rows: r.rows, insertUsPerPoint: r.insertUsPerPoint, lagP99Ms: r.lagP99Ms })),
        diskGiB10kWeek: r1((perTarget * 10_000) / 1024 ** 3),
        sweepLagP99Ms: sweep.lagP99Ms,
      },
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export async function sweepThroughWorker(dir: string): Promise<{ seconds: number; lagP99Ms: number; lagMaxMs: number; maxStepMs: number; steps: string }> {
  const store = new EmbeddedStore({ dataDir: dir, retentionMs: OPTIONS.retentionMs, rawWindowMs: OPTIONS.rawWindowMs, maxBytes: OPTIONS.maxBytes, rollups: rollupsOf(), sparkline: sparklineOf() }, new TelemetryMetrics(false), silentLogger());
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  await store.start();
  let maxStep = 0;
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      maxStep = Math.max(maxStep, Number(store.health().maintenance_max_step_ms ?? 0));
      const left = await store.query({ sinceMs: 0, untilMs: Date.now() - 6 * HOUR, limit: 1 });
      if (left.points.length === 0) break;
      if (performance.now() - t0 > 600_000) throw new Error('sweep did not finish in 10 minutes');
    }
    await new Promise((r) => setTimeout(r, 1100)); // the last stats message
    maxStep = Math.max(maxStep, Number(store.health().maintenance_max_step_ms ?? 0));
    h.disable();
    const st = store.maintenanceSteps();
    const steps = st
      ? `${st.count} steps, ${st.over_10ms} over 10 ms, ${st.over_50ms} over 50 ms (longest by kind: ${Object.entries(st.max_ms_by_work)
          .map(([k, v]) => `${k} ${v} ms`)
          .join(', ')})`
      : 'no step report';
    return { seconds: r1((performance.now() - t0) / 1000), lagP99Ms: r1(h.percentile(99) / 1e6), lagMaxMs: r1(h.max / 1e6), maxStepMs: r1(Math.max(maxStep, st?.max_ms ?? 0)), steps };
  } finally {
    await store.stop(Deadline.in(10_000));
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log((await benchStore({ quick: process.argv.includes('--quick') })).markdown);
