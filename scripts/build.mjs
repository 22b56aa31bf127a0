#!/usr/bin/env node
/**
 * Build dist/ (the daemon compiled by tsc, the web UI bundled by
 * scripts/build-web.ts) and record a hash of everything the build reads in
 * dist/.build-sources. When dist/ was built from exactly these sources it
 * says so and builds nothing (like make): `npm start` runs this first, so a
 * restart with unchanged sources starts at once instead of spending half a
 * minute in tsc. --force builds regardless.
 *
 * A hash of the contents rather than file times: a `git checkout` or a copy
 * that keeps times, a clock that moved, or an edit undone all land on the
 * right answer. Hashing the ~1 MB of inputs takes a few milliseconds.
 *
 * Plain JavaScript with Node's own modules only, so it runs before anything
 * is built and where only the production dependencies are installed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const ROOT = resolve(import.meta.dirname, '..');
const STAMP = join(ROOT, 'dist/.build-sources');
/** What the build reads besides src/: compiler settings, the bundler script, the dependency versions. */
const INPUTS = ['package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build-web.ts', 'scripts/build.mjs'];

function files(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function sourcesHash() {
  const h = createHash('sha256');
  const all = [...files(join(ROOT, 'src')), ...INPUTS.map((f) => join(ROOT, f)).filter((f) => existsSync(f))].sort();
  for (const f of all) h.update(`${relative(ROOT, f)}\0`).update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

const force = process.argv.includes('--force');
/** What `npm start` runs: silent when there is nothing to build (the start line comes next). */
const quiet = process.argv.includes('--quiet');
const hash = sourcesHash();
const built = existsSync(join(ROOT, 'dist/cli.js')) && existsSync(join(ROOT, 'dist/web')) && existsSync(STAMP) ? readFileSync(STAMP, 'utf8').trim() : null;
if (!force && built === hash) {
  if (!quiet) console.error('dist/ is up to date with the sources: nothing to build (npm run build -- --force builds anyway)');
  process.exit(0);
}

const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
if (!existsSync(tsc)) {
  console.error('cannot build: TypeScript is not installed (npm ci --omit=dev leaves it out): run `npm ci`, build, then `npm prune --omit=dev` if you want the smaller install');
  process.exit(1);
}
console.error(
  built !== null
    ? 'sources changed since the last build: building dist/ (tsc and the web UI, 30 s or so)'
    : 'building dist/ (tsc and the web UI, 30 s or so; later runs skip this while the sources stay the same)',
);
for (const args of [[tsc, '-p', 'tsconfig.build.json'], ['--import', 'tsx', 'scripts/build-web.ts']]) {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
writeFileSync(STAMP, `${hash}\n`);
