import { execFileSync, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

/**
 * Network namespaces built by a test and torn down by name, even when the
 * test fails (finally + process exit hook). Needs root.
 */

const live = new Set<string>();
process.on('exit', () => {
  for (const ns of live) spawnSync('ip', ['netns', 'del', ns]);
});

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
  readonly prefix = `nt${process.pid % 10000}${randomInt(100, 999)}`;
  private readonly made: string[] = [];

  /** A namespace with loopback up and the given forwarding setting. */
  add(short: string, router = false): string {
    const ns = `${this.prefix}${short}`;
    sh('ip', ['netns', 'add', ns]);
    this.made.push(ns);
    live.add(ns);
    inNs(ns, 'ip', ['link', 'set', 'lo', 'up']);
    if (router) {
      inNs(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      // Fast mtr runs otherwise see false loss on middle hops (COOKBOOK).
      inNs(ns, 'sysctl', ['-qw', 'net.ipv4.icmp_ratelimit=0']);
    }
    return ns;
  }

  /** veth pair between two namespaces (null = the root namespace) with addresses (CIDR). */
  link(a: string | null, aAddr: string, b: string | null, bAddr: string): { aIf: string; bIf: string } {
    const id = randomInt(10_000, 99_999);
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

  cleanup(): void {
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
  const N = randomInt(100, 250);
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
