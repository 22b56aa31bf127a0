/**
 * Bundle the web UI into dist/web/ for production (`npm run build`): hashed
 * assets with .gz/.br variants and manifest.json, which the daemon running
 * from dist/ serves (src/server/static-ui.ts). A daemon run from source
 * bundles in memory instead and needs no build.
 */
import { join, resolve } from 'node:path';
import { buildWebBundle, writeWebBundle } from '../src/server/static-ui.js';

// Self-contained (the Docker build stage copies only this script): the repository root.
const ROOT = resolve(import.meta.dirname, '..');

const out = join(ROOT, 'dist/web');
const bundle = await buildWebBundle(join(ROOT, 'src/web'));
const r = await writeWebBundle(bundle, out);
console.log(`web UI: ${r.files} files, ${(r.bytes / 1024).toFixed(1)} kB, ${(r.gzipBytes / 1024).toFixed(1)} kB gzipped -> ${out}`);
