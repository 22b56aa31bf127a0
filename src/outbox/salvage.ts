import Database from 'better-sqlite3';
import type { Outbox, OutboxRow } from './outbox.js';

export interface SalvageReport {
  /** Rows copied into the fresh outbox. */
  rows: number;
  /** Ranges of sequence numbers that could not be read (damaged pages). */
  unreadableRanges: number;
  /** Why nothing could be read at all, when so. */
  error?: string;
}

const CHUNK = 500;

/**
 * Copy what can still be read from a set-aside (corrupt) outbox file into
 * the fresh one, in order, and the cursors with them (translated to the new
 * sequence numbers): each endpoint resumes where it was. A damaged page makes the scan throw;
 * the scan then probes forward (1, 2, 4 ... sequence numbers further) and
 * goes on from the first row it can read again.
 */
export function salvageInto(path: string, outbox: Outbox): SalvageReport {
  let src: Database.Database;
  try {
    src = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    return { rows: 0, unreadableRanges: 0, error: (err as Error).message };
  }
  const report: SalvageReport = { rows: 0, unreadableRanges: 0 };
  try {
    let cols: string[];
    try {
      cols = (src.prepare('PRAGMA table_info(outbox)').all() as { name: string }[]).map((c) => c.name);
    } catch (err) {
      return { ...report, error: (err as Error).message };
    }
    if (!cols.length) return { ...report, error: 'no outbox table' };
    if (!cols.includes('body') || !cols.includes('enc')) return { ...report, error: `not an outbox table of this version (columns ${cols.join(', ')})` };
    const read = src.prepare('SELECT seq, enc, body, bytes, ts_ms FROM outbox WHERE seq > ? ORDER BY seq');
    const probe = src.prepare('SELECT seq FROM outbox WHERE seq >= ? ORDER BY seq LIMIT 1');
    const oldSeqs: number[] = [];
    const base = outbox.lastSeq;
    let after = 0;
    for (;;) {
      const chunk: (OutboxRow & { bytes: number; ts_ms: number })[] = [];
      let failed = false;
      try {
        for (const r of read.iterate(after) as IterableIterator<OutboxRow & { bytes: number; ts_ms: number }>) {
          chunk.push(r);
          if (chunk.length >= CHUNK) break;
        }
      } catch {
        failed = true;
      }
      if (chunk.length) {
        outbox.restore(chunk);
        for (const r of chunk) oldSeqs.push(r.seq);
        report.rows += chunk.length;
        after = chunk[chunk.length - 1]!.seq;
      }
      if (!failed) {
        if (chunk.length < CHUNK) break;
        continue;
      }
      const resume = probeForward(probe, after);
      if (resume === undefined) break;
      report.unreadableRanges++;
      after = resume - 1;
    }
    try {
      const cursors = src.prepare('SELECT endpoint, acked FROM cursors').all() as { endpoint: string; acked: number }[];
      // An old cursor c covered the salvaged rows with old seq <= c: the same count of new rows.
      outbox.restoreCursors(cursors.map((c) => ({ endpoint: c.endpoint, acked: base + countUpTo(oldSeqs, c.acked) })));
    } catch {
      // endpoints then start at the oldest salvaged row: re-sent points overwrite themselves
    }
    return report;
  } finally {
    src.close();
  }
}

/** The first readable sequence number at least 2 past `after` (the rows in between are lost), or undefined. */
function probeForward(probe: Database.Statement, after: number): number | undefined {
  for (let step = 2; step < 2 ** 40; step *= 2) {
    try {
      const r = probe.get(after + step) as { seq: number } | undefined;
      return r?.seq;
    } catch {
      // still inside the damaged part
    }
  }
  return undefined;
}

/** How many of the ascending `seqs` are <= x. */
function countUpTo(seqs: readonly number[], x: number): number {
  let lo = 0;
  let hi = seqs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (seqs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
