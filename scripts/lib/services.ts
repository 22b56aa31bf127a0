/**
 * Real components started as child processes on loopback, for the tests, the
 * benchmarks and the loopback staging stack (no Docker here). Each runs in
 * the foreground of its own process and is stopped by PID; data lives in a
 * temporary directory removed on cleanup. See COOKBOOK.md for the commands.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';

export const REPO = resolve(import.meta.dirname, '../..');

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function until<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 20_000, everyMs = 50): Promise<NonNullable<T>> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const httpOk = async (url: string, init?: RequestInit) => {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
  return r.ok;
};

/** A foreground child process with its output kept for error messages. */
export class Proc {
  child?: ChildProcess;
  output = '';
  constructor(
    readonly cmd: string,
    readonly args: string[],
    readonly env: Record<string, string> = {},
  ) {}

  start(): this {
    this.output = ''; // a restart must not see the last run's "ready" line
    const child = spawn(this.cmd, this.args, { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return this;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(t);
  }
}

/** VictoriaMetrics: speaks the InfluxDB line protocol on /api/v2/write and /write. */
export class Victoria {
  readonly proc: Proc;
  constructor(
    readonly port: number,
    readonly dataDir: string,
    /** Listen address (another than loopback when network namespaces of a test write to it). */
    readonly host = '127.0.0.1',
  ) {
    this.proc = new Proc('victoria-metrics', [
      `-httpListenAddr=${host}:${port}`,
      `-storageDataPath=${dataDir}`,
      '-search.latencyOffset=0s',
      '-loggerLevel=WARN',
      // Keep one sample per series and timestamp, as InfluxDB does (a re-sent point overwrites).
      '-dedup.minScrapeInterval=1ms',
    ]);
  }
  static async start(port?: number, host?: string): Promise<Victoria> {
    const v = new Victoria(port ?? (await freePort()), mkdtempSync(join(tmpdir(), 'nt-vm-')), host);
    await v.up();
    return v;
  }
  get url(): string {
    return `http://${this.host}:${this.port}`;
  }
  async up(): Promise<void> {
    this.proc.start();
    await until(() => httpOk(`${this.url}/health`), `victoria-metrics on ${this.port}: ${this.proc.output}`);
  }
  /** SIGTERM flushes to disk (SIGKILL loses the last acknowledged second, see COOKBOOK). */
  async down(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.proc.stop(signal);
  }
  /** Every sample of the series matching `match`, as {labels, timestamps}. */
  async export(match: string): Promise<{ metric: Record<string, string>; values: number[]; timestamps: number[] }[]> {
    await fetch(`${this.url}/internal/force_flush`);
    const r = await fetch(`${this.url}/api/v1/export`, { method: 'POST', body: new URLSearchParams({ 'match[]': match }) });
    const text = await r.text();
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { metric: Record<string, string>; values: number[]; timestamps: number[] });
  }
  async cleanup(): Promise<void> {
    await this.proc.stop('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** InfluxDB 1.x (`influxd`): v1 write and InfluxQL; syncs its WAL before answering a write. */
export class Influx1 {
  readonly proc: Proc;
  private constructor(
    readonly port: number,
    rpcPort: number,
    readonly dir: string,
  ) {
    const cfg = join(dir, 'influxdb.conf');
    writeFileSync(
      cfg,
      [
        'reporting-disabled = true',
        `bind-address = "127.0.0.1:${rpcPort}"`,
        '[meta]',
        `  dir = "${join(dir, 'meta')}"`,
        '[data]',
        `  dir = "${join(dir, 'data')}"`,
        `  wal-dir = "${join(dir, 'wal')}"`,
        '  query-log-enabled = false',
        '[http]',
        `  bind-address = "127.0.0.1:${port}"`,
        '  log-enabled = false',
        '[monitor]',
        '  store-enabled = false',
        '',
      ].join('\n'),
    );
    this.proc = new Proc('influxd', ['run', '-config', cfg]);
  }
  static async start(): Promise<Influx1> {
    const i = new Influx1(await freePort(), await freePort(), mkdtempSync(join(tmpdir(), 'nt-influx1-')));
    await i.up();
    await i.query('CREATE DATABASE telemetry', 'POST');
    return i;
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  async up(): Promise<void> {
    this.proc.start();
    await until(async () => (await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(2000) })).status === 204, `influxd on ${this.port}: ${this.proc.output}`);
  }
  async down(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.proc.stop(signal);
  }
  async query(q: string, method: 'GET' | 'POST' = 'GET', db = 'telemetry'): Promise<any> {
    const params = new URLSearchParams({ q, db, epoch: 'ms' });
    const r = method === 'GET' ? await fetch(`${this.url}/query?${params}`) : await fetch(`${this.url}/query`, { method: 'POST', body: params });
    const body = (await r.json()) as any;
    if (!r.ok || body.results?.[0]?.error) throw new Error(`InfluxQL ${q}: ${JSON.stringify(body)}`);
    return body;
  }
  /** Rows of a SELECT as objects. */
  async rows(q: string): Promise<Record<string, unknown>[]> {
    const body = await this.query(q);
    const out: Record<string, unknown>[] = [];
    for (const s of body.results?.[0]?.series ?? []) {
      for (const v of s.values) out.push({ ...s.tags, ...Object.fromEntries(s.columns.map((c: string, i: number) => [c, v[i]])) });
    }
    return out;
  }
  async write(lines: string, db = 'telemetry'): Promise<number> {
    const r = await fetch(`${this.url}/write?db=${db}&precision=ns`, { method: 'POST', body: lines });
    await r.text();
    return r.status;
  }
  async cleanup(): Promise<void> {
    await this.proc.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** HAProxy with the project's haproxy/haproxy.cfg; addresses come in through the environment. */
export class Haproxy {
  readonly proc: Proc;
  constructor(
    readonly env: Record<string, string>,
    cfg = join(REPO, 'haproxy/haproxy.cfg'),
  ) {
    this.proc = new Proc('haproxy', ['-db', '-f', cfg], env);
  }
  static async start(env: Record<string, string>, waitFor: string[] = []): Promise<Haproxy> {
    const h = new Haproxy(env);
    h.proc.start();
    for (const url of waitFor) await until(async () => (await fetch(url, { signal: AbortSignal.timeout(2000) })).status < 500, `haproxy ${url}: ${h.proc.output}`);
    return h;
  }
  /**
   * haproxy.cfg on loopback: every frontend on a free 127.0.0.1 port, the
   * InfluxDB backends at the given ports (absent ones, and Grafana, point at
   * a closed port and stay down), stats behind admin/`password`.
   */
  static async startLoopback(o: { influx?: [number, number]; password: string }): Promise<LoopbackHaproxy> {
    const [lb, w1, w2, grafana, stats] = (await Promise.all(Array.from({ length: 5 }, () => freePort()))) as [number, number, number, number, number];
    const dead = '127.0.0.1:1';
    const haproxy = await Haproxy.start({
      HAPROXY_INFLUXDB_BIND: `127.0.0.1:${lb}`,
      HAPROXY_INFLUXDB_1_WRITE_BIND: `127.0.0.1:${w1}`,
      HAPROXY_INFLUXDB_2_WRITE_BIND: `127.0.0.1:${w2}`,
      HAPROXY_GRAFANA_BIND: `127.0.0.1:${grafana}`,
      HAPROXY_STATS_BIND: `127.0.0.1:${stats}`,
      HAPROXY_STATS_USER: 'admin',
      HAPROXY_STATS_PASSWORD: o.password,
      INFLUXDB_1_ADDR: o.influx ? `127.0.0.1:${o.influx[0]}` : dead,
      INFLUXDB_2_ADDR: o.influx ? `127.0.0.1:${o.influx[1]}` : dead,
      GRAFANA_1_ADDR: dead,
      GRAFANA_2_ADDR: dead,
    });
    const url = (p: number) => `http://127.0.0.1:${p}`;
    return {
      haproxy,
      influxRead: url(lb),
      influxWrite: [url(w1), url(w2)],
      stats: url(stats),
      auth: `Basic ${Buffer.from(`admin:${o.password}`).toString('base64')}`,
    };
  }

  async cleanup(): Promise<void> {
    await this.proc.stop('SIGKILL');
  }
}

export interface LoopbackHaproxy {
  haproxy: Haproxy;
  /** Round-robin frontend (reads, single-URL writes). */
  influxRead: string;
  /** Per-replica write frontends (mirror). */
  influxWrite: [string, string];
  stats: string;
  /** Authorization header value for the stats page and exporter. */
  auth: string;
}

/** Redis 7 without persistence. */
export class Redis {
  readonly proc: Proc;
  private constructor(
    readonly port: number,
    readonly dir: string,
    /** Extra address to listen on (e.g. a veth towards a test namespace). */
    readonly host?: string,
  ) {
    // An extra address is a test namespace's veth: let those clients in (protected mode refuses non-loopback ones).
    const bind = host ? ['127.0.0.1', host, '--protected-mode', 'no'] : ['127.0.0.1'];
    this.proc = new Proc('redis-server', ['--port', String(port), '--bind', ...bind, '--save', '', '--appendonly', 'no', '--dir', dir]);
  }
  static async start(port?: number, host?: string): Promise<Redis> {
    const r = new Redis(port ?? (await freePort()), mkdtempSync(join(tmpdir(), 'nt-redis-')), host);
    await r.up();
    return r;
  }
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async up(): Promise<void> {
    this.proc.start();
    await until(() => this.proc.output.includes('Ready to accept connections'), `redis on ${this.port}: ${this.proc.output}`);
  }
  async down(): Promise<void> {
    await this.proc.stop('SIGKILL');
  }
  async cleanup(): Promise<void> {
    await this.proc.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Redis without a single point: a primary, a replica, and three Sentinels
 * (Debian's redis-sentinel) that promote the replica when the primary dies
 * (COOKBOOK: down-after 2 s). Everything on loopback, every process by PID.
 */
export class RedisSentinels {
  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly nodes: Proc[],
    readonly nodePorts: number[],
    readonly sentinels: Proc[],
    readonly sentinelPorts: number[],
  ) {}

  static async start(o: { downAfterMs?: number; failoverTimeoutMs?: number; name?: string } = {}): Promise<RedisSentinels> {
    const dir = mkdtempSync(join(tmpdir(), 'nt-sentinel-'));
    const name = o.name ?? 'telemetry';
    const nodePorts = [await freePort(), await freePort()];
    const node = (port: number, replicaOf?: number) =>
      new Proc('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `dump-${port}.rdb`, '--repl-diskless-sync-delay', '0', ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : [])]);
    const nodes = [node(nodePorts[0]!), node(nodePorts[1]!, nodePorts[0])];
    const sentinelPorts = [await freePort(), await freePort(), await freePort()];
    const sentinels = sentinelPorts.map((port) => {
      const file = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${nodePorts[0]} 2`,
          `sentinel down-after-milliseconds ${name} ${o.downAfterMs ?? 2000}`,
          `sentinel failover-timeout ${name} ${o.failoverTimeoutMs ?? 10_000}`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      return new Proc('redis-sentinel', [file]);
    });
    const set = new RedisSentinels(name, dir, nodes, nodePorts, sentinels, sentinelPorts);
    for (const n of nodes) n.start();
    await until(() => nodes.every((n) => n.output.includes('Ready to accept connections')), `redis primary and replica: ${nodes.map((n) => n.output).join('\n')}`);
    await until(() => nodes[1]!.output.includes('MASTER <-> REPLICA sync: Finished'), `replica in sync: ${nodes[1]!.output}`);
    for (const sp of sentinels) sp.start();
    await until(() => sentinels.every((x) => x.output.includes('+monitor master')), `three Sentinels: ${sentinels.map((x) => x.output).join('\n')}`);
    return set;
  }

  /**
   * Ready to fail over: every Sentinel has found the replica (from the
   * primary's INFO, up to 10 s) and the two other Sentinels (hello messages).
   * Clients can connect before this: the primary is named from the start.
   */
  async ready(): Promise<void> {
    const { name, sentinelPorts, sentinels } = this;
    // Each Sentinel has found the replica and the two other Sentinels (hello messages every 2 s).
    await until(async () => {
      for (const port of sentinelPorts) {
        const info = await redisCli(port, ['SENTINEL', 'MASTER', name]);
        const f = Object.fromEntries(info.split('\n').reduce<[string, string][]>((acc, l, i, a) => (i % 2 === 0 ? [...acc, [l, a[i + 1] ?? '']] : acc), []));
        if (f['num-slaves'] !== '1' || f['num-other-sentinels'] !== '2') return false;
      }
      return true;
    }, `three Sentinels that know the replica and each other: ${sentinels.map((x) => x.output).join('\n')}`, 30_000, 200);
  }

  /** REDIS_SENTINELS for the daemon. */
  get sentinelList(): string {
    return this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',');
  }

  /** The primary's port as the Sentinels name it now. */
  async primaryPort(): Promise<number> {
    const out = await redisCli(this.sentinelPorts[0]!, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name]);
    return Number(out.split('\n')[1]);
  }

  /** The redis-server process listening on `port`. */
  node(port: number): Proc {
    return this.nodes[this.nodePorts.indexOf(port)]!;
  }

  /**
   * Start the node on `port` again, empty and as a primary (as a promoted
   * node whose configuration Sentinel rewrote comes back), and wait for it.
   */
  async revive(port: number): Promise<void> {
    const i = this.nodePorts.indexOf(port);
    const p = new Proc('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--dbfilename', `dump-${port}.rdb`]);
    this.nodes[i] = p.start();
    await until(() => p.output.includes('Ready to accept connections'), `redis on ${port}: ${p.output}`);
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.nodes].map((p) => p.stop('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** redis-cli's raw answer (one line per element). */
export function redisCli(port: number, args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const c = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--raw', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), 5000);
    c.on('exit', (code) => {
      clearTimeout(t);
      if (code === 0) res(out.trim());
      else rej(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${out.trim()}`));
    });
  });
}
