import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Sample } from '../../samples/sample.js';
import { round3 } from '../../util/numbers.js';
import { reasonForError } from '../reasons.js';
import type { Probe, ProbeOutcome } from '../types.js';
import { decodeHeader, encodeQuery, rcodeName, reverseName, type DnsAnswerHeader, type DnsRecordType } from './dns-wire.js';

export interface DnsSpec {
  /** `ip` or `ip:port` / `[ipv6]:port`; null = first nameserver of /etc/resolv.conf. */
  server: string | null;
  record: DnsRecordType;
  /** Name to query; defaults to the target host. */
  name: string;
}

/**
 * One DNS question over UDP to the configured server (default: the first
 * nameserver of /etc/resolv.conf), retried over TCP when the answer is
 * truncated. query_ms is the time from sending the question to the answer.
 * Success = NOERROR with at least one answer record.
 */
export const dnsProbe: Probe<DnsSpec> = async ({ timeMs, tags, signal }, spec): Promise<ProbeOutcome> => {
  const server = spec.server ?? systemNameserver();
  const sample: Sample<'dns'> = { measurement: 'dns', tags: { ...tags, record: spec.record }, fields: { success: false }, timeMs };
  if (!server) {
    return { success: false, reason: 'dns_error', detail: 'no nameserver in /etc/resolv.conf; set dns.server', samples: [sample], summary: {} };
  }
  sample.fields.server = server;
  const { host, port } = splitServer(server);
  const qname = spec.record === 'PTR' && isIP(spec.name) ? reverseName(spec.name) : spec.name;
  try {
    const { id, packet } = encodeQuery(qname, spec.record);
    const t0 = performance.now();
    let header = await askUdp(host, port, packet, id, signal);
    if (header.truncated) header = await askTcp(host, port, packet, id, signal);
    const ms = round3(performance.now() - t0);
    const rcode = rcodeName(header.rcode);
    const ok = header.rcode === 0 && header.answers > 0;
    Object.assign(sample.fields, { success: ok, query_ms: ms, answers: header.answers, rcode });
    const summary = { query_ms: ms, rcode, answers: header.answers };
    if (ok) return { success: true, samples: [sample], summary };
    return header.rcode === 0
      ? { success: false, reason: 'no_answer', detail: `NOERROR with no ${spec.record} record for ${qname}`, samples: [sample], summary }
      : { success: false, reason: 'rcode', detail: `${rcode} for ${qname} ${spec.record}`, samples: [sample], summary };
  } catch (err) {
    const isParse = (err as { code?: string }).code === 'DNS_BAD_RESPONSE';
    const { reason, detail } = isParse ? { reason: 'parse_error' as const, detail: (err as Error).message } : reasonForError(err, signal);
    return { success: false, reason, detail, samples: [sample], summary: {} };
  }
};

function askUdp(host: string, port: number, packet: Buffer, id: number, signal: AbortSignal): Promise<DnsAnswerHeader> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    const finish = (err: unknown, h?: DnsAnswerHeader) => {
      signal.removeEventListener('abort', onAbort);
      sock.close();
      if (h) resolve(h);
      else reject(err);
    };
    const onAbort = () => finish(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (err) => finish(err));
    sock.on('message', (msg) => {
      let h: DnsAnswerHeader;
      try {
        h = decodeHeader(msg);
      } catch (e) {
        return finish(Object.assign(new Error(`bad DNS response: ${(e as Error).message}`), { code: 'DNS_BAD_RESPONSE' }));
      }
      if (h.id !== id) return; // a stray or spoofed answer: keep waiting
      finish(null, h);
    });
    // connect() makes ICMP port-unreachable surface as ECONNREFUSED instead of a silent timeout.
    sock.connect(port, host, () => sock.send(packet));
  });
}

function askTcp(host: string, port: number, packet: Buffer, id: number, signal: AbortSignal): Promise<DnsAnswerHeader> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    let buf = Buffer.alloc(0);
    const finish = (err: unknown, h?: DnsAnswerHeader) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      if (h) resolve(h);
      else reject(err);
    };
    const onAbort = () => finish(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (err) => finish(err));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(packet.length);
      sock.write(Buffer.concat([len, packet]));
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      try {
        const h = decodeHeader(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        if (h.id !== id) throw new Error('answer id does not match the question');
        finish(null, h);
      } catch (e) {
        finish(Object.assign(new Error(`bad DNS response: ${(e as Error).message}`), { code: 'DNS_BAD_RESPONSE' }));
      }
    });
    sock.on('end', () => finish(Object.assign(new Error('server closed the TCP connection before answering'), { code: 'ECONNRESET' })));
  });
}

export function splitServer(server: string): { host: string; port: number } {
  if (isIP(server)) return { host: server, port: 53 };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(server);
  if (!m) return { host: server, port: 53 };
  return { host: (m[1] ?? m[2]) as string, port: Number(m[3]) };
}

let cachedNameserver: { at: number; value: string | null } | undefined;
/** First `nameserver` line of /etc/resolv.conf, re-read at most every 30 s. */
export function systemNameserver(): string | null {
  const now = Date.now();
  if (cachedNameserver && now - cachedNameserver.at < 30_000) return cachedNameserver.value;
  let value: string | null = null;
  try {
    const m = /^\s*nameserver\s+(\S+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'));
    value = m?.[1]?.replace(/%.*$/, '') ?? null;
  } catch {
    value = null;
  }
  cachedNameserver = { at: now, value };
  return value;
}
