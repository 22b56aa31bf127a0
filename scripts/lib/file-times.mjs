// A node:test reporter (scripts/lib/run-tests.sh adds it beside the usual
// output): after the run, each file's time — the sum of its top-level tests,
// hooks included — slowest first, and the files with a failure marked.
export default async function* fileTimes(source) {
  const files = new Map();
  for await (const ev of source) {
    if ((ev.type !== 'test:pass' && ev.type !== 'test:fail') || ev.data.nesting !== 0 || !ev.data.file) continue;
    const f = files.get(ev.data.file) ?? { ms: 0, tests: 0, failed: 0 };
    f.ms += ev.data.details?.duration_ms ?? 0;
    f.tests++;
    if (ev.type === 'test:fail') f.failed++;
    files.set(ev.data.file, f);
  }
  const cwd = `${process.cwd()}/`;
  const rows = [...files].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((n, [, f]) => n + f.ms, 0);
  yield `test time per file (sum of its top-level tests, hooks included), ${(total / 1000).toFixed(0)} s in all:\n`;
  for (const [file, f] of rows) yield `${(f.ms / 1000).toFixed(1).padStart(7)} s  ${file.startsWith(cwd) ? file.slice(cwd.length) : file}  (${f.tests} tests${f.failed ? `, ${f.failed} FAILED` : ''})\n`;
}
