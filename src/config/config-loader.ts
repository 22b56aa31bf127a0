import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import { startModuleWorker } from '../util/module-worker.js';
import { heapGrowthFree } from '../util/heap.js';
import { ConfigError, loadConfig, type AppConfig, type LoadOptions } from './load-config.js';
import type { Target } from './targets.js';

/**
 * A targets file at least this large is loaded in a worker thread (about
 * 2,500 targets): below it the load takes a few tens of ms and a thread's
 * start costs more than it saves.
 */
export const OFF_THREAD_BYTES = 256 * 1024;
/** Targets per message from the worker: receiving one takes a few ms on the event loop. */
const CHUNK = 250;
/** A long load says how far it got this often. */
const PROGRESS_LOG_MS = 5000;

/** How far a load is: targets built of the file's total (0 of 0 while the file is still being parsed). */
export interface LoadProgress {
  done: number;
  total: number;
  sinceMs: number;
}

/**
 * Load the configuration without blocking the event loop for long: with a
 * large TARGETS_FILE, loadConfig runs in a worker thread (config-worker.ts)
 * and the targets come back in chunks of CHUNK, one per turn of the event
 * loop; a small file is loaded here, at once. Progress is logged every
 * PROGRESS_LOG_MS while it lasts and given to `onProgress`. The result, and
 * the errors (ConfigError, one line per problem), are those of loadConfig.
 */
export async function loadConfigInBackground(env: NodeJS.ProcessEnv, o: LoadOptions & { log?: Logger; onProgress?: (p: LoadProgress) => void } = {}): Promise<AppConfig> {
  const { log, onProgress, progress: _ignored, ...options } = o;
  const file = env.TARGETS_FILE;
  if (!file || !loadsInBackground(env)) return loadConfig(env, options);
  const started = Date.now();
  let lastLog = started;
  const state: LoadProgress = { done: 0, total: 0, sinceMs: started };
  const report = (final = false) => {
    onProgress?.({ ...state });
    const now = Date.now();
    if (log && (final || now - lastLog >= PROGRESS_LOG_MS)) {
      lastLog = now;
      log.info({ file, targets_read: state.done, targets_total: state.total || null, elapsed_s: Math.round((now - started) / 100) / 10 }, final ? `loaded TARGETS_FILE: ${state.done} targets` : state.total ? `loading TARGETS_FILE: ${state.done} of ${state.total} targets` : 'loading TARGETS_FILE: parsing');
    }
  };
  const ticker = setInterval(() => report(), PROGRESS_LOG_MS);
  ticker.unref();
  // The load's garbage is gone once it ends; letting the heap grow at V8's pace meanwhile saves most of the GC work.
  const free = heapGrowthFree();
  const worker = startModuleWorker(import.meta.url, './config-worker', { workerData: { env: plainEnv(env), options, chunk: CHUNK } });
  // The first chunk: the worker reads it once the load is done.
  worker.postMessage('next');
  let loaded = false;
  try {
    return await new Promise<AppConfig>((resolve, reject) => {
      const targets: Target[] = [];
      worker.on('message', (m: WorkerMessage) => {
        switch (m.type) {
          case 'progress':
            state.done = m.done;
            state.total = m.total;
            onProgress?.({ ...state });
            return;
          case 'targets':
            for (const t of m.targets) targets.push(t);
            // The next chunk after a turn of the event loop.
            setImmediate(() => worker.postMessage('next'));
            return;
          case 'done':
            loaded = true;
            resolve({ ...m.config, targets });
            return;
          case 'error':
            reject(m.problems ? new ConfigError(m.problems) : new Error(`loading the configuration failed: ${m.message}`));
        }
      });
      worker.once('error', (err) => reject(new ConfigError([`TARGETS_FILE: loading ${file} failed (${err.message}): check its size and the memory available`])));
      worker.once('exit', (code) => reject(new Error(`the configuration loader stopped (exit ${code}) before it finished`)));
    });
  } finally {
    clearInterval(ticker);
    free();
    void worker.terminate();
    if (loaded) report(true);
  }
}

/** Whether TARGETS_FILE is large enough to be loaded in a worker thread (and a start-up to listen while it loads). */
export function loadsInBackground(env: NodeJS.ProcessEnv): boolean {
  return env.TARGETS_FILE !== undefined && env.TARGETS_FILE !== '' && sizeOf(env.TARGETS_FILE) >= OFF_THREAD_BYTES;
}

type WorkerMessage =
  | { type: 'progress'; done: number; total: number }
  | { type: 'targets'; targets: Target[] }
  | { type: 'done'; config: Omit<AppConfig, 'targets'> }
  | { type: 'error'; problems?: string[]; message?: string };

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0; // loadConfig says what is wrong with it
  }
}

/** process.env is not a plain object (it cannot be sent to a thread as it is). */
function plainEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
