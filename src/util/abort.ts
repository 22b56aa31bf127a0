/** A signal that aborts after `ms` or when `parent` aborts, whichever first. Call `dispose` when done. */
export function deadlineSignal(ms: number, parent?: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new DeadlineError(ms)), Math.max(0, ms));
  timer.unref();
  let unlink: (() => void) | undefined;
  if (parent) {
    if (parent.aborted) ctl.abort(parent.reason);
    else unlink = onAbort(parent, () => ctl.abort(parent.reason));
  }
  return {
    signal: ctl.signal,
    dispose: () => {
      clearTimeout(timer);
      unlink?.();
    },
  };
}

/** Followers of fan-out signals (fanoutController): a Set each, O(1) to join and leave. */
const followers = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * An AbortController for a signal that thousands of short-lived waiters
 * follow at once (the scheduler's shutdown: every queued target run and
 * running probe). Node's EventTarget walks its whole listener list on every
 * addEventListener (duplicate check) and removeEventListener: with 2,000
 * targets and 4,000 probes in flight at 10,000 targets, each add and remove
 * cost thousands of steps (~1 s of CPU per 100 s in the scale profile).
 * Followers joined through onAbort() sit in a Set instead; the signal has
 * one listener of its own that calls them.
 */
export function fanoutController(): AbortController {
  const ctl = new AbortController();
  const set = new Set<() => void>();
  followers.set(ctl.signal, set);
  ctl.signal.addEventListener(
    'abort',
    () => {
      const all = [...set];
      set.clear();
      for (const fn of all) fn();
    },
    { once: true },
  );
  return ctl;
}

/**
 * Call `fn` once when `signal` aborts (never if it already has: check
 * `signal.aborted` first). Returns the function that stops following.
 * O(1) on a fanoutController's signal, an event listener on any other.
 */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  const set = followers.get(signal);
  if (set) {
    set.add(fn);
    return () => set.delete(fn);
  }
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}

/** The reason a deadline signal carries: lets callers tell "too slow" from "shutting down". */
export class DeadlineError extends Error {
  readonly code = 'DEADLINE';
  constructor(readonly ms: number) {
    super(`deadline of ${ms} ms exceeded`);
    this.name = 'DeadlineError';
  }
}

export function isDeadline(reason: unknown): boolean {
  return reason instanceof DeadlineError;
}

/** Resolve after ms, or reject when the signal aborts. The timer does not hold the process. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    t.unref();
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

