import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { closeDb, openDb } from '../../src/sqlite/sqlite-db.js';
import { waitFor } from '../helpers/net.js';

test('WAL checkpoints run in the worker: the daemon connection never checkpoints, the database file still fills', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-wal-'));
  const db = openDb(dir, 'w.db');
  try {
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0);
    db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const put = db.prepare('INSERT INTO t (v) VALUES (?)');
    const before = statSync(join(dir, 'w.db')).size;
    // ~4 MB in many small commits: with SQLite's default this would checkpoint
    // on this thread; here only the worker can copy pages into w.db.
    for (let i = 0; i < 2000; i++) put.run('x'.repeat(2000));
    await waitFor(() => statSync(join(dir, 'w.db')).size > before + 3_000_000, 'the worker to copy the WAL into the database file', 20_000);
    assert.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 2000);
  } finally {
    closeDb(db);
    rmSync(dir, { recursive: true, force: true });
  }
});
