import type { Socket } from 'node:net';

/**
 * MAX_CONNECTIONS: a cap on open sockets across all hosts. undici caps sockets
 * per origin only, so every new connection first takes a slot here.
 *
 * The cap counts *open* sockets, busy or idle. To stay deadlock-free when
 * idle keep-alive sockets hold every slot, a connect that has to wait closes
 * the least recently used idle socket (the one whose reuse is least likely),
 * and a socket that turns idle while connects are waiting is closed too —
 * after one tick, so a request queued on its own origin can still reuse it.
 * Such closes are graceful (FIN, then wait for the peer's), so the old
 * connection has ended at the server before the next one opens.
 * Waiting is bounded: a slot not granted in time fails the connect with
 * POOL_TIMEOUT.
 */
export class ConnectionBudget {
  private open = 0;
  /** Most sockets ever open at once (benchmarks and tests read it). */
  peak = 0;
  private readonly waiters: { grant: () => void; fail: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  /** Idle sockets, least recently used first (Set keeps insertion order). */
  private readonly idle = new Set<Socket>();
  private readonly busy = new Set<Socket>();

  constructor(readonly max: number) {}

  get openSockets(): number {
    return this.open;
  }
  get busySockets(): number {
    return this.busy.size;
  }
  get idleSockets(): number {
    return this.idle.size;
  }
  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves when a slot is ours. Call `adopt(socket)` on success or `release()` if the connect fails. */
  acquire(timeoutMs: number): Promise<void> {
    if (this.open < this.max) {
      this.peak = Math.max(this.peak, ++this.open);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const w = {
        grant: resolve,
        fail: reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(Object.assign(new Error(`no connection slot free within ${timeoutMs} ms (MAX_CONNECTIONS=${this.max})`), { code: 'POOL_TIMEOUT' }));
        }, timeoutMs),
      };
      w.timer.unref();
      this.waiters.push(w);
      this.closeOneIdle();
    });
  }

  /** A connect that held a slot failed: give the slot back. */
  release(): void {
    this.open--;
    this.grantNext();
  }

  /** Track a connected socket; its slot is returned when it closes. */
  adopt(socket: Socket): void {
    this.busy.add(socket); // it is about to carry the request that caused the connect
    socket.once('close', () => {
      this.busy.delete(socket);
      this.idle.delete(socket);
      this.open--;
      this.grantNext();
    });
  }

  markBusy(socket: Socket): void {
    if (this.idle.delete(socket) || !this.busy.has(socket)) this.busy.add(socket);
  }

  markIdle(socket: Socket): void {
    if (!this.busy.delete(socket) || socket.destroyed) return;
    this.idle.add(socket);
    if (this.waiters.length > 0) {
      setImmediate(() => {
        if (this.idle.has(socket) && this.waiters.length > 0) {
          this.idle.delete(socket);
          closeGracefully(socket);
        }
      });
    }
  }

  private closeOneIdle(): void {
    for (const s of this.idle) {
      this.idle.delete(s);
      closeGracefully(s); // its 'close' hands the slot to the first waiter
      return;
    }
  }

  private grantNext(): void {
    while (this.open < this.max && this.waiters.length > 0) {
      const w = this.waiters.shift()!;
      clearTimeout(w.timer);
      this.peak = Math.max(this.peak, ++this.open);
      w.grant();
    }
  }
}

/**
 * Close with a FIN and wait for the peer's (then 'close' frees the slot), so
 * the server has seen the old connection end before we open the next one:
 * the cap holds at the server too. A peer that never answers the FIN gets
 * the socket destroyed after a second.
 */
function closeGracefully(socket: Socket): void {
  const t = setTimeout(() => socket.destroy(), 1000);
  t.unref();
  socket.once('close', () => clearTimeout(t));
  socket.end();
}
