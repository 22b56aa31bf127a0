import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import type { StaticUi } from './static-ui.js';

/** A request problem that maps to one HTTP status and message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export type Handler = (req: IncomingMessage, url: URL) => Promise<Reply> | Reply;
export interface Reply {
  status?: number;
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  /** Needs COLLECT_TOKEN (when one is configured). */
  auth?: boolean;
  handler: Handler;
}

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * The daemon's own API: a literal route table over node:http. Every answer
 * is JSON except /metrics; errors carry `{"error": "..."}` and the status
 * that says what was wrong.
 */
export class ApiServer {
  private server?: Server;
  private readonly routes = new Map<string, Route>();

  constructor(
    routes: Route[],
    private readonly opts: { port: number; host: string; token?: string; ui?: StaticUi },
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
  ) {
    for (const r of routes) this.routes.set(`${r.method} ${r.path}`, r);
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.opts.port;
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 300_000; // /collect may run long; its own timeout is COLLECT_TIMEOUT
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (this.opts.ui && (req.method === 'GET' || req.method === 'HEAD')) {
      const page = await this.opts.ui.serve(url.pathname, req.headers);
      if (page) {
        this.metrics.httpRequests.inc({ route: url.pathname.startsWith('/ui/') ? '/ui/' : '/', status: String(page.status) });
        res.writeHead(page.status, page.headers);
        res.end(req.method === 'HEAD' ? undefined : page.body);
        return;
      }
    }
    const route = this.routes.get(`${req.method} ${url.pathname}`);
    let reply: Reply;
    try {
      if (!route) {
        const other = [...this.routes.values()].some((r) => r.path === url.pathname);
        throw other ? new HttpError(405, `method ${req.method} not allowed on ${url.pathname}`) : new HttpError(404, `no route ${url.pathname}`);
      }
      if (route.auth) this.checkToken(req);
      reply = await route.handler(req, url);
    } catch (err) {
      if (err instanceof HttpError) {
        reply = { status: err.status, json: { error: err.message, ...err.extra }, headers: err.headers };
      } else {
        this.metrics.errors.inc({ component: 'server' });
        this.log.error({ err, path: url.pathname }, 'request handler failed');
        reply = { status: 500, json: { error: 'internal error' } };
      }
      req.resume(); // drain an unread body so the connection stays usable
    }
    const status = reply.status ?? 200;
    this.metrics.httpRequests.inc({ route: route?.path ?? 'unmatched', status: String(status) });
    const body = reply.text ?? `${JSON.stringify(reply.json ?? {})}\n`;
    res.writeHead(status, { 'content-type': reply.contentType ?? 'application/json', ...reply.headers });
    res.end(body);
  }

  private checkToken(req: IncomingMessage): void {
    const want = this.opts.token;
    if (!want) return;
    const got = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim() ?? '';
    const a = Buffer.from(got);
    const b = Buffer.from(want);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      throw new HttpError(401, 'missing or wrong bearer token (COLLECT_TOKEN)', {}, { 'www-authenticate': 'Bearer' });
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeIdleConnections();
    });
  }

  /** Stop accepting new connections; in-flight requests finish. */
  stopAccepting(): void {
    this.server?.close();
    this.server?.closeIdleConnections();
  }
}

/** Read a request body up to MAX_BODY_BYTES; 413 past it. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, `request body of ${declared} bytes exceeds ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `request body exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Parse an optional JSON body; 400 with the parser's reason when it is not JSON. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req);
  if (body.length === 0 || body.toString('utf8').trim() === '') return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `body is not valid JSON: ${(err as Error).message}`);
  }
}
