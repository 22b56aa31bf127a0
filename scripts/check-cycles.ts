/**
 * Fails when src/ has an import cycle, between files or between folders
 * (type-only imports included: a cycle of types is still two modules that
 * cannot be understood apart). Folders are the floors of the house: each
 * imports only folders below it, so arrows point one way, and `samples/` —
 * the data model — is the ground floor, importing no other folder. A file at
 * the top of src/ (app.ts, cli.ts, version.ts) counts as a folder of its own.
 * Small on purpose: relative imports are resolved by path, nothing else is
 * followed. Run by `npm run lint` (so by CI); prints the floors it found.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(process.argv[2] ?? 'src');
/** Folders that may import no other folder. */
const GROUND = ['samples'];

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

/** Tarjan's strongly connected components: every component of more than one node (or a node importing itself) is a cycle. */
function cyclesOf(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
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
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) cycles.push(comp);
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return cycles;
}

// The folder graph, and for each folder edge the file imports that make it.
const folderOf = (f: string) => relative(root, f).split(sep)[0]!;
const folders = new Map<string, string[]>();
const because = new Map<string, string[]>();
for (const [f, deps] of graph) {
  const a = folderOf(f);
  if (!folders.has(a)) folders.set(a, []);
  for (const d of deps) {
    const b = folderOf(d);
    if (a === b) continue;
    if (!folders.get(a)!.includes(b)) folders.get(a)!.push(b);
    const k = `${a} -> ${b}`;
    because.set(k, [...(because.get(k) ?? []), `${relative(root, f)} imports ${relative(root, d)}`]);
  }
}

const problems: string[] = [];
for (const c of cyclesOf(graph)) problems.push(`file cycle: ${c.map((f) => relative(root, f)).sort().join(' <-> ')}`);
for (const c of cyclesOf(folders)) {
  const inCycle = new Set(c);
  const edges = [...because].filter(([k]) => {
    const [a, b] = k.split(' -> ');
    return inCycle.has(a!) && inCycle.has(b!);
  });
  problems.push(`folder cycle: ${[...c].sort().join(' <-> ')}, through:\n${edges.map(([k, why]) => `      ${k}: ${why.join('; ')}`).join('\n')}`);
}
for (const g of GROUND) {
  for (const b of folders.get(g) ?? []) problems.push(`${g}/ is the ground floor and imports nothing above it, but: ${because.get(`${g} -> ${b}`)!.join('; ')}`);
}

if (problems.length) {
  console.error(`import problems in ${relative(process.cwd(), root)}/ (${problems.length}):`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}

// No cycle: each folder's floor is one above the highest folder it imports.
const floor = new Map<string, number>();
const floorOf = (f: string): number => {
  if (!floor.has(f)) floor.set(f, Math.max(-1, ...(folders.get(f) ?? []).map(floorOf)) + 1);
  return floor.get(f)!;
};
const floors: string[][] = [];
for (const f of [...folders.keys()].sort()) (floors[floorOf(f)] ??= []).push(f);
console.log(`no import cycles in ${graph.size} modules of ${relative(process.cwd(), root) || '.'}/, none between its ${folders.size} folders; floors from the ground up:`);
for (const [i, fs] of floors.entries()) console.log(`  ${i}: ${fs.join(' ')}`);
