import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { freePort, until } from '../../scripts/lib/services.js';

/** A port nobody listens on; poll until truthy (shared with the scripts). */
export { freePort, until as waitFor };


export interface TestServer {
  url: string;
  port: number;
  /** Sockets accepted so far. */
  accepted: number;
  /** Sockets open right now, and the most ever open at once. */
  open: number;
  maxOpen: number;
  /** Requests in progress right now, and the most at once. */
  active: number;
  maxActive: number;
  requests: { method: string; url: string; at: number }[];
  close(): Promise<void>;
}

type H = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Counts open sockets across several servers (a socket counts until the client's FIN or close). */
export class SocketTally {
  open = 0;
  max = 0;
}

function instrument(server: Server, base: string, requestsLogged = true, tally?: SocketTally, host = '127.0.0.1'): TestServer {
  const sockets = new Set<Socket>();
  const t: TestServer = {
    url: '',
    port: 0,
    accepted: 0,
    open: 0,
    maxOpen: 0,
    active: 0,
    maxActive: 0,
    requests: [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    t.accepted++;
    t.open++;
    t.maxOpen = Math.max(t.maxOpen, t.open);
    if (tally) tally.max = Math.max(tally.max, ++tally.open);
    // The peer's FIN ends the socket for counting purposes: 'close' comes a
    // loop turn later, after a connection that replaced it may be accepted.
    let counted = true;
    const gone = () => {
      if (!counted) return;
      counted = false;
      t.open--;
      if (tally) tally.open--;
    };
    s.once('end', gone);
    s.on('close', () => {
      sockets.delete(s);
      gone();
    });
  });
  server.on('secureConnection', () => {});
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    t.active++;
    t.maxActive = Math.max(t.maxActive, t.active);
    if (requestsLogged) t.requests.push({ method: req.method ?? '', url: req.url ?? '', at: Date.now() });
    res.on('close', () => t.active--);
  });
  Object.defineProperty(t, 'url', { get: () => `${base}://${host}:${(server.address() as AddressInfo).port}` });
  Object.defineProperty(t, 'port', { get: () => (server.address() as AddressInfo).port });
  return t;
}

/** A real HTTP server on 127.0.0.1:0 that counts its sockets and requests. */
export async function startHttpServer(handler: H, opts: { logRequests?: boolean; keepAliveTimeoutMs?: number; tally?: SocketTally; host?: string } = {}): Promise<TestServer> {
  const server = createServer((req, res) => void handler(req, res));
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 60_000;
  server.maxConnections = 100_000;
  const t = instrument(server, 'http', opts.logRequests ?? true, opts.tally, opts.host);
  await new Promise<void>((r) => server.listen(0, opts.host ?? '127.0.0.1', 5000, r));
  return t;
}

/** Self-signed certificate for 127.0.0.1/localhost, valid `days` days, made with openssl. */
export function makeCert(days = 30): { key: string; cert: string; dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nt-cert-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', String(days),
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return {
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function startHttpsServer(handler: H, tls: { key: string; cert: string }): Promise<TestServer> {
  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => void handler(req, res));
  server.keepAliveTimeout = 60_000;
  const t = instrument(server as unknown as Server, 'https');
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return t;
}

/** Accepts TCP connections and never says a word. */
export async function startSilentServer(): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const s: TcpServer = createTcpServer((sock) => {
    accepted++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    port: (s.address() as AddressInfo).port,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((r) => {
        for (const x of sockets) x.destroy();
        s.close(() => r());
      }),
  };
}


export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
