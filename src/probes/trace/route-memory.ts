import type { Logger } from 'pino';
import { BaseComponent, type ComponentHealth } from '../../lifecycle/component.js';
import type { Statement } from 'better-sqlite3';
import { closeDb, openDb, type Db } from '../../sqlite/sqlite-db.js';
import type { RouteState } from './route-change.js';

/**
 * Each target's route state (route-change.ts) on disk, DATA_DIR/state.db:
 * the confirmed route with its learned ECMP sets, the earlier routes, and
 * the candidate waiting for confirmation. All of it survives a restart, so
 * a restart neither reports a change nor forgets one half-confirmed (a
 * candidate older than its staleness bound is dropped when read: the
 * traces in between were missed). One row per target, written after each
 * trace that produced a route.
 */
export class RouteMemory extends BaseComponent {
  readonly name = 'state';
  private db?: Db;
  private get_?: Statement<[string]>;
  private put?: Statement<[string, string, number]>;

  constructor(
    private readonly dataDir: string,
    private readonly log?: Logger,
    private readonly file = 'state.db',
  ) {
    super();
  }

  protected async onStart(): Promise<void> {
    const db = openDb(this.dataDir, this.file, { log: this.log });
    db.exec(`CREATE TABLE IF NOT EXISTS route_state (
      target TEXT PRIMARY KEY,
      route TEXT NOT NULL,
      updated_ms INTEGER NOT NULL
    )`);
    this.get_ = db.prepare<[string]>('SELECT route FROM route_state WHERE target = ?');
    this.put = db.prepare<[string, string, number]>('INSERT OR REPLACE INTO route_state (target, route, updated_ms) VALUES (?, ?, ?)');
    this.db = db;
  }

  /** The target's route state; a row of another layout is dropped: the next trace starts it afresh. */
  state(target: string): RouteState | undefined {
    const row = this.get_?.get(target) as { route: string } | undefined;
    if (!row) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(row.route);
    } catch {
      parsed = undefined;
    }
    if ((parsed as RouteState | undefined)?.v === 2) return parsed as RouteState;
    this.log?.warn({ target }, 'route state unreadable: the next trace starts it afresh');
    return undefined;
  }

  save(target: string, s: RouteState): void {
    this.put?.run(target, JSON.stringify(s), Date.now());
  }

  health(): ComponentHealth {
    return { status: 'ok', open: this.db?.open === true };
  }

  protected async onStop(): Promise<void> {
    if (this.db) closeDb(this.db);
  }
}
