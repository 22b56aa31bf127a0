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

/** Short hex digest (route hashes and the like). */
export function shortSha(s: string, hexChars = 16): string {
  return createHash('sha256').update(s).digest('hex').slice(0, hexChars);
}

/** MurmurHash3's 32-bit finalizer: every input bit reaches every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 32-bit FNV-1a over UTF-16 code units, finalized with fmix32. Fast (no BigInt). */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** Combine two 32-bit hashes into a well-mixed weight (rendezvous hashing). */
export function mix32(a: number, b: number): number {
  return fmix32((a ^ Math.imul(b, 0x9e3779b1)) >>> 0);
}
