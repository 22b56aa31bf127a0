import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { LineCounter, parse, parseDocument, isNode } from 'yaml';

/** The probe kinds, in the order a target runs them. */
export const PROBE_KINDS = ['icmp', 'trace', 'http', 'tcp', 'dns'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

export const DNS_RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'TXT', 'SOA', 'PTR', 'SRV', 'CAA'] as const;
export type DnsRecordType = (typeof DNS_RECORD_TYPES)[number];

export interface HttpProbeSpec {
  url: string;
  method: string;
  /** Statuses that count as success. Default: any 2xx or 3xx. */
  expectStatus: number[] | null;
  /** Skip certificate verification (the expiry is still reported). */
  insecureTls: boolean;
  headers: Record<string, string>;
  /** Keep the connection for the next probe (false: a fresh connection, DNS + connect + TLS, every time). */
  reuseConnection: boolean;
}
export interface TcpProbeSpec {
  port: number;
}
export interface DnsProbeSpec {
  /** `ip` or `ip:port` / `[ipv6]:port`; null = first nameserver of /etc/resolv.conf. */
  server: string | null;
  record: DnsRecordType;
  /** Name to query; defaults to the target host. */
  name: string;
}
export interface IcmpProbeSpec {
  count: number;
  /** Seconds between two echo requests to this target (fping -p). */
  packetIntervalS: number;
  /** Address family to resolve the host in; null = what the resolver returns first. */
  family: 4 | 6 | null;
}
export interface TraceProbeSpec {
  protocol: 'icmp' | 'udp' | 'tcp';
  /** Destination port for udp/tcp traces. */
  port: number | null;
  maxHops: number;
  cycles: number;
  /** Seconds between mtr cycles (mtr -i; below 1 needs root). */
  packetIntervalS: number;
  /** Seconds mtr waits for late replies after its last cycle (mtr -G). */
  graceS: number;
  /** Trace every this many seconds (a multiple of the target interval). */
  intervalS: number;
}

export interface Target {
  /** Tag value `target`: unique across the configuration. */
  name: string;
  /** FQDN or IP address the path probes aim at. */
  host: string;
  probes: ProbeKind[];
  intervalS: number;
  /** Deadline of one probe run of this target, in seconds. */
  timeoutS: number;
  http?: HttpProbeSpec;
  tcp?: TcpProbeSpec;
  dns?: DnsProbeSpec;
  icmp: IcmpProbeSpec;
  trace: TraceProbeSpec;
}

/** Defaults a target inherits from the environment. */
export interface TargetDefaults {
  intervalS: number;
  timeoutS: number;
  /** null = the documented default set per kind of host (see defaultProbesFor). */
  probes: ProbeKind[] | null;
  icmp: IcmpProbeSpec;
  trace: Omit<TraceProbeSpec, 'intervalS'> & { intervalS: number | null };
  /** HTTP_REUSE_CONNECTIONS */
  httpReuse: boolean;
}

export class TargetConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'TargetConfigError';
  }
}

const HOSTNAME_RE = /^(?=.{1,253}$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?)*\.?$/;

export function isValidHost(host: string): boolean {
  return isIP(host) !== 0 || HOSTNAME_RE.test(host);
}

/** An IP literal or `localhost`: nothing to resolve, no certificate to match. */
function isAddressLike(host: string): boolean {
  return isIP(host) !== 0 || host === 'localhost' || host.endsWith('.localhost');
}

/**
 * The probes a bare host runs when nothing says otherwise:
 * a name gets icmp + trace + http (https://host/) + dns (A record via the
 * system resolver); an IP address or localhost gets icmp + trace only, since
 * a DNS query or a TLS name check makes no sense for it.
 */
export function defaultProbesFor(host: string): ProbeKind[] {
  return isAddressLike(host) ? ['icmp', 'trace'] : ['icmp', 'trace', 'http', 'dns'];
}

// ---------------------------------------------------------------------------
// TARGET_FQDN / TARGET_FQDNS entries

/**
 * One comma-separated entry: a URL runs the http probe of that URL, `host:port`
 * runs a tcp probe, a bare host runs the default probe set. The target name is
 * the entry as written, so two URLs on one host stay two targets.
 */
export function targetFromEntry(entry: string, defaults: TargetDefaults): Target {
  const base = (name: string, host: string, probes: ProbeKind[]): Target => ({
    name,
    host,
    probes,
    intervalS: defaults.intervalS,
    timeoutS: defaults.timeoutS,
    icmp: { ...defaults.icmp },
    trace: { ...defaults.trace, intervalS: defaults.trace.intervalS ?? defaults.intervalS },
  });

  if (entry.includes('://')) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new Error(`"${entry}" is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`"${entry}": only http:// and https:// URLs can be probed`);
    }
    const host = stripBrackets(url.hostname);
    const t = base(entry, host, ['http']);
    t.http = { url: url.toString(), method: 'GET', expectStatus: null, insecureTls: false, headers: {}, reuseConnection: defaults.httpReuse };
    checkTarget(t);
    return t;
  }

  const hostPort = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(entry);
  if (hostPort) {
    const host = (hostPort[1] ?? hostPort[2]) as string;
    const port = Number(hostPort[3]);
    if (!isValidHost(host)) throw new Error(`"${entry}": "${host}" is not a valid host name or IP address`);
    if (port < 1 || port > 65535) throw new Error(`"${entry}": port must be 1-65535`);
    const t = base(entry, host, ['tcp']);
    t.tcp = { port };
    checkTarget(t);
    return t;
  }

  const host = stripBrackets(entry);
  if (!isValidHost(host)) {
    throw new Error(`"${entry}" is not a host name, IP address, host:port or http(s) URL`);
  }
  const t = base(entry, host, defaults.probes ?? defaultProbesFor(host));
  fillProbeDefaults(t, defaults.httpReuse);
  checkTarget(t);
  return t;
}

function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** Give every enabled probe that has no explicit block its documented default. */
function fillProbeDefaults(t: Target, httpReuse: boolean): void {
  if (t.probes.includes('http') && !t.http) {
    const host = isIP(t.host) === 6 ? `[${t.host}]` : t.host;
    t.http = { url: `https://${host}/`, method: 'GET', expectStatus: null, insecureTls: false, headers: {}, reuseConnection: httpReuse };
  }
  if (t.probes.includes('tcp') && !t.tcp) t.tcp = { port: 443 };
  if (t.probes.includes('dns') && !t.dns) t.dns = { server: null, record: isIP(t.host) === 6 ? 'AAAA' : 'A', name: t.host };
}

// ---------------------------------------------------------------------------
// TARGETS_FILE (YAML)

const port = z.number().int().min(1).max(65535);
const probeList = z.array(z.enum(PROBE_KINDS)).min(1).refine((l) => new Set(l).size === l.length, 'lists a probe twice');
const status = z.number().int().min(100).max(599);

const fileTargetSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  host: z.string().min(1).refine(isValidHost, 'is not a host name or IP address').optional(),
  probes: probeList.optional(),
  interval: z.number().min(1).max(86_400).optional(),
  timeout: z.number().min(0.1).max(600).optional(),
  http: z
    .strictObject({
      url: z.url({ protocol: /^https?$/ }),
      method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS', 'DELETE', 'PATCH']).default('GET'),
      expect_status: z.union([status, z.array(status).min(1)]).optional(),
      insecure_tls: z.boolean().default(false),
      headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'is not a header name'), z.string()).default({}),
      reuse_connection: z.boolean().optional(),
    })
    .optional(),
  tcp: z.strictObject({ port }).optional(),
  dns: z
    .strictObject({
      server: z.string().min(1).optional(),
      record: z.enum(DNS_RECORD_TYPES).default('A'),
      name: z.string().min(1).optional(),
    })
    .optional(),
  icmp: z
    .strictObject({
      count: z.number().int().min(1).max(1000).optional(),
      packet_interval: z.number().min(0.01).max(60).optional(),
      family: z.union([z.literal(4), z.literal(6)]).optional(),
    })
    .optional(),
  trace: z
    .strictObject({
      protocol: z.enum(['icmp', 'udp', 'tcp']).optional(),
      port: port.optional(),
      max_hops: z.number().int().min(1).max(64).optional(),
      cycles: z.number().int().min(1).max(100).optional(),
      packet_interval: z.number().min(0.1).max(60).optional(),
      interval: z.number().min(1).max(86_400).optional(),
    })
    .optional(),
});

const fileSchema = z.strictObject({
  defaults: z
    .strictObject({
      interval: z.number().min(1).max(86_400).optional(),
      timeout: z.number().min(0.1).max(600).optional(),
      probes: probeList.optional(),
    })
    .optional(),
  targets: z.array(fileTargetSchema).min(1),
});

type FileTarget = z.infer<typeof fileTargetSchema>;

/** Parse a targets file; every problem is reported as `file:line: path: message`. */
export function loadTargetsFile(path: string, defaults: TargetDefaults): Target[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TargetConfigError([`TARGETS_FILE ${path}: cannot read: ${(err as Error).message}`]);
  }
  return parseTargetsYaml(text, path, defaults);
}

export function parseTargetsYaml(text: string, path: string, defaults: TargetDefaults): Target[] {
  // Plain parse first: a 10,000-target file as a Document (every node with
  // its source range) costs tens of MB. The Document is built only when an
  // error needs a line number.
  let source: { doc: ReturnType<typeof parseDocument>; lines: LineCounter } | undefined;
  const located = () => {
    if (!source) {
      const lines = new LineCounter();
      source = { doc: parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false }), lines };
    }
    return source;
  };
  const at = (offset: number | undefined) => (offset === undefined ? path : `${path}:${located().lines.linePos(offset).line}`);
  let data: unknown;
  try {
    data = parse(text, { uniqueKeys: true, prettyErrors: false });
  } catch {
    const { doc } = located();
    throw new TargetConfigError(doc.errors.map((e) => `${at(e.pos[0])}: ${e.message.split('\n')[0]}`));
  }
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    throw new TargetConfigError(
      parsed.error.issues.map((issue) => {
        // Unknown keys are reported on their parent; point at the key itself.
        const keyPath = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] as string] : issue.path;
        const node = nodeAt(located().doc, keyPath as (string | number)[]);
        const where = keyPath.length ? keyPath.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(top)';
        return `${at(node)}: ${where}: ${issue.message}`;
      }),
    );
  }

  const fileDefaults: TargetDefaults = {
    ...defaults,
    intervalS: parsed.data.defaults?.interval ?? defaults.intervalS,
    timeoutS: parsed.data.defaults?.timeout ?? defaults.timeoutS,
    probes: parsed.data.defaults?.probes ?? defaults.probes,
  };
  const problems: string[] = [];
  const targets: Target[] = [];
  parsed.data.targets.forEach((ft, i) => {
    try {
      targets.push(targetFromFile(ft, fileDefaults));
    } catch (err) {
      problems.push(`${at(nodeAt(located().doc, ['targets', i]))}: targets[${i}]: ${(err as Error).message}`);
    }
  });
  if (problems.length) throw new TargetConfigError(problems);
  return targets;
}

/** Offset in the source of the node at `path` (or of its nearest existing parent). */
function nodeAt(doc: ReturnType<typeof parseDocument>, path: (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    if (sub.length && typeof sub[sub.length - 1] === 'string') {
      // Prefer the key's position for map entries.
      const parent = sub.length > 1 ? doc.getIn(sub.slice(0, -1), true) : doc.contents;
      if (parent && typeof parent === 'object' && 'items' in parent) {
        const items = (parent as { items: unknown[] }).items;
        for (const item of items) {
          const key = (item as { key?: unknown }).key;
          if (isNode(key) && (key as { value?: unknown }).value === sub[sub.length - 1]) return key.range?.[0];
        }
      }
    }
    const node = sub.length ? doc.getIn(sub, true) : doc.contents;
    if (isNode(node) && node.range) return node.range[0];
  }
  return undefined;
}

function targetFromFile(ft: FileTarget, d: TargetDefaults): Target {
  const urlHost = ft.http ? stripBrackets(new URL(ft.http.url).hostname) : undefined;
  const host = ft.host ?? urlHost;
  if (!host) throw new Error('needs a host (or an http.url to take it from)');
  const probes = ft.probes ?? (ft.host ? (d.probes ?? defaultProbesFor(host)) : ['http' as ProbeKind]);
  const intervalS = ft.interval ?? d.intervalS;
  const t: Target = {
    name: ft.name ?? host,
    host,
    probes: [...probes].sort((a, b) => PROBE_KINDS.indexOf(a) - PROBE_KINDS.indexOf(b)),
    intervalS,
    timeoutS: ft.timeout ?? d.timeoutS,
    icmp: {
      count: ft.icmp?.count ?? d.icmp.count,
      packetIntervalS: ft.icmp?.packet_interval ?? d.icmp.packetIntervalS,
      family: ft.icmp?.family ?? d.icmp.family,
    },
    trace: {
      protocol: ft.trace?.protocol ?? d.trace.protocol,
      port: ft.trace?.port ?? d.trace.port,
      maxHops: ft.trace?.max_hops ?? d.trace.maxHops,
      cycles: ft.trace?.cycles ?? d.trace.cycles,
      packetIntervalS: ft.trace?.packet_interval ?? d.trace.packetIntervalS,
      graceS: d.trace.graceS,
      intervalS: ft.trace?.interval ?? d.trace.intervalS ?? intervalS,
    },
  };
  if (ft.http) {
    const es = ft.http.expect_status;
    t.http = {
      url: ft.http.url,
      method: ft.http.method,
      expectStatus: es === undefined ? null : Array.isArray(es) ? es : [es],
      insecureTls: ft.http.insecure_tls,
      headers: ft.http.headers,
      reuseConnection: ft.http.reuse_connection ?? d.httpReuse,
    };
  }
  if (ft.tcp) t.tcp = { port: ft.tcp.port };
  if (ft.dns) {
    if (ft.dns.server !== undefined && !isValidDnsServer(ft.dns.server)) {
      throw new Error(`dns.server "${ft.dns.server}" is not ip, ip:port or [ipv6]:port`);
    }
    t.dns = { server: ft.dns.server ?? null, record: ft.dns.record, name: ft.dns.name ?? host };
  }
  fillProbeDefaults(t, d.httpReuse);
  checkTarget(t);
  return t;
}

export function isValidDnsServer(s: string): boolean {
  if (isIP(s)) return true;
  const m = /^(?:\[([0-9a-fA-F:]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(s);
  if (!m) return false;
  const p = Number(m[3]);
  return isIP(m[1] ?? m[2] ?? '') !== 0 && p >= 1 && p <= 65535;
}

/** Cross-field rules that hold for targets from any source. */
export function checkTarget(t: Target): void {
  const trace = t.trace;
  if (t.probes.includes('trace') && trace.protocol === 'tcp' && trace.port === null) trace.port = 443;
  if (t.probes.includes('trace')) {
    const ratio = trace.intervalS / t.intervalS;
    if (Math.abs(ratio - Math.round(ratio)) > 1e-9 || ratio < 1) {
      throw new Error(`trace interval ${trace.intervalS}s must be a whole multiple of the target interval ${t.intervalS}s`);
    }
  }
  if (t.probes.includes('dns') && t.dns && isIP(t.dns.name) && t.dns.record !== 'PTR') {
    throw new Error(`dns probe of an IP address needs dns.name or record PTR`);
  }
  if (t.probes.includes('icmp') && t.icmp.count * t.icmp.packetIntervalS >= t.timeoutS) {
    throw new Error(
      `icmp: ${t.icmp.count} echo requests ${t.icmp.packetIntervalS}s apart do not fit in the ${t.timeoutS}s probe timeout`,
    );
  }
  if (t.probes.includes('trace') && trace.cycles * trace.packetIntervalS + trace.graceS >= t.timeoutS) {
    throw new Error(
      `trace: ${trace.cycles} cycles ${trace.packetIntervalS}s apart plus ${trace.graceS}s grace do not fit in the ${t.timeoutS}s probe timeout`,
    );
  }
  if (t.timeoutS >= t.intervalS) {
    throw new Error(`probe timeout ${t.timeoutS}s must be shorter than the interval ${t.intervalS}s`);
  }
}
