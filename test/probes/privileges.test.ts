import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { runCli, startDaemon, type Daemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/net.js';
import { Namespaces, inNs } from '../helpers/netns.js';

/** Drop root: uid/gid nobody, no supplementary groups, no capabilities. */
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
let noCap: string;
let dataDir: string;
const which = (cmd: string) => execFileSync('sh', ['-c', `command -v ${cmd}`]).toString().trim();

before(() => {
  // Copies of the tools without their file capabilities (copying drops them).
  noCap = mkdtempSync(join(tmpdir(), 'nt-nocap-'));
  for (const tool of ['fping', 'mtr', 'mtr-packet']) copyFileSync(which(tool), join(noCap, tool));
  chmodSync(noCap, 0o755);
  dataDir = mkdtempSync(join(tmpdir(), 'nt-priv-'));
  chmodSync(dataDir, 0o777);
});
after(() => {
  rmSync(noCap, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

const TOKEN = 'privileges-test-token';
const collect = (d: Daemon) => d.json('/collect', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
/** /health once the background tool check has a verdict. */
const checkedHealth = (d: Daemon) =>
  waitFor(async () => {
    const h = await d.json('/health');
    return h.components['probe-tools']?.mode ? h : null;
  }, 'the tool check', 15_000, 200);

const noCapEnv = () => ({ FPING_PATH: join(noCap, 'fping'), MTR_PATH: join(noCap, 'mtr'), MTR_PACKET: join(noCap, 'mtr-packet') });

test('root: mode root', async () => {
  const r = await runCli(['check-privileges'], { TARGET_FQDNS: 'localhost' });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { mode: 'root', fping: 'ok', mtr: 'ok' });
});

test('not root, tools with CAP_NET_RAW (as Debian installs them): mode cap_net_raw, probes work', async () => {
  const d = await startDaemon({ TARGET_FQDNS: '127.0.0.1', TRACE_PACKET_INTERVAL: '1', PROBE_TIMEOUT: '8', COLLECTION_INTERVAL: '60', COLLECT_TOKEN: TOKEN }, { wrap: NOBODY, dataDir });
  try {
    const h = await checkedHealth(d);
    assert.equal(h.components['probe-tools'].mode, 'cap_net_raw');
    assert.equal(h.components['probe-tools'].status, 'ok');
    assert.equal(h.status, 'ok');
    const r = await collect(d);
    for (const x of r.results) assert.equal(x.success, true, `${x.probe}: ${x.reason} ${x.detail}`);
  } finally {
    await d.cleanup();
  }
});

test('not root and no capability: one clear error naming the fix, /health degraded, probes record no_permission, no crash', async () => {
  const d = await startDaemon({ TARGET_FQDNS: '127.0.0.1', TRACE_PACKET_INTERVAL: '1', PROBE_TIMEOUT: '8', COLLECT_TOKEN: TOKEN, ...noCapEnv() }, { wrap: NOBODY, dataDir });
  try {
    const h = await checkedHealth(d);
    assert.equal(h.status, 'degraded');
    assert.equal(h.components['probe-tools'].mode, 'none');
    assert.match(h.components['probe-tools'].problem, /setcap cap_net_raw\+ep/);
    assert.match(h.components['probe-tools'].problem, /ping_group_range/);
    const errors = d.logs.filter((l) => l.level === 'error' || l.level === 'fatal');
    assert.equal(errors.length, 1, 'one error line at start, not one per probe');
    const r = await collect(d);
    for (const x of r.results) assert.equal(x.reason, 'no_permission', `${x.probe}: ${x.detail}`);
    assert.equal((await d.get('/health/live')).status, 200);
  } finally {
    await d.cleanup();
  }
});

test('not root with net.ipv4.ping_group_range: mode ping_group_range; traces work, fping 5.1 cannot and says how to fix it', async () => {
  const ns = new Namespaces();
  try {
    const n = ns.add('pg');
    inNs(n, 'sysctl', ['-qw', 'net.ipv4.ping_group_range=0 2147483647']);
    const r = await runCli(['check-privileges'], { TARGET_FQDNS: 'localhost', ...noCapEnv() }, ['ip', 'netns', 'exec', n, ...NOBODY]);
    const report = JSON.parse(r.stdout);
    assert.equal(report.mode, 'ping_group_range');
    assert.equal(report.mtr, 'ok');
    if (report.fping === 'ok') {
      assert.equal(r.code, 0); // a fixed fping (>= 5.2) works unprivileged too
    } else {
      assert.equal(r.code, 1);
      assert.match(report.problem, /give fping CAP_NET_RAW/);
    }
  } finally {
    ns.cleanup();
  }
});
