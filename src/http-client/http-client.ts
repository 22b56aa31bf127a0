import diagnosticsChannel from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { rootCertificates, type TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { BaseComponent, Deadline, type ComponentHealth } from '../lifecycle/component.js';
import type { TelemetryMetrics } from '../metrics/telemetry-metrics.js';
import { BreakerRegistry, type BreakerRegistryOptions } from './breaker-registry.js';
import { BREAKER_STATE_VALUE, CircuitOpenError, type BreakerPermit } from './circuit-breaker.js';
import { ConnectionBudget } from './connection-budget.js';

/**
 * The one way out for HTTP: every probe, database write and API lookup goes
 * through `HttpClient.request`, which adds
 *   - one pooled undici Agent per TLS mode (MAX_CONNECTIONS_PER_HOST sockets per
 *     origin, KEEPALIVE_TIMEOUT idle reuse, READ_TIMEOUT for headers and body),
 *   - a global cap on open sockets (MAX_CONNECTIONS, see ConnectionBudget),
 *   - a circuit breaker per origin (see CircuitBreaker), with the failure
 *     policy chosen by the caller,
 *   - phase timings (DNS, connect, TLS, time to first byte, transfer) and
 *     whether the connection was reused.
 * Bodies are always read to the end (kept up to `keepBodyBytes`, else counted
 * and dropped) so the socket goes back to the pool.
 */

export interface HttpClientOptions {
  maxConnections: number;
  maxConnectionsPerHost: number;
  keepAliveTimeoutMs: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  breaker: BreakerRegistryOptions;
  /** WEB_CLIENT_CA_FILE: PEM CAs trusted, besides the system's, for calls made with `trust: 'peer'` only (members behind TLS). */
  peerCa?: Buffer;
}

export interface PhaseTimings {
  /** Name resolution of a new connection (0 for IP literals, absent when reused). */
  dnsMs?: number;
  connectMs?: number;
  tlsMs?: number;
  /** From the request written to the first response byte (server time + one round trip). */
  ttfbMs?: number;
  /** From the response headers to the end of the body. */
  transferMs?: number;
  /** From the call to the end of the body: pool wait, connection setup and exchange. */
  totalMs: number;
}

export interface HttpResponse {
  ok: true;
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /** Present when keepBodyBytes > 0; truncated at that size (see bodyTruncated). */
  body?: Buffer;
  bodyTruncated: boolean;
  bytes: number;
  timings: PhaseTimings;
  reused: boolean;
  remoteAddress?: string;
  httpVersion: string;
  /** Days until the server certificate's notAfter (negative when expired). */
  certExpiryDays?: number;
}

export interface HttpFailure {
  ok: false;
  error: Error & { code?: string };
  timings: PhaseTimings;
  reused?: boolean;
  remoteAddress?: string;
  /** True when the breaker refused the call: nothing touched the network. */
  circuitOpen: boolean;
}

export type HttpOutcome = HttpResponse | HttpFailure;

/** How a use of the client judges an outcome for the breaker. */
export type BreakerVerdict = 'success' | 'failure' | 'neutral';
export type BreakerPolicy = (o: HttpOutcome, aborted: boolean) => BreakerVerdict;

/** Probes: connection errors, timeouts and 5xx trip the breaker; 4xx is a reachable host. */
export const probeBreakerPolicy: BreakerPolicy = (o, aborted) => {
  if (o.ok) return o.statusCode >= 500 ? 'failure' : 'success';
  return aborted ? 'neutral' : 'failure';
};

/** Writers and API clients: as probes, plus 429 (the server asks us to back off). */
export const writerBreakerPolicy: BreakerPolicy = (o, aborted) => {
  if (o.ok) return o.statusCode >= 500 || o.statusCode === 429 ? 'failure' : 'success';
  return aborted ? 'neutral' : 'failure';
};

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
  /** Keep up to this many body bytes (0: count and discard). */
  keepBodyBytes?: number;
  insecureTls?: boolean;
  /** 'peer': a call to another cluster member; its certificate may also be signed by WEB_CLIENT_CA_FILE's CAs. */
  trust?: 'peer';
  /** false: close the connection after this exchange. */
  reuseConnection?: boolean;
  policy?: BreakerPolicy;
  /**
   * false: no per-origin circuit breaker for this call. For callers with a
   * recovery policy of their own: the outbox's writers send one trial per
   * step of an exponential backoff capped at INFLUX_RETRY_MAX, which brings
   * them back within seconds of a database's return, where the breaker would
   * keep them out for CIRCUIT_RECOVERY_TIMEOUT (see outbox/endpoint-writer.ts).
   */
  breaker?: boolean;
  /** Overrides READ_TIMEOUT for this request (headers and body each). */
  readTimeoutMs?: number;
}

interface SocketInfo {
  tStart: number;
  tLookup?: number;
  tConnect?: number;
  tSecure?: number;
  certExpiryDays?: number;
  requests: number;
  budget: ConnectionBudget;
}

/** Our sockets, whichever client opened them. */
const socketInfo = new WeakMap<Socket, SocketInfo>();

/**
 * undici tells a handler that its request starts (onRequestStart) and, in the
 * same synchronous call, publishes `undici:client:sendHeaders` with the socket.
 * The handler parks itself here so the subscriber can hand it its socket.
 * Sockets not opened by us (e.g. global fetch) are ignored.
 */
let awaitingSocket: RequestHandler | null = null;
diagnosticsChannel.subscribe('undici:client:sendHeaders', (msg) => {
  const { socket } = msg as { socket: Socket };
  const info = socketInfo.get(socket);
  if (!info || !awaitingSocket) return;
  const h = awaitingSocket;
  awaitingSocket = null;
  h.attach(socket, info);
});

/** How long close() waits for the connections to close (a tool exiting; requests in flight fail). */
const CLOSE_WAIT_MS = 10_000;

export class HttpClient extends BaseComponent {
  readonly name = 'http-client';
  readonly breakers: BreakerRegistry;
  readonly budget: ConnectionBudget;
  private readonly agents: { strict: Agent; insecure: Agent; peer: Agent };
  private sweep?: NodeJS.Timeout;
  private destroyed?: Promise<void>;

  constructor(
    readonly opts: HttpClientOptions,
    private readonly metrics?: TelemetryMetrics,
    now: () => number = Date.now,
    log?: Logger,
  ) {
    super();
    this.budget = new ConnectionBudget(opts.maxConnections);
    this.breakers = new BreakerRegistry(opts.breaker, now, {
      transition: (host, from, to) => {
        metrics?.breakerTransitions.inc({ to });
        metrics?.breakerState.set({ host }, BREAKER_STATE_VALUE[to]);
        log?.info({ host, from, to }, 'circuit breaker transition');
      },
      evicted: (host) => metrics?.breakerState.remove({ host }),
    });
    // Probes keep the system's trust: a private CA for members must not make a target's certificate valid.
    const strict = this.makeAgent(true);
    this.agents = { strict, insecure: this.makeAgent(false), peer: opts.peerCa ? this.makeAgent(true, [...rootCertificates, opts.peerCa.toString('utf8')]) : strict };
    if (metrics) {
      metrics.poolMax.set(opts.maxConnections);
      metrics.breakersMax.set(opts.breaker.maxBreakers);
      metrics.onCollect(() => {
        metrics.poolActive.set(this.budget.busySockets);
        metrics.poolIdle.set(this.budget.idleSockets);
        metrics.poolPending.set(this.pendingRequests());
        metrics.breakers.set(this.breakers.size);
        for (const [host, { breaker }] of this.breakers.entries()) metrics.breakerState.set({ host }, BREAKER_STATE_VALUE[breaker.state]);
      });
    }
  }

  protected async onStart(): Promise<void> {
    // One shared sweep evicts idle breakers even when no new call arrives.
    this.sweep = setInterval(() => this.breakers.evict(), Math.min(30_000, Math.max(1000, this.opts.breaker.idleEvictMs / 4)));
    this.sweep.unref();
    await warmUp();
  }

  health(): ComponentHealth {
    return {
      status: 'ok',
      open_circuits: this.breakers.notClosed(),
      connections_open: this.budget.openSockets,
      connections_max: this.opts.maxConnections,
    };
  }

  /** Close every connection by the deadline; requests in flight fail. */
  protected async onStop(deadline: Deadline): Promise<void> {
    clearInterval(this.sweep);
    await deadline.race(this.destroyAgents());
  }

  /**
   * For one-shot tools and tests, which may use the client without start():
   * stop it, and close every connection even if it was never started.
   */
  async close(): Promise<void> {
    await this.stop(Deadline.in(CLOSE_WAIT_MS));
    await this.destroyAgents();
  }

  private destroyAgents(): Promise<void> {
    this.destroyed ??= Promise.allSettled([...new Set(Object.values(this.agents))].map((a) => a.destroy())).then(() => undefined);
    return this.destroyed;
  }

  private makeAgent(rejectUnauthorized: boolean, ca?: string[]): Agent {
    const base = buildConnector({ timeout: this.opts.connectTimeoutMs, rejectUnauthorized, keepAlive: true, ...(ca ? { ca } : {}) });
    const connect: buildConnector.connector = (options, callback) => {
      this.budget.acquire(this.opts.connectTimeoutMs).then(
        () => {
          const info: SocketInfo = { tStart: performance.now(), requests: 0, budget: this.budget };
          let adopted = false;
          let failedEarly = false;
          const socket = base(options, (err, sock) => {
            if (err || !sock) {
              if (!adopted) {
                failedEarly = true;
                this.budget.release();
              }
              callback(err ?? new Error('connect failed'), null);
              return;
            }
            this.metrics?.connectionsOpened.inc();
            callback(null, sock);
          }) as Socket | undefined;
          if (failedEarly || !socket) return;
          socketInfo.set(socket, info);
          // From here the slot is held until the socket closes, whichever way the connect ends.
          adopted = true;
          this.budget.adopt(socket);
          socket.prependOnceListener('lookup', () => (info.tLookup = performance.now()));
          socket.prependOnceListener('connect', () => (info.tConnect = performance.now()));
          socket.prependOnceListener('secureConnect', () => {
            info.tSecure = performance.now();
            const cert = (socket as TLSSocket).getPeerCertificate?.();
            if (cert?.valid_to) info.certExpiryDays = (Date.parse(cert.valid_to) - Date.now()) / 86_400_000;
          });
        },
        (err: Error) => callback(err, null),
      );
    };
    return new Agent({
      connect,
      connections: this.opts.maxConnectionsPerHost,
      pipelining: 1,
      keepAliveTimeout: this.opts.keepAliveTimeoutMs,
      keepAliveMaxTimeout: this.opts.keepAliveTimeoutMs,
      keepAliveTimeoutThreshold: Math.min(1000, this.opts.keepAliveTimeoutMs / 2),
      headersTimeout: this.opts.readTimeoutMs,
      bodyTimeout: this.opts.readTimeoutMs,
      connectTimeout: this.opts.connectTimeoutMs,
    });
  }

  /** Requests waiting inside undici for a connection of their origin. */
  pendingRequests(): number {
    let n = 0;
    for (const agent of new Set(Object.values(this.agents))) {
      for (const s of Object.values(agent.stats)) n += (s as { pending?: number }).pending ?? 0;
    }
    return n + this.budget.waiting;
  }

  /**
   * One exchange. Never throws for network trouble: the outcome says what
   * happened. A signal abort resolves at once with the abort reason.
   */
  async request(url: string | URL, o: HttpRequestOptions = {}): Promise<HttpOutcome> {
    const u = typeof url === 'string' ? new URL(url) : url;
    if (o.breaker === false) return this.exchange(u, o);
    const breaker = this.breakers.get(u.origin);
    const permit = breaker.acquire();
    if (permit instanceof CircuitOpenError) {
      this.metrics?.breakerRejections.inc();
      return { ok: false, error: permit, timings: { totalMs: 0 }, circuitOpen: true };
    }
    const outcome = await this.exchange(u, o);
    const aborted = o.signal?.aborted === true && !outcome.ok;
    this.settle(breaker, permit, (o.policy ?? probeBreakerPolicy)(outcome, aborted && !isTimeoutReason(o.signal?.reason)));
    return outcome;
  }

  private settle(breaker: ReturnType<BreakerRegistry['get']>, permit: BreakerPermit, verdict: BreakerVerdict): void {
    if (verdict === 'success') breaker.recordSuccess(permit);
    else if (verdict === 'failure') breaker.recordFailure(permit);
    else breaker.recordNeutral(permit);
  }

  private exchange(u: URL, o: HttpRequestOptions): Promise<HttpOutcome> {
    return new Promise<HttpOutcome>((resolve) => {
      const handler = new RequestHandler(o.keepBodyBytes ?? 0, resolve, o.signal);
      if (o.signal?.aborted) return handler.fail(abortError(o.signal));
      const headers: Record<string, string> = { 'user-agent': 'network-telemetry', ...o.headers };
      if (o.reuseConnection === false) headers.connection = 'close';
      const agent = o.insecureTls ? this.agents.insecure : o.trust === 'peer' ? this.agents.peer : this.agents.strict;
      const opts: Dispatcher.DispatchOptions = {
        origin: u.origin,
        path: u.pathname + u.search,
        method: (o.method ?? 'GET') as Dispatcher.HttpMethod,
        headers,
        body: o.body ?? null,
        headersTimeout: o.readTimeoutMs ?? this.opts.readTimeoutMs,
        bodyTimeout: o.readTimeoutMs ?? this.opts.readTimeoutMs,
      };
      try {
        agent.dispatch(opts, handler as unknown as Dispatcher.DispatchHandler);
      } catch (err) {
        handler.fail(err as Error);
      }
    });
  }

}

/**
 * One exchange with an in-process loopback server before any probe, through
 * a throwaway Agent and our own handler (no metric, no budget slot, no
 * breaker). Why: the first request of a process paid for undici's lazy
 * work — compiling its client code on first use, instantiating the llhttp
 * WebAssembly parser after the first write, and the collection that
 * followed — inside the measured phases: `collect --once` read connect 10-18
 * ms on loopback and total 519-573 ms where curl read 500-515 ms against a
 * server answering after 200 + 300 ms. Warm, the same probe reads what curl
 * does. Bounded (1 s) and never fatal: a failure only leaves the first probe
 * cold.
 */
async function warmUp(): Promise<void> {
  const server = createServer((_req, res) => res.end('ok'));
  const agent = new Agent({ connections: 1 });
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (let i = 0; i < 2; i++) {
      // Not AbortSignal.timeout: its timer would outlive a quick answer by the whole second.
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new Error('warm-up timed out')), 1000).unref();
      const done = new Promise<HttpOutcome>((resolve) => {
        const handler = new RequestHandler(16, resolve, abort.signal);
        agent.dispatch({ origin, path: '/', method: 'GET', headers: { connection: i ? 'close' : 'keep-alive' } }, handler as unknown as Dispatcher.DispatchHandler);
      });
      await done.finally(() => clearTimeout(timer));
    }
  } catch {
    // only the first probe stays cold
  } finally {
    await agent.destroy().catch(() => {});
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function isTimeoutReason(r: unknown): boolean {
  return typeof r === 'object' && r !== null && (r as { code?: string }).code === 'DEADLINE';
}

function abortError(signal: AbortSignal): Error & { code?: string } {
  const r = signal.reason as unknown;
  if (r instanceof Error) return r as Error & { code?: string };
  return Object.assign(new Error('aborted'), { code: 'ABORT_ERR' });
}

interface Controller {
  abort(reason: Error): void;
}

/** undici handler (new API): times the phases, reads the body, settles once. */
class RequestHandler {
  private readonly tStart = performance.now();
  private tSent?: number;
  private tHeaders?: number;
  private socket?: Socket;
  private info?: SocketInfo;
  private reused?: boolean;
  private controller?: Controller;
  private settled = false;
  private statusCode = 0;
  private headers: Record<string, string | string[] | undefined> = {};
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private bytes = 0;
  private truncated = false;
  private readonly onAbort: () => void;

  constructor(
    private readonly keepBodyBytes: number,
    private readonly resolve: (o: HttpOutcome) => void,
    private readonly signal?: AbortSignal,
  ) {
    this.onAbort = () => {
      const err = abortError(this.signal!);
      this.controller?.abort(err);
      this.fail(err);
    };
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    if (this.settled) {
      controller.abort(new Error('aborted before start'));
      return;
    }
    awaitingSocket = this;
  }

  attach(socket: Socket, info: SocketInfo): void {
    this.socket = socket;
    this.info = info;
    this.reused = info.requests > 0;
    info.requests++;
    info.budget.markBusy(socket);
    this.tSent = performance.now();
  }

  onResponseStart(_c: Controller, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.tHeaders = performance.now();
    this.statusCode = statusCode;
    this.headers = headers;
  }

  onResponseData(_c: Controller, chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.kept < this.keepBodyBytes) {
      const take = Math.min(chunk.length, this.keepBodyBytes - this.kept);
      this.chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      this.kept += take;
      if (take < chunk.length) this.truncated = true;
    } else if (this.keepBodyBytes > 0) {
      this.truncated = true;
    }
  }

  onResponseEnd(): void {
    const end = performance.now();
    this.release();
    if (this.settled) return;
    this.settled = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    // Settle two macrotasks later: with pipelining 1, undici hands the
    // connection back to its pool in a setImmediate queued *after* this
    // callback (client-h1 onMessageComplete). A caller that sends its next
    // request straight away must find the connection free, not open another.
    const resolve = (o: HttpOutcome) => setImmediate(() => setImmediate(() => this.resolve(o)));
    resolve({
      ok: true,
      statusCode: this.statusCode,
      headers: this.headers,
      body: this.keepBodyBytes > 0 ? Buffer.concat(this.chunks) : undefined,
      bodyTruncated: this.truncated,
      bytes: this.bytes,
      timings: { ...this.phases(), transferMs: this.tHeaders !== undefined ? end - this.tHeaders : undefined, totalMs: end - this.tStart },
      reused: this.reused ?? false,
      remoteAddress: this.socket?.remoteAddress,
      httpVersion: '1.1',
      certExpiryDays: this.info?.certExpiryDays,
    });
  }

  onResponseError(_c: Controller | undefined, err: Error): void {
    this.release();
    this.fail(err);
  }

  fail(err: Error & { code?: string }): void {
    if (this.settled) return;
    this.settled = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.resolve({
      ok: false,
      error: err,
      timings: { ...this.phases(), totalMs: performance.now() - this.tStart },
      reused: this.reused,
      remoteAddress: this.socket?.remoteAddress,
      circuitOpen: false,
    });
  }

  private released = false;
  /** The exchange is over: the socket is idle again (undici may reuse or close it). */
  private release(): void {
    if (this.released || !this.socket || !this.info) return;
    this.released = true;
    this.info.budget.markIdle(this.socket);
  }

  private phases(): Omit<PhaseTimings, 'totalMs'> {
    const out: Omit<PhaseTimings, 'totalMs'> = {};
    const i = this.info;
    if (i && !this.reused) {
      const afterDns = i.tLookup ?? i.tStart;
      out.dnsMs = i.tLookup !== undefined ? i.tLookup - i.tStart : 0;
      if (i.tConnect !== undefined) out.connectMs = i.tConnect - afterDns;
      if (i.tSecure !== undefined && i.tConnect !== undefined) out.tlsMs = i.tSecure - i.tConnect;
    }
    if (this.tSent !== undefined && this.tHeaders !== undefined) out.ttfbMs = this.tHeaders - this.tSent;
    return out;
  }
}
