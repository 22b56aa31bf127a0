import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAEMON_COMMAND, ROOT, runCli, startDaemon, TEST_ENV } from '../helpers/daemon.js';
import { waitFor } from '../helpers/net.js';

/** A start-up failure is one line naming the setting, its exit code, and no stack trace. */
function assertOneLine(r: { code: number | null; stdout: string; stderr: string }, code: number, line: RegExp): void {
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, code, out);
  assert.doesNotMatch(out, /^\s+at /m, `no stack trace:\n${out}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`);
  assert.match(lines[0]!, line);
}

const quiet = { TARGET_FQDNS: '127.0.0.1:9', LOG_FORMAT: 'json' };

test('port in use: one line naming PORT, exit 1', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'nt-port-'));
  try {
    const r = await runCli(['run'], { ...quiet, DATA_DIR: dir, PORT: String(port), LISTEN_ADDRESS: '127.0.0.1' });
    assertOneLine(r, 1, new RegExp(`^start error: PORT: 127\\.0\\.0\\.1:${port} is already in use .*set PORT \\(or LISTEN_ADDRESS\\)`));
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** `run` with stdout and stderr on one file, as on a terminal, `2>&1` or the journal: everything it printed. */
async function runOneStream(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'nt-one-stream-'));
  const file = join(dir, 'out');
  const fd = openSync(file, 'w');
  try {
    const p = spawn(DAEMON_COMMAND[0]!, [...DAEMON_COMMAND.slice(1), 'run'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: '/root', ...TEST_ENV, ...env }, stdio: ['ignore', fd, fd] });
    const code = await new Promise<number | null>((r) => p.once('exit', r));
    return { code, out: readFileSync(file, 'utf8') };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('port in use or DATA_DIR a file, with the log and stderr on one stream: the error once, no tool self-test noise', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'nt-port-'));
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  try {
    // The default targets: the icmp/trace self-test is still running when the port check fails.
    for (const [env, what] of [
      [{ DATA_DIR: dir, PORT: String(port), LISTEN_ADDRESS: '127.0.0.1' }, /PORT: 127\.0\.0\.1:\d+ is already in use/g],
      [{ DATA_DIR: file, PORT: '0' }, /DATA_DIR: \S+ is a file, not a directory/g],
    ] as const) {
      const r = await runOneStream({ ...env, LOG_FORMAT: 'text' });
      assert.equal(r.code, 1, r.out);
      assert.equal(r.out.match(what)?.length, 1, `said once:\n${r.out}`);
      assert.doesNotMatch(r.out, /self-test/, 'a start that failed says nothing about the tools it stopped');
    }
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LISTEN_ADDRESS that is not ours: one line naming LISTEN_ADDRESS, exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-listen-'));
  try {
    const r = await runCli(['run'], { ...quiet, DATA_DIR: dir, PORT: '0', LISTEN_ADDRESS: '192.0.2.77' });
    assertOneLine(r, 1, /^start error: LISTEN_ADDRESS: 192\.0\.2\.77 is not an address of this host/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DATA_DIR a file, on a read-only file system, or impossible to create: one line naming DATA_DIR and the path, exit 1', async () => {
  const base = mkdtempSync(join(tmpdir(), 'nt-datadir-'));
  const ro = join(base, 'ro');
  mkdirSync(ro);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]);
  try {
    const file = join(base, 'a-file');
    writeFileSync(file, 'x');
    assertOneLine(await runCli(['run'], { ...quiet, DATA_DIR: file, PORT: '0' }), 1, new RegExp(`^start error: DATA_DIR: ${file} is a file, not a directory`));
    assertOneLine(await runCli(['run'], { ...quiet, DATA_DIR: ro, PORT: '0' }), 1, new RegExp(`^start error: DATA_DIR: ${ro} is on a read-only file system`));
    assertOneLine(await runCli(['run'], { ...quiet, DATA_DIR: join(file, 'sub'), PORT: '0' }), 1, new RegExp(`^start error: DATA_DIR: cannot create ${file}/sub \\(ENOTDIR\\)`));
    // collect --once needs DATA_DIR too (route memory): the same line, not a stack.
    assertOneLine(await runCli(['collect', '--once'], { ...quiet, DATA_DIR: file }), 1, /^start error: DATA_DIR: .* is a file/);
  } finally {
    execFileSync('umount', [ro]);
    rmSync(base, { recursive: true, force: true });
  }
});

test('a corrupt database file is set aside as NAME.corrupt-<time> and a fresh one started; the daemon runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-corrupt-'));
  writeFileSync(join(dir, 'store.db'), 'this is not a SQLite database, it is a disk error'.repeat(200));
  writeFileSync(join(dir, 'state.db'), Buffer.alloc(8192, 0xab));
  const d = await startDaemon({ TARGET_FQDNS: '127.0.0.1', COLLECTION_INTERVAL: '2' }, { dataDir: dir });
  try {
    const setAside = d.logs.filter((l) => String(l.msg).includes('set aside'));
    assert.equal(setAside.length, 2, JSON.stringify(d.logs.slice(0, 5)));
    const files = readdirSync(dir);
    assert.ok(files.some((f) => /^store\.db\.corrupt-\d{4}-\d\d-\d\dT/.test(f)), files.join(' '));
    assert.ok(files.some((f) => /^state\.db\.corrupt-/.test(f)), files.join(' '));
    await waitFor(async () => (await d.json<{ count: number }>('/api/points?measurement=ping')).count > 0, 'points in the fresh store', 15_000, 200);
  } finally {
    await d.cleanup();
  }
});

test('an empty capability bounding set: check-privileges says so in one line and exits 1 (no spawn EPERM crash)', async () => {
  const r = await runCli(['check-privileges'], { LOG_FORMAT: 'json' }, ['setpriv', '--bounding-set=-all', '--inh-caps=-all', '--']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /^\s+at /m);
  const report = JSON.parse(r.stdout) as { fping: string; problem: string };
  assert.notEqual(report.fping, 'ok');
  assert.match(r.stderr, /^problem: .*(NET_RAW|not permitted|EPERM)/m);
});

test('non-root without NET_RAW in the bounding set: icmp and trace record no_permission naming the fix (not tool_error)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-noraw-'));
  chmodSync(dir, 0o777);
  try {
    // fping and mtr-packet carry cap_net_raw as a file capability; outside the bounding set the kernel will not start them.
    const wrap = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--bounding-set=-net_raw', '--inh-caps=-all', '--'];
    const r = await runCli(['collect', '--once', '--json'], { DATA_DIR: join(dir, 'data'), HOME: dir, TARGET_FQDNS: '127.0.0.1', COLLECTION_INTERVAL: '10', TRACE_PACKET_INTERVAL: '1', TRACE_GRACE: '0.3' }, wrap);
    assert.equal(r.code, 1, r.stderr);
    const results = JSON.parse(r.stdout) as { probe: string; reason: string; detail: string }[];
    for (const probe of ['icmp', 'trace']) {
      const x = results.find((y) => y.probe === probe);
      assert.equal(x?.reason, 'no_permission', `${probe}: ${JSON.stringify(x)}`);
      assert.match(x!.detail, /NET_RAW/, `${probe}: the detail names the capability`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('values the user set that cannot fit are one config error each, naming the variable', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PROBE_TIMEOUT: '20', COLLECTION_INTERVAL: '10' }, /^config error: PROBE_TIMEOUT: a 20 s probe timeout must be shorter than the 10 s interval \(COLLECTION_INTERVAL\)/],
    [{ TRACE_INTERVAL: '90' }, /^config error: TRACE_INTERVAL: 90 s is not a whole multiple of the 60 s interval: set it to 120/],
    [{ COLLECTION_INTERVAL: '5', TRACE_CYCLES: '5', TRACE_PACKET_INTERVAL: '1', TRACE_GRACE: '' }, /^config error: TARGET_FQDNS|^config error: default targets: trace: 5 cycles 1 s apart plus 1 s grace take about 7\.8 s, more than the 4 s probe timeout allows: lower TRACE_CYCLES/],
    [{ TARGET_FQDNS: '' }, /^config error: TARGET_FQDNS: set but empty/],
  ];
  for (const [env, line] of cases) {
    const r = await runCli(['check-config'], { DATA_DIR: tmpdir(), ...env });
    assert.equal(r.code, 2, `${JSON.stringify(env)}: ${r.stderr}`);
    assert.match(r.stderr.trim().split('\n')[0]!, line, JSON.stringify(env));
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  }
  // Not root, nothing set: mtr will not space cycles below 1 s, so one cycle does not fit 2.4 s; one line says what will.
  const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];
  const slow = await runCli(['check-config'], { DATA_DIR: tmpdir(), COLLECTION_INTERVAL: '3', TRACE_PACKET_INTERVAL: '', TRACE_GRACE: '' }, nobody);
  assert.equal(slow.code, 2, slow.stderr);
  assert.match(slow.stderr.trim(), /^config error: default targets: trace: one mtr cycle takes about 3\.0 s when not root .* set COLLECTION_INTERVAL to 4 or more, run as root, or leave trace out/);
  const typo = await runCli(['check-config'], { DATA_DIR: tmpdir(), COLECTION_INTERVAL: '30', TRACE_CYCLE: '2' });
  assert.equal(typo.code, 0);
  assert.match(typo.stdout, /COLECTION_INTERVAL: unknown variable, ignored: did you mean COLLECTION_INTERVAL\?/);
  assert.match(typo.stdout, /TRACE_CYCLE: unknown variable, ignored: did you mean TRACE_CYCLES\?/);
});

test('collect --once with the defaults succeeds without a daemon (no self-probe)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-once-'));
  try {
    const r = await runCli(['collect', '--once'], { DATA_DIR: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^localhost\s+icmp\s+ok/m);
    assert.doesNotMatch(r.stdout, /health\/live/);
    assert.ok(!existsSync(join(dir, 'store.db')), 'one-shot runs store nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
