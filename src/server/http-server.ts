import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { BaseComponent, type ComponentHealth, type Deadline } from '../lifecycle/component.js';
import { StartupError } from '../lifecycle/startup-error.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { ensureDataDir } from '../sqlite/sqlite-db.js';
import { AuthFailures } from './auth-failures.js';
import { ConnectionTable } from './connection-table.js';
import { VerifierBusyError } from './password-verifier.js';
import { BasicAuth, loadWebConfig, secretEquals, type WebConfig } from './web-config.js';

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

export interface Reply {
  status?: number;
  json?: unknown;
  text?: string;
  body?: Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}

export type Handler = (req: IncomingMessage, url: URL, params: string[]) => Promise<Reply> | Reply;

/**
 * open: no credentials ever (liveness and readiness probes of orchestrators);
 * read: basic auth when WEB_CONFIG_FILE sets users;
 * write: the bearer token (COLLECT_TOKEN), or basic auth when users are set.
 */
export type Access = 'open' | 'read' | 'write';

export interface Route {
  method: 'GET' | 'POST';
  /** An exact path, or a pattern whose groups become `params` (URL-decoded). */
  path: string | RegExp;
  access: Access;
  handler: Handler;
  /** Label in telemetry_http_requests_total (default: the path). */
  label?: string;
}

export const MAX_BODY_BYTES = 64 * 1024;

export interface ServerOptions {
  port: number;
  host: string;
  /** COLLECT_TOKEN; when unset one is generated into DATA_DIR/collect-token at start. */
  token?: string;
  /** The cluster's read-only member-to-member token: accepted for `read` routes, never for `write`. */
  readToken?: string;
  dataDir: string;
  webConfigFile?: string;
  /** How often WEB_CONFIG_FILE and the files it names are checked for a change (WEB_CONFIG_CHECK_INTERVAL; default 10 s). */
  webConfigCheckMs?: number;
  /** API_HEADERS_TIMEOUT: from accept (or the end of the previous request) to complete headers; bounds the TLS handshake too. */
  headersTimeoutMs: number;
  /** API_REQUEST_TIMEOUT: to receive a whole request, its body included (not the time to answer it). */
  requestTimeoutMs: number;
  /** API_IDLE_TIMEOUT: how long a keep-alive connection may wait for its next request. */
  idleTimeoutMs: number;
  /** Longest a handler answers in (POST /collect: COLLECT_TIMEOUT); a connection silent longer than this is closed. */
  handlerTimeoutMs: number;
  maxConnections: number;
  /** Runs right before the server listens: the start-up's loading listener gives the port up (loading-server.ts). */
  beforeListen?: () => Promise<void>;
}

/** Default timeouts (the env schema's defaults; tests of the server alone use them). */
export const DEFAULT_TIMEOUTS = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, idleTimeoutMs: 5_000, handlerTimeoutMs: 130_000 } as const;

/** How long a basic-auth attempt refused without a check waits for its answer. */
const TARPIT_MS = 1000;

/** Name of the generated token file under DATA_DIR. */
export const TOKEN_FILE = 'collect-token';

/**
 * The daemon's HTTP server: the JSON API, /metrics and the web UI on one
 * port. A literal route table over node:http(s). Every request gets an
 * answer — unparsable targets included (400). No connection outlives its
 * use: a TLS handshake or the headers must be done within
 * API_HEADERS_TIMEOUT, the whole request within API_REQUEST_TIMEOUT, a
 * keep-alive connection is closed after API_IDLE_TIMEOUT without a request,
 * and one silent longer than the longest handler is closed. Connections are
 * capped (MAX_API_CONNECTIONS) by a table in which a newcomer displaces the
 * longest-idle connection (connection-table.ts), so a flood of silent or
 * slow connections cannot keep /health/live or the UI out. Basic-auth
 * passwords are checked in a worker thread, with a per-client failure limit.
 * Errors are JSON `{"error": "..."}` with the status that says what was wrong.
 */
export class ApiServer extends BaseComponent {
  readonly name = 'api';
  private server?: Server;
  private token?: string;
  private tokenFile?: string;
  private web: WebConfig = {};
  private auth?: BasicAuth;
  private webWatch?: NodeJS.Timeout;
  /** What the web config was last read from (mtimes, sizes): a change means read it again. */
  private webStamp = '';
  private readonly failures = new AuthFailures();
  private readonly connections: ConnectionTable;

  constructor(
    private readonly routes: Route[],
    private readonly opts: ServerOptions,
    private readonly metrics: TelemetryMetrics,
    private readonly log: Logger,
  ) {
    super();
    this.connections = new ConnectionTable(opts.maxConnections, {
      evicted: () => metrics.apiConnectionsClosed.inc({ reason: 'displaced' }),
      refused: () => metrics.apiConnectionsClosed.inc({ reason: 'refused' }),
    });
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.opts.port;
  }

  get scheme(): 'http' | 'https' {
    return this.web.tls ? 'https' : 'http';
  }

  /** Where the UI and API answer, for the start-up log line. */
  get url(): string {
    const host = this.opts.host === '0.0.0.0' || this.opts.host === '::' ? 'localhost' : this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `${this.scheme}://${host}:${this.port}/`;
  }

  /** Where the bearer token lives when it was generated (for the start-up log line). */
  get generatedTokenFile(): string | undefined {
    return this.tokenFile;
  }

  get basicAuth(): boolean {
    return this.auth !== undefined;
  }

  protected async onStart(): Promise<void> {
    if (this.opts.webConfigFile) {
      this.web = loadWebConfig(this.opts.webConfigFile);
      if (this.web.users) {
        this.auth = new BasicAuth(this.web.users);
        this.auth.warm();
      }
    }
    this.token = this.opts.token ?? this.loadOrCreateToken();
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const o = this.opts;
    const timeouts = {
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      keepAliveTimeout: o.idleTimeoutMs,
      // How often node checks the two timeouts above (its default, 30 s, would let them overrun by that much).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.round(o.headersTimeoutMs / 4))),
    };
    const server = this.web.tls
      ? createHttpsServer({ cert: this.web.tls.cert, key: this.web.tls.key, handshakeTimeout: o.headersTimeoutMs, ...timeouts }, handler)
      : createHttpServer(timeouts, handler);
    // A socket with no traffic either way for longer than any handler may take (a client that stopped reading).
    server.timeout = o.handlerTimeoutMs + o.requestTimeoutMs;
    server.on('connection', (s: Socket) => {
      if (!this.connections.admit(s)) s.destroy();
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.connections.begin(req.socket);
      res.once('close', () => this.connections.end(req.socket));
    });
    // Requests that never reach the handler (a malformed request line, a
    // timeout, a TLS handshake that failed or never came) end here. Answer
    // what was an HTTP request, then close; anything else is closed at once
    // (writing to a socket whose TLS handshake never finished only leaves
    // it open, in CLOSE-WAIT once the client goes).
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      const code = err.code ?? 'parse error';
      const status = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : code.startsWith('HPE_') ? '400 Bad Request' : undefined;
      // Not while an answer is being written on this connection (that answer would be corrupted).
      const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
      if (status && !answering && socket.writable && !socket.writableEnded) {
        socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-type: application/json\r\n\r\n{"error":"bad request: ${code}"}\n`, () => socket.destroy());
        setTimeout(() => socket.destroy(), 1000).unref();
      } else socket.destroy();
    });
    this.server = server;
    if (this.opts.webConfigFile) {
      this.webStamp = this.webConfigStamp();
      this.webWatch = setInterval(() => this.rereadWebConfig(), this.opts.webConfigCheckMs ?? 10_000);
      this.webWatch.unref();
    }
    this.metrics.onCollect(() => this.metrics.apiConnections.set(this.connections.size));
    this.metrics.apiConnectionsMax.set(this.opts.maxConnections);
    await this.opts.beforeListen?.();
    await new Promise<void>((resolvePromise, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(this.explainListenError(err)));
      server.listen(this.opts.port, this.opts.host, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.log.error({ err }, 'HTTP server error'));
        resolvePromise();
      });
    });
  }

  private explainListenError(err: NodeJS.ErrnoException): Error {
    const where = `${this.opts.host}:${this.opts.port}`;
    switch (err.code) {
      case 'EADDRINUSE':
        return new StartupError('PORT', `${where} is already in use (another network-telemetry?): stop it, or set PORT (or LISTEN_ADDRESS) to a free one`);
      case 'EACCES':
        return new StartupError('PORT', `binding ${where} is not permitted (ports below 1024 need root or CAP_NET_BIND_SERVICE): set PORT above 1023`);
      case 'EADDRNOTAVAIL':
      case 'ENOTFOUND':
      case 'EAI_NONAME':
        return new StartupError('LISTEN_ADDRESS', `${this.opts.host} is not an address of this host: set LISTEN_ADDRESS to one of its addresses, or 0.0.0.0`);
      default:
        return err;
    }
  }

  /** COLLECT_TOKEN unset: the mutating routes still need a token, kept in DATA_DIR so restarts keep it. */
  private loadOrCreateToken(): string {
    ensureDataDir(this.opts.dataDir);
    const file = resolve(join(this.opts.dataDir, TOKEN_FILE));
    this.tokenFile = file;
    if (existsSync(file)) {
      const t = readFileSync(file, 'utf8').trim();
      if (t.length >= 16) {
        const mode = statSync(file).mode & 0o777;
        if ((mode & 0o077) !== 0) {
          // Anyone who can read it can run probes and reloads: made private, and said so (it may have been read already).
          chmodSync(file, 0o600);
          this.log.warn({ file, was: `0${mode.toString(8)}` }, `the token file was readable by other users (mode 0${mode.toString(8)}): changed to 0600; replace the token if others may have read it (delete the file and restart)`);
        }
        return t;
      }
    }
    const token = randomBytes(24).toString('base64url');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    this.log.info({ file }, 'COLLECT_TOKEN not set: generated one for POST /collect and POST /-/reload (send it as "Authorization: Bearer <token>")');
    return token;
  }

  private match(method: string, pathname: string): { route?: Route; params: string[]; otherMethod: boolean } {
    let otherMethod = false;
    for (const r of this.routes) {
      let params: string[] | undefined;
      if (typeof r.path === 'string') {
        if (r.path === pathname) params = [];
      } else {
        const m = r.path.exec(pathname);
        if (m) params = m.slice(1).map((p) => decodeURIComponent(p ?? ''));
      }
      if (!params) continue;
      if (r.method === method || (method === 'HEAD' && r.method === 'GET')) return { route: r, params, otherMethod };
      otherMethod = true;
    }
    return { params: [], otherMethod };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    let label = 'unmatched';
    try {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://localhost');
        // `//host/x` parses as a path here, but a path that starts with `//` is never ours.
        if (!(req.url ?? '/').startsWith('/') || (req.url ?? '').startsWith('//')) throw new Error('not an origin-form path');
      } catch {
        throw new HttpError(400, `cannot parse the request target "${String(req.url).slice(0, 100)}"`);
      }
      let found: ReturnType<ApiServer['match']>;
      try {
        found = this.match(req.method ?? 'GET', url.pathname);
      } catch {
        throw new HttpError(400, `bad percent-encoding in ${url.pathname.slice(0, 100)}`);
      }
      const { route, params, otherMethod } = found;
      if (!route) {
        throw otherMethod ? new HttpError(405, `method ${req.method} not allowed on ${url.pathname}`) : new HttpError(404, `no route ${url.pathname}`);
      }
      label = route.label ?? (typeof route.path === 'string' ? route.path : String(route.path));
      await this.authorize(route.access, req);
      reply = await route.handler(req, url, params);
    } catch (err) {
      const status = (err as { httpStatus?: unknown }).httpStatus;
      if (err instanceof HttpError) {
        reply = { status: err.status, json: { error: err.message, ...err.extra }, headers: err.headers };
      } else if (typeof status === 'number' && status >= 400 && status < 600) {
        // A part that cannot answer right now says so (the store when busy): the caller may retry.
        reply = { status, json: { error: (err as Error).message }, headers: status === 503 ? { 'retry-after': '2' } : {} };
      } else if (err instanceof RangeError) {
        reply = { status: 400, json: { error: err.message } };
      } else {
        this.metrics.errors.inc({ component: 'api' });
        this.log.error({ err, path: String(req.url).slice(0, 200) }, 'request handler failed');
        reply = { status: 500, json: { error: 'internal error (logged)' } };
      }
      req.resume(); // drain an unread body so the connection stays usable
    }
    const status = reply.status ?? 200;
    this.metrics.httpRequests.inc({ route: label, status: String(status) });
    const body = reply.body ?? Buffer.from(reply.text ?? `${JSON.stringify(reply.json ?? {})}\n`);
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'content-type': reply.contentType ?? 'application/json', 'content-length': String(body.length), ...reply.headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private async authorize(access: Access, req: IncomingMessage): Promise<void> {
    if (access === 'open') return;
    const header = req.headers.authorization;
    if (access === 'write') {
      const bearer = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim();
      if (bearer !== undefined && this.token !== undefined && secretEquals(bearer, this.token)) return;
      if (await this.basicAuthOk(header, req)) return;
      const where = this.opts.token ? 'COLLECT_TOKEN' : `the token in ${this.tokenFile ?? TOKEN_FILE}`;
      throw new HttpError(401, `missing or wrong bearer token: send "Authorization: Bearer <token>" with ${where}`, {}, { 'www-authenticate': this.auth ? 'Bearer, Basic realm="network-telemetry"' : 'Bearer' });
    }
    if (!this.auth) return;
    // The collect token can do anything; members of a cluster read with their read-only token.
    const bearer = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim();
    if (bearer !== undefined && this.token !== undefined && secretEquals(bearer, this.token)) return;
    if (bearer !== undefined && this.opts.readToken !== undefined && secretEquals(bearer, this.opts.readToken)) return;
    if (await this.basicAuthOk(header, req)) return;
    throw new HttpError(401, 'authentication required (WEB_CONFIG_FILE basic_auth_users)', {}, { 'www-authenticate': 'Basic realm="network-telemetry", charset="UTF-8"' });
  }

  /**
   * Basic credentials that match a user. A client past its free failures
   * waits (429, Retry-After) without costing a bcrypt run; a pair verified
   * in the last minute passes even then (a user behind the same address as
   * a brute-forcer is not locked out). Refusals without a check (throttled,
   * or the verifier's queue full) are answered after a pause, with the
   * connection counted idle meanwhile: a flood then gets a few answers a
   * second per connection instead of thousands, and cannot hold the
   * connection table.
   */
  private async basicAuthOk(header: string | undefined, req: IncomingMessage): Promise<boolean> {
    const creds = this.auth ? BasicAuth.parse(header) : undefined;
    if (!this.auth || !creds) return false;
    if (this.auth.recentlyVerified(creds)) return true;
    const client = req.socket.remoteAddress ?? 'unknown';
    const wait = this.failures.retryAfterMs(client);
    if (wait > 0) {
      this.metrics.authFailures.inc({ result: 'throttled' });
      await this.tarpit(req);
      const s = Math.ceil(this.failures.retryAfterMs(client) / 1000);
      throw new HttpError(429, `too many failed logins from ${client}: try again in ${s} s`, {}, { 'retry-after': String(s) });
    }
    let ok: boolean;
    try {
      ok = await this.auth.verify(creds);
    } catch (err) {
      if (!(err instanceof VerifierBusyError)) throw err;
      // Not checked, so not known to be wrong; counted all the same, or a flood would never be throttled.
      this.failures.failed(client);
      this.metrics.authFailures.inc({ result: 'busy' });
      await this.tarpit(req);
      throw err;
    }
    if (ok) this.failures.succeeded(client);
    else {
      this.failures.failed(client);
      this.metrics.authFailures.inc({ result: 'wrong' });
    }
    return ok;
  }

  /** Hold a refused request for TARPIT_MS, its connection displaceable meanwhile. */
  private async tarpit(req: IncomingMessage): Promise<void> {
    this.connections.end(req.socket);
    await new Promise((r) => setTimeout(r, TARPIT_MS).unref());
    this.connections.begin(req.socket);
  }

  health(): ComponentHealth {
    return {
      status: 'ok',
      listening: this.server?.listening === true,
      url: this.server ? this.url : null,
      connections: this.connections.size,
      connections_max: this.opts.maxConnections,
      tls: this.web.tls !== undefined,
      basic_auth: this.auth !== undefined,
    };
  }

  /** Stop accepting connections now; in-flight requests finish until the deadline, then their sockets close. */
  /** mtime and size of WEB_CONFIG_FILE and the certificate and key it names (missing files count too). */
  private webConfigStamp(): string {
    const files = [this.opts.webConfigFile!, this.web.tls?.certFile, this.web.tls?.keyFile].filter((f): f is string => !!f);
    return files
      .map((f) => {
        try {
          const st = statSync(f);
          return `${f}:${st.mtimeMs}:${st.size}:${st.ino}`;
        } catch {
          return `${f}:missing`;
        }
      })
      .join('|');
  }

  /**
   * A renewed certificate or changed users take effect without a restart, as
   * the exporter toolkit rereads its web config: new connections get the new
   * certificate, the next request the new users. A file that does not load
   * (a key written before its certificate, a typo) changes nothing and is
   * tried again at its next change; switching TLS on or off needs a restart.
   */
  private rereadWebConfig(): void {
    const stamp = this.webConfigStamp();
    if (stamp === this.webStamp) return;
    this.webStamp = stamp;
    const file = this.opts.webConfigFile!;
    try {
      const next = loadWebConfig(file);
      if (!!next.tls !== !!this.web.tls) {
        this.log.warn({ file }, `WEB_CONFIG_FILE: TLS turned ${next.tls ? 'on' : 'off'}: that needs a restart; the server keeps ${this.scheme}`);
        return;
      }
      if (next.tls) (this.server as HttpsServer).setSecureContext({ cert: next.tls.cert, key: next.tls.key });
      this.web = next;
      this.auth = next.users ? new BasicAuth(next.users) : undefined;
      this.webStamp = this.webConfigStamp(); // the files it names may have changed with it
      this.log.info({ file, tls: !!next.tls, users: next.users?.size ?? 0 }, 'WEB_CONFIG_FILE reread: new connections use it');
    } catch (err) {
      this.metrics.errors.inc({ component: 'api' });
      this.log.error({ file, error: (err as Error).message }, 'WEB_CONFIG_FILE changed but cannot be used: keeping the previous one');
    }
  }

  protected async onStop(deadline: Deadline): Promise<void> {
    clearInterval(this.webWatch);
    const s = this.server;
    if (!s) return;
    const closed = new Promise<void>((r) => s.close(() => r()));
    s.closeIdleConnections();
    await deadline.race(closed);
    for (const sock of this.connections.sockets()) sock.destroy();
    await this.auth?.close();
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
