/**
 * Fails when src/ has an import cycle (type-only imports included: a cycle of
 * types is still two modules that cannot be understood apart). Small on
 * purpose: relative imports are resolved by path, nothing else is followed.
 * Run by `npm run lint` (so by CI).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return files(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
const graph = new Map<string, string[]>();
for (const f of files(root)) {
  const deps: string[] = [];
  for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
    const spec = (m[1] ?? m[2])!;
    deps.push(resolve(dirname(f), spec.replace(/\.js$/, '.ts')));
  }
  graph.set(f, deps.filter((d) => d.startsWith(root)));
}

// Tarjan's strongly connected components: every component of more than one module is a cycle.
let index = 0;
const idx = new Map<string, number>();
const low = new Map<string, number>();
const stack: string[] = [];
const on = new Set<string>();
const cycles: string[][] = [];
function visit(v: string): void {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  on.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    if (!idx.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v)!, low.get(w)!));
    } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
  }
  if (low.get(v) === idx.get(v)) {
    const comp: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      on.delete(w);
      comp.push(w);
    } while (w !== v);
    if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(comp);
  }
}
for (const v of graph.keys()) if (!idx.has(v)) visit(v);

if (cycles.length) {
  console.error(`import cycles in ${relative(process.cwd(), root)}/ (${cycles.length}):`);
  for (const c of cycles) console.error(`  ${c.map((f) => relative(root, f)).sort().join(' <-> ')}`);
  process.exit(1);
}
console.log(`no import cycles in ${graph.size} modules of ${relative(process.cwd(), root) || '.'}/`);
