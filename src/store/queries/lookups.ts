import type { Db } from '../../sqlite/sqlite-db.js';
import type { FieldLayouts } from '../field-layouts.js';

/** Bound of the tags cache (series). */
const TAGS_CACHE_MAX = 20_000;

/** Read-only id lookups shared by the queries (never creates a target or a series). */
export class Lookups {
  private readonly tagsCache = new Map<number, Record<string, string>>();
  private readonly st;

  constructor(
    db: Db,
    readonly layouts: FieldLayouts,
  ) {
    this.st = {
      tid: db.prepare('SELECT tid FROM targets WHERE name = ?').pluck(),
      tags: db.prepare('SELECT tags FROM series WHERE sid = ?').pluck(),
    };
  }

  tid(target: string): number | undefined {
    return this.st.tid.get(target) as number | undefined;
  }

  tags(sid: number): Record<string, string> {
    let t = this.tagsCache.get(sid);
    if (!t) {
      const json = this.st.tags.get(sid) as string | undefined;
      t = json ? (JSON.parse(json) as Record<string, string>) : {};
      if (this.tagsCache.size >= TAGS_CACHE_MAX) this.tagsCache.clear();
      this.tagsCache.set(sid, t);
    }
    return t;
  }

  /** After series were pruned (their ids may be reused). */
  forget(): void {
    this.tagsCache.clear();
  }
}

export const iso = (ms: number): string => new Date(ms).toISOString();
