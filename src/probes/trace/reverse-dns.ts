import { Resolver } from 'node:dns/promises';
import { Deadline } from '../../lifecycle/component.js';
import type { SharedCache } from '../../util/shared-cache.js';

/**
 * Reverse DNS of hop addresses (TRACE_REVERSE_DNS, off by default): each
 * lookup is bounded (1 s, one try) and answers — including "no name" — are
 * cached for an hour, in the shared cache when the cluster has one.
 */
export class ReverseDns {
  private readonly resolver = new Resolver({ timeout: 1000, tries: 1 });

  constructor(private readonly cache: SharedCache) {}

  async name(ip: string): Promise<string | undefined> {
    const key = `rdns:${ip}`;
    const hit = await this.cache.get(key);
    if (hit !== undefined) return hit === '' ? undefined : hit;
    let name = '';
    try {
      name = (await this.resolver.reverse(ip))[0] ?? '';
    } catch {
      name = ''; // NXDOMAIN, timeout: remembered as "no name" too, to stay cheap
    }
    await this.cache.set(key, name, 3600);
    return name || undefined;
  }

  /** Names for many addresses, all within `budgetMs`; late answers are left out. */
  async names(ips: readonly string[], budgetMs: number): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const all = Promise.all(
      [...new Set(ips)].map(async (ip) => {
        const n = await this.name(ip);
        if (n) out.set(ip, n);
      }),
    );
    await Deadline.in(budgetMs).race(all); // its timer cleared when all answered: none left per trace
    return new Map(out);
  }
}
