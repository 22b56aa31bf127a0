import { BlockList } from 'node:net';
import type { NormalizedIp } from './ip-address.js';

/**
 * Addresses that have no place on a map: private, loopback, link-local,
 * carrier-grade NAT, multicast, documentation, benchmarking and otherwise
 * reserved ranges (IANA IPv4/IPv6 Special-Purpose Address Registries, RFC
 * 6890 and successors). They are never sent to a geolocation backend — a
 * lookup would at best say "reserved range" and at worst leak the topology
 * of the source's network to a third party — and hops with them get
 * `geo_private = true` and nothing else.
 *
 * IPv6 is judged by exclusion first: only 2000::/3 is global unicast, so
 * everything outside it (::, ::1, fc00::/7, fe80::/10, ff00::/8, 100::/64,
 * 5f00::/16, ...) is reserved; then the reserved blocks inside 2000::/3.
 * IPv4-mapped addresses arrive here already turned into IPv4 (ip-address.ts).
 */

export type ReservedKind =
  | 'unspecified'
  | 'private'
  | 'loopback'
  | 'link-local'
  | 'cgnat'
  | 'multicast'
  | 'documentation'
  | 'benchmarking'
  | 'reserved';

type Range = [kind: ReservedKind, prefix: string, bits: number];

const V4: Range[] = [
  ['unspecified', '0.0.0.0', 8], // "this network" (RFC 791)
  ['private', '10.0.0.0', 8], // RFC 1918
  ['cgnat', '100.64.0.0', 10], // shared address space (RFC 6598)
  ['loopback', '127.0.0.0', 8],
  ['link-local', '169.254.0.0', 16],
  ['private', '172.16.0.0', 12], // RFC 1918
  ['reserved', '192.0.0.0', 24], // IETF protocol assignments (RFC 6890)
  ['documentation', '192.0.2.0', 24], // TEST-NET-1 (RFC 5737)
  ['reserved', '192.88.99.0', 24], // former 6to4 relay anycast (RFC 7526)
  ['private', '192.168.0.0', 16], // RFC 1918
  ['benchmarking', '198.18.0.0', 15], // RFC 2544
  ['documentation', '198.51.100.0', 24], // TEST-NET-2
  ['documentation', '203.0.113.0', 24], // TEST-NET-3
  ['multicast', '224.0.0.0', 4],
  ['reserved', '240.0.0.0', 4], // future use, and 255.255.255.255 broadcast
];

const V6: Range[] = [
  ['unspecified', '::', 128],
  ['loopback', '::1', 128],
  ['private', 'fc00::', 7], // unique local (RFC 4193)
  ['link-local', 'fe80::', 10],
  ['private', 'fec0::', 10], // deprecated site-local (RFC 3879)
  ['multicast', 'ff00::', 8],
  ['reserved', '100::', 64], // discard-only (RFC 6666)
  ['reserved', '64:ff9b:1::', 48], // local-use NAT64 (RFC 8215)
  ['benchmarking', '2001:2::', 48], // RFC 5180 (inside 2001::/23, listed first for its name)
  ['documentation', '2001:db8::', 32], // RFC 3849
  ['documentation', '3fff::', 20], // RFC 9637
  ['reserved', '2001::', 23], // IETF protocol assignments: Teredo, ORCHID, AS112, ...
  ['reserved', '2002::', 16], // 6to4 (tunnel endpoints say nothing about location)
  // Not global unicast (complement of 2000::/3): whatever is left of ::/3, 4000::/2, 8000::/1.
  ['reserved', '::', 3],
  ['reserved', '4000::', 2],
  ['reserved', '8000::', 1],
];

function lists(ranges: Range[], family: 'ipv4' | 'ipv6'): [ReservedKind, BlockList][] {
  // One BlockList per range keeps the first-match order (and so the most specific name).
  return ranges.map(([kind, prefix, bits]) => {
    const b = new BlockList();
    b.addSubnet(prefix, bits, family);
    return [kind, b];
  });
}

const V4_LISTS = lists(V4, 'ipv4');
const V6_LISTS = lists(V6, 'ipv6');

/** Why `addr` is never looked up, or undefined for a public address. */
export function reservedKind(addr: NormalizedIp): ReservedKind | undefined {
  const family = addr.family === 4 ? 'ipv4' : 'ipv6';
  for (const [kind, list] of addr.family === 4 ? V4_LISTS : V6_LISTS) {
    if (list.check(addr.ip, family)) return kind;
  }
  return undefined;
}
