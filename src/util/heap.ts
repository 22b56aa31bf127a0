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

/**
 * The long-running daemon trades some collection work for memory: the old
 * generation may grow by only 10 % between major GCs (V8 otherwise sizes the
 * step from its GC speed, often doubling). The daemon's per-run objects
 * (samples, promises, closures) live about a second — long enough to be
 * promoted — so their garbage piles up in the old generation between major
 * GCs. Measured side by side at 10,000 targets (icmp + http, two rounds, two
 * daemons at once on 2 cores): resident 187 MB (peak 195) against 250 MB
 * (peak 283) with the defaults, for 18 % more CPU (20.0 s against 16.9 s).
 * `--optimize-for-size` saved more (163 MB) but cost 58 % more CPU: it also
 * makes the compiler favour size. Set at run time, first thing in `run`:
 * the GC reads it at each collection.
 */
export function favourMemoryOverSpeed(): void {
  try {
    setFlagsFromString('--heap-growing-percent=10');
    memoryFavoured = true;
  } catch {
    // unknown to this runtime: defaults
  }
}

let memoryFavoured = false;
let freeGrowth = 0;

/**
 * V8's own heap growth until the returned function is called. Loading a
 * large targets file builds hundreds of MB that live until the load ends:
 * growing the heap 10 % at a time meanwhile made most of a 100,000-target
 * start-up garbage collection (29 of 34 s). V8 flags are per process, so
 * this covers the worker threads too; loads may overlap (counted).
 */
export function heapGrowthFree(): () => void {
  if (!memoryFavoured) return () => {};
  if (freeGrowth++ === 0) setFlagsFromString('--heap-growing-percent=0');
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--freeGrowth === 0) setFlagsFromString('--heap-growing-percent=10');
  };
}
