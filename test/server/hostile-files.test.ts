import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { MAX_TARGETS_FILE_BYTES } from '../../src/config/targets.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import { ApiServer, DEFAULT_TIMEOUTS } from '../../src/server/http-server.js';
import { closeDb, openDb } from '../../src/sqlite/sqlite-db.js';
import pino from 'pino';

/**
 * The smaller hostile points, without a daemon: files the daemon makes are
 * its user's only; a token file others can read is made private, with a
 * warning; control characters never make it into a target name; an
 * oversized targets file is one line, not a parser out of memory.
 */
const mode = (p: string) => statSync(p).mode & 0o777;
const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
  return assert.fail('expected a ConfigError');
};

test('DATA_DIR 0700, database files 0600 (also an existing 0644 one), a token file readable by others made 0600 with a warning', async () => {
  const root = mkdtempSync(join(tmpdir(), 'nt-hostile-files-'));
  const dir = join(root, 'data');
  try {
    const db = openDb(dir, 'store.db');
    db.exec('create table t (x)');
    assert.equal(mode(dir), 0o700);
    for (const f of ['store.db', 'store.db-wal', 'store.db-shm']) assert.equal(mode(join(dir, f)), 0o600, f);
    closeDb(db);
    chmodSync(join(dir, 'store.db'), 0o644);
    closeDb(openDb(dir, 'store.db'));
    assert.equal(mode(join(dir, 'store.db')), 0o600, 'an existing world-readable database');

    writeFileSync(join(dir, 'collect-token'), 'an-old-token-0123456789\n', { mode: 0o644 });
    chmodSync(join(dir, 'collect-token'), 0o644);
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const server = new ApiServer([], { port: 0, host: '127.0.0.1', dataDir: dir, ...DEFAULT_TIMEOUTS, maxConnections: 4 }, new TelemetryMetrics(), log);
    await server.start();
    await server.stop(Deadline.in(2000));
    assert.equal(mode(join(dir, 'collect-token')), 0o600);
    assert.ok(lines.some((l) => l.level === 40 && /token file was readable by other users \(mode 0644\): changed to 0600/.test(l.msg)), JSON.stringify(lines));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('control characters in target names are refused in one line naming the target and the character; an oversized targets file is one line', () => {
  const root = mkdtempSync(join(tmpdir(), 'nt-hostile-names-'));
  try {
    const file = join(root, 't.yaml');
    writeFileSync(file, 'targets:\n  - name: "evil\\u001b[31m"\n    host: a.example\n  - name: "pay\\u202egnp.exe"\n    host: b.example\n  - name: "a\\u0000b"\n    host: c.example\n  - name: fine\n    host: d.example\n');
    const text = problems({ TARGETS_FILE: file });
    assert.match(text, /t\.yaml:2: targets\[0\]: the name "evil\\u001b\[31m" contains a control character \(U\+001B, ESC\): remove it/);
    assert.match(text, /t\.yaml:4: targets\[1\]: .*\(U\+202E, right-to-left override\)/);
    assert.match(text, /t\.yaml:6: targets\[2\]: .*\(U\+0000, NUL\)/);
    assert.equal(text.split('\n').length, 3, text);
    assert.doesNotMatch(text, /[\u0000\u001b\u202e]/, 'the message itself carries none');

    writeFileSync(file, Buffer.alloc(MAX_TARGETS_FILE_BYTES + 1, 0x20));
    assert.match(problems({ TARGETS_FILE: file }), /^TARGETS_FILE: .*t\.yaml is 32\.0 MiB, more than the 32 MiB a targets file may be/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a DATA_DIR that cannot be created (under /proc) fails at once in one line naming DATA_DIR, instead of spinning', () => {
  // In a child with a deadline: the old mkdir spun forever, deaf to signals, and would hang this test.
  const t0 = Date.now();
  const out = spawnSync(process.execPath, ['--import', 'tsx', '-e', `import { openDb } from ${JSON.stringify(new URL('../../src/sqlite/sqlite-db.ts', import.meta.url).pathname)}; try { openDb('/proc/nt-hostile-data', 'x.db'); } catch (e) { console.log(e.message); }`], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
  assert.equal(out.signal, null, `killed after ${Date.now() - t0} ms: the mkdir spun`);
  assert.match(out.stdout, /^DATA_DIR: cannot create \/proc\/nt-hostile-data \(ENOENT\): create it, or set DATA_DIR to a writable directory\n$/);
  const nested = mkdtempSync(join(tmpdir(), 'nt-hostile-dirs-'));
  try {
    closeDb(openDb(join(nested, 'a', 'b'), 'x.db'));
    assert.equal(mode(join(nested, 'a', 'b')), 0o700);
  } finally {
    rmSync(nested, { recursive: true, force: true });
  }
});
