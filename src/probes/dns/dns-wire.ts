import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';

export const DNS_RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'TXT', 'SOA', 'PTR', 'SRV', 'CAA'] as const;
export type DnsRecordType = (typeof DNS_RECORD_TYPES)[number];

/** RFC 1035 wire format: just enough to ask one question and read the header of the answer. */

export const RECORD_CODES: Record<DnsRecordType, number> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  CAA: 257,
};

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

export function rcodeName(code: number): string {
  return RCODES[code] ?? `RCODE${code}`;
}

/** `1.2.3.4` -> `4.3.2.1.in-addr.arpa`; IPv6 -> nibble form under ip6.arpa. */
export function reverseName(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const groups = expandIpv6(ip);
  return `${groups.join('').split('').reverse().join('.')}.ip6.arpa`;
}

function expandIpv6(ip: string): string[] {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => g.padStart(4, '0'));
}

export function encodeQuery(name: string, record: DnsRecordType): { id: number; packet: Buffer } {
  const id = randomInt(0, 65536);
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const qname = Buffer.concat([
    ...labels.map((l) => {
      const b = Buffer.from(l, 'ascii');
      if (b.length > 63) throw new Error(`DNS label "${l}" is longer than 63 bytes`);
      return Buffer.concat([Buffer.from([b.length]), b]);
    }),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // recursion desired
  header.writeUInt16BE(1, 4); // one question
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(RECORD_CODES[record], 0);
  tail.writeUInt16BE(1, 2); // class IN
  return { id, packet: Buffer.concat([header, qname, tail]) };
}

export interface DnsAnswerHeader {
  id: number;
  rcode: number;
  truncated: boolean;
  answers: number;
}

/** Parse the header of a response; throws on anything that is not a DNS response. */
export function decodeHeader(buf: Buffer): DnsAnswerHeader {
  if (buf.length < 12) throw new Error(`DNS response of ${buf.length} bytes is shorter than a header`);
  const flags = buf.readUInt16BE(2);
  if ((flags & 0x8000) === 0) throw new Error('DNS packet is a query, not a response');
  return { id: buf.readUInt16BE(0), rcode: flags & 0x000f, truncated: (flags & 0x0200) !== 0, answers: buf.readUInt16BE(6) };
}
