/**
 * Let the event loop run what waits (timers, sockets, probes' callbacks)
 * before going on: long work split in steps awaits this between them.
 */
export function turnOfTheLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
