import type Database from 'better-sqlite3';
import { otherSchemaError, type Db } from '../sqlite/sqlite-db.js';
import type { RollupSpec } from '../samples/rollup.js';
import { TIERS, kindColumns, tableOf } from './rollup-spec.js';

/**
 * The store's tables (DATA_DIR/store.db). Layout, and why:
 *
 * raw (mid, ts, tid, sid) WITHOUT ROWID — every point of the raw window.
 *   The key starts with the measurement, then the slot time: new points land
 *   in the current slot of their measurement (a small, hot region), retention
 *   deletes from the start of each range, and a measurement-only query
 *   (/api/points?measurement=) is one key range. Identity is (measurement,
 *   series, time), as in InfluxDB (tid follows from sid): INSERT OR REPLACE
 *   makes a slot collected twice one point.
 * times (ts) — each distinct point time once. A per-target read walks the
 *   times of its range and seeks (mid, ts, tid) for each: one seek per slot,
 *   whatever else is stored. This replaces an index on (tid, ts), whose
 *   inserts land in a different page for every target: at 10,000 targets that
 *   index cost a WAL page write per point (24 µs against 14 without it,
 *   measured side by side) and ~350 MB at 10,000 targets x 7 days.
 * raw.f — the fields as a JSON array in the measurement's field order
 *   (`measurements.fields`, append-only so positions never move): a third
 *   of the bytes of a JSON object, and still readable by json_extract.
 * series — tags once per series instead of once per point.
 * <rollup>_<tier> (tid, sub, b) — rollup buckets, one table per rollup a probe
 *   declares (samples/rollup.ts, SQL in rollup-spec.ts).
 * latest (tid, mid, sub) — the last point of each measurement per target,
 *   with `since` (when its success last flipped): the overview's state.
 * routes (tid, hash), route_changes (tid, ts) — route history for the whole
 *   retention without keeping hop points: each confirmed route once, with
 *   first/last seen and its hops as last measured; each confirmed change at
 *   the time of the first trace that saw it, with its TTL-by-TTL diff.
 * dirty — buckets already rolled up that received a late point; rolled up
 *   again (in the same transaction as the point, so a crash loses no mark).
 * meta — rollup watermarks and import progress.
 *
 * auto_vacuum = INCREMENTAL so pages freed by retention go back to the file
 * system a few at a time (EMBEDDED_MAX_BYTES bounds the file, not just the
 * rows); it must be chosen before the first table, hence the VACUUM of the
 * empty file.
 */
/**
 * The layout of the tables below (PRAGMA user_version; 0: a fresh file). A
 * file of another layout is refused with what to do, as the outbox does: no
 * released version wrote one, so there is nothing to migrate.
 */
export const SCHEMA_VERSION = 2;

/** A prepared statement taking positional parameters. */
export type Statement = Database.Statement<unknown[]>;

export function createSchema(db: Db, kinds: readonly RollupSpec[]): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version === 0) createBaseTables(db);
  else if (version !== SCHEMA_VERSION) throw otherSchemaError(db, version, SCHEMA_VERSION);
  createRollupTables(db, kinds);
}

function createBaseTables(db: Db): void {
  const empty = !db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table'").get();
  if (empty && Number(db.pragma('auto_vacuum', { simple: true })) !== 2) {
    db.pragma('auto_vacuum = INCREMENTAL');
    db.exec('VACUUM');
  }
  db.transaction(() => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS measurements (mid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, fields TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS targets (tid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS series (
        sid INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        mid INTEGER NOT NULL,
        tid INTEGER NOT NULL,
        sub TEXT NOT NULL,
        adhoc INTEGER NOT NULL,
        tags TEXT NOT NULL,
        last_ts INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS series_tid ON series (tid, mid);
      CREATE TABLE IF NOT EXISTS raw (
        mid INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        tid INTEGER NOT NULL,
        sid INTEGER NOT NULL,
        f TEXT NOT NULL,
        PRIMARY KEY (mid, ts, tid, sid)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS times (ts INTEGER PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS latest (
        tid INTEGER NOT NULL, mid INTEGER NOT NULL, sub TEXT NOT NULL,
        ts INTEGER NOT NULL, f TEXT NOT NULL, ok INTEGER, since INTEGER NOT NULL,
        PRIMARY KEY (tid, mid, sub)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS routes (
        tid INTEGER NOT NULL, hash TEXT NOT NULL,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
        hop_count INTEGER, reached INTEGER, path TEXT, hops TEXT NOT NULL,
        PRIMARY KEY (tid, hash)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS routes_seen ON routes (tid, last_seen);
      CREATE TABLE IF NOT EXISTS route_changes (
        tid INTEGER NOT NULL, ts INTEGER NOT NULL, from_hash TEXT, to_hash TEXT NOT NULL, diff TEXT,
        PRIMARY KEY (tid, ts)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS dirty (tier TEXT NOT NULL, tid INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (tier, tid, b)) WITHOUT ROWID;
    `);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

/**
 * A table per rollup and tier, at every start: the rollups come from the
 * probe modules, so a probe added since the last start gets its tables and
 * an aggregate added to a rollup gets its column (NULL in older buckets,
 * drawn as "no data"). Columns a module no longer declares are left alone.
 */
function createRollupTables(db: Db, kinds: readonly RollupSpec[]): void {
  db.transaction(() => {
    for (const k of kinds) {
      const cols = kindColumns(k);
      for (const t of TIERS) {
        const table = tableOf(k, t);
        db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
          tid INTEGER NOT NULL, sub TEXT NOT NULL, b INTEGER NOT NULL,
          ${cols.map((c) => `${c} INTEGER`).join(', ')},
          PRIMARY KEY (tid, sub, b)
        ) WITHOUT ROWID`);
        const have = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
        for (const c of cols) if (!have.has(c)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${c} INTEGER`);
      }
    }
  })();
}

export function getMeta(db: Db, key: string): number | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: number } | undefined;
  return row?.value;
}

export function setMeta(db: Db, key: string, value: number): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
}
