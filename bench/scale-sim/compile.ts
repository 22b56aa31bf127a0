import { copyFileSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO } from '../../scripts/lib/services.js';
import { buildWebBundle, writeWebBundle } from '../../src/server/static-ui.js';

/**
 * The daemon compiled once, for the short form of the simulation: every
 * replica run through tsx transpiles the sources and bundles the web UI on
 * its own (about twice the CPU of a compiled start, times every pod the HPA
 * makes, on a 2-core machine), and `npm run build` (tsc) takes longer than
 * the whole short run. esbuild transforms each file of src/ as tsc would
 * emit it (no bundling: the worker threads are loaded by path, as from
 * dist/), and the web UI is written prebuilt next to it, so the layout is
 * dist/'s: <dir>/app/cli.js, <dir>/app/web/, <dir>/package.json, and a
 * node_modules link to the repository's.
 */
export async function compileDaemon(): Promise<{ cli: string; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'nt-scale-sim-app-'));
  try {
    const src = join(REPO, 'src');
    const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('web/')).map((f) => join(src, f));
    await build({ entryPoints: files, outdir: join(dir, 'app'), outbase: src, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
    await writeWebBundle(await buildWebBundle(join(src, 'web')), join(dir, 'app/web'));
    copyFileSync(join(REPO, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { cli: join(dir, 'app/cli.js'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
