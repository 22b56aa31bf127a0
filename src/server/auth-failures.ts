/**
 * Per-client limit on failed basic-auth attempts. A client (remote address)
 * gets FREE_FAILURES wrong passwords; after that each attempt within its
 * back-off is refused with 429 and Retry-After without running bcrypt, the
 * back-off doubling per further failure from 1 s up to MAX_BACKOFF_MS. A
 * success clears the client; a client quiet for FORGET_AFTER_MS is forgotten.
 * The table is bounded (MAX_CLIENTS, the least recently failed go first), so
 * a flood from many addresses costs memory once, not per request.
 *
 * Behind a reverse proxy every client shares the proxy's address: there the
 * proxy should authenticate (docs/operations.md, single sign-on).
 */
const FREE_FAILURES = 5;
const MAX_BACKOFF_MS = 300_000;
const FORGET_AFTER_MS = 900_000;
const MAX_CLIENTS = 10_000;

export class AuthFailures {
  private readonly clients = new Map<string, { failures: number; last: number; blockedUntil: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Milliseconds this client must wait before its next attempt counts (0: go ahead). */
  retryAfterMs(client: string): number {
    const c = this.clients.get(client);
    if (!c) return 0;
    const t = this.now();
    if (t - c.last > FORGET_AFTER_MS) {
      this.clients.delete(client);
      return 0;
    }
    return Math.max(0, c.blockedUntil - t);
  }

  failed(client: string): void {
    const t = this.now();
    const c = this.clients.get(client) ?? { failures: 0, last: t, blockedUntil: 0 };
    c.failures++;
    c.last = t;
    if (c.failures >= FREE_FAILURES) c.blockedUntil = t + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (c.failures - FREE_FAILURES));
    this.clients.delete(client);
    this.clients.set(client, c);
    if (this.clients.size > MAX_CLIENTS) this.clients.delete(this.clients.keys().next().value as string);
  }

  succeeded(client: string): void {
    this.clients.delete(client);
  }

  get size(): number {
    return this.clients.size;
  }
}
