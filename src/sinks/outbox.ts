import type { Db } from '../sqlite/sqlite-db.js';

export interface OutboxRow {
  seq: number;
  line: string;
}

export interface DropReport {
  points: number;
  bytes: number;
}

/**
 * The durable outbox in front of InfluxDB: line-protocol points in SQLite
 * (DATA_DIR/outbox.db), each with a sequence number, and one cursor per
 * endpoint saying up to where that endpoint acknowledged (2xx). A row leaves
 * only when every endpoint is past it, or when the byte bound forces the
 * oldest out (counted, never silent).
 *
 * Why SQLite rather than segment files: one transaction per round gives
 * all-or-nothing commits, WAL survives a killed process without an fsync
 * per write, and per-endpoint cursors are a row each. Segment files would
 * need that recovery code written and tested by hand.
 *
 * Rows are only ever removed from the low end, so the live rows are exactly
 * the sequence numbers (tail, head]: counts come from arithmetic, not count(*).
 */
export class Outbox {
  private readonly insert;
  private readonly readAfter;
  private readonly saveCursor;
  private readonly deleteUpTo;
  private readonly oldestTs;
  private readonly sizeUpTo;
  private readonly appendMany;
  private head: number;
  private tail: number;
  private bytes: number;
  private readonly cursors = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly maxBytes: number,
  ) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        line TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS cursors (
        endpoint TEXT PRIMARY KEY,
        acked INTEGER NOT NULL
      );
    `);
    this.insert = db.prepare('INSERT INTO outbox (line, bytes, ts_ms) VALUES (?, ?, ?)');
    this.readAfter = db.prepare('SELECT seq, line FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?');
    this.saveCursor = db.prepare('INSERT INTO cursors (endpoint, acked) VALUES (?, ?) ON CONFLICT(endpoint) DO UPDATE SET acked = excluded.acked');
    this.deleteUpTo = db.prepare('DELETE FROM outbox WHERE seq <= ?');
    this.oldestTs = db.prepare('SELECT ts_ms FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1');
    this.sizeUpTo = db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM outbox WHERE seq <= ?');
    this.appendMany = db.transaction((lines: readonly string[], now: number) => {
      for (const l of lines) {
        const b = Buffer.byteLength(l);
        this.head = Number(this.insert.run(l, b, now).lastInsertRowid);
        this.bytes += b;
      }
    });
    const stats = db.prepare('SELECT min(seq) AS lo, max(seq) AS hi, coalesce(sum(bytes), 0) AS b FROM outbox').get() as { lo: number | null; hi: number | null; b: number };
    const seqRow = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").get() as { seq: number } | undefined;
    this.head = stats.hi ?? seqRow?.seq ?? 0;
    this.tail = stats.lo === null ? this.head : stats.lo - 1;
    this.bytes = stats.b;
    for (const r of db.prepare('SELECT endpoint, acked FROM cursors').all() as { endpoint: string; acked: number }[]) {
      this.cursors.set(r.endpoint, r.acked);
    }
  }

  /** Points held (pending for at least one endpoint). */
  get points(): number {
    return this.head - this.tail;
  }
  get sizeBytes(): number {
    return this.bytes;
  }
  get lastSeq(): number {
    return this.head;
  }

  /**
   * Commit lines in one transaction; then enforce the byte bound, oldest
   * first. Returns what the bound pushed out.
   */
  append(lines: readonly string[], now = Date.now()): DropReport {
    if (lines.length) this.appendMany(lines, now);
    return this.enforceBound();
  }

  /** Register an endpoint; a new one starts at the oldest point held (it gets the whole backlog). */
  register(endpoint: string): void {
    if (!this.cursors.has(endpoint)) {
      this.cursors.set(endpoint, this.tail);
      this.saveCursor.run(endpoint, this.tail);
    }
  }

  /** Forget endpoints no longer configured, so their cursors do not pin rows forever. */
  retain(endpoints: readonly string[]): void {
    for (const e of [...this.cursors.keys()]) {
      if (!endpoints.includes(e)) {
        this.cursors.delete(e);
        this.db.prepare('DELETE FROM cursors WHERE endpoint = ?').run(e);
      }
    }
    this.collect();
  }

  cursor(endpoint: string): number {
    return Math.max(this.cursors.get(endpoint) ?? this.tail, this.tail);
  }

  pending(endpoint: string): number {
    return this.head - this.cursor(endpoint);
  }

  /** The next rows for an endpoint, oldest first. */
  next(endpoint: string, limit: number): OutboxRow[] {
    return this.readAfter.all(this.cursor(endpoint), limit) as OutboxRow[];
  }

  /** The endpoint stored everything up to `seq`: move its cursor, drop rows nobody needs. */
  ack(endpoint: string, seq: number): void {
    if (seq <= this.cursor(endpoint)) return;
    this.cursors.set(endpoint, seq);
    this.saveCursor.run(endpoint, seq);
    this.collect();
  }

  /** Age of the oldest point still held, in ms (0 when empty). */
  oldestAgeMs(now = Date.now()): number {
    if (this.points === 0) return 0;
    const row = this.oldestTs.get(this.tail) as { ts_ms: number } | undefined;
    return row ? Math.max(0, now - row.ts_ms) : 0;
  }

  private collect(): void {
    if (this.cursors.size === 0) return;
    const low = Math.min(...[...this.cursors.values()].map((c) => Math.max(c, this.tail)));
    if (low <= this.tail) return;
    const gone = this.sizeUpTo.get(low) as { n: number; b: number };
    this.deleteUpTo.run(low);
    this.bytes -= gone.b;
    this.tail = low;
  }

  private enforceBound(): DropReport {
    if (this.bytes <= this.maxBytes) return { points: 0, bytes: 0 };
    // Walk from the oldest row until enough bytes are freed, in chunks.
    let cut = this.tail;
    let freed = 0;
    const need = this.bytes - this.maxBytes;
    const chunk = this.db.prepare('SELECT seq, bytes FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1000');
    while (freed < need) {
      const rows = chunk.all(cut) as { seq: number; bytes: number }[];
      if (!rows.length) break;
      for (const r of rows) {
        cut = r.seq;
        freed += r.bytes;
        if (freed >= need) break;
      }
    }
    const dropped = this.sizeUpTo.get(cut) as { n: number; b: number };
    this.db.transaction(() => {
      this.deleteUpTo.run(cut);
      for (const [e, c] of this.cursors) {
        if (c < cut) {
          this.cursors.set(e, cut);
          this.saveCursor.run(e, cut);
        }
      }
    })();
    this.bytes -= dropped.b;
    this.tail = cut;
    return { points: dropped.n, bytes: dropped.b };
  }
}
