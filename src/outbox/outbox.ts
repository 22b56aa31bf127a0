import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Statement } from 'better-sqlite3';
import { otherSchemaError, type Db } from '../sqlite/sqlite-db.js';
import { Encoding } from './stored-point.js';

export interface OutboxRow {
  seq: number;
  enc: number;
  body: string;
}

export interface DropReport {
  points: number;
  bytes: number;
}

/** The rows of a request whose outcome is unknown (sent, no definite answer yet). */
export interface InflightRange {
  lo: number;
  hi: number;
}

export interface OutboxOptions {
  /** OUTBOX_MAX_BYTES: the database file plus its WAL on disk. */
  maxBytes: number;
  log?: Logger;
}

/** Schema version in PRAGMA user_version (0: a fresh file). */
const SCHEMA_VERSION = 2;

/**
 * The part of OUTBOX_MAX_BYTES kept for the WAL (its journal_size_limit): an
 * eighth, between 64 KiB and 64 MiB. The main file gets the rest.
 */
export function walReserve(maxBytes: number): number {
  return Math.min(64 * 1024 * 1024, Math.max(64 * 1024, Math.floor(maxBytes / 8)));
}

/**
 * The durable outbox: transport-neutral points in SQLite (DATA_DIR/outbox.db),
 * each with a sequence number, and one cursor per endpoint saying up to where
 * that endpoint acknowledged. A row leaves only when every endpoint is past
 * it, or when the disk bound forces the oldest out (counted, never silent).
 *
 * Why SQLite rather than segment files: one transaction per round gives
 * all-or-nothing commits, WAL survives a killed process, and per-endpoint
 * cursors are a row each. Segment files would need that recovery code
 * written and tested by hand.
 *
 * Rows are only ever removed from the low end, so the live rows are exactly
 * the sequence numbers (tail, head]: counts come from arithmetic, not count(*).
 *
 * Disk bound (OUTBOX_MAX_BYTES counts the files, WAL included): the WAL gets
 * walReserve() as its journal_size_limit (and is checkpointed with TRUNCATE
 * by maintain() when it outgrows it); the main file gets the rest. The file
 * is in auto_vacuum=INCREMENTAL mode, so pages freed by deletes go back to
 * the file system (incremental_vacuum) instead of staying at the high-water
 * mark of the longest outage. After every append the main file is back under
 * its share, the oldest rows dropped if need be.
 */
export class Outbox {
  private insert!: Statement;
  private insertAt!: Statement;
  private readAfter!: Statement;
  private saveCursor!: Statement;
  private saveInflight!: Statement;
  private deleteUpTo!: Statement;
  private oldestTs!: Statement;
  private sizeUpTo!: Statement;
  private readForHandoff!: Statement;
  private releaseTx!: (upTo: number) => void;
  private appendMany!: (bodies: readonly string[], now: number) => void;
  private ackTx!: (endpoint: string, seq: number, low: number | undefined) => void;
  private head = 0;
  private tail = 0;
  private bytes = 0;
  private pageSize = 4096;
  private incremental = false;
  private readonly cursors = new Map<string, number>();
  private readonly inflights = new Map<string, InflightRange>();
  readonly walReserveBytes: number;

  constructor(
    private readonly db: Db,
    private readonly o: OutboxOptions,
  ) {
    this.walReserveBytes = walReserve(o.maxBytes);
  }

  /**
   * Create or migrate the schema and load the counters. Reads every row's
   * size once, which is also where a damaged table shows (SQLITE_CORRUPT):
   * the caller sets the file aside and salvages (see OutboxSink).
   */
  open(): this {
    const db = this.db;
    db.pragma(`journal_size_limit = ${this.walReserveBytes}`);
    this.createOrCheck();
    this.pageSize = Number(db.pragma('page_size', { simple: true }));
    this.incremental = Number(db.pragma('auto_vacuum', { simple: true })) === 2;
    this.insert = db.prepare('INSERT INTO outbox (body, bytes, ts_ms, enc) VALUES (?, ?, ?, ?)');
    this.insertAt = db.prepare('INSERT INTO outbox (body, bytes, ts_ms, enc) VALUES (?, ?, ?, ?)');
    this.readAfter = db.prepare('SELECT seq, enc, body FROM outbox WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?');
    this.saveCursor = db.prepare(
      'INSERT INTO cursors (endpoint, acked, inflight_lo, inflight_hi) VALUES (?, ?, NULL, NULL) ON CONFLICT(endpoint) DO UPDATE SET acked = excluded.acked, inflight_lo = NULL, inflight_hi = NULL',
    );
    this.saveInflight = db.prepare('UPDATE cursors SET inflight_lo = ?, inflight_hi = ? WHERE endpoint = ?');
    this.deleteUpTo = db.prepare('DELETE FROM outbox WHERE seq <= ?');
    this.oldestTs = db.prepare('SELECT ts_ms FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1');
    this.sizeUpTo = db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM outbox WHERE seq > ? AND seq <= ?');
    this.readForHandoff = db.prepare('SELECT seq, enc, body, ts_ms FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?');
    this.releaseTx = db.transaction((upTo: number) => {
      for (const [e, c] of this.cursors) if (c < upTo) this.saveCursor.run(e, upTo);
      this.deleteUpTo.run(upTo);
    });
    this.appendMany = db.transaction((bodies: readonly string[], now: number) => {
      for (const body of bodies) {
        const b = Buffer.byteLength(body);
        this.head = Number(this.insert.run(body, b, now, Encoding.JSON).lastInsertRowid);
        this.bytes += b;
      }
    });
    // The cursor and the rows nobody needs any more go in one transaction (one fsync).
    this.ackTx = db.transaction((endpoint: string, seq: number, low: number | undefined) => {
      this.saveCursor.run(endpoint, seq);
      if (low !== undefined) this.deleteUpTo.run(low);
    });
    const stats = db.prepare('SELECT min(seq) AS lo, max(seq) AS hi, coalesce(sum(bytes), 0) AS b FROM outbox').get() as { lo: number | null; hi: number | null; b: number };
    const seqRow = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").get() as { seq: number } | undefined;
    this.head = Math.max(stats.hi ?? 0, seqRow?.seq ?? 0);
    this.tail = stats.lo === null ? this.head : stats.lo - 1;
    this.bytes = stats.b;
    for (const r of db.prepare('SELECT endpoint, acked, inflight_lo, inflight_hi FROM cursors').all() as { endpoint: string; acked: number; inflight_lo: number | null; inflight_hi: number | null }[]) {
      this.cursors.set(r.endpoint, r.acked);
      if (r.inflight_lo !== null && r.inflight_hi !== null) this.inflights.set(r.endpoint, { lo: r.inflight_lo, hi: r.inflight_hi });
    }
    return this;
  }

  /**
   * A fresh file gets the tables, in auto_vacuum=INCREMENTAL. A file of
   * another schema version is refused with what to do: no released version
   * wrote another, so there is nothing to migrate.
   */
  private createOrCheck(): void {
    const db = this.db;
    const version = Number(db.pragma('user_version', { simple: true }));
    if (version === SCHEMA_VERSION) return;
    const hasOutbox = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'").get() !== undefined;
    if (hasOutbox || version !== 0) throw otherSchemaError(db, version, SCHEMA_VERSION);
    // Takes effect on a file without pages only; openDb wrote the header (WAL mode), so VACUUM (empty: instant).
    db.pragma('auto_vacuum = INCREMENTAL');
    db.exec('VACUUM');
    db.exec(`
      CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        body TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL,
        enc INTEGER NOT NULL
      );
      CREATE TABLE cursors (
        endpoint TEXT PRIMARY KEY,
        acked INTEGER NOT NULL,
        inflight_lo INTEGER,
        inflight_hi INTEGER
      );
      PRAGMA user_version = ${SCHEMA_VERSION};
    `);
  }

  /** Points held (pending for at least one endpoint). */
  get points(): number {
    return this.head - this.tail;
  }
  /** Bytes of the stored bodies (what the rows hold, without SQLite's pages). */
  get bodyBytes(): number {
    return this.bytes;
  }
  get lastSeq(): number {
    return this.head;
  }

  /** The files on disk now: outbox.db and its WAL. */
  fileBytes(): number {
    return fileSize(this.db.name) + fileSize(`${this.db.name}-wal`);
  }

  /**
   * What the bound counts as used (telemetry_outbox_bytes): the pages of
   * outbox.db in use, and the WAL. Free pages left by a drained backlog are
   * not "full" (the next points reuse them; maintain() gives them back).
   */
  usedBytes(): number {
    const p = this.pages();
    return (p.total - p.free) * this.pageSize + fileSize(`${this.db.name}-wal`);
  }

  /**
   * Commit encoded points in one transaction; then enforce the disk bound,
   * oldest first. Returns what the bound pushed out.
   */
  append(bodies: readonly string[], now = Date.now()): DropReport {
    if (bodies.length) this.appendMany(bodies, now);
    return this.enforceBound();
  }

  /** Salvage: append rows read from a damaged file, in their order, with their encoding. */
  restore(rows: readonly (OutboxRow & { bytes: number; ts_ms: number })[]): void {
    this.db.transaction(() => {
      for (const r of rows) {
        this.head = Number(this.insertAt.run(r.body, r.bytes, r.ts_ms, r.enc).lastInsertRowid);
        this.bytes += r.bytes;
      }
    })();
  }

  /**
   * Rows handed over by a replica that left the cluster: appended as new
   * rows (every endpoint gets them), in one transaction, keeping their
   * encoding and the time they were first stored; then the disk bound.
   */
  adopt(rows: readonly { enc: number; body: string; ts_ms: number }[]): DropReport {
    this.restore(rows.map((r) => ({ seq: 0, enc: r.enc, body: r.body, bytes: Buffer.byteLength(r.body), ts_ms: r.ts_ms })));
    return this.enforceBound();
  }

  /** The oldest row any endpoint still needs is after this sequence number. */
  lowestCursor(): number {
    return this.cursors.size ? Math.min(...[...this.cursors.values()].map((c) => Math.max(c, this.tail))) : this.head;
  }

  /** Rows after `seq`, oldest first, with the time each was stored (the hand-off reads them). */
  rowsAfter(seq: number, limit: number): (OutboxRow & { ts_ms: number })[] {
    return this.readForHandoff.all(seq, limit) as (OutboxRow & { ts_ms: number })[];
  }

  /**
   * Rows up to `upTo` are someone else's now (handed over to the cluster):
   * every cursor moves past them and they go, in one transaction.
   */
  release(upTo: number): void {
    if (upTo <= this.tail) return;
    const gone = this.measure(upTo);
    this.releaseTx(upTo);
    for (const [e, c] of this.cursors) if (c < upTo) this.cursors.set(e, upTo);
    this.inflights.clear();
    this.forget(upTo, gone);
  }

  /** Salvage: cursors of the old file. */
  restoreCursors(cursors: readonly { endpoint: string; acked: number }[]): void {
    for (const c of cursors) {
      this.saveCursor.run(c.endpoint, c.acked);
      this.cursors.set(c.endpoint, c.acked);
    }
  }

  /** Register an endpoint; a new one starts at the oldest point held (it gets the whole backlog). */
  register(endpoint: string): void {
    if (!this.cursors.has(endpoint)) {
      this.saveCursor.run(endpoint, this.tail);
      this.cursors.set(endpoint, this.tail);
    }
  }

  /** Forget endpoints no longer configured, so their cursors do not pin rows forever. */
  retain(endpoints: readonly string[]): void {
    for (const e of [...this.cursors.keys()]) {
      if (!endpoints.includes(e)) {
        this.db.prepare('DELETE FROM cursors WHERE endpoint = ?').run(e);
        this.cursors.delete(e);
        this.inflights.delete(e);
      }
    }
    const low = this.lowWater();
    if (low !== undefined) {
      const gone = this.measure(low);
      this.deleteUpTo.run(low);
      this.forget(low, gone);
    }
  }

  cursor(endpoint: string): number {
    return Math.max(this.cursors.get(endpoint) ?? this.tail, this.tail);
  }

  pending(endpoint: string): number {
    return this.head - this.cursor(endpoint);
  }

  /** The next rows for an endpoint, oldest first, none past `upTo`. */
  next(endpoint: string, limit: number, upTo = this.head): OutboxRow[] {
    return this.readAfter.all(this.cursor(endpoint), upTo, limit) as OutboxRow[];
  }

  /** The request in flight when the endpoint last stopped without a definite answer. */
  inflight(endpoint: string): InflightRange | undefined {
    const r = this.inflights.get(endpoint);
    if (!r) return undefined;
    const lo = Math.max(r.lo, this.cursor(endpoint) + 1);
    return lo <= r.hi ? { lo, hi: r.hi } : undefined;
  }

  /**
   * Remember, before sending, which rows a request carries: after a crash or
   * a timeout the same rows go again first, and a receiver that refuses them
   * as already stored tells us they arrived (see EndpointWriter).
   */
  setInflight(endpoint: string, range: InflightRange): void {
    const cur = this.inflights.get(endpoint);
    if (cur && cur.lo === range.lo && cur.hi === range.hi) return;
    this.saveInflight.run(range.lo, range.hi, endpoint);
    this.inflights.set(endpoint, range);
  }

  /** The last request got a definite answer that moves no cursor (a batch to split). */
  clearInflight(endpoint: string): void {
    if (!this.inflights.has(endpoint)) return;
    this.saveInflight.run(null, null, endpoint);
    this.inflights.delete(endpoint);
  }

  /**
   * The endpoint stored everything up to `seq`: move its cursor and drop the
   * rows nobody needs, in one transaction. Throws (SQLITE_BUSY, SQLITE_FULL)
   * with nothing changed, in memory or on disk.
   */
  ack(endpoint: string, seq: number): void {
    if (seq <= this.cursor(endpoint) && !this.inflights.has(endpoint)) return;
    const mine = Math.max(seq, this.cursor(endpoint));
    const others = [...this.cursors].filter(([e]) => e !== endpoint).map(([, c]) => Math.max(c, this.tail));
    const low = Math.min(mine, ...others);
    const gone = low > this.tail ? this.measure(low) : undefined;
    this.ackTx(endpoint, mine, gone ? low : undefined);
    this.cursors.set(endpoint, mine);
    this.inflights.delete(endpoint);
    if (gone) this.forget(low, gone);
  }

  /** Age of the oldest point still held, in ms (0 when empty). */
  oldestAgeMs(now = Date.now()): number {
    if (this.points === 0) return 0;
    const row = this.oldestTs.get(this.tail) as { ts_ms: number } | undefined;
    return row ? Math.max(0, now - row.ts_ms) : 0;
  }

  /**
   * Housekeeping in small steps (the maintenance loop calls it every second):
   * give freed pages back to the file system, 16 MiB at a time (after a
   * drain the pages still in use are few, so there is little to move); truncate a WAL
   * that outgrew its reserve.
   */
  maintain(): void {
    const free = Number(this.db.pragma('freelist_count', { simple: true }));
    if (this.incremental && free > 0) {
      const pages = Number(this.db.pragma('page_count', { simple: true }));
      if (free * this.pageSize > 4 * 1024 * 1024 || free > pages / 4) this.db.pragma(`incremental_vacuum(${Math.ceil((16 * 1024 * 1024) / this.pageSize)})`);
    }
    if (fileSize(`${this.db.name}-wal`) > this.walReserveBytes) this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /** Lowest cursor over all endpoints (undefined when there is none). */
  private lowWater(): number | undefined {
    if (this.cursors.size === 0) return undefined;
    const low = Math.min(...[...this.cursors.values()].map((c) => Math.max(c, this.tail)));
    return low > this.tail ? low : undefined;
  }

  /** Rows (tail, upTo]: how many, how many bytes (read before deleting them). */
  private measure(upTo: number): DropReport {
    const r = this.sizeUpTo.get(this.tail, upTo) as { n: number; b: number };
    return { points: r.n, bytes: r.b };
  }

  /** Rows (tail, upTo] were deleted. */
  private forget(upTo: number, gone: DropReport): void {
    this.bytes -= gone.bytes;
    this.tail = upTo;
  }

  private pages(): { total: number; free: number } {
    return { total: Number(this.db.pragma('page_count', { simple: true })), free: Number(this.db.pragma('freelist_count', { simple: true })) };
  }

  private releaseFreePages(): void {
    if (this.incremental) this.db.pragma('incremental_vacuum');
  }

  /**
   * At the bound: drop the oldest rows until the pages in use are a
   * sixteenth under the main file's share (so the next rounds reuse the
   * freed pages instead of dropping again at every commit), give the freed
   * pages back to the file system, and fold the WAL into the file
   * (checkpoint TRUNCATE): outbox.db and its WAL are then within
   * OUTBOX_MAX_BYTES. Costs a checkpoint on the event loop, only while the
   * outbox is full.
   */
  private enforceBound(): DropReport {
    const budget = this.o.maxBytes - this.walReserveBytes;
    const main = this.pages().total * this.pageSize;
    if (main <= budget) {
      // Under the bound, but this second's writes may have outgrown the WAL's share: fold them in now.
      if (main + fileSize(`${this.db.name}-wal`) > this.o.maxBytes) this.db.pragma('wal_checkpoint(TRUNCATE)');
      return { points: 0, bytes: 0 };
    }
    const target = budget - Math.floor(budget / 16);
    const dropped = { points: 0, bytes: 0 };
    for (let round = 0; round < 16 && this.points > 0; round++) {
      const p = this.pages();
      const used = (p.total - p.free) * this.pageSize;
      if (used <= target) break;
      const cut = this.cutFor(used - target);
      const gone = this.measure(cut);
      const behind = [...this.cursors].filter(([, c]) => c < cut).map(([e]) => e);
      this.db.transaction(() => {
        this.deleteUpTo.run(cut);
        for (const e of behind) this.saveCursor.run(e, cut);
      })();
      this.forget(cut, gone);
      for (const e of behind) {
        this.cursors.set(e, cut);
        this.inflights.delete(e);
      }
      dropped.points += gone.points;
      dropped.bytes += gone.bytes;
    }
    this.releaseFreePages();
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    return dropped;
  }

  /** The sequence number up to which the oldest rows hold at least `need` bytes (at least one row). */
  private cutFor(need: number): number {
    const chunk = this.db.prepare('SELECT seq, bytes FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1000');
    let cut = this.tail;
    let freed = 0;
    for (;;) {
      const rows = chunk.all(cut) as { seq: number; bytes: number }[];
      if (!rows.length) return cut;
      for (const r of rows) {
        cut = r.seq;
        freed += r.bytes;
        if (freed >= need) return cut;
      }
    }
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
