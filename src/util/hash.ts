import { createHash } from 'node:crypto';

const M64 = 0xffffffffffffffffn;

/**
 * 64-bit FNV-1a of a string followed by MurmurHash3's fmix64 finalizer, as a
 * bigint. FNV alone leaves its high bits poorly mixed for names that differ
 * only at the end (target-1, target-2, ...), which would bunch offsets and
 * skew rendezvous hashing; the finalizer spreads every input bit over all
 * output bits. Stable across processes, versions and replicas.
 */
export function hash64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(s, 'utf8')) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & M64;
  }
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & M64;
  h ^= h >> 33n;
  h = (h * 0xc4ceb9fe1a85ec53n) & M64;
  h ^= h >> 33n;
  return h;
}

/** A stable fraction in [0, 1) derived from a string. */
export function unitHash(s: string): number {
  return Number(hash64(s) >> 11n) / 2 ** 53;
}

/** Short hex digest (route hashes and the like). */
export function shortSha(s: string, hexChars = 16): string {
  return createHash('sha256').update(s).digest('hex').slice(0, hexChars);
}
