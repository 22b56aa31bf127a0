import type { Socket } from 'node:net';

/**
 * The API's connections, bounded by MAX_API_CONNECTIONS without letting
 * idle ones lock everybody out. A plain `server.maxConnections` refuses the
 * newcomer when the table is full, so 256 connections that never send a
 * byte (or send a header line every few seconds, slowloris) kept the UI,
 * the API and the orchestrator's /health/live probe out for as long as the
 * attacker liked. Here a newcomer that finds the table full displaces the
 * connection that has waited longest without a request in progress (one
 * still in its TLS handshake, one trickling its headers, an idle
 * keep-alive): those cost the client nothing to reopen, while a probe or a
 * browser sends its request at once and is served. Only when every
 * connection is serving a request is the newcomer refused. The timeouts
 * (API_HEADERS_TIMEOUT, API_REQUEST_TIMEOUT, API_IDLE_TIMEOUT) close what
 * lingers anyway; this decides who waits when the table is full now.
 *
 * Keyed by the accepted TCP socket; with TLS the request's socket is the
 * TLSSocket wrapping it (`_parent`), mapped back in `socketOf`.
 */
export class ConnectionTable {
  /** Insertion order is renewed on every change of state: the first idle entry is the one idle longest. */
  private readonly entries = new Map<Socket, { busy: number }>();

  constructor(
    private readonly max: number,
    private readonly counted: { evicted(): void; refused(): void } = { evicted() {}, refused() {} },
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** A new connection: true to keep it; false when it must be closed (every slot busy). */
  admit(socket: Socket): boolean {
    if (this.entries.size >= this.max) {
      const victim = this.oldestIdle();
      if (!victim) {
        this.counted.refused();
        return false;
      }
      this.entries.delete(victim);
      this.counted.evicted();
      victim.destroy();
    }
    this.entries.set(socket, { busy: 0 });
    socket.once('close', () => this.entries.delete(socket));
    return true;
  }

  /** A request on this connection began (its headers are in). */
  begin(socket: Socket): void {
    const raw = socketOf(socket);
    const e = this.entries.get(raw);
    if (e) e.busy++;
  }

  /** Its answer was sent (or the request was aborted): idle again, and youngest. */
  end(socket: Socket): void {
    const raw = socketOf(socket);
    const e = this.entries.get(raw);
    if (!e) return;
    e.busy = Math.max(0, e.busy - 1);
    this.entries.delete(raw);
    this.entries.set(raw, e);
  }

  sockets(): IterableIterator<Socket> {
    return this.entries.keys();
  }

  private oldestIdle(): Socket | undefined {
    for (const [s, e] of this.entries) if (e.busy === 0) return s;
    return undefined;
  }
}

/** The accepted TCP socket behind a request's socket (a TLSSocket wraps it). */
function socketOf(s: Socket): Socket {
  return (s as Socket & { _parent?: Socket })._parent ?? s;
}
