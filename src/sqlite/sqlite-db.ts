import Database from 'better-sqlite3';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { StartupError } from '../lifecycle/startup-error.js';
import { walCheckpointer } from './wal-checkpointer.js';

export type Db = Database.Database;

export interface OpenOptions {
  /**
   * FULL: a commit is on disk before it returns (the outbox: what it
   * acknowledges survives power loss). NORMAL (default): in WAL mode never
   * corrupts, survives a killed process, and may lose the last commits on
   * power loss (the embedded store, state).
   */
  synchronous?: 'NORMAL' | 'FULL';
  /**
   * How long a statement waits for a lock another connection holds. Short by
   * default: better-sqlite3 waits on the event loop's thread, so a long
   * timeout stalls the whole daemon. Writers retry asynchronously on
   * SQLITE_BUSY instead (see isBusy).
   */
  busyTimeoutMs?: number;
  /** Truncate the WAL back to this size after checkpoints (bytes). */
  journalSizeLimit?: number;
  /**
   * Bound of this connection's page cache, KiB (PRAGMA cache_size = -N).
   * Default 2 MiB, SQLite's own default: better-sqlite3 compiles SQLite
   * with 16 MiB per connection, and every connection's cache fills up to
   * its bound as pages are read, never shrinking (see docs/sizing.md).
   */
  cacheKiB?: number;
  log?: Logger;
  /**
   * Called with the path a corrupt file was moved to, before a fresh one is
   * created in its place (the outbox salvages readable rows from it).
   */
  onSetAside?: (movedTo: string) => void;
}

const DEFAULT_BUSY_MS = 50;
const DEFAULT_CACHE_KIB = 2048;
/** The connections openDb opened and closeDb has not closed (their page cache bounds are a gauge). */
const open = new Set<Db>();

/** Page cache bound of a connection in bytes (PRAGMA cache_size: negative is KiB, positive is pages). */
export function pageCacheBytes(db: Db): number {
  const size = Number(db.pragma('cache_size', { simple: true }));
  return size < 0 ? -size * 1024 : size * Number(db.pragma('page_size', { simple: true }));
}

/** Every connection openDb opened and closeDb has not closed yet, by file name. */
export function openConnections(): { file: string; cacheBytes: number }[] {
  return [...open].filter((db) => db.open).map((db) => ({ file: basename(db.name), cacheBytes: pageCacheBytes(db) }));
}
const DEFAULT_JOURNAL_LIMIT = 64 * 1024 * 1024;

/**
 * mkdir -p, one level at a time. Node's `recursive: true` loops forever
 * (100 % CPU, deaf to SIGTERM) when the file system refuses a directory
 * under an existing parent with ENOENT, as /proc does (DATA_DIR=/proc/data).
 */
function makeDirs(abs: string): void {
  const missing: string[] = [];
  for (let d = abs; !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) mkdirSync(d, { mode: 0o700 });
}

/**
 * DATA_DIR must be a writable directory: create it if missing, otherwise say
 * in one line what is wrong with it (StartupError naming DATA_DIR).
 */
export function ensureDataDir(dataDir: string): void {
  const abs = resolve(dataDir);
  if (existsSync(abs) && !statSync(abs).isDirectory()) {
    throw new StartupError('DATA_DIR', `${abs} is a file, not a directory: set DATA_DIR to a directory the daemon can write`);
  }
  try {
    makeDirs(abs);
  } catch (err) {
    throw new StartupError('DATA_DIR', `cannot create ${abs} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): create it, or set DATA_DIR to a writable directory`);
  }
  // access() says yes to root even on a read-only mount: try a real write.
  const probe = join(abs, `.write-test-${process.pid}`);
  try {
    accessSync(abs, constants.W_OK);
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const who = process.getuid ? `uid ${process.getuid()}` : 'this user';
    const why = code === 'EROFS' ? 'is on a read-only file system' : code === 'ENOSPC' ? 'has no space left' : `is not writable by ${who} (${code})`;
    throw new StartupError('DATA_DIR', `${abs} ${why}: fix it, or set DATA_DIR to a writable directory`);
  }
}

/**
 * Open (or create) a SQLite database under DATA_DIR, in WAL mode, with its
 * checkpoints in a worker thread (wal-checkpointer.ts). A file that is not a
 * database or is corrupt is moved aside as NAME.corrupt-<time> and a fresh
 * one created: the daemon keeps running and says what it set aside. Problems
 * the operator must fix are StartupErrors naming DATA_DIR. Close with closeDb.
 */
export function openDb(dataDir: string, file: string, o: OpenOptions = {}): Db {
  ensureDataDir(dataDir);
  const path = join(resolve(dataDir), file);
  privateFile(path);
  try {
    return configure(new Database(path), o);
  } catch (err) {
    if (!isCorrupt(err)) throw explain(err, path);
    const movedTo = setAside(path);
    o.log?.warn({ file: path, moved_to: movedTo, error: (err as Error).message }, 'database file is corrupt or not a database: set aside, starting a fresh one');
    o.onSetAside?.(movedTo);
    try {
      return configure(new Database(path), o);
    } catch (err2) {
      throw explain(err2, path);
    }
  }
}

/**
 * The file readable by the daemon's user only (0600), created so if missing
 * (an empty file is an empty database); SQLite gives its -wal and -shm files
 * the database file's mode. The measurements and the outbox's credentials-
 * bearing URLs are nobody else's business.
 */
function privateFile(path: string): void {
  try {
    if (!existsSync(path)) writeFileSync(path, '', { mode: 0o600, flag: 'wx' });
    else if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  } catch {
    // Not ours to change (another owner, a read-only mount): opening it says what is wrong.
  }
}

function configure(db: Db, o: OpenOptions): Db {
  try {
    db.pragma(`busy_timeout = ${o.busyTimeoutMs ?? DEFAULT_BUSY_MS}`);
    db.pragma('journal_mode = WAL'); // the first statement that reads the file: a non-database fails here
    db.pragma(`synchronous = ${o.synchronous ?? 'NORMAL'}`);
    db.pragma(`journal_size_limit = ${o.journalSizeLimit ?? DEFAULT_JOURNAL_LIMIT}`);
    db.pragma(`cache_size = -${o.cacheKiB ?? DEFAULT_CACHE_KIB}`);
    db.pragma('schema_version'); // a corrupt header fails here
  } catch (err) {
    db.close();
    throw err;
  }
  walCheckpointer.add(db);
  open.add(db);
  return db;
}

export function closeDb(db: Db): void {
  open.delete(db);
  walCheckpointer.remove(db);
  if (db.open) db.close();
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

/** Another connection holds the lock: retry later, nothing is wrong with the data. */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code?.startsWith('SQLITE_BUSY_') === true;
}

/** The disk is full (SQLITE_FULL, or ENOSPC from the file system). */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code?.startsWith('SQLITE_IOERR') === true && /space|full/i.test((err as Error).message);
}

/** The file is not a database, or a page of it is damaged. */
export function isCorrupt(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? '';
  return code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT');
}

/** Move the database and its WAL/SHM aside (close it first); returns the new path of the main file. */
export function setAside(path: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const movedTo = `${path}.corrupt-${stamp}`;
  renameSync(path, movedTo);
  for (const ext of ['-wal', '-shm']) {
    if (existsSync(path + ext)) renameSync(path + ext, movedTo + ext);
  }
  return movedTo;
}

/** SQLite's errors name neither the file nor the setting: add both. */
function explain(err: unknown, path: string): Error {
  const code = (err as { code?: string })?.code ?? '';
  if (code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_READONLY_') || code.startsWith('SQLITE_CANTOPEN_')) {
    return new StartupError('DATA_DIR', `cannot open ${path} for writing (${code}): fix the file's permissions, or set DATA_DIR to a writable directory`);
  }
  if (isDiskFull(err)) return new StartupError('DATA_DIR', `no space left for ${path}: free space, or set DATA_DIR to a larger file system`);
  return err as Error;
}

/** A database file of a layout this daemon does not read (PRAGMA user_version): one line naming DATA_DIR, the file left as it is. */
export function otherSchemaError(db: Db, version: number, expected: number): StartupError {
  return new StartupError('DATA_DIR', `${db.name} has schema version ${version}, not this daemon's ${expected}: run the version that wrote it, or move the file away`);
}
