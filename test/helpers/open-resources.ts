import { createHook, type AsyncHook } from 'node:async_hooks';

/**
 * What a component leaves running, seen two ways:
 *   - process.getActiveResourcesInfo(): the resources keeping the event loop
 *     alive (ref'ed handles and timers), as counts per type;
 *   - an async hook over handle and timer types, which also sees unref'ed
 *     timers and sockets (a loop that keeps ticking after stop() with an
 *     unref'ed timer holds nothing the first view shows).
 * Both compare against a baseline taken before the component existed.
 * Promises and request objects are not tracked: they end at GC, not at close.
 */
const TRACKED = new Set(['Timeout', 'Immediate', 'TCPWRAP', 'TCPSERVERWRAP', 'PIPEWRAP', 'PIPESERVERWRAP', 'PROCESSWRAP', 'SIGNALWRAP', 'FSEVENTWRAP', 'STATWATCHER', 'WORKER', 'UDPWRAP', 'TLSWRAP', 'DNSCHANNEL', 'MESSAGEPORT']);

export function activeCounts(): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of process.getActiveResourcesInfo()) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}

/** Types whose count grew from `base` to `now`, as `Type +n`. */
export function grown(base: Map<string, number>, now: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [t, n] of now) if (n > (base.get(t) ?? 0)) out.push(`${t} +${n - (base.get(t) ?? 0)}`);
  return out;
}

export class ResourceTracker {
  private readonly live = new Map<number, { type: string; stack: string; handle: object }>();
  private hook?: AsyncHook;

  start(): this {
    this.hook = createHook({
      init: (id, type, _trigger, handle) => {
        if (!TRACKED.has(type)) return;
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 40;
        const raw = new Error().stack ?? '';
        Error.stackTraceLimit = limit;
        // Who made it: the first frames outside node's internals and this file.
        const stack = raw.split('\n').slice(2).filter((l) => !l.includes('node:internal') && !l.includes('open-resources.ts')).slice(0, 4).join(' <-').replace(/\s+at\s+/g, ' ');
        this.live.set(id, { type, stack, handle });
      },
      destroy: (id) => void this.live.delete(id),
    }).enable();
    return this;
  }

  stop(): void {
    this.hook?.disable();
  }

  /** Handles and timers made since start() and not closed/cleared/fired yet; sockets name their peer. */
  open(filter: (r: { type: string; stack: string }) => boolean = () => true): { type: string; stack: string; peer?: string }[] {
    return [...this.live.values()].filter(filter).map(({ type, stack, handle }) => ({ type, stack, ...(type === 'TCPWRAP' ? { peer: peerOf(handle) } : {}) }));
  }
}

/** host:port of the socket that owns a TCP handle (node keeps it under a symbol named owner_symbol). */
function peerOf(handle: object): string {
  const sym = Object.getOwnPropertySymbols(handle).find((s) => s.description === 'owner_symbol');
  const sock = sym ? ((handle as Record<symbol, unknown>)[sym] as { remoteAddress?: string; remotePort?: number; destroyed?: boolean } | undefined) : undefined;
  return sock ? `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? '?'}${sock.destroyed ? ' (destroyed)' : ''}` : 'unknown';
}
