import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';

/**
 * Network namespaces built by a test and torn down by name, even when the
 * test fails (finally + process exit hook). Needs root.
 */

const live = new Set<string>();
process.on('exit', () => {
  for (const ns of live) spawnSync('ip', ['netns', 'del', ns]);
});

/**
 * A random number this process has not drawn before for `what`: one file
 * builds several chains (route-truth five at once), whose namespace prefixes,
 * veth names and address blocks must differ — a repeat is "File exists".
 * Other processes differ by their pid in the names.
 */
const drawn = new Map<string, Set<number>>();
function fresh(what: string, lo: number, hi: number): number {
  const seen = drawn.get(what) ?? drawn.set(what, new Set()).get(what)!;
  if (seen.size >= (hi - lo) / 2) throw new Error(`test/helpers/netns.ts: more than ${seen.size} ${what} drawn by one process`);
  for (;;) {
    const v = randomInt(lo, hi);
    if (!seen.has(v)) return seen.add(v), v;
  }
}
/** A veth pair's id: this process's and fresh (interface names are at most 15 characters: p + 3 + 5 + a). */
const vethId = () => `${process.pid % 1000}${fresh('veth', 10_000, 99_999)}`;

export function sh(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr || e.message}`);
  }
}

export function inNs(ns: string, cmd: string, args: string[], input?: string): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args], input);
}

export class Namespaces {
  readonly prefix = `nt${process.pid % 10000}${fresh('namespace prefix', 100, 999)}`;
  private readonly made: string[] = [];
  private readonly procs: ChildProcess[] = [];

  /** A namespace with loopback up and the given forwarding setting. */
  add(short: string, router = false): string {
    const ns = `${this.prefix}${short}`;
    sh('ip', ['netns', 'add', ns]);
    this.made.push(ns);
    live.add(ns);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // Fast mtr runs otherwise see false loss on middle hops (COOKBOOK).
    if (router) inNs(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.icmp_ratelimit=0']);
    return ns;
  }

  /** veth pair between two namespaces (null = the root namespace) with addresses (CIDR). */
  link(a: string | null, aAddr: string, b: string | null, bAddr: string): { aIf: string; bIf: string } {
    const id = vethId();
    const aIf = `v${id}a`;
    const bIf = `v${id}b`;
    const aNs = a ? ['netns', a] : [];
    const bNs = b ? ['netns', b] : [];
    sh('ip', ['link', 'add', aIf, ...aNs, 'type', 'veth', 'peer', 'name', bIf, ...bNs]);
    const run = (ns: string | null, args: string[]) => (ns ? inNs(ns, 'ip', args) : sh('ip', args));
    run(a, ['addr', 'add', aAddr, 'dev', aIf]);
    run(b, ['addr', 'add', bAddr, 'dev', bIf]);
    run(a, ['link', 'set', aIf, 'up']);
    run(b, ['link', 'set', bIf, 'up']);
    return { aIf, bIf };
  }

  route(ns: string, args: string[]): void {
    inNs(ns, 'ip', ['route', ...args]);
  }

  nft(ns: string, ruleset: string): void {
    inNs(ns, 'nft', ['-f', '-'], ruleset);
  }

  /**
   * A TUN device `dev` in router `ns` that hands every packet routed into it
   * back after `delayMs` (test/helpers/tun-delay.py; the kernel has no netem).
   * Resolves once the device is up; the delayer is killed by PID in cleanup().
   * Route traffic into it with `ip route ... dev <dev>` and out again with a
   * rule `iif <dev> lookup <table>`.
   */
  async delay(ns: string, dev: string, delayMs: number): Promise<void> {
    const p = spawn('ip', ['netns', 'exec', ns, 'python3', join(import.meta.dirname, 'tun-delay.py'), dev, String(delayMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(p);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      p.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes(`up ${dev}`)) resolve();
      });
      p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      p.once('exit', (code) => reject(new Error(`tun-delay in ${ns} exited ${code}: ${out}`)));
    });
    inNs(ns, 'ip', ['link', 'set', dev, 'up']);
    inNs(ns, 'sysctl', ['-qw', `net.ipv4.conf.${dev}.rp_filter=0`, 'net.ipv4.conf.all.rp_filter=0']);
  }

  cleanup(): void {
    for (const p of this.procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const ns of this.made.reverse()) {
      spawnSync('ip', ['netns', 'del', ns]);
      live.delete(ns);
    }
    this.made.length = 0;
  }
}

export interface Chain {
  ns: Namespaces;
  client: string;
  r1: string;
  r2: string;
  r3: string;
  server: string;
  /** N of 10.N.0.0/16 (when no prefix was given). */
  net: number;
  /** First two octets of every address of the topology. */
  prefix: string;
  serverIp: string;
  /** Router addresses facing the client, in path order (what traceroute shows). */
  hopIps: [string, string, string];
  /** An address inside the server subnet that nobody owns. */
  unownedIp: string;
  /** Add r4 between r1 and r3 and move r1's route to the server through it; returns r4's address seen at hop 2. */
  rerouteViaR4(): string;
  cleanup(): void;
}

/**
 * client -> r1 -> r2 -> r3 -> server, each link a /24 in 10.N.0.0/16:
 * link k (1..4) is 10.N.k.0/24, left side .1, right side .2. Routers answer
 * traceroute from the address facing the client: 10.N.1.2, 10.N.2.2, 10.N.3.2.
 */
export function buildChain(opts: { /** first two octets instead of 10.N (e.g. public-looking addresses for geolocation) */ prefix?: string } = {}): Chain {
  const ns = new Namespaces();
  const N = fresh('10.N block', 100, 250);
  const base = opts.prefix ?? `10.${N}`;
  const ip = (link: number, host: number) => `${base}.${link}.${host}`;
  try {
    const client = ns.add('c');
    const r1 = ns.add('r1', true);
    const r2 = ns.add('r2', true);
    const r3 = ns.add('r3', true);
    const server = ns.add('s');
    ns.link(client, `${ip(1, 1)}/24`, r1, `${ip(1, 2)}/24`);
    ns.link(r1, `${ip(2, 1)}/24`, r2, `${ip(2, 2)}/24`);
    ns.link(r2, `${ip(3, 1)}/24`, r3, `${ip(3, 2)}/24`);
    ns.link(r3, `${ip(4, 1)}/24`, server, `${ip(4, 2)}/24`);
    ns.route(client, ['add', 'default', 'via', ip(1, 2)]);
    ns.route(r1, ['add', `${base}.3.0/24`, 'via', ip(2, 2)]);
    ns.route(r1, ['add', `${base}.4.0/24`, 'via', ip(2, 2)]);
    ns.route(r2, ['add', `${base}.1.0/24`, 'via', ip(2, 1)]);
    ns.route(r2, ['add', `${base}.4.0/24`, 'via', ip(3, 2)]);
    ns.route(r3, ['add', 'default', 'via', ip(3, 1)]);
    ns.route(server, ['add', 'default', 'via', ip(4, 1)]);
    return {
      ns,
      client,
      r1,
      r2,
      r3,
      server,
      net: N,
      prefix: base,
      serverIp: ip(4, 2),
      hopIps: [ip(1, 2), ip(2, 2), ip(3, 2)],
      unownedIp: ip(4, 99),
      rerouteViaR4() {
        const r4 = ns.add('r4', true);
        ns.link(r1, `${ip(5, 1)}/24`, r4, `${ip(5, 2)}/24`);
        ns.link(r4, `${ip(6, 1)}/24`, r3, `${ip(6, 2)}/24`);
        ns.route(r4, ['add', `${base}.4.0/24`, 'via', ip(6, 2)]);
        ns.route(r4, ['add', `${base}.1.0/24`, 'via', ip(5, 1)]);
        ns.route(r1, ['replace', `${base}.4.0/24`, 'via', ip(5, 2)]);
        return ip(5, 2);
      },
      cleanup: () => ns.cleanup(),
    };
  } catch (err) {
    ns.cleanup();
    throw err;
  }
}

export type SiteName = 'a' | 'b' | 'c';
export const SITE_NAMES: readonly SiteName[] = ['a', 'b', 'c'];

export interface ThreeSites {
  ns: Namespaces;
  /** The namespace each site's daemon runs in. */
  site: Record<SiteName, string>;
  /** The management LAN (10.M.250.0/24): the root namespace's address (tests, the browser, databases listen here) and each site's. */
  mgmt: { root: string; site: Record<SiteName, string> };
  /** The target every site probes: behind `core` (a LAN all sites' paths enter) and `edge`. */
  targetIp: string;
  /** The target's namespace (to run a server there). */
  targetNs: string;
  /** What each site's traceroute shows, hop by hop, up to and with the target. */
  hops: Record<SiteName, string[]>;
  /** The addresses every path shares before the target: core's LAN address, edge's. */
  shared: [string, string];
  /** Drop `pct` % of what reaches b's second router from its first: loss from hop 2 of b's path on. */
  lossOnB(pct: number): void;
  clearLossOnB(): void;
  /** Move c's path from its second router to `slow`, behind a link that delays each packet `delayMs`; the address of the new hop 2. */
  rerouteCThroughSlowHop(delayMs: number): Promise<string>;
  /** Put c's path back on its second router. */
  restoreC(): void;
  /** The target stops answering (its link goes down) and comes back. */
  targetDown(): void;
  targetUp(): void;
  cleanup(): void;
}

/**
 * Three sites with different paths to one target, for the vantage-point
 * tests. Each site X (a, b, c = 1, 2, 3) has two routers of its own, then
 * all paths enter one LAN where `core` answers from a single address, then
 * `edge`, then the target:
 *
 *   site a ── a1 ── a2 ─┐
 *   site b ── b1 ── b2 ─┼─ LAN 10.N.200.0/24 ── core ── edge ── target 10.N.202.2
 *   site c ── c1 ── c2 ─┘                  │
 *               └──── slow ────────────────┘   (c's path after rerouteCThroughSlowHop)
 *
 * Site X's own links are 10.N.X1.0/24 (site .1, X1 .2) and 10.N.X2.0/24
 * (X1 .1, X2 .2); X2 is 10.N.200.X1 on the LAN, core 10.N.200.1; core-edge
 * 10.N.201.0/24, edge-target 10.N.202.0/24. Routers answer from the
 * address facing the site, so site a's trace reads 10.N.11.2, 10.N.12.2,
 * 10.N.200.1, 10.N.201.2, 10.N.202.2. A separate management LAN joins the
 * root namespace and the three sites (daemons' APIs, remote write).
 */
export function buildThreeSites(): ThreeSites {
  const ns = new Namespaces();
  const N = fresh('10.N block', 100, 250);
  const M = fresh('10.N block', 100, 250);
  const ip = (c: number, d: number) => `10.${N}.${c}.${d}`;
  const mgmtIp = (d: number) => `10.${M}.250.${d}`;
  const idx: Record<SiteName, number> = { a: 1, b: 2, c: 3 };
  // About 150 ip commands: one `ip -batch` per namespace instead of a process each (15 s -> 2 s on a loaded machine).
  const batch = new IpBatch();
  try {
    const core = ns.add('core', true);
    const edge = ns.add('edge', true);
    const target = ns.add('t');
    const m = ns.add('m');
    const slow = ns.add('slow', true);
    const site = {} as Record<SiteName, string>;
    const r1 = {} as Record<SiteName, string>;
    const r2 = {} as Record<SiteName, string>;
    for (const s of SITE_NAMES) {
      site[s] = ns.add(s);
      r1[s] = ns.add(`${s}1`, true);
      r2[s] = ns.add(`${s}2`, true);
    }
    batch.add(core, 'link add br0 type bridge', 'link set br0 up', `addr add ${ip(200, 1)}/24 dev br0`);
    batch.add(m, 'link add br0 type bridge', 'link set br0 up');
    batch.link(core, `${ip(201, 1)}/24`, edge, `${ip(201, 2)}/24`);
    const targetIf = batch.link(edge, `${ip(202, 1)}/24`, target, `${ip(202, 2)}/24`)[1];
    batch.route(core, `${ip(202, 0)}/24 via ${ip(201, 2)}`);
    batch.route(edge, `default via ${ip(201, 1)}`);
    batch.route(target, `default via ${ip(202, 1)}`);
    batch.port(m, null, `${mgmtIp(1)}/24`);

    const mgmtSite = {} as Record<SiteName, string>;
    const hops = {} as Record<SiteName, string[]>;
    for (const s of SITE_NAMES) {
      const x = idx[s] * 10;
      batch.link(site[s], `${ip(x + 1, 1)}/24`, r1[s], `${ip(x + 1, 2)}/24`);
      batch.link(r1[s], `${ip(x + 2, 1)}/24`, r2[s], `${ip(x + 2, 2)}/24`);
      batch.port(core, r2[s], `${ip(200, x + 1)}/24`);
      batch.route(site[s], `default via ${ip(x + 1, 2)}`);
      batch.route(r1[s], `default via ${ip(x + 2, 2)}`);
      batch.route(r2[s], `default via ${ip(200, 1)}`, `${ip(x + 1, 0)}/24 via ${ip(x + 2, 1)}`);
      batch.route(core, `${ip(x + 1, 0)}/24 via ${ip(200, x + 1)}`, `${ip(x + 2, 0)}/24 via ${ip(200, x + 1)}`);
      mgmtSite[s] = mgmtIp(x + 1);
      batch.port(m, site[s], `${mgmtSite[s]}/24`);
      hops[s] = [ip(x + 1, 2), ip(x + 2, 2), ip(200, 1), ip(201, 2), ip(202, 2)];
    }
    // c's alternative: c1 -> slow -> the LAN, behind a delaying TUN in c1 (set up on demand).
    const slowIf = batch.link(r1.c, `${ip(34, 1)}/24`, slow, `${ip(34, 2)}/24`)[0];
    batch.port(core, slow, `${ip(200, 5)}/24`);
    batch.route(slow, `default via ${ip(200, 1)}`, `${ip(31, 0)}/24 via ${ip(34, 1)}`);
    batch.route(core, `${ip(34, 0)}/24 via ${ip(200, 5)}`);
    batch.run();
    const b1Facing = batch.ifaceOf(r2.b, `${ip(22, 2)}/24`);
    let delayer: Promise<void> | undefined;

    return {
      ns,
      site,
      mgmt: { root: mgmtIp(1), site: mgmtSite },
      targetIp: ip(202, 2),
      targetNs: target,
      hops,
      shared: [ip(200, 1), ip(201, 2)],
      lossOnB(pct) {
        // On the way in from b1: probes with TTL 2 (answered by b2) are lost too, so the trace shows it from hop 2 on.
        ns.nft(r2.b, `table inet lossy {\n chain pre {\n type filter hook prerouting priority -300; policy accept;\n iifname "${b1Facing}" numgen random mod 100 < ${pct} counter drop\n }\n}\n`);
      },
      clearLossOnB() {
        inNs(r2.b, 'nft', ['delete', 'table', 'inet', 'lossy']);
      },
      async rerouteCThroughSlowHop(delayMs) {
        delayer ??= ns.delay(r1.c, 'dtun', delayMs).then(() => {
          sh('ip', ['-n', r1.c, '-batch', '-'], `route add default via ${ip(34, 2)} dev ${slowIf} table 100\nrule add iif dtun lookup 100\n`);
        });
        await delayer;
        sh('ip', ['-n', r1.c, '-batch', '-'], [200, 201, 202].map((net) => `route replace ${ip(net, 0)}/24 dev dtun`).join('\n') + '\n');
        return ip(34, 2);
      },
      restoreC() {
        sh('ip', ['-n', r1.c, '-batch', '-'], [200, 201, 202].map((net) => `route del ${ip(net, 0)}/24`).join('\n') + '\n');
      },
      targetDown() {
        sh('ip', ['-n', target, 'link', 'set', targetIf, 'down']);
      },
      targetUp() {
        sh('ip', ['-n', target, '-batch', '-'], `link set ${targetIf} up\nroute replace default via ${ip(202, 1)}\n`);
      },
      cleanup: () => ns.cleanup(),
    };
  } catch (err) {
    ns.cleanup();
    throw err;
  }
}

/**
 * ip commands collected per namespace, run as one `ip -batch` each: the
 * root namespace's first (it makes the veth pairs), then every other in the
 * order they were first named. Pair and port names are unique per call.
 */
class IpBatch {
  private readonly root: string[] = [];
  private readonly byNs = new Map<string, string[]>();
  private readonly addrs = new Map<string, string>();

  add(ns: string | null, ...lines: string[]): void {
    if (ns === null) this.root.push(...lines);
    else (this.byNs.get(ns) ?? this.byNs.set(ns, []).get(ns)!).push(...lines);
  }

  route(ns: string, ...routes: string[]): void {
    this.add(ns, ...routes.map((r) => `route add ${r}`));
  }

  /** A veth pair with an address (CIDR) on each end; the two interface names. */
  link(a: string, aAddr: string, b: string, bAddr: string): [string, string] {
    const id = vethId();
    const [aIf, bIf] = [`v${id}a`, `v${id}b`];
    this.root.push(`link add ${aIf} netns ${a} type veth peer name ${bIf} netns ${b}`);
    this.up(a, aIf, aAddr);
    this.up(b, bIf, bAddr);
    return [aIf, bIf];
  }

  /** A veth from `peer` (null: the root namespace) with address `addr`, its other end a port of br0 in `ns`. */
  port(ns: string, peer: string | null, addr: string): string {
    const id = vethId();
    const [brIf, peerIf] = [`p${id}b`, `p${id}a`];
    this.root.push(`link add ${brIf} netns ${ns} type veth peer name ${peerIf}${peer ? ` netns ${peer}` : ''}`);
    this.add(ns, `link set ${brIf} master br0 up`);
    this.up(peer, peerIf, addr);
    return peerIf;
  }

  ifaceOf(ns: string, addr: string): string {
    return this.addrs.get(`${ns} ${addr}`)!;
  }

  private up(ns: string | null, dev: string, addr: string): void {
    if (ns) this.addrs.set(`${ns} ${addr}`, dev);
    this.add(ns, `addr add ${addr} dev ${dev}`, `link set ${dev} up`);
  }

  run(): void {
    if (this.root.length) sh('ip', ['-batch', '-'], `${this.root.join('\n')}\n`);
    for (const [ns, lines] of this.byNs) sh('ip', ['-n', ns, '-batch', '-'], `${lines.join('\n')}\n`);
    this.root.length = 0;
    this.byNs.clear();
  }
}

/** Drop `pct` % of the echo requests that reach `ns` itself (loss at a destination, not on the way). */
export function dropEchoRequests(chain: Chain, ns: string, pct: number): void {
  chain.ns.nft(ns, `table inet echo_loss {\n chain in_drop {\n type filter hook input priority 0;\n icmp type echo-request numgen random mod 100 < ${pct} counter drop\n }\n}\n`);
}

/** A router that forwards but never says so: it drops its own time-exceeded messages (a silent hop). */
export function silenceRouter(chain: Chain, router: string): void {
  chain.ns.nft(router, 'table inet silent {\n chain out {\n type filter hook output priority 0;\n icmp type time-exceeded drop\n }\n}\n');
}

/**
 * A second router r2b beside r2 (r1 -> r2b -> r3 over links 7 and 8) and
 * r1's route to the server as two equal-cost next hops, hashed on ports
 * (fib_multipath_hash_policy=1): UDP and TCP traces see both at TTL 2;
 * ICMP ones keep to one. Returns r2b's address seen at hop 2.
 */
export function addEcmpTwin(chain: Chain): string {
  const p = chain.prefix;
  const r2b = chain.ns.add('r2b', true);
  chain.ns.link(chain.r1, `${p}.7.1/24`, r2b, `${p}.7.2/24`);
  chain.ns.link(r2b, `${p}.8.1/24`, chain.r3, `${p}.8.2/24`);
  chain.ns.route(r2b, ['add', `${p}.4.0/24`, 'via', `${p}.8.2`]);
  chain.ns.route(r2b, ['add', `${p}.1.0/24`, 'via', `${p}.7.1`]);
  inNs(chain.r1, 'sysctl', ['-qw', 'net.ipv4.fib_multipath_hash_policy=1']);
  chain.ns.route(chain.r1, ['replace', `${p}.4.0/24`, 'nexthop', 'via', `${p}.2.2`, 'nexthop', 'via', `${p}.7.2`]);
  return `${p}.7.2`;
}
