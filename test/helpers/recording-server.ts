/**
 * A recording HTTP target in its own process, so nothing the test process
 * computes can stall it: every request is answered at once and logged with
 * its arrival time; GET /__requests?from=N returns the log from entry N.
 * Run directly (prints its port on stdout) or through startRecordingServer().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  url: string;
  at: number;
}

export interface RecordingServer {
  url: string;
  /** Every request so far (fetched from the child). */
  requests(): Promise<Recorded[]>;
  close(): Promise<void>;
}

if (process.argv[1] === import.meta.filename) {
  const log: Recorded[] = [];
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/__requests')) {
      const from = Number(new URL(req.url, 'http://x').searchParams.get('from') ?? 0);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(log.slice(from)));
      return;
    }
    log.push({ url: req.url ?? '', at: Date.now() });
    res.end('ok');
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
}

export async function startRecordingServer(): Promise<RecordingServer> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', import.meta.filename], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (c) => reject(new Error(`recording server exited ${c}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const cache: Recorded[] = [];
  return {
    url,
    requests: async () => {
      const more = (await (await fetch(`${url}/__requests?from=${cache.length}`)).json()) as Recorded[];
      cache.push(...more);
      return cache;
    },
    close: async () => {
      child.kill('SIGKILL');
    },
  };
}
