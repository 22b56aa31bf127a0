import type { SiteRowsApi, SitesApi } from './daemon-api.js';
import { HttpError, type Route } from './http-server.js';
import { intParam, oneOf, onlyParams, timeRange as range } from './routes.js';

/**
 * Several sites on one page: this site's view for the others
 * (`/api/site/targets`), one target from every source (`/sources`), its
 * history and routes per source, and the matrix of targets x sources.
 * Shapes in docs/api.md.
 */
export function siteRoutes(site: SiteRowsApi, vantage: SitesApi | undefined): Route[] {
  const found = <T>(name: string, v: T | undefined): T => {
    if (v === undefined) throw new HttpError(404, `not a configured target: ${name}`);
    return v;
  };
  const sitesOff = (): never => {
    throw new HttpError(404, 'no other sites and no shared database configured: set SITES (and QUERY_URL) to see every source (docs/operations.md, "Several sites")');
  };
  const sites: SitesApi = vantage ?? { sites: [], target: sitesOff, series: sitesOff, routes: sitesOff, matrix: sitesOff };
  return [
    {
      method: 'GET',
      path: '/api/site/targets',
      access: 'read',
      handler: async (_req, url) => {
        onlyParams(url, ['name', 'routes', 'local']);
        const names = url.searchParams.getAll('name');
        if (names.length > 1000) throw new HttpError(400, 'name: at most 1000 names per request');
        return { json: await site.rows(names.length ? names : undefined, { routes: url.searchParams.get('routes') === '1', local: url.searchParams.has('local') }) };
      },
    },
    {
      method: 'GET',
      path: /^\/api\/targets\/([^/]+)\/sources$/,
      label: '/api/targets/:name/sources',
      access: 'read',
      handler: async (_req, url, [name]) => {
        onlyParams(url, []);
        return { json: found(name!, await sites.target(name!)) };
      },
    },
    {
      method: 'GET',
      path: /^\/api\/targets\/([^/]+)\/sources\/series$/,
      label: '/api/targets/:name/sources/series',
      access: 'read',
      handler: async (_req, url, [name]) => {
        onlyParams(url, ['from', 'to', 'buckets']);
        return { json: found(name!, await sites.series(name!, { ...range(url, 3_600_000), buckets: intParam(url, 'buckets', 600, 1, 1000) })) };
      },
    },
    {
      method: 'GET',
      path: /^\/api\/targets\/([^/]+)\/sources\/routes$/,
      label: '/api/targets/:name/sources/routes',
      access: 'read',
      handler: async (_req, url, [name]) => {
        onlyParams(url, ['from', 'to']);
        return { json: found(name!, await sites.routes(name!, range(url, 7 * 86_400_000))) };
      },
    },
    {
      method: 'GET',
      path: '/api/matrix',
      access: 'read',
      handler: async (_req, url) => {
        onlyParams(url, ['offset', 'limit', 'sort', 'order', 'q', 'state', 'source']);
        try {
          return {
            json: await sites.matrix({
              offset: intParam(url, 'offset', 0, 0, 10_000_000),
              limit: intParam(url, 'limit', 200, 1, 1000),
              sort: oneOf(url, 'sort', ['name', 'worst', 'rtt', 'loss', 'state'] as const, 'worst')!,
              order: oneOf(url, 'order', ['asc', 'desc'] as const, 'asc')!,
              q: url.searchParams.get('q')?.slice(0, 200) || undefined,
              state: oneOf(url, 'state', ['ok', 'degraded', 'failing', 'unknown'] as const),
              source: url.searchParams.get('source') || undefined,
            }),
          };
        } catch (err) {
          if (err instanceof RangeError) throw new HttpError(400, err.message);
          throw err;
        }
      },
    },
  ];
}
