import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

type Db = Database.Database;

/** How often the worker copies the WAL back into the database file. */
const CHECKPOINT_EVERY_MS = 1000;
/** SQLite's default: what a connection falls back to if the worker fails. */
const AUTOCHECKPOINT_PAGES = 1000;

/**
 * Moves SQLite's WAL checkpoints off the event loop. With the default
 * auto-checkpoint, the commit that crosses 1,000 WAL pages copies them into
 * the database file and fsyncs both files on the daemon's thread: at 10,000
 * targets that happened every few seconds and was the largest source of
 * event-loop stalls (one commit in a few hundred took ~40 ms on an idle disk,
 * far more under load). Connections registered here turn auto-checkpoint off
 * and one worker thread checkpoints every file each second instead. If the
 * worker fails, each connection goes back to auto-checkpoint: slower, never
 * an unbounded WAL.
 */
class WalCheckpointer {
  private worker?: Worker;
  /** File -> the daemon's connections to it (one in the daemon; tests reopen files). */
  private readonly dbs = new Map<string, Set<Db>>();

  add(db: Db): void {
    if (db.memory) return;
    db.pragma('wal_autocheckpoint = 0');
    const open = this.dbs.get(db.name);
    if (open) return void open.add(db);
    this.dbs.set(db.name, new Set([db]));
    this.startSoon(db.name);
  }

  /**
   * The worker starts one checkpoint period after the first file is added
   * (the first checkpoint was never due earlier), and then takes every file
   * added so far. Why: starting a worker thread (an isolate, its modules,
   * better-sqlite3) costs tens of ms of CPU; at start-up on 2 cores it ran
   * beside the first probes of `collect --once` and of the daemon, and
   * showed in their timings. A process that ends within the period (a
   * one-shot run) never starts it: closing the last connection checkpoints.
   */
  private startSoon(path: string): void {
    if (this.worker) return void this.worker.postMessage({ type: 'add', path });
    if (this.starting) return;
    this.starting = setTimeout(() => {
      this.starting = undefined;
      if (this.dbs.size === 0) return;
      const worker = this.ensureWorker();
      for (const path of this.dbs.keys()) worker.postMessage({ type: 'add', path });
    }, CHECKPOINT_EVERY_MS);
    this.starting.unref();
  }
  private starting?: NodeJS.Timeout;

  remove(db: Db): void {
    const open = this.dbs.get(db.name);
    if (!open?.delete(db) || open.size > 0) return;
    this.dbs.delete(db.name);
    this.worker?.postMessage({ type: 'remove', path: db.name });
    if (this.dbs.size === 0) {
      clearTimeout(this.starting);
      this.starting = undefined;
      void this.worker?.terminate();
      this.worker = undefined;
    }
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const here = import.meta.url;
    const workerData = { everyMs: CHECKPOINT_EVERY_MS };
    // From source (tests, npm run dev) the worker is TypeScript: Node 20 does
    // not apply `--import tsx` to workers, so the worker registers tsx itself.
    const worker = here.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(new URL('./wal-checkpoint-worker.ts', here).href)}); })`, { eval: true, workerData })
      : new Worker(new URL('./wal-checkpoint-worker.js', here), { workerData });
    worker.on('message', (m: { type: 'error'; path: string }) => this.fallBack(m.path));
    worker.on('error', () => this.failAll(worker));
    worker.on('exit', () => this.failAll(worker));
    // After the listeners: attaching a 'message' listener refs the worker again.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** One file the worker cannot checkpoint: its own connection does it again. */
  private fallBack(path: string): void {
    for (const db of this.dbs.get(path) ?? []) if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    this.dbs.delete(path);
  }

  private failAll(worker: Worker): void {
    if (this.worker !== worker) return; // terminated on purpose
    this.worker = undefined;
    for (const path of [...this.dbs.keys()]) this.fallBack(path);
  }
}

export const walCheckpointer = new WalCheckpointer();
