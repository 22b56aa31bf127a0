/** A signal that aborts after `ms` or when `parent` aborts, whichever first. Call `dispose` when done. */
export function deadlineSignal(ms: number, parent?: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new DeadlineError(ms)), Math.max(0, ms));
  timer.unref();
  const onParent = () => ctl.abort(parent?.reason);
  if (parent) {
    if (parent.aborted) ctl.abort(parent.reason);
    else parent.addEventListener('abort', onParent, { once: true });
  }
  return {
    signal: ctl.signal,
    dispose: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParent);
    },
  };
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

