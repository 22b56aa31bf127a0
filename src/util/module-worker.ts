import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Start a worker thread on a module next to `from` (the caller's
 * import.meta.url), given without extension. From source (tests, tsx) the
 * module is TypeScript, and Node 20 does not apply `--import tsx` to worker
 * threads: the worker registers tsx itself before importing it. From dist/
 * it is the compiled .js.
 */
export function startModuleWorker(from: string, module: string, options: WorkerOptions = {}): Worker {
  if (from.endsWith('.ts')) {
    const url = siblingModule(from, module);
    return new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(url)}); })`, { ...options, eval: true });
  }
  return new Worker(new URL(`${module}.js`, from), options);
}

/** A module next to `from`, given without extension: the URL a worker started by startModuleWorker imports (.ts from source, .js from dist/). */
export function siblingModule(from: string, module: string): string {
  return new URL(`${module}${from.endsWith('.ts') ? '.ts' : '.js'}`, from).href;
}
