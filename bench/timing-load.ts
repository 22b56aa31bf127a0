/**
 * TCP and DNS timing truth under load: on a namespace path (client -> r1 ->
 * r2 -> r3 -> server), the daemon's tcp connect and dns query times to the
 * server against its own ICMP RTT (fping, timed in C) to the same server,
 * once with nothing else to do and once while it also probes 10,000 other
 * targets (icmp + http on loopback inside the client namespace, 60 s
 * interval: the scale benchmark's load). tcp and dns run on the timing
 * thread (src/probes/timing): their error should not grow with the load.
 *
 *   node --import tsx bench/timing-load.ts [--slots=30]   (root)
 *
 * A connect is one round trip (SYN, SYN-ACK) and a UDP query one round trip
 * plus dnsmasq's answer time, so both should sit within a fraction of a
 * millisecond above the ICMP RTT. Delay: the kernel's forwarding only (this
 * kernel has no netem); the comparison is to ICMP on the same path.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnDaemon } from '../scripts/lib/daemon-process.js';
import { freePort, REPO } from '../scripts/lib/services.js';
import { buildChain, type Chain } from '../test/helpers/netns.js';
import { r3, sleep } from './lib/proc.js';

export interface TimingLoadRow {
  condition: string;
  slots: number;
  icmpMedianMs: number;
  tcpMedianMs: number;
  tcpP95Ms: number;
  dnsMedianMs: number;
  dnsP95Ms: number;
  /** Median of (tcp - icmp) and (dns - icmp) over slots where both were measured. */
  tcpOverIcmpMs: number;
  dnsOverIcmpMs: number;
  uncertainPct: number;
  slackP95Ms: number;
  /** The same over the points not marked timing_uncertain (null: none). */
  sureTcpOverIcmpMs: number | null;
  sureDnsOverIcmpMs: number | null;
  /**
   * curl's time_connect to the same listener from the same namespace, at the
   * end of the condition (median of 20): the connect as another program sees
   * it. ICMP is not the whole truth for a connect: each connect is a new flow
   * (socket, port, the routers' and the server's first packet of it), each
   * echo of fping the same one.
   */
  curlConnectMedianMs: number;
  /** Load average (1 min) at the end: the machine is shared. */
  load: number;
}

/** curl's time_connect (ms) to host:port from namespace `ns`, median of `n` (the listener closes at once: curl's error is expected). */
function curlConnectMs(ns: string, host: string, port: number, n = 20): number {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = spawnSync('ip', ['netns', 'exec', ns, 'curl', '-s', '-o', '/dev/null', '--max-time', '2', '-w', '%{time_connect}', `http://${host}:${port}/`], { encoding: 'utf8' });
    const s = Number(r.stdout);
    if (s > 0) xs.push(s * 1000);
  }
  return r3(q(xs, 50));
}

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

function inNsChild(ns: string, args: string[]): { child: ChildProcess; firstLine: Promise<string> } {
  const child = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (c) => reject(new Error(`${args.join(' ')} exited ${c}`)));
  });
  return { child, firstLine };
}

async function run(chain: Chain, dir: string, others: number, slots: number, httpUrl: string, daemonIp: string): Promise<TimingLoadRow> {
  const truth = chain.serverIp;
  const lines = ['targets:'];
  lines.push(`  - { name: truth-icmp, host: "${truth}", probes: [icmp], interval: 5 }`);
  lines.push(`  - { name: truth-tcp, host: "${truth}", probes: [tcp], tcp: { port: 7070 }, interval: 5 }`);
  lines.push(`  - { name: truth-dns, host: "${truth}", probes: [dns], dns: { server: "${truth}:53", record: A, name: svc.test }, interval: 5 }`);
  for (let i = 0; i < others; i++) {
    lines.push(`  - { name: t${i}, host: "127.5.${Math.floor(i / 250)}.${(i % 250) + 1}", probes: [icmp, http], http: { url: "${httpUrl}/t/${i}" }, interval: 60, timeout: 10 }`);
  }
  const file = join(dir, `targets-${others}.yaml`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  const port = await freePort();
  const d = await spawnDaemon(
    { TARGETS_FILE: file, LISTEN_ADDRESS: daemonIp, PORT: String(port), LOG_LEVEL: 'warn', SOURCE_NAME: 'bench', BATCH_SIZE: '100', MAX_CONCURRENT_TARGETS: '2000', MAX_CONCURRENT_OPERATIONS: '2000', ICMP_PACKET_INTERVAL: '0.05' },
    { wrap: ['ip', 'netns', 'exec', chain.client], waitLive: false, liveTimeoutMs: 180_000 },
  );
  const base = `http://${daemonIp}:${port}`;
  try {
    const points = async (target: string) =>
      // While the 10,000-target file loads the API answers 503 "loading" (no points yet).
      ((await (await fetch(`${base}/api/points?target=${target}&limit=10000&since=0`, { signal: AbortSignal.timeout(60_000) })).json()) as { points?: { measurement: string; timestamp_ms: number; fields: Record<string, number | boolean> }[] }).points ?? [];
    const deadline = Date.now() + 20 * 60_000;
    let warm = 0;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`timing-load: fewer than ${slots} slots in 20 minutes\n${d.stderr()}`);
      await sleep(5000);
      const pts = await points('truth-tcp').catch(() => []);
      // The first minute is start-up (10,000 targets parsed, the first round): measured from the second.
      if (!warm && pts.length > 0) warm = Date.now() + 60_000;
      if (warm && pts.filter((p) => p.timestamp_ms >= warm).length >= slots) break;
    }
    const pick = async (t: string, m: string, f: string) => (await points(t)).filter((p) => p.measurement === m && p.timestamp_ms >= warm && typeof p.fields[f] === 'number');
    const icmp = await pick('truth-icmp', 'ping', 'rtt_median_ms');
    const tcp = await pick('truth-tcp', 'tcp', 'connect_ms');
    const dns = await pick('truth-dns', 'dns', 'query_ms');
    const icmpBy = new Map(icmp.map((p) => [p.timestamp_ms, p.fields.rtt_median_ms as number]));
    const over = (xs: typeof tcp, f: string) => xs.filter((p) => icmpBy.has(p.timestamp_ms)).map((p) => (p.fields[f] as number) - icmpBy.get(p.timestamp_ms)!);
    const timed = [...tcp, ...dns];
    const sure = (xs: typeof tcp) => xs.filter((p) => p.fields.timing_uncertain !== true);
    const med = (xs: number[]) => (xs.length ? r3(q(xs, 50)) : null);
    return {
      condition: others ? `while probing ${others.toLocaleString('en')} other targets (icmp + http, 60 s)` : 'nothing else to probe',
      slots: Math.min(icmp.length, tcp.length, dns.length),
      icmpMedianMs: r3(q(icmp.map((p) => p.fields.rtt_median_ms as number), 50)),
      tcpMedianMs: r3(q(tcp.map((p) => p.fields.connect_ms as number), 50)),
      tcpP95Ms: r3(q(tcp.map((p) => p.fields.connect_ms as number), 95)),
      dnsMedianMs: r3(q(dns.map((p) => p.fields.query_ms as number), 50)),
      dnsP95Ms: r3(q(dns.map((p) => p.fields.query_ms as number), 95)),
      tcpOverIcmpMs: r3(q(over(tcp, 'connect_ms'), 50)),
      dnsOverIcmpMs: r3(q(over(dns, 'query_ms'), 50)),
      uncertainPct: r3((100 * timed.filter((p) => p.fields.timing_uncertain === true).length) / Math.max(1, timed.length)),
      slackP95Ms: r3(q(timed.map((p) => Number(p.fields.timing_slack_ms ?? 0)), 95)),
      sureTcpOverIcmpMs: med(over(sure(tcp), 'connect_ms')),
      sureDnsOverIcmpMs: med(over(sure(dns), 'query_ms')),
      curlConnectMedianMs: curlConnectMs(chain.client, truth, 7070),
      load: Math.round(loadavg()[0]! * 10) / 10,
    };
  } finally {
    await d.cleanup();
  }
}

export async function benchTimingLoad(o: { slots: number; others?: number; log?: (s: string) => void }): Promise<TimingLoadRow[]> {
  const chain = buildChain();
  const dir = mkdtempSync(join(tmpdir(), 'nt-timing-load-'));
  const kids: ChildProcess[] = [];
  try {
    const n = randomInt(100, 250);
    chain.ns.link(null, `10.${n}.252.1/30`, chain.client, `10.${n}.252.2/30`);
    const tcp = inNsChild(chain.server, [process.execPath, '-e', "require('net').createServer((s) => s.destroy()).listen(7070, '0.0.0.0', () => console.log('up'))"]);
    kids.push(tcp.child);
    await tcp.firstLine;
    const dns = spawn('ip', ['netns', 'exec', chain.server, 'dnsmasq', '--no-daemon', '--port=53', `--listen-address=${chain.serverIp}`, '--bind-interfaces', '--no-resolv', '--no-hosts', '--local=/test/', '--host-record=svc.test,192.0.2.7', '--user=root', '--pid-file='], { stdio: 'ignore' });
    kids.push(dns);
    const web = inNsChild(chain.client, [process.execPath, '--import', 'tsx', join(REPO, 'bench/lib/target-server.ts')]);
    kids.push(web.child);
    const httpUrl = `http://127.0.0.1:${Number(await web.firstLine)}`;
    const rows: TimingLoadRow[] = [];
    for (const others of [0, o.others ?? 10_000]) {
      o.log?.(`timing-load: ${others} other targets`);
      rows.push(await run(chain, dir, others, o.slots, httpUrl, `10.${n}.252.2`));
      o.log?.(JSON.stringify(rows.at(-1)));
    }
    return rows;
  } finally {
    for (const k of kids) if (k.exitCode === null) k.kill('SIGKILL');
    chain.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const slots = Number(process.argv.find((a) => a.startsWith('--slots='))?.split('=')[1] ?? 30);
  const others = Number(process.argv.find((a) => a.startsWith('--others='))?.split('=')[1] ?? 10_000);
  console.log(JSON.stringify(await benchTimingLoad({ slots, others, log: (s) => console.error(s) }), null, 2));
}
