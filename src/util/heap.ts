import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/**
 * One full garbage collection, now. Called once, between loading the
 * configuration and starting the components: the start-up's garbage (module
 * loading, a 10,000-target file's parse) is otherwise collected by a major
 * GC that lands a few ms into the first probes — it stretched the connect
 * phase of `collect --once` to 7 ms on loopback — and leaves the heap at its
 * start-up size. `--expose-gc` is set for a fresh context only (the trick
 * V8's own tests use), so nothing else in the process sees a global `gc`.
 */
export function collectGarbageNow(): void {
  try {
    if (!gc) {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    }
    gc();
  } catch {
    // not available on this runtime: the next GC comes when V8 wants it
  }
}
