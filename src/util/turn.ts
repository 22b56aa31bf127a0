/**
 * Let the event loop run what waits (timers, sockets, probes' callbacks)
 * before going on: long work split in steps awaits this between them.
 */
export function turnOfTheLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Items a pass over every target handles between two turns of the event loop (a few ms of work). */
export const STEP = 1000;

/**
 * `each` on every item, with a turn of the event loop every `step` items: a
 * pass over 100,000 targets done in one go holds the loop for a noticeable
 * time (probes' timers and the API wait behind it).
 */
export async function eachInSteps<T>(items: Iterable<T>, each: (item: T) => void, step = STEP): Promise<void> {
  let n = 0;
  for (const item of items) {
    each(item);
    if (++n % step === 0) await turnOfTheLoop();
  }
}

/**
 * Work written as a generator that yields between its steps, run to its end
 * with a turn of the event loop at each yield (the daemon's passes over every
 * target).
 */
export async function runInSteps<R>(steps: Generator<void, R>): Promise<R> {
  for (let r = steps.next(); ; r = steps.next()) {
    if (r.done) return r.value;
    await turnOfTheLoop();
  }
}

/** The same work at once (a few targets, tests). */
export function runAtOnce<R>(steps: Generator<void, R>): R {
  for (let r = steps.next(); ; r = steps.next()) if (r.done) return r.value;
}
