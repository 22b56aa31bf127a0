import type { Db } from '../sqlite/sqlite-db.js';
import type { FieldValue } from '../samples/sample.js';

interface Layout {
  mid: number;
  name: string;
  fields: string[];
  position: Map<string, number>;
}

/**
 * Raw points store their fields as a JSON array: `[5,5,0,0.031,...]` instead
 * of `{"sent":5,"received":5,...}`. Each measurement's field order lives in
 * `measurements.fields` and only ever grows at the end (a field new to the
 * schema is appended; a field dropped from it keeps its slot), so a stored
 * row decodes the same way forever and SQL can read a field as
 * json_extract(f, '$[i]'). Fields get their slot when first written or read
 * by the store's own SQL: no copy of the data model here (the worker does
 * not load the probe modules that declare it).
 */
export class FieldLayouts {
  private readonly byName = new Map<string, Layout>();
  private readonly byMid = new Map<number, Layout>();
  private readonly insert;
  private readonly update;

  constructor(private readonly db: Db) {
    this.insert = db.prepare('INSERT INTO measurements (name, fields) VALUES (?, ?) RETURNING mid');
    this.update = db.prepare('UPDATE measurements SET fields = ? WHERE mid = ?');
    for (const r of db.prepare('SELECT mid, name, fields FROM measurements').all() as { mid: number; name: string; fields: string }[]) {
      this.remember(r.mid, r.name, JSON.parse(r.fields) as string[]);
    }
  }

  get all(): readonly Layout[] {
    return [...this.byMid.values()];
  }

  /** The id of a measurement written before (undefined for a name never seen: queries find nothing). */
  mid(measurement: string): number | undefined {
    return this.byName.get(measurement)?.mid;
  }

  /** The id of a measurement, created if new (the write path, and the store's own SQL). */
  midOf(measurement: string): number {
    return this.byName.get(measurement)?.mid ?? this.layoutOf(measurement).mid;
  }

  name(mid: number): string {
    return this.byMid.get(mid)?.name ?? `unknown_${mid}`;
  }

  /** Position of a field in its measurement's array (created if new). */
  positionOf(measurement: string, field: string): number {
    const l = this.layoutOf(measurement);
    let i = l.position.get(field);
    if (i === undefined) {
      i = l.fields.length;
      l.fields.push(field);
      l.position.set(field, i);
      this.update.run(JSON.stringify(l.fields), l.mid);
    }
    return i;
  }

  /** SQL of a raw field's value (`f` is the raw row's column). */
  sql(measurement: string, field: string, column = 'f'): string {
    return `json_extract(${column}, '$[${this.positionOf(measurement, field)}]')`;
  }

  encode(measurement: string, entries: readonly (readonly [string, FieldValue])[]): string {
    const arr: (FieldValue | null)[] = [];
    for (const [k, v] of entries) arr[this.positionOf(measurement, k)] = v;
    for (let i = 0; i < arr.length; i++) if (arr[i] === undefined) arr[i] = null;
    return JSON.stringify(arr);
  }

  decode(mid: number, f: string): Record<string, FieldValue> {
    const l = this.byMid.get(mid);
    const arr = JSON.parse(f) as (FieldValue | null)[];
    const out: Record<string, FieldValue> = {};
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i];
      if (v !== null && v !== undefined) out[l?.fields[i] ?? `field_${i}`] = v;
    }
    return out;
  }

  private layoutOf(measurement: string): Layout {
    const l = this.byName.get(measurement);
    if (l) return l;
    const { mid } = this.insert.get(measurement, '[]') as { mid: number };
    return this.remember(mid, measurement, []);
  }

  private remember(mid: number, name: string, fields: string[]): Layout {
    const l: Layout = { mid, name, fields, position: new Map(fields.map((f, i) => [f, i])) };
    this.byName.set(name, l);
    this.byMid.set(mid, l);
    return l;
  }
}
