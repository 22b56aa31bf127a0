import { hash32, mix32 } from '../util/hash.js';

/**
 * Rendezvous (highest-random-weight) hashing: a target belongs to the member
 * with the highest weight(member, target). Every replica computes it locally
 * from the same member list; a join or leave moves only the targets whose top
 * member changed, about 1/N of them.
 *
 * `has(member, target)` narrows the candidates to the members whose
 * configuration lists the target (while a reload reaches the replicas one by
 * one). The weight of a (member, target) pair never depends on the other
 * members or targets, so a target every candidate lists keeps its owner
 * whatever the others list.
 */
export function owners(targets: Iterable<string>, members: readonly string[], has?: (member: string, target: string) => boolean): Map<string, string> {
  const m = members.map((id) => ({ id, h: hash32(id) }));
  const out = new Map<string, string>();
  for (const t of targets) {
    const ht = hash32(t);
    let best = '';
    let bestW = -1;
    for (const { id, h } of m) {
      if (has && !has(id, t)) continue;
      const w = mix32(ht, h);
      // Ties (vanishingly rare) go to the smaller id, so every replica agrees.
      if (w > bestW || (w === bestW && id < best)) {
        best = id;
        bestW = w;
      }
    }
    if (best) out.set(t, best);
  }
  return out;
}
