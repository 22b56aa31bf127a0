import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { LoadProgress } from '../config/config-loader.js';
import type { Env } from '../config/env-schema.js';
import { StartupError } from '../lifecycle/startup-error.js';
import { loadWebConfig } from './web-config.js';

/**
 * The listener of a start-up that loads a large TARGETS_FILE (100,000
 * targets take seconds): it holds PORT from the first second, so an
 * orchestrator sees the process alive and not yet ready instead of a
 * refused connection. GET /health/live answers 200, GET /health/ready 503
 * with `"status": "loading"` and how far the load is; every other path 503
 * with Retry-After. The API server takes the port over when it starts (it
 * closes this one right before it listens: a few ms without a listener).
 * Same address, scheme (TLS from WEB_CONFIG_FILE) and connection bounds as
 * the API.
 */
export class LoadingServer {
  private server?: Server;
  private progress: LoadProgress = { done: 0, total: 0, sinceMs: Date.now() };
  private phase: 'loading' | 'starting' = 'loading';
  private closing?: Promise<void>;

  constructor(
    private readonly env: Env,
    private readonly log: Logger,
  ) {}

  /** Where the load is (config-loader's progress). */
  update(p: LoadProgress): void {
    this.progress = p;
  }

  /** The targets are loaded; the components are starting. */
  starting(): void {
    this.phase = 'starting';
  }

  async start(): Promise<void> {
    const env = this.env;
    const tls = env.WEB_CONFIG_FILE ? loadWebConfig(env.WEB_CONFIG_FILE).tls : undefined;
    const handler = (req: IncomingMessage, res: ServerResponse) => this.answer(req, res);
    const timeouts = { headersTimeout: env.API_HEADERS_TIMEOUT * 1000, requestTimeout: env.API_REQUEST_TIMEOUT * 1000, keepAliveTimeout: env.API_IDLE_TIMEOUT * 1000 };
    const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: timeouts.headersTimeout, ...timeouts }, handler) : createHttpServer(timeouts, handler);
    server.maxConnections = env.MAX_API_CONNECTIONS;
    server.timeout = timeouts.requestTimeout;
    server.on('clientError', (_err, socket: Socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new StartupError('PORT', `${env.LISTEN_ADDRESS}:${env.PORT} is already in use (another network-telemetry?): stop it, or set PORT (or LISTEN_ADDRESS) to a free one`) : err),
      );
      server.listen(env.PORT, env.LISTEN_ADDRESS, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.log.error({ err }, 'HTTP server error (while loading)'));
        resolve();
      });
    });
    this.server = server;
    this.log.info({ port: env.PORT }, `loading TARGETS_FILE ${env.TARGETS_FILE}: /health/live answers, /health/ready says "loading" until the targets are loaded`);
  }

  /** Stop listening and drop every connection (the API server listens next). */
  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    this.closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return this.closing;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const p = this.progress;
    const what = this.phase === 'starting' ? `starting: ${p.total || p.done} targets loaded` : p.total ? `loading targets: ${p.done} of ${p.total}` : 'loading targets: reading TARGETS_FILE';
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
      res.end(`${JSON.stringify(body)}\n`);
    };
    if (req.method === 'GET' && path === '/health/live') return send(200, { status: 'alive', loading: true });
    if (req.method === 'GET' && path === '/health/ready') {
      return send(503, { ready: false, status: this.phase, reasons: [what], targets_loaded: p.done, targets_total: p.total, loading_s: Math.round((Date.now() - p.sinceMs) / 100) / 10 });
    }
    send(503, { error: `not available yet: ${what}; try again shortly` }, { 'retry-after': '5' });
  }
}
