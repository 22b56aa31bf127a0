import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePoint } from '../../src/outbox/stored-point.js';
import { Victoria } from '../../scripts/lib/services.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { startHttpServer, waitFor } from '../helpers/net.js';
import { settledPoints } from '../helpers/write-stack.js';

const metric = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} ([\\d.e+]+)$`, 'm').exec(text)?.[1] ?? 0);

/** The outbox's points as `<measurement>_success|labels@ms` keys (what successPoints reads back). */
function acceptedKeys(dataDir: string): Set<string> {
  const db = new Database(join(dataDir, 'outbox.db'), { readonly: true });
  try {
    const keys = new Set<string>();
    for (const { enc, body } of db.prepare('SELECT enc, body FROM outbox').all() as { enc: number; body: string }[]) {
      const p = decodePoint(enc, body);
      const labels = Object.entries(p.t).map(([k, v]) => `${k}=${v}`).sort().join(',');
      keys.add(`${p.m === 'collector' ? 'collector_targets_run' : `${p.m}_success`}|${labels}@${p.ts}`);
    }
    return keys;
  } finally {
    db.close();
  }
}

test('DATA_DIR full (a small tmpfs): no crash, health failing with the reason, refused points counted, everything accepted delivered once space returns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=768k', 'tmpfs', dir]);
  // Everything started is inside the try: a daemon that fails to start fails the test at once, and the mount, VictoriaMetrics and the server go.
  const started: { web?: Awaited<ReturnType<typeof startHttpServer>>; vm?: Victoria; d?: Daemon } = {};
  try {
    const web = (started.web = await startHttpServer((_q, r) => r.end('ok'), { logRequests: false }));
    const vm = (started.vm = await Victoria.start());
    await vm.down('SIGTERM');
    const targets = Array.from({ length: 50 }, (_, i) => `${web.url}/t/${i}`);
    const d = (started.d = await startDaemon(
      // The embedded store is off: it would share (and fill) the tmpfs; test/store has its own disk-full test.
      { TARGET_FQDNS: targets.join(','), COLLECTION_INTERVAL: '1', SHUTDOWN_TIMEOUT: '15', INFLUXDB_URL: vm.url, INFLUXDB_TOKEN: 't', INFLUXDB_ORG: 'o', INFLUXDB_BUCKET: 'b', INFLUX_FLUSH_INTERVAL: '0.5', EMBEDDED_STORE: 'false' },
      { dataDir: dir },
    ));
    const full = await waitFor(async () => {
      const h = (await d.json('/health')).components.sink;
      return h.status === 'failing' && h.reason === 'disk_full' ? h : undefined;
    }, 'the sink failing for lack of space', 90_000, 200);
    assert.match(String(full.error), /full|space/i);
    assert.ok(full.points_refused > 0);
    const m = await (await d.get('/metrics')).text();
    const refused = metric(m, 'telemetry_points_dropped_total{reason="disk_full"}');
    assert.ok(refused > 0, 'refused points are counted');
    assert.equal((await d.get('/health/live')).status, 200, 'the daemon lives on');
    assert.equal((await d.json('/health')).status, 'failing');
    const accepted = acceptedKeys(dir);
    t.diagnostic(`disk full after ${accepted.size} points accepted; ${refused} refused so far`);
    // Every commit is refused (one a second, and the maintenance loop too), but the log says so once a minute at most, without a stack.
    const failureLines = () => d.logs.filter((l) => l.level === 'error' || l.level === 50);
    await waitFor(async () => metric(await (await d.get('/metrics')).text(), 'telemetry_points_dropped_total{reason="disk_full"}') > refused, 'more commits refused', 10_000, 200);
    const lines = failureLines();
    t.diagnostic(`error lines while full: ${lines.map((l) => l.msg).join(' | ')}`);
    const byMsg = new Map<string, number>();
    for (const l of lines) {
      const msg = String(l.msg).replace(/ \(and \d+ more.*$/, '');
      byMsg.set(msg, (byMsg.get(msg) ?? 0) + 1);
    }
    for (const [msg, n] of byMsg) assert.equal(n, 1, `"${msg}" logged ${n} times within a minute`);
    for (const l of lines) assert.equal((l.err as { stack?: string } | undefined)?.stack, undefined, `no stack for a full disk: ${String(l.msg)}`);
    assert.ok(accepted.size > 100);

    execFileSync('mount', ['-o', 'remount,size=64m', dir]);
    await vm.up();
    await waitFor(async () => (await d.json('/health')).components.sink.status !== 'failing', 'the sink recovers once space returns', 30_000, 200);
    // The log ends on the recovery, with every refused commit counted. A nearly full disk can take one commit between
    // refusals: that says "stored again (after 1 failure)" early, and the refusals after it are said by the next
    // recovery line, a minute after that one at the most (src/logging/failure-log.ts). So wait until the recovery
    // lines account for every refused commit (telemetry_errors_total{component="outbox"} counts each).
    const isRecovery = (l: (typeof d.logs)[number]) => String(l.msg).startsWith('outbox: points stored again');
    const refusedCommits = metric(await (await d.get('/metrics')).text(), 'telemetry_errors_total{component="outbox"}');
    const said = () => d.logs.filter(isRecovery).reduce((a, l) => a + (l.failures as number), 0);
    await waitFor(() => said() === refusedCommits || undefined, `recovery lines counting all ${refusedCommits} refused commits`, 75_000, 200).catch((err) => {
      throw new Error(`${(err as Error).message}; said: ${d.logs.filter(isRecovery).map((l) => String(l.msg)).join(' | ')}`);
    });
    t.diagnostic(`refused commits ${refusedCommits}; recovery lines: ${d.logs.filter(isRecovery).map((l) => String(l.msg)).join(' | ')}`);
    for (const l of d.logs.filter(isRecovery)) assert.match(String(l.msg), /\(after \d+ failures?\)$/);
    assert.ok(refusedCommits > 1, 'more than one commit was refused while full');
    const lastError = d.logs.findLastIndex((l) => l.level === 'error' || l.level === 50);
    assert.ok(d.logs.findLastIndex(isRecovery) > lastError, 'the log ends on the recovery, not on an error');
    await waitFor(async () => (await d.json('/health')).components.sink.outbox_points < 200, 'the backlog delivered', 60_000, 200);
    d.proc.kill('SIGTERM');
    assert.equal(await d.exited, 0, 'clean exit');
    const stored = await settledPoints(vm, accepted);
    const missing = [...accepted].filter((k) => !stored.has(k));
    t.diagnostic(`accepted while full ${accepted.size}; in VictoriaMetrics ${stored.size}; missing ${missing.length}`);
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} accepted points missing`);
  } finally {
    await started.d?.cleanup();
    await started.vm?.cleanup();
    await started.web?.close();
    try {
      execFileSync('umount', [dir]);
    } catch {
      execFileSync('umount', ['-l', dir]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
