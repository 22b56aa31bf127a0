import { LRUCache } from 'lru-cache';
import { Deadline } from '../lifecycle/component.js';

/** One answer of another daemon: its JSON body, or why there is none. */
export type RemoteAnswer = { status: 'ok'; body: unknown } | { status: 'unavailable'; reason: string; detail: string };

/**
 * Reads another daemon's API (a cluster member: src/cluster/peer-client.ts).
 * Never throws: a daemon that is down, slow or refuses is an `unavailable`
 * answer, which the page shows instead of the part it would have drawn.
 */
export interface RemoteReader {
  get(id: string, path: string, deadline: Deadline): Promise<RemoteAnswer>;
}

export interface FanOutOptions {
  /** How long a page waits for one daemon; one that misses it is shown as unavailable. */
  deadlineMs: number;
  /** Answers of the polled reads (`cached`) are reused this long across page loads. */
  maxAgeMs: number;
  /** Bound of the reused answers (daemon x path). */
  maxEntries: number;
}

/**
 * Asking other daemons for their part of a page: the cluster's other members
 * (whose targets this replica does not hold), and anything of the same shape
 * (another site's daemons, behind a reader with a breaker per site). Each
 * call has a deadline; `cached` reads — the ones every open page polls, such
 * as a member's own target list or whether its API answers — are asked at
 * most once per maxAgeMs per daemon and path whatever the number of pages,
 * and concurrent asks share one request (lru-cache's fetch: bounded, with a
 * TTL and in-flight de-duplication; the two hand-made caches it replaces did
 * the same with a Map each).
 */
export class FanOut {
  private readonly cache: LRUCache<string, RemoteAnswer, { id: string; path: string }>;

  constructor(
    private readonly reader: RemoteReader | undefined,
    private readonly o: FanOutOptions,
  ) {
    this.cache = new LRUCache<string, RemoteAnswer, { id: string; path: string }>({
      max: o.maxEntries,
      ttl: o.maxAgeMs,
      fetchMethod: (_key, _stale, { context }) => this.ask(context.id, context.path),
    });
  }

  /** Ask now (a page's own target: always fresh). */
  ask(id: string, path: string): Promise<RemoteAnswer> {
    if (!this.reader) return Promise.resolve({ status: 'unavailable', reason: 'no_reader', detail: 'no client for other daemons' });
    return this.reader.get(id, path, Deadline.in(this.o.deadlineMs)).catch((err: unknown) => ({ status: 'unavailable' as const, reason: 'error', detail: String((err as Error)?.message ?? err) }));
  }

  /** Ask, or reuse an answer younger than maxAgeMs. */
  async cached(id: string, path: string): Promise<RemoteAnswer> {
    return (await this.cache.fetch(`${id}\u0000${path}`, { context: { id, path } })) ?? { status: 'unavailable', reason: 'error', detail: 'no answer' };
  }

  /** The same read of several daemons at once. */
  async all(ids: Iterable<string>, path: string, o: { cached?: boolean } = {}): Promise<Map<string, RemoteAnswer>> {
    const list = [...new Set(ids)];
    const answers = await Promise.all(list.map((id) => (o.cached ? this.cached(id, path) : this.ask(id, path))));
    return new Map(list.map((id, i) => [id, answers[i]!]));
  }
}

/** `reason: detail` of an unavailable answer, as the pages show it. */
export function unavailableReason(a: Extract<RemoteAnswer, { status: 'unavailable' }>): string {
  return `${a.reason}: ${a.detail}`;
}
