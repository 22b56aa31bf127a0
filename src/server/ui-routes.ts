import type { Route } from './http-server.js';
import { StaticUi } from './static-ui.js';

/**
 * The web UI's pages and assets as routes: the HTML shell for `/` and
 * `/targets/<name>`, hashed assets under `/ui/`. Same access rule as the
 * JSON API they read (basic auth when WEB_CONFIG_FILE sets users).
 */
export function uiRoutes(ui: StaticUi): Route[] {
  const serve: Route['handler'] = async (req, url) => {
    const page = await ui.serve(url.pathname, {
      'accept-encoding': req.headers['accept-encoding'] as string | undefined,
      'if-none-match': req.headers['if-none-match'],
    });
    if (!page) return { status: 404, json: { error: `no page ${url.pathname}` } };
    return { status: page.status, headers: page.headers, body: page.body, contentType: page.headers['content-type'] };
  };
  return [
    { method: 'GET', path: '/', access: 'read', label: '/', handler: serve },
    { method: 'GET', path: /^\/targets\/[^/]+$/, access: 'read', label: '/targets/:name', handler: serve },
    { method: 'GET', path: '/matrix', access: 'read', label: '/matrix', handler: serve },
    { method: 'GET', path: /^\/ui\/.+$/, access: 'read', label: '/ui/', handler: serve },
  ];
}
