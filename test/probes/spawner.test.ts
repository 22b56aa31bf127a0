// npm test: alone (a deadline kills the process group within 3 s)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Deadline } from '../../src/lifecycle/component.js';
import { Spawner } from '../../src/probes/tools/spawner.js';
import { ProcessRunner } from '../../src/probes/tools/process-runner.js';

test('spawner helper: runs a tool with LANG=C and returns its output and exit code', async () => {
  const s = new Spawner();
  try {
    const r = await s.run('sh', ['-c', 'echo "$LANG $LC_ALL"; echo err >&2; exit 3'], { timeoutMs: 5000 });
    assert.equal(r.stdout, 'C C\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(r.code, 3);
  } finally {
    await s.close(Deadline.in(5000));
  }
});

test('spawner helper: the deadline kills the whole process group, grandchildren included', async () => {
  const s = new Spawner();
  try {
    const t0 = Date.now();
    const r = await s.run('sh', ['-c', 'sleep 30 & echo $!; wait'], { timeoutMs: 300 });
    assert.equal(r.killed, 'timeout');
    assert.ok(Date.now() - t0 < 3000);
    const grandchild = Number(r.stdout.trim());
    // A pid that did not arrive would read as /proc/0 ("gone"): make sure we have a real one.
    assert.ok(Number.isInteger(grandchild) && grandchild > 1, `the shell printed the background pid (got "${r.stdout}")`);
    // Dead: gone, or a zombie waiting for init to reap it.
    let state = 'gone';
    try {
      state = readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(') ')[1]!.split(' ')[0]!;
    } catch {
      /* gone */
    }
    assert.ok(state === 'gone' || state === 'Z', `the background sleep died with its group (state ${state})`);
  } finally {
    await s.close(Deadline.in(5000));
  }
});

test('spawner helper: an abort kills the run; a missing program is a spawn error; a dead helper fails runs instead of hanging', async () => {
  const s = new Spawner();
  try {
    const ctl = new AbortController();
    const p = s.run('sleep', ['30'], { timeoutMs: 10_000, signal: ctl.signal });
    setTimeout(() => ctl.abort(), 100);
    assert.equal((await p).killed, 'aborted');
    const missing = await s.run('/nonexistent/tool', [], { timeoutMs: 1000 });
    assert.equal(missing.spawnError?.code, 'ENOENT');
    const running = s.run('sleep', ['30'], { timeoutMs: 10_000 });
    (s as unknown as { child: { kill(sig: string): void } }).child.kill('SIGKILL');
    const r = await running;
    assert.equal(r.spawnError?.code, 'ESPAWNER');
    // ...and the next run starts a new helper.
    assert.equal((await s.run('true', [], { timeoutMs: 5000 })).code, 0);
  } finally {
    await s.close(Deadline.in(5000));
  }
});

test('process pool through the spawner: never more than its size at once', async () => {
  const s = new Spawner();
  const pool = new ProcessRunner(2, undefined, 'test', s);
  try {
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, pool.running)), 5);
    await Promise.all(Array.from({ length: 6 }, () => pool.run('sleep', ['0.2'], { timeoutMs: 5000 })));
    clearInterval(watch);
    assert.equal(peak, 2);
    assert.equal(pool.running, 0);
  } finally {
    await s.close(Deadline.in(5000));
  }
});
