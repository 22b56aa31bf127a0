import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
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
 *
 * Then, on the same clone: a second `npm start` with unchanged sources must
 * print its start line within 5 s of CPU time (no rebuild), and the install steps at the
 * top of docs/systemd/network-telemetry.service run as written, except what
 * needs a systemd or changes the machine: `useradd` (the unit's user is
 * played by nobody), paths under /opt and /etc (a temporary directory) and
 * `systemctl`, whose part is played by running the unit's ExecStart as that
 * user with the unit's environment, working directory and ambient
 * capability, and `kill -HUP` for `systemctl reload`.
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

/** The install steps in the comment at the top of a unit file: the lines indented under `#`. */
export function unitSteps(unit: string): string[] {
  const steps: string[] = [];
  for (const line of unit.split('\n')) {
    if (!line.startsWith('#')) break;
    const m = /^#\s{3}(\S.*?)(\s{2,}#.*)?$/.exec(line);
    if (m) steps.push(m[1]!);
  }
  return steps;
}

/** The [Service] settings of a unit file (a setting given twice: its values joined by a space). */
function serviceSettings(unit: string): Map<string, string> {
  const out = new Map<string, string>();
  let inService = false;
  for (const line of unit.split('\n')) {
    if (/^\[.*\]$/.test(line)) inService = line === '[Service]';
    const m = /^(\w+)=(.*)$/.exec(line);
    if (inService && m) out.set(m[1]!, out.has(m[1]!) ? `${out.get(m[1]!)} ${m[2]}` : m[2]!);
  }
  return out;
}

interface Running {
  proc: ReturnType<typeof spawn>;
  log: () => string;
  exited: Promise<number | null>;
}

function startBackground(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Running {
  const proc = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, log: () => log, exited };
}

/** CPU time (user + system, their waited-for children included) of the processes of a process group now. */
function groupCpuMs(pgid: number): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // Fields after the command name: state ppid pgrp ... utime(14) stime cutime cstime (proc(5)).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) !== pgid) continue;
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** Ctrl-C: SIGINT to the whole process group, as a terminal sends it; its exit code. */
async function interrupt(r: Running, signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
  process.kill(-r.proc.pid!, signal);
  // The timer cleared once the race is decided: a pending one keeps the file's process alive up to 20 s after its last test.
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([r.exited, new Promise<'late'>((res) => (timer = setTimeout(() => res('late'), 20_000)))]).finally(() => clearTimeout(timer));
  assert.notEqual(code, 'late', `the daemon did not exit within 20 s of ${signal}:\n${r.log().slice(-2000)}`);
  return code as number | null;
}

test('every shell command of the README runs on a fresh clone', { timeout: 600_000 }, async (t) => {
  const blocks = readmeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const runnable = blocks.filter((b) => !b.marker?.startsWith('skip'));
  assert.ok(runnable.length >= 3, 'the README has commands to run');
  const first = runnable[0]!;
  assert.ok(first.commands[0]!.includes('npm start'), `the README starts with the command that runs the daemon (got "${first.commands[0]}")`);

  const dir = mkdtempSync(join(tmpdir(), 'nt-readme-'));
  const ns = `ntreadme${process.pid % 100000}`;
  const running: Running[] = [];
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
      const d = startBackground(inNs(start!), dir, env);
      running.push(d);
      await waitFor(() => run('curl -sf http://localhost:8080/health/live').code === 0 || (d.proc.exitCode !== null && Promise.reject(new Error(d.log()))), 'the daemon of `npm start` answers', 240_000, 1000);
      await waitFor(() => /"msg":"round complete"/.test(d.log()), 'its first round', 30_000, 500);
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

    // A restart with unchanged sources builds nothing: the start line within 5 s of CPU time, that
    // of npm, the build check and the daemon together (a rebuild alone costs 15 s of it). The bound
    // is on CPU time, not wall time: CPU time is what the code decides and it holds on a busy
    // machine too, while wall time on a shared 2-core CI machine measures the neighbours (a check
    // that held only when the machine was idle would be skipped exactly when it is run).
    await interrupt(running[0]!);
    t.diagnostic(`Ctrl-C under npm start: npm ends by the signal (${running[0]!.proc.signalCode}), which a shell shows as 130`);
    const t0 = Date.now();
    const again = startBackground(inNs('npm start'), dir, env);
    running.push(again);
    let cpuMs = 0;
    await waitFor(
      () => {
        if (again.proc.exitCode !== null) throw new Error(again.log());
        cpuMs = Math.max(cpuMs, groupCpuMs(again.proc.pid!));
        return /"msg":"network-telemetry started/.test(again.log());
      },
      'the start line of a second npm start',
      60_000,
      20,
    );
    const restartMs = Date.now() - t0;
    t.diagnostic(`second npm start: start line after ${restartMs} ms, ${cpuMs} ms of CPU (load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`);
    assert.doesNotMatch(again.log(), /building dist/, `nothing rebuilt:\n${again.log().slice(0, 2000)}`);
    assert.ok(cpuMs < 5000, `a second npm start with unchanged sources spent ${cpuMs} ms of CPU before its start line (limit 5000):\n${again.log().slice(0, 2000)}`);
    await interrupt(again);

    await installAsService(t, dir, inNs, running);
  } finally {
    for (const r of running) {
      if (r.proc.exitCode !== null || r.proc.signalCode !== null) continue;
      try {
        process.kill(-r.proc.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The systemd install steps on the clone `dir` (built by the README's
 * `npm start`), then the unit's ExecStart as the unit would run it.
 */
async function installAsService(t: { diagnostic(m: string): void }, dir: string, inNs: (cmd: string) => string[], running: Running[]): Promise<void> {
  const unitPath = join(dir, 'docs/systemd/network-telemetry.service');
  const unit = readFileSync(unitPath, 'utf8');
  const steps = unitSteps(unit);
  assert.ok(steps.length >= 5, `the unit lists its install steps:\n${steps.join('\n')}`);
  const root = mkdtempSync(join(tmpdir(), 'nt-systemd-'));
  // As on a host: / and a checkout are world-readable (mkdtemp's are not), so the unit's user reads the copy in /opt.
  chmodSync(root, 0o755);
  chmodSync(dir, 0o755);
  const opt = join(root, 'opt/network-telemetry');
  const state = join(root, 'var/lib/network-telemetry');
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  mkdirSync(join(root, 'opt'));
  mkdirSync(state, { recursive: true });
  chownSync(state, 65534, 65534); // StateDirectory= makes it, owned by the unit's user
  const paths = (cmd: string) => cmd.replaceAll('/opt/', `${root}/opt/`).replaceAll('/etc/', `${root}/etc/`);
  // npm ci: hard links to this checkout's node_modules, as for the README (the hidden lockfile copied, as npm prune rewrites it).
  const npmCi = `cp -al ${join(ROOT, 'node_modules')} node_modules && cp --remove-destination ${join(ROOT, 'node_modules/.package-lock.json')} node_modules/`;
  // cp -r copies what is in the checkout; the clone's node_modules (hard links too) moves aside meanwhile, so 150 MB are not copied.
  renameSync(join(dir, 'node_modules'), join(root, 'clone-node_modules'));
  let server: Running | undefined;
  try {
    let started = false;
    for (const step of steps) {
      if (/^useradd\b/.test(step)) continue; // the unit's user: nobody plays it
      if (/^systemctl (daemon-reload|enable)/.test(step)) {
        // systemd's part: the installed unit's ExecStart, as its user, with its environment.
        const installed = serviceSettings(readFileSync(join(root, 'etc/systemd/system/network-telemetry.service'), 'utf8'));
        const envFile = paths(installed.get('EnvironmentFile')!.replace(/^-/, ''));
        const serviceEnv: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
        for (const l of readFileSync(envFile, 'utf8').split('\n')) {
          const m = /^(\w+)=(.*)$/.exec(l);
          if (m) serviceEnv[m[1]!] = m[2]!;
        }
        for (const kv of installed.get('Environment')!.split(/\s+/)) {
          const [k, v] = kv.split('=');
          serviceEnv[k!] = k === 'DATA_DIR' ? state : v;
        }
        assert.equal(installed.get('User'), 'network-telemetry');
        assert.match(installed.get('AmbientCapabilities')!, /^CAP_NET_RAW$/);
        const execStart = paths(installed.get('ExecStart')!).split(' ');
        const cwd = paths(installed.get('WorkingDirectory')!);
        // User=, NoNewPrivileges=yes (file capabilities ignored), AmbientCapabilities= and CapabilityBoundingSet=CAP_NET_RAW.
        assert.equal(installed.get('NoNewPrivileges'), 'yes');
        assert.equal(installed.get('CapabilityBoundingSet'), 'CAP_NET_RAW');
        const caps = '-all,+net_raw';
        const asUser = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs', `--inh-caps=${caps}`, `--ambient-caps=${caps}`, `--bounding-set=${caps}`, '--'];
        server = startBackground(inNs(`cd ${cwd} && exec ${[...asUser, ...execStart].join(' ')}`), cwd, serviceEnv);
        running.push(server);
        const s = server;
        // The background self-test: fping and mtr send through the ambient capability, from the pruned install.
        const lines = () => s.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; icmp_mode?: string });
        const ready = await waitFor(
          () => {
            if (s.proc.exitCode !== null) throw new Error(`ExecStart exited ${s.proc.exitCode}:\n${s.log()}`);
            return lines().find((l) => l.icmp_mode !== undefined);
          },
          'the icmp/trace self-test of the service',
          60_000,
          100,
        );
        assert.equal(ready.msg, 'icmp/trace tools ready', s.log().slice(-2000));
        assert.equal(ready.icmp_mode, 'cap_net_raw');
        assert.equal(spawnSync(inNs('curl -sf http://localhost:8080/health/live')[0]!, inNs('curl -sf http://localhost:8080/health/live').slice(1)).status, 0, 'the service answers');
        started = true;
        continue;
      }
      if (/^systemctl reload\b/.test(step)) {
        assert.ok(started && server, 'reload comes after the start');
        process.kill(server.proc.pid!, 0);
        const before = server.log().length;
        // MAINPID is the node process: the child of the namespace's exec chain, found by its command line.
        const pid = spawnSync('pgrep', ['-u', '65534', '-f', `${opt}/dist/cli.js run`], { encoding: 'utf8' }).stdout.trim().split('\n')[0]!;
        process.kill(Number(pid), 'SIGHUP');
        const s = server;
        await waitFor(() => /reload/i.test(s.log().slice(before)), 'the reload of systemctl reload (SIGHUP) logged', 20_000, 100);
        continue;
      }
      const cmd = paths(step).replace(/\bnpm ci\b/, npmCi);
      const t0 = Date.now();
      const r = spawnSync(inNs(cmd)[0]!, inNs(cmd).slice(1), { cwd: dir, encoding: 'utf8', timeout: 300_000, env: { ...process.env } });
      t.diagnostic(`systemd step $ ${step} -> exit ${r.status} in ${Date.now() - t0} ms`);
      assert.equal(r.status, 0, `docs/systemd/network-telemetry.service: \`${step}\` exited ${r.status}:\n${`${r.stdout}${r.stderr}`.slice(-2000)}`);
    }
    assert.ok(started, 'the steps start the service');
    assert.ok(existsSync(join(opt, 'dist/cli.js')), 'the build is in /opt');
    assert.ok(!existsSync(join(opt, 'node_modules/typescript')), 'the service runs from the production install');
    assert.equal(await interrupt(server!, 'SIGTERM'), 0, 'systemctl stop (SIGTERM): exit 0');
  } finally {
    renameSync(join(root, 'clone-node_modules'), join(dir, 'node_modules'));
    rmSync(root, { recursive: true, force: true });
  }
}

test('the systemd unit example passes systemd-analyze verify', () => {
  // scripts/ensure-deps.sh installs systemd-analyze before every npm test: missing is a failure, not a skip.
  const r = spawnSync('systemd-analyze', ['verify', join(ROOT, 'docs/systemd/network-telemetry.service')], { encoding: 'utf8' });
  assert.ifError(r.error ? new Error(`systemd-analyze: ${r.error.message} (bash scripts/ensure-deps.sh installs it)`) : undefined);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings');
});
