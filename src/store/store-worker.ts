/**
 * Worker thread owning the store's write connection (see embedded-store.ts
 * for why). Writes, queries and maintenance all run here, one at a time;
 * maintenance is cut into units of a few milliseconds with a yield after
 * each, so a write or a query waits at most one unit.
 */
import Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { Deadline } from '../lifecycle/component.js';
import { SupervisedLoop } from '../lifecycle/supervised-loop.js';
import { pageCacheBytes } from '../sqlite/sqlite-db.js';
import { turnOfTheLoop } from '../util/turn.js';
import { StoreEngine } from './store-engine.js';
import { CALLS, toWire, type CallName, type FromWorker, type MaintenanceSteps, type ToWorker, type WorkerInit } from './worker-protocol.js';

/** Maintenance runs at least this often (rollups are due every 5 minutes, retention hourly). */
const MAINTENANCE_EVERY_MS = 5000;
/**
 * With a backlog (after downtime, a large sweep, the import of a previous
 * store) maintenance works this long, then rests REST_MS: a tenth of a core,
 * and a WAL the checkpointer thread keeps under its bound. Back to back, a
 * sweep of a million expired rows outgrew the checkpointer and this thread
 * checkpointed (fsync) itself: steps of up to 200 ms; at a tenth, none over
 * 50 ms (bench/store.ts). Steady state needs far less: rollups of 10,000
 * targets take ~1.4 s of work per 5 minutes.
 */
const TICK_BUDGET_MS = 100;
const REST_MS = 900;
const STATS_EVERY_MS = 1000;

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: FromWorker) => port.postMessage(m);

let engine: StoreEngine;
let db: Database.Database;
try {
  db = new Database(init.path, { fileMustExist: true });
  // Waiting for a lock blocks this thread only, never the daemon's loop.
  db.pragma('busy_timeout = 2000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`journal_size_limit = ${init.options.walAllowanceBytes}`);
  // The daemon's WAL checkpointer (src/sqlite) checkpoints this file every
  // second from its own thread; checkpointing here too (SQLite's default at
  // 1,000 pages) made a maintenance step wait for an fsync now and then.
  // Kept as the fallback at the WAL's share of EMBEDDED_MAX_BYTES.
  db.pragma(`wal_autocheckpoint = ${Math.max(1000, Math.floor(init.options.walAllowanceBytes / 4096))}`);
  engine = new StoreEngine(db, init.options, {
    onDropped: (reason, points) => post({ type: 'dropped', reason, points }),
    log: (level, msg, fields) => post({ type: 'log', level, msg, fields }),
  });
} catch (err) {
  post({ type: 'fatal', error: toWire(err) });
  throw err;
}

let maxStepMs = 0;
/** Every step since start: how many, how many over 10 and 50 ms, the longest of each kind. */
const steps: MaintenanceSteps = { count: 0, over_10ms: 0, over_50ms: 0, max_ms: 0, max_ms_by_work: {} };
const maintenance = new SupervisedLoop(
  {
    name: 'store-maintenance',
    periodMs: MAINTENANCE_EVERY_MS,
    tick: async (signal) => {
      const t0 = performance.now();
      while (!signal.aborted) {
        const s0 = performance.now();
        const work = engine.maintain();
        const ms = Math.round((performance.now() - s0) * 10) / 10;
        maxStepMs = Math.max(maxStepMs, ms);
        if (!work) return;
        steps.count++;
        if (ms > 10) steps.over_10ms++;
        if (ms > 50) steps.over_50ms++;
        steps.max_ms = Math.max(steps.max_ms, ms);
        steps.max_ms_by_work[work] = Math.max(steps.max_ms_by_work[work] ?? 0, ms);
        await turnOfTheLoop(); // the daemon's calls (series, latest...) are answered between steps
        if (performance.now() - t0 > TICK_BUDGET_MS) return REST_MS;
      }
    },
  },
  { error: (component, err, message) => post({ type: 'error', component, error: toWire(err), message }) },
);

const calls: Record<CallName, (...args: never[]) => unknown> = {
  query: (q) => engine.query(q),
  series: (q) => engine.series(q),
  routes: (q) => engine.routes(q),
  sparklines: (targets, o) => engine.sparklines(targets, o),
  latest: (targets) => engine.latest(targets),
};

const stats = setInterval(() => {
  try {
    const heap = getHeapStatistics();
    const memory = { heap_used_bytes: heap.used_heap_size, heap_size_bytes: heap.total_heap_size, page_cache_max_bytes: pageCacheBytes(db) };
    post({ type: 'stats', stats: engine.stats(), maintenance: maintenance.health(), max_step_ms: Math.round(maxStepMs * 10) / 10, steps, memory });
    maxStepMs = 0;
  } catch (err) {
    post({ type: 'error', component: 'store', error: toWire(err), message: 'store statistics failed' });
  }
}, STATS_EVERY_MS);

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'write':
      try {
        post({ type: 'written', id: m.id, points: engine.write(m.samples) });
      } catch (err) {
        post({ type: 'failed', id: m.id, error: toWire(err) });
      }
      return;
    case 'call':
      try {
        if (!CALLS.includes(m.op)) throw new Error(`unknown store call ${m.op}`);
        post({ type: 'result', id: m.id, value: (calls[m.op] as (...a: unknown[]) => unknown)(...m.args) });
      } catch (err) {
        post({ type: 'failed', id: m.id, error: toWire(err) });
      }
      return;
    case 'stop':
      void stop();
  }
});

async function stop(): Promise<void> {
  clearInterval(stats);
  await maintenance.stop(Deadline.in(2000));
  try {
    db.close();
  } finally {
    post({ type: 'stopped' });
    port.close();
  }
}

maintenance.start();
post({ type: 'ready' });
