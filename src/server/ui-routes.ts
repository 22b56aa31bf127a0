import type { Route } from './http-server.js';

/** The web UI's pages and assets (wired when the UI lands). */
export function staticUiRoutes(): Route[] {
  return [];
}
