import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnySample } from '../../src/samples/sample.js';
import { StoreEngine, type EngineOptions } from '../../src/store/store-engine.js';
import { rollupsOf, sparklineOf } from '../../src/probes/registry.js';

export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** A fixed, slot-aligned start so bucket boundaries are known. */
export const T0 = Date.UTC(2026, 10, 2, 0, 0, 0);

export interface Run {
  target?: string;
  adhoc?: boolean;
}

const tags = (o: Run, extra: Record<string, string>) => ({ target: o.target ?? 'a', source: 's', ...(o.adhoc ? { mode: 'adhoc' } : {}), ...extra });

export function ping(ts: number, f: { median?: number; min?: number; max?: number; avg?: number; sent?: number; received?: number; jitter?: number; mos?: number; rtts?: (number | null)[] }, o: Run = {}): AnySample {
  const sent = f.sent ?? 5;
  const received = f.received ?? sent;
  return {
    measurement: 'ping',
    tags: tags(o, { family: 'ipv4' }),
    fields: {
      sent,
      received,
      loss_pct: (100 * (sent - received)) / sent,
      ...(received > 0
        ? {
            rtt_min_ms: f.min ?? (f.median ?? 10) - 1,
            rtt_avg_ms: f.avg ?? f.median ?? 10,
            rtt_max_ms: f.max ?? (f.median ?? 10) + 1,
            rtt_median_ms: f.median ?? 10,
            jitter_ms: f.jitter ?? 0.5,
            mos: f.mos ?? 4.4,
          }
        : {}),
      ip: '192.0.2.1',
      success: received > 0,
      ...(f.rtts ? { rtts_ms: JSON.stringify(f.rtts) } : {}),
    },
    timeMs: ts,
  };
}

export function probe(ts: number, kind: string, success: boolean, o: Run = {}, reason?: string): AnySample {
  return { measurement: 'probe', tags: tags(o, { probe: kind }), fields: { success, duration_ms: 12.5, ...(reason ? { reason, detail: `${reason} detail` } : {}) }, timeMs: ts };
}

export function http(ts: number, totalMs: number, status = 200, o: Run = {}): AnySample {
  return {
    measurement: 'http',
    tags: tags(o, { method: 'GET' }),
    fields: { status_code: status, success: status < 400, dns_ms: 1, connect_ms: 2, tls_ms: 3, ttfb_ms: totalMs - 7, transfer_ms: 1, total_ms: totalMs, bytes: 512, http_version: '1.1', ip: '192.0.2.1' },
    timeMs: ts,
  };
}

export function tcp(ts: number, ms: number, o: Run = {}): AnySample {
  return { measurement: 'tcp', tags: tags(o, { port: '443' }), fields: { connect_ms: ms, success: true, ip: '192.0.2.1' }, timeMs: ts };
}

/** A trace: the route point and one hop point per address ('*' = silent). */
export function trace(ts: number, ips: string[], changed: boolean, o: Run = {}, geo: (ip: string) => Record<string, number | string> = () => ({})): AnySample[] {
  const path = ips.join('>');
  const hash = `h-${path}`;
  return [
    {
      measurement: 'route',
      tags: tags(o, { protocol: 'icmp' }),
      fields: { success: true, hop_count: ips.length, reached: true, responding_hops: ips.filter((i) => i !== '*').length, route_hash: hash, route_changed: changed, path, ip: ips[ips.length - 1] },
      timeMs: ts,
    },
    ...ips.map(
      (ip, i): AnySample => ({
        measurement: 'hop',
        tags: tags(o, { ttl: String(i + 1) }),
        fields: { ip, sent: 3, loss_pct: ip === '*' ? 100 : 0, ...(ip === '*' ? {} : { rtt_avg_ms: i + 1, rtt_best_ms: i + 0.5, rtt_worst_ms: i + 2, ...geo(ip) }) },
        timeMs: ts,
      }),
    ),
  ];
}

export interface TestStore {
  engine: StoreEngine;
  db: Database.Database;
  dir: string;
  clock: { now: number };
  dropped: Record<string, number>;
  /** Advance the clock and run maintenance until nothing is due. */
  at(ms: number): void;
  close(): void;
}

/** The built-in probes' rollups and sparkline, as the daemon hands them to its store. */
export const STORE_SPECS = { rollups: rollupsOf(), sparkline: sparklineOf() };

export const DEFAULTS: EngineOptions = { rawWindowMs: 6 * HOUR, retentionMs: 7 * DAY, maxBytes: 1024 ** 3, walAllowanceBytes: 16 * 1024 * 1024, ...STORE_SPECS };

/** A real SQLite file in a temp dir, driven in-process with a clock of the test's own. */
export function openTestStore(o: Partial<EngineOptions> = {}, start = T0, dir = mkdtempSync(join(tmpdir(), 'nt-store-'))): TestStore {
  const db = new Database(join(dir, 'store.db'));
  db.pragma('journal_mode = WAL');
  // As the worker runs it (the daemon's checkpointer is not running here).
  db.pragma(`journal_size_limit = ${o.walAllowanceBytes ?? DEFAULTS.walAllowanceBytes}`);
  const clock = { now: start };
  const dropped: Record<string, number> = {};
  const engine = new StoreEngine(db, { ...DEFAULTS, ...o }, { now: () => clock.now, onDropped: (r, n) => (dropped[r] = (dropped[r] ?? 0) + n) });
  return {
    engine,
    db,
    dir,
    clock,
    dropped,
    at(ms: number) {
      clock.now = ms;
      engine.maintainAll();
    },
    close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function count(db: Database.Database, table: string): number {
  return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}
