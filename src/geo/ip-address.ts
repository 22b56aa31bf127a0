import { isIPv4, isIPv6 } from 'node:net';

/**
 * Address normalization, so one address has one cache key and one verdict:
 * IPv6 in its canonical compressed lower-case form, zone ids dropped, and
 * IPv4-mapped IPv6 (`::ffff:192.0.2.1`, as dual-stack sockets report IPv4
 * peers) turned back into the IPv4 address it is.
 */

export interface NormalizedIp {
  ip: string;
  family: 4 | 6;
}

/** The canonical form of an address, or undefined when `s` is not one. */
export function normalizeIp(s: string): NormalizedIp | undefined {
  const raw = s.trim();
  if (isIPv4(raw)) return { ip: raw.split('.').map((o) => String(Number(o))).join('.'), family: 4 };
  // A zone id (fe80::1%eth0) names a local interface: meaningless here.
  const v6 = raw.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!isIPv6(v6)) return undefined;
  const bytes = ipv6Bytes(v6);
  if (isV4Mapped(bytes)) return { ip: bytes.subarray(12).join('.'), family: 4 };
  return { ip: formatIpv6(bytes), family: 6 };
}

/** The 16 bytes of a valid IPv6 address (embedded dotted quad allowed). */
export function ipv6Bytes(ip: string): Uint8Array {
  const out = new Uint8Array(16);
  let text = ip.toLowerCase();
  // A trailing dotted quad stands for the last two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const o = quad[1]!.split('.').map(Number);
    text = text.slice(0, quad.index) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [headText, tailText] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const head = headText ? headText.split(':') : [];
  const tail = tailText ? tailText.split(':') : [];
  const groups = tailText === undefined ? head : [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** RFC 5952 text: lower case, leading zeros dropped, the longest run of 2+ zero groups as `::`. */
function formatIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
