import type { Logger } from 'pino';
import { BaseComponent, type ComponentHealth } from '../../lifecycle/component.js';
import type { Statement } from 'better-sqlite3';
import { closeDb, openDb, type Db } from '../../sqlite/sqlite-db.js';
import type { HopSummary, RouteSummary } from './route.js';

export type RememberedRoute = Pick<RouteSummary, 'hopCount' | 'reached' | 'routeHash'> & { hops: HopSummary[] };

/**
 * The last route seen per target, on disk (DATA_DIR/state.db), so that a
 * restart compares with the route before the restart instead of reporting a
 * change. One row per target; written after each successful trace.
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

  previous(target: string): RememberedRoute | undefined {
    const row = this.get_?.get(target) as { route: string } | undefined;
    if (!row) return undefined;
    try {
      return JSON.parse(row.route) as RememberedRoute;
    } catch {
      return undefined;
    }
  }

  remember(target: string, r: RouteSummary): void {
    const keep: RememberedRoute = { hopCount: r.hopCount, reached: r.reached, routeHash: r.routeHash, hops: r.hops };
    this.put?.run(target, JSON.stringify(keep), Date.now());
  }

  health(): ComponentHealth {
    return { status: 'ok', open: this.db?.open === true };
  }

  protected async onStop(): Promise<void> {
    if (this.db) closeDb(this.db);
  }
}
