import Database from 'better-sqlite3';
import { join } from 'node:path';

export interface FilePoint {
  measurement: string;
  target: string;
  ts: number;
  fields: Record<string, unknown>;
}

/**
 * The raw points in DATA_DIR/store.db, read from the file directly (after
 * the daemon stopped): each with its measurement and target names and its
 * fields decoded (rows hold them as an array in the order kept in
 * `measurements.fields`, see src/store/field-layouts.ts).
 */
export function readStoreFile(dataDir: string, measurements?: readonly string[]): FilePoint[] {
  const db = new Database(join(dataDir, 'store.db'), { readonly: true });
  try {
    const layouts = new Map((db.prepare('SELECT mid, name, fields FROM measurements').all() as { mid: number; name: string; fields: string }[]).map((m) => [m.mid, { name: m.name, fields: JSON.parse(m.fields) as string[] }]));
    const rows = db.prepare('SELECT r.mid, t.name AS target, r.ts, r.f FROM raw r JOIN targets t ON t.tid = r.tid').all() as { mid: number; target: string; ts: number; f: string }[];
    return rows
      .map((r) => {
        const l = layouts.get(r.mid)!;
        const values = JSON.parse(r.f) as unknown[];
        const fields: Record<string, unknown> = {};
        values.forEach((v, i) => v !== null && (fields[l.fields[i]!] = v));
        return { measurement: l.name, target: r.target, ts: r.ts, fields };
      })
      .filter((p) => !measurements || measurements.includes(p.measurement));
  } finally {
    db.close();
  }
}
