import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';

/**
 * A TCP proxy under the test's control, put between daemons and Redis (or
 * any TCP server) to inject the faults a network or a busy server causes:
 *
 *   - pause():  a black hole. Connections stay open, nothing passes in either
 *               direction (bytes are held, as a stalled server or a
 *               partition with retransmissions would); resume() delivers
 *               what was held, in order.
 *   - cut():    every connection is reset and new ones are refused until
 *               restore() (a crashed peer, a firewall sending RSTs).
 *   - stall(ms): every chunk is delayed by ms in each direction, order kept
 *               (a slow server or a congested link); stall(0) turns it off.
 *
 * Runs in the test process on 127.0.0.1:0. Nothing here is timing-critical:
 * the held bytes are delivered in arrival order whatever the event loop does.
 */
export interface TcpProxy {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` for a Redis upstream. */
  readonly redisUrl: string;
  /** Connections open through the proxy now. */
  readonly connections: number;
  pause(): void;
  resume(): void;
  cut(): void;
  restore(): void;
  stall(msPerChunk: number): void;
  close(): Promise<void>;
}

interface Pipe {
  client: Socket;
  upstream: Socket;
  /** Chunks waiting per direction, with the time each may leave. */
  queues: { toUpstream: Held[]; toClient: Held[] };
  timers: Set<NodeJS.Timeout>;
}

interface Held {
  data: Buffer;
  at: number;
}

export async function startTcpProxy(upstreamPort: number, upstreamHost = '127.0.0.1'): Promise<TcpProxy> {
  const pipes = new Set<Pipe>();
  let paused = false;
  let cut = false;
  let stallMs = 0;

  const flush = (p: Pipe, dir: 'toUpstream' | 'toClient') => {
    const q = p.queues[dir];
    const out = dir === 'toUpstream' ? p.upstream : p.client;
    while (q.length && !paused) {
      const wait = q[0]!.at - Date.now();
      if (wait > 0) {
        const t = setTimeout(() => {
          p.timers.delete(t);
          flush(p, dir);
        }, wait);
        p.timers.add(t);
        return;
      }
      if (!out.destroyed) out.write(q.shift()!.data);
      else q.shift();
    }
  };

  const destroy = (p: Pipe) => {
    if (!pipes.delete(p)) return;
    for (const t of p.timers) clearTimeout(t);
    p.client.destroy();
    p.upstream.destroy();
  };

  const server: Server = createServer((client) => {
    client.on('error', () => {});
    if (cut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(upstreamPort, upstreamHost);
    upstream.on('error', () => {});
    const p: Pipe = { client, upstream, queues: { toUpstream: [], toClient: [] }, timers: new Set() };
    pipes.add(p);
    // Chunks are queued with their release time; a queue ahead of them keeps the order.
    const hold = (dir: 'toUpstream' | 'toClient') => (data: Buffer) => {
      const q = p.queues[dir];
      const at = Math.max(Date.now() + stallMs, q.at(-1)?.at ?? 0);
      q.push({ data, at });
      if (q.length === 1) flush(p, dir);
    };
    client.on('data', hold('toUpstream'));
    upstream.on('data', hold('toClient'));
    client.on('close', () => destroy(p));
    upstream.on('close', () => destroy(p));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    redisUrl: `redis://127.0.0.1:${port}`,
    get connections() {
      return pipes.size;
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const p of pipes) {
        flush(p, 'toUpstream');
        flush(p, 'toClient');
      }
    },
    cut() {
      cut = true;
      for (const p of [...pipes]) {
        p.client.resetAndDestroy();
        destroy(p);
      }
    },
    restore() {
      cut = false;
    },
    stall(ms: number) {
      stallMs = Math.max(0, ms);
    },
    close: () =>
      new Promise<void>((r) => {
        for (const p of [...pipes]) destroy(p);
        server.close(() => r());
      }),
  };
}
