import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { walCheckpointer } from './wal-checkpointer.js';

export type Db = Database.Database;

/**
 * Open (or create) a SQLite database under DATA_DIR. WAL keeps readers off the
 * writer's back; synchronous=NORMAL in WAL mode never corrupts and loses at
 * most the last transactions on power loss — not on a process crash, which is
 * what SIGKILL is. Checkpoints run in a worker thread (wal-checkpointer.ts);
 * close with closeDb.
 */
export function openDb(dataDir: string, file: string): Db {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, file));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  walCheckpointer.add(db);
  return db;
}

export function closeDb(db: Db): void {
  walCheckpointer.remove(db);
  db.close();
}

/** Can this database take a write lock right now? (readiness) */
export function canWrite(db: Db): boolean {
  try {
    db.prepare('BEGIN IMMEDIATE').run();
    db.prepare('ROLLBACK').run();
    return true;
  } catch {
    return false;
  }
}
