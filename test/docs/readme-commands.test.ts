import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/daemon.js';
import { waitFor } from '../helpers/net.js';

/**
 * Every shell command of README.md runs, as written, on a fresh clone of the
 * repository, so the README cannot drift from the code. A ```sh block runs
 * unless the HTML comment right above it says `readme-test: skip (why)`.
 * Inside a block each line is one command (a trailing `# comment` is the
 * reader's); `npm test` is never run (this test is part of it).
 *
 * The daemon (`npm start`) and every other command run inside a network
 * namespace of their own, so port 8080 is free and nothing leaves the
 * machine. Two things are not as written: `npm ci` is replaced by hard links
 * to this checkout's node_modules (installed by `npm ci` from the same
 * lockfile — CI runs that command itself; here it would rebuild the native
 * SQLite module for minutes), and COLLECTION_INTERVAL=10 is in the daemon's
 * environment, so the first round comes within 10 s, not 60.
 */

interface Block {
  line: number;
  marker?: string;
  commands: string[];
}

export function readmeBlocks(text: string): Block[] {
  const lines = text.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```sh') continue;
    let marker: string | undefined;
    for (let k = i - 1; k >= Math.max(0, i - 2); k--) {
      const m = /<!--\s*readme-test:\s*(.*?)\s*-->/.exec(lines[k]!);
      if (m) marker = m[1];
    }
    const commands: string[] = [];
    let j = i + 1;
    for (; j < lines.length && lines[j]!.trim() !== '```'; j++) {
      const cmd = lines[j]!.replace(/\s+#\s.*$/, '').trim();
      if (cmd) commands.push(cmd);
    }
    out.push({ line: i + 1, marker, commands });
    i = j;
  }
  return out;
}

test('every shell command of the README runs on a fresh clone', { timeout: 600_000 }, async (t) => {
  const blocks = readmeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const runnable = blocks.filter((b) => !b.marker?.startsWith('skip'));
  assert.ok(runnable.length >= 3, 'the README has commands to run');
  const first = runnable[0]!;
  assert.ok(first.commands[0]!.includes('npm start'), `the README starts with the command that runs the daemon (got "${first.commands[0]}")`);

  const dir = mkdtempSync(join(tmpdir(), 'nt-readme-'));
  const ns = `ntreadme${process.pid % 100000}`;
  let daemon: ReturnType<typeof spawn> | undefined;
  try {
    execFileSync('git', ['clone', '-q', ROOT, dir]);
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const inNs = (cmd: string) => ['ip', 'netns', 'exec', ns, 'bash', '-c', cmd];
    const env = { ...process.env, COLLECTION_INTERVAL: '10', LOG_FORMAT: 'json' };
    const run = (cmd: string) => {
      const [bin, ...args] = inNs(cmd);
      const r = spawnSync(bin!, args, { cwd: dir, env, encoding: 'utf8', timeout: 180_000 });
      return { code: r.status, out: `${r.stdout}${r.stderr}` };
    };

    // The first block: `npm ci && npm start` — the install (see above), then the daemon
    // inside the namespace, in the background until the end.
    for (const cmd of first.commands) {
      if (/^npm test\b/.test(cmd)) continue;
      const [install, start] = cmd.split('&&').map((s) => s.trim());
      assert.match(install!, /^npm ci$/);
      execFileSync('cp', ['-al', join(ROOT, 'node_modules'), join(dir, 'node_modules')]);
      assert.match(start!, /^npm start$/);
      const [bin, ...args] = inNs(start!);
      daemon = spawn(bin!, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let log = '';
      daemon.stdout!.on('data', (d) => (log += d));
      daemon.stderr!.on('data', (d) => (log += d));
      await waitFor(() => run('curl -sf http://localhost:8080/health/live').code === 0 || (daemon!.exitCode !== null && Promise.reject(new Error(log))), 'the daemon of `npm start` answers', 240_000, 1000);
      await waitFor(() => /"msg":"round complete"/.test(log), 'its first round', 30_000, 500);
    }

    for (const b of runnable.slice(1)) {
      for (const cmd of b.commands) {
        if (/^npm test\b/.test(cmd)) continue;
        const r = run(cmd);
        t.diagnostic(`README:${b.line} $ ${cmd} -> exit ${r.code}`);
        assert.equal(r.code, 0, `README.md line ${b.line}: \`${cmd}\` exited ${r.code}:\n${r.out.slice(-2000)}`);
        assert.doesNotMatch(r.out, /^\s+at /m, `README.md line ${b.line}: \`${cmd}\` printed a stack trace`);
      }
    }
    const skipped = blocks.filter((b) => b.marker?.startsWith('skip'));
    t.diagnostic(`${runnable.reduce((n, b) => n + b.commands.length, 0)} commands run; ${skipped.length} block(s) marked skip: ${skipped.map((b) => `line ${b.line} ${b.marker}`).join('; ')}`);
  } finally {
    if (daemon?.pid) {
      try {
        process.kill(-daemon.pid, 'SIGINT');
      } catch {
        // gone
      }
      await new Promise((r) => setTimeout(r, 1500));
      try {
        process.kill(-daemon.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the systemd unit example passes systemd-analyze verify', (t) => {
  const which = spawnSync('sh', ['-c', 'command -v systemd-analyze']);
  if (which.status !== 0) return t.skip('systemd-analyze is not installed');
  const r = spawnSync('systemd-analyze', ['verify', join(ROOT, 'docs/systemd/network-telemetry.service')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings');
});
