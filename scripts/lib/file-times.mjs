// A node:test reporter (scripts/lib/run-tests.sh adds it beside the usual
// output): after the run, each file's time — the sum of its top-level tests,
// hooks included — slowest first, and the files with a failure marked.
//
// Where the runner reports the file's own process (Node 20: a test:complete
// named by the file, its duration the process's wall time), the time a file
// holds its slot is that wall time (start-up included: loading tsx and the
// imports takes a second or so); a file whose process runs more than 3 s
// longer than its tests (a timer or a handle left open keeps it up after the
// last one) is said so, with how long: that time is spent on nothing.
export default async function* fileTimes(source) {
  const files = new Map();
  const entry = (file) => {
    let f = files.get(file);
    if (!f) files.set(file, (f = { ms: 0, tests: 0, failed: 0, wallMs: undefined }));
    return f;
  };
  for await (const ev of source) {
    if (ev.type === 'test:complete' && ev.data.file && ev.data.name === ev.data.file && ev.data.nesting === 0) {
      entry(ev.data.file).wallMs = ev.data.details?.duration_ms;
      continue;
    }
    if ((ev.type !== 'test:pass' && ev.type !== 'test:fail') || ev.data.nesting !== 0 || !ev.data.file) continue;
    const f = entry(ev.data.file);
    if (ev.data.name === ev.data.file) {
      // The file itself (a crash, a failure outside its tests): a failure, not a test, and its time is the wall time above.
      if (ev.type === 'test:fail') f.failed++;
      continue;
    }
    f.ms += ev.data.details?.duration_ms ?? 0;
    f.tests++;
    if (ev.type === 'test:fail') f.failed++;
  }
  const cwd = `${process.cwd()}/`;
  const held = (f) => f.wallMs ?? f.ms;
  const rows = [...files].sort((a, b) => held(b[1]) - held(a[1]));
  const total = rows.reduce((n, [, f]) => n + f.ms, 0);
  const wall = rows.every(([, f]) => f.wallMs !== undefined);
  yield wall
    ? `time per file, slowest first: the wall time of its process (tests: the sum of its top-level tests, hooks included, ${(total / 1000).toFixed(0)} s in all):\n`
    : `test time per file (sum of its top-level tests, hooks included), ${(total / 1000).toFixed(0)} s in all:\n`;
  for (const [file, f] of rows) {
    // Loading tsx and the file's imports takes a second or so of every process: more than 3 s is something left open.
    const idle = f.wallMs !== undefined && f.wallMs - f.ms > 3000 ? `; its process ran ${((f.wallMs - f.ms) / 1000).toFixed(1)} s longer than its tests: a timer or handle left open?` : '';
    const name = file.startsWith(cwd) ? file.slice(cwd.length) : file;
    yield `${(held(f) / 1000).toFixed(1).padStart(7)} s  ${name}  (${f.tests} tests${f.failed ? `, ${f.failed} FAILED` : ''}${f.wallMs !== undefined ? `, tests ${(f.ms / 1000).toFixed(1)} s` : ''}${idle})\n`;
  }
}
