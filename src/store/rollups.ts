import type { Db } from '../sqlite/sqlite-db.js';
import type { FieldLayouts } from './field-layouts.js';
import type { RollupSpec } from '../samples/rollup.js';
import { ROLLUP_GRACE_MS, TIERS, kindColumns, rawAggregateSql, sourceOf, tableOf, tierAggregateSql, type Tier } from './rollup-spec.js';
import { getMeta, setMeta, type Statement } from './schema.js';
import { StepSizer } from './step-sizer.js';

/** Dirty buckets re-rolled per transaction. */
const DIRTY_PER_STEP = 20;

interface Job {
  b: number;
  /** Next target id to roll up; the job ends past maxTid. */
  next: number;
  maxTid: number;
}

/**
 * Incremental rollups: each 5-minute bucket is aggregated from raw points
 * once, when it has closed (ROLLUP_GRACE_MS after its end), target by target
 * in small transactions, so the cost is the bucket's own points — not the
 * size of the store; each hour from its twelve 5-minute buckets once they are
 * all done (Tier.from). `watermark(tier)` is how far a tier is done; a point
 * that lands below the 5-minute one later (a slot collected again, a late
 * run) re-rolls its bucket through the `dirty` table, and that bucket its
 * hour. Raw points are never deleted before the tiers rolled up from them
 * have them (retention takes `safeToDelete` into account).
 *
 * Ad-hoc points (tag mode=adhoc) are left out: a bucket summarizes the
 * scheduled slots, so an operator pressing "probe now" ten times during an
 * incident does not weigh ten times in the 5-minute median.
 */
export class Rollups {
  private readonly done = new Map<Tier['name'], number>();
  private readonly jobs = new Map<Tier['name'], Job>();
  /** Targets (by id range) rolled up per transaction, per tier. */
  private readonly sizers = new Map<Tier['name'], StepSizer>(TIERS.map((t) => [t.name, new StepSizer(50)]));
  private readonly aggregate = new Map<string, Statement>();
  private readonly store = new Map<string, Statement>();
  private readonly rolledMids: number[];
  private readonly takeDirty;
  private readonly dropDirty;
  private readonly addDirty;
  private readonly maxTid;
  private readonly firstAtOrAfter;

  constructor(
    private readonly db: Db,
    layouts: FieldLayouts,
    /** Every rollup kept: the probes' and the probe-run counts (rollupsWith). */
    readonly kinds: readonly RollupSpec[],
    private readonly now: () => number,
  ) {
    this.rolledMids = kinds.map((k) => layouts.midOf(k.measurement));
    for (const k of kinds) {
      const cols = kindColumns(k);
      const field = (name: string) => layouts.sql(k.measurement, name, 'r.f');
      this.aggregate.set(k.name, db.prepare(rawAggregateSql(k, layouts.midOf(k.measurement), field, { key: 'r.tid AS tid', targets: 'r.tid >= ? AND r.tid <= ?', groupBy: 'r.tid, s.sub' })));
      for (const t of TIERS) {
        const source = sourceOf(t);
        if (source) this.aggregate.set(tableOf(k, t), db.prepare(tierAggregateSql(k, layouts.midOf(k.measurement), tableOf(k, source))));
        this.store.set(
          tableOf(k, t),
          db.prepare(`INSERT OR REPLACE INTO ${tableOf(k, t)} (tid, sub, b, ${cols.join(', ')}) VALUES (?, ?, ?, ${cols.map(() => '?').join(', ')})`),
        );
      }
    }
    this.takeDirty = db.prepare('SELECT tier, tid, b FROM dirty LIMIT ?');
    this.dropDirty = db.prepare('DELETE FROM dirty WHERE tier = ? AND tid = ? AND b = ?');
    this.addDirty = db.prepare('INSERT OR IGNORE INTO dirty (tier, tid, b) VALUES (?, ?, ?)');
    this.maxTid = db.prepare('SELECT coalesce(max(tid), 0) FROM targets').pluck();
    this.firstAtOrAfter = db.prepare('SELECT ts FROM raw WHERE mid = ? AND ts >= ? ORDER BY ts LIMIT 1').pluck();
    for (const t of TIERS) this.done.set(t.name, getMeta(db, `rollup_${t.name}`) ?? this.initialWatermark(t));
  }

  /** Rolled up until (exclusive): every bucket before this is in the tier. */
  watermark(t: Tier): number {
    return this.done.get(t.name)!;
  }

  /** The oldest watermark of the tiers rolled up from raw points: raw points before it are in every tier (or its source). */
  get safeToDelete(): number {
    return Math.min(...TIERS.filter((t) => !t.from).map((t) => this.watermark(t)));
  }

  /**
   * One small unit of work, if any is due (dirty buckets first, then the
   * next closed bucket of each tier). Returns whether it did something.
   */
  step(): boolean {
    if (this.stepDirty()) return true;
    for (const t of TIERS) if (this.stepTier(t)) return true;
    return false;
  }

  /** How far behind the newest closed bucket each tier is (ms), for health. */
  lagMs(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of TIERS) out[t.name] = Math.max(0, this.closedUntil(t) - this.watermark(t));
    return out;
  }

  private stepDirty(): boolean {
    const rows = this.takeDirty.all(DIRTY_PER_STEP) as { tier: Tier['name']; tid: number; b: number }[];
    if (!rows.length) return false;
    this.db.transaction(() => {
      for (const d of rows) {
        const t = TIERS.find((x) => x.name === d.tier);
        if (t) this.roll(t, d.b, d.tid, d.tid);
        this.dropDirty.run(d.tier, d.tid, d.b);
        // The tiers rolled up from this one: their bucket holding it, if already done, again (after it: the next step).
        for (const u of TIERS) {
          if (u.from !== d.tier) continue;
          const ub = d.b - (d.b % u.bucketMs);
          if (ub < this.watermark(u)) this.addDirty.run(u.name, d.tid, ub);
        }
      }
    })();
    return true;
  }

  private stepTier(t: Tier): boolean {
    let job = this.jobs.get(t.name);
    if (!job) {
      const b = this.nextBucketWithData(t);
      if (b === undefined) return false;
      job = { b, next: 1, maxTid: this.maxTid.get() as number };
      this.jobs.set(t.name, job);
    }
    const j = job;
    this.sizers.get(t.name)!.run((targets) => this.db.transaction(() => {
      const lo = j.next;
      const hi = Math.min(j.maxTid, j.next + targets - 1);
      this.roll(t, j.b, j.next, hi);
      j.next = hi + 1;
      if (j.next > j.maxTid) {
        this.jobs.delete(t.name);
        this.done.set(t.name, j.b + t.bucketMs);
        setMeta(this.db, `rollup_${t.name}`, j.b + t.bucketMs);
      }
      return hi - lo + 1;
    })(), (done) => done);
    return true;
  }

  /** Aggregate bucket b of tier t for targets lo..hi (ids), every kind: from raw points, or from its source tier. */
  private roll(t: Tier, b: number, lo: number, hi: number): void {
    for (const k of this.kinds) {
      const rows = this.aggregate.get(t.from ? tableOf(k, t) : k.name)!.all(lo, hi, b, b + t.bucketMs) as Record<string, number | string | null>[];
      const insert = this.store.get(tableOf(k, t))!;
      const cols = kindColumns(k);
      for (const r of rows) insert.run(r.tid, r.sub, b, ...cols.map((c) => r[c]));
    }
  }

  /** Buckets end + grace before now are closed. */
  private closedUntil(t: Tier): number {
    return Math.floor((this.now() - ROLLUP_GRACE_MS) / t.bucketMs) * t.bucketMs;
  }

  /** Buckets that may be rolled up: closed, and (a tier from another) every source bucket of them done. */
  private readyUntil(t: Tier): number {
    const source = sourceOf(t);
    if (!source) return this.closedUntil(t);
    const done = this.watermark(source);
    return Math.min(this.closedUntil(t), done - (done % t.bucketMs));
  }

  /** First raw point at or after `from` of any rolled-up measurement. */
  private firstRaw(from: number): number | undefined {
    let first: number | undefined;
    for (const mid of this.rolledMids) {
      const ts = this.firstAtOrAfter.get(mid, from) as number | undefined;
      if (ts !== undefined && (first === undefined || ts < first)) first = ts;
    }
    return first;
  }

  /**
   * The next closed bucket at or after the watermark that holds raw points;
   * empty buckets are skipped by moving the watermark (a daemon that was
   * off for a day does not walk 288 empty buckets).
   */
  private nextBucketWithData(t: Tier): number | undefined {
    const from = this.watermark(t);
    const closed = this.readyUntil(t);
    if (from >= closed) return undefined;
    // A tier from another: raw points tell where data starts only while none at or after `from` has been deleted
    // (retention deletes from the oldest up); otherwise its hours are walked one by one (empty ones cost a seek a target).
    if (t.from) {
      const oldest = this.firstRaw(0);
      if (oldest === undefined || oldest > from) return from;
    }
    const first = this.firstRaw(from);
    const b = first === undefined ? closed : Math.floor(first / t.bucketMs) * t.bucketMs;
    if (b >= closed) {
      this.done.set(t.name, closed);
      setMeta(this.db, `rollup_${t.name}`, closed);
      return undefined;
    }
    return b;
  }

  private initialWatermark(t: Tier): number {
    const start = this.firstRaw(0) ?? this.now();
    const b = Math.floor(start / t.bucketMs) * t.bucketMs;
    setMeta(this.db, `rollup_${t.name}`, b);
    return b;
  }
}
