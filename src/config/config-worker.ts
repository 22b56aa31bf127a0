/**
 * Worker thread: the configuration loaded away from the event loop
 * (config-loader.ts). The whole of loadConfig runs here — a large targets
 * file's parse, validation and target building take seconds at 100,000
 * targets — and the targets go back in chunks, one per request of the main
 * thread, so no single message takes long to receive there.
 *
 * In: workerData {env, options}; then 'next' for each chunk.
 * Out: {type: 'progress', done, total}, {type: 'targets', targets} per
 * 'next', {type: 'done', config} (the rest of the configuration), or
 * {type: 'error', problems | message}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError, loadConfig, type LoadOptions } from './load-config.js';
import type { Target } from './targets.js';

const { env, options, chunk } = workerData as { env: NodeJS.ProcessEnv; options: Omit<LoadOptions, 'progress'>; chunk: number };
const port = parentPort!;

try {
  const cfg = loadConfig(env, { ...options, progress: (done, total) => port.postMessage({ type: 'progress', done, total }) });
  const { targets, ...rest } = cfg;
  let next = 0;
  const send = (): void => {
    if (next < targets.length) {
      const part: Target[] = targets.slice(next, next + chunk);
      next += part.length;
      port.postMessage({ type: 'targets', targets: part });
    } else {
      port.postMessage({ type: 'done', config: rest });
      port.close();
    }
  };
  port.on('message', send);
} catch (err) {
  port.postMessage(err instanceof ConfigError ? { type: 'error', problems: err.problems } : { type: 'error', message: (err as Error).message ?? String(err) });
  port.close();
}
