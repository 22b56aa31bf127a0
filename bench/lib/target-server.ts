/**
 * An HTTP target for the benchmarks in its own process (its CPU is not ours):
 * answers every request after DELAY_MS, counts requests and accepted
 * connections; GET /__stats returns the counts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

if (process.argv[1] === import.meta.filename) {
  const delay = Number(process.env.DELAY_MS ?? 0);
  let requests = 0;
  let connections = 0;
  const server = createServer((req, res) => {
    if (req.url === '/__stats') {
      res.end(JSON.stringify({ requests, connections }));
      return;
    }
    requests++;
    if (delay > 0) setTimeout(() => res.end('ok'), delay);
    else res.end('ok');
  });
  server.on('connection', () => connections++);
  server.keepAliveTimeout = 65_000;
  server.maxConnections = 100_000;
  server.listen(0, '127.0.0.1', 10_000, () => console.log((server.address() as AddressInfo).port));
}

export interface TargetServer {
  url: string;
  pid: number;
  stats(): Promise<{ requests: number; connections: number }>;
  /** Kill and reap it (so its CPU is not mistaken for a later child's). */
  close(): Promise<void>;
}

export async function startTargetServer(delayMs = 0): Promise<TargetServer> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', import.meta.filename], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, DELAY_MS: String(delayMs) } });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (c) => reject(new Error(`target server exited ${c}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    pid: child.pid!,
    stats: async () => (await (await fetch(`${url}/__stats`)).json()) as { requests: number; connections: number },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
