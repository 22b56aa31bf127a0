import type { Db } from '../../sqlite/sqlite-db.js';
import type { HopSummary, RouteSummary } from './route.js';

export type RememberedRoute = Pick<RouteSummary, 'hopCount' | 'reached' | 'routeHash'> & { hops: HopSummary[] };

/**
 * The last route seen per target, on disk (DATA_DIR/state.db), so that a
 * restart compares with the route before the restart instead of reporting a
 * change. One row per target; written after each successful trace.
 */
export class RouteMemory {
  private readonly get;
  private readonly put;

  constructor(db: Db) {
    db.exec(`CREATE TABLE IF NOT EXISTS route_state (
      target TEXT PRIMARY KEY,
      route TEXT NOT NULL,
      updated_ms INTEGER NOT NULL
    )`);
    this.get = db.prepare('SELECT route FROM route_state WHERE target = ?');
    this.put = db.prepare('INSERT OR REPLACE INTO route_state (target, route, updated_ms) VALUES (?, ?, ?)');
  }

  previous(target: string): RememberedRoute | undefined {
    const row = this.get.get(target) as { route: string } | undefined;
    if (!row) return undefined;
    try {
      return JSON.parse(row.route) as RememberedRoute;
    } catch {
      return undefined;
    }
  }

  remember(target: string, r: RouteSummary): void {
    const keep: RememberedRoute = { hopCount: r.hopCount, reached: r.reached, routeHash: r.routeHash, hops: r.hops };
    this.put.run(target, JSON.stringify(keep), Date.now());
  }
}
