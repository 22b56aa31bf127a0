/**
 * A hostile client in its own process, so its sockets and CPU are not the
 * test's (the test measures the daemon meanwhile). Run as
 * `node --import tsx attacker.ts '<json Attack>'`; it attacks for
 * `seconds`, closes everything, and prints one JSON line of counts.
 *
 * Kinds:
 * - `silent`: `connections` TCP connections that never send a byte (to a
 *   TLS port: a handshake that never starts).
 * - `slowloris`: connections that send a request line and then one header
 *   line every `trickleMs`, never finishing.
 *
 * Both reopen what the server closed once per round of `roundMs` (as
 * slowloris.py does every 15 s), so the number held stays near
 * `connections` without a reconnect storm.
 * - `basic`: `connections` keep-alive clients, each from its own loopback
 *   address (127.0.0.2, .3, ...), sending GET `path` with a wrong Basic
 *   password back to back.
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { Agent, request } from 'node:http';

export interface Attack {
  kind: 'silent' | 'slowloris' | 'basic';
  port: number;
  connections: number;
  seconds: number;
  trickleMs?: number;
  /** silent, slowloris: how often closed connections are reopened (default 1000). */
  roundMs?: number;
  path?: string;
}

export interface AttackReport {
  /** Connections opened in all. */
  opened: number;
  /** Closed by the server (not by us), and the median age at which it closed them. */
  closedByServer: number;
  medianServerCloseMs: number | null;
  /** Refused at connect or reset before any reply. */
  errors: number;
  /** basic: answers by status. */
  statuses: Record<string, number>;
  /** Open at the end, before we closed them. */
  openAtEnd: number;
}

function run(a: Attack): Promise<AttackReport> {
  const report: AttackReport = { opened: 0, closedByServer: 0, medianServerCloseMs: null, errors: 0, statuses: {}, openAtEnd: 0 };
  const ages: number[] = [];
  /** Connections the server closed, reopened at the next round. */
  const closed: number[] = [];
  const open = new Set<Socket>();
  let stopping = false;
  const agents: Agent[] = [];

  const socketAttack = (i: number) => {
    if (stopping) return;
    const t0 = Date.now();
    const s = connect({ port: a.port, host: '127.0.0.1' });
    report.opened++;
    open.add(s);
    let timer: NodeJS.Timeout | undefined;
    s.on('connect', () => {
      if (a.kind !== 'slowloris') return;
      s.write('GET /api/targets HTTP/1.1\r\nHost: x\r\n');
      timer = setInterval(() => s.writable && s.write(`X-${i}: ${Date.now()}\r\n`), a.trickleMs ?? 1000);
    });
    s.on('error', () => report.errors++);
    s.on('close', () => {
      clearInterval(timer);
      open.delete(s);
      if (stopping) return;
      report.closedByServer++;
      ages.push(Date.now() - t0);
      closed.push(i);
    });
    s.resume();
  };

  const basicAttack = (i: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, localAddress: `127.0.0.${2 + (i % 250)}` });
    agents.push(agent);
    const auth = `Basic ${Buffer.from(`alice:wrong-${i}`).toString('base64')}`;
    const once = () => {
      if (stopping) return;
      const q = request({ port: a.port, host: '127.0.0.1', path: a.path ?? '/api/status', agent, headers: { authorization: auth } }, (r) => {
        report.statuses[r.statusCode ?? 0] = (report.statuses[r.statusCode ?? 0] ?? 0) + 1;
        r.resume();
        r.on('end', once);
      });
      q.on('error', () => {
        report.errors++;
        setTimeout(once, 50);
      });
      q.end();
    };
    once();
  };

  for (let i = 0; i < a.connections; i++) (a.kind === 'basic' ? basicAttack : socketAttack)(i);
  const rounds = setInterval(() => {
    for (const i of closed.splice(0)) socketAttack(i);
  }, a.roundMs ?? 1000);
  return new Promise((resolve) => {
    setTimeout(() => {
      stopping = true;
      clearInterval(rounds);
      report.openAtEnd = open.size;
      for (const s of open) s.destroy();
      for (const ag of agents) ag.destroy();
      ages.sort((x, y) => x - y);
      report.medianServerCloseMs = ages.length ? ages[Math.floor(ages.length / 2)]! : null;
      resolve(report);
    }, a.seconds * 1000);
  });
}

if (process.argv[1] === import.meta.filename) {
  const done = run(JSON.parse(process.argv[2]!) as Attack);
  process.stdout.write('started\n');
  process.stdout.write(`${JSON.stringify(await done)}\n`);
  process.exit(0);
}

export interface RunningAttack {
  /** When the attacker's connections are on their way (its process is up). */
  started: Promise<number>;
  /** Its report, once it has stopped and closed everything (`seconds` after start). */
  done: Promise<AttackReport & { endedAt: number }>;
  kill(): void;
}

/** Start an attack in a child process. */
export function attack(a: Attack): RunningAttack {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, JSON.stringify(a)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let markStarted: (at: number) => void = () => {};
  const started = new Promise<number>((r) => (markStarted = r));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('started\n')) markStarted(Date.now());
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), a.seconds * 1000 + 120_000);
  const done = new Promise<number | null>((r) => child.once('exit', r)).then((code) => {
    clearTimeout(timer);
    const endedAt = Date.now();
    const line = out.split('\n')[1] ?? '';
    if (code !== 0 || !line) throw new Error(`attacker exited ${code}: ${out}`);
    return { ...(JSON.parse(line) as AttackReport), endedAt };
  });
  return { started, done, kill: () => child.kill('SIGKILL') };
}
