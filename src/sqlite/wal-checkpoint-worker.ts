/**
 * Worker thread: checkpoints the daemon's SQLite WAL files off the event loop
 * (see wal-checkpointer.ts). Its own connection per file; a PASSIVE checkpoint
 * never waits for the daemon's writer and never blocks it.
 *
 * Messages in: {type:'add', path} | {type:'remove', path}.
 * Messages out: {type:'error', path, message} (the daemon logs it and falls
 * back to checkpointing that file itself).
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

const everyMs = (workerData as { everyMs: number }).everyMs;
const dbs = new Map<string, Database.Database>();

parentPort!.on('message', (m: { type: 'add' | 'remove'; path: string }) => {
  if (m.type === 'add') {
    if (dbs.has(m.path)) return;
    try {
      dbs.set(m.path, new Database(m.path, { fileMustExist: true }));
    } catch (err) {
      parentPort!.postMessage({ type: 'error', path: m.path, message: (err as Error).message });
    }
  } else {
    dbs.get(m.path)?.close();
    dbs.delete(m.path);
  }
});

setInterval(() => {
  for (const [path, db] of dbs) {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch (err) {
      dbs.delete(path);
      try {
        db.close();
      } catch {
        // already unusable
      }
      parentPort!.postMessage({ type: 'error', path, message: (err as Error).message });
    }
  }
}, everyMs);
