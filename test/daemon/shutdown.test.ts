// npm test: alone (exit within SHUTDOWN_TIMEOUT + 1.5 s)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startDaemon } from '../helpers/daemon.js';
import { readStoreFile } from '../helpers/store-file.js';
import { startHttpServer, waitFor } from '../helpers/net.js';

test('SIGTERM during a round: exit 0 within SHUTDOWN_TIMEOUT, nothing stored half-written', async () => {
  // Every request takes 4 s: the round is surely in flight when SIGTERM lands.
  // The timers unref'ed: the server's sockets keep the process up while it answers; once it is closed, a pending
  // answer must not hold the file's process up to 4 s after its test.
  const web = await startHttpServer((_q, r) => setTimeout(() => r.end('late'), 4000).unref());
  const fast = await startHttpServer((_q, r) => r.end('ok'));
  const dataDir = mkdtempSync(join(tmpdir(), 'nt-shutdown-'));
  const targets = Array.from({ length: 20 }, (_, i) => `${web.url}/t${i}`).concat(Array.from({ length: 20 }, (_, i) => `${fast.url}/f${i}`));
  const d = await startDaemon({ TARGET_FQDNS: targets.join(','), COLLECTION_INTERVAL: '6', SHUTDOWN_TIMEOUT: '2', PROBE_TIMEOUT: '5' }, { dataDir });
  try {
    await waitFor(() => web.active > 5 && fast.requests.length > 3, 'slow probes in flight and some fast ones done', 15_000, 20);
    const t0 = Date.now();
    d.proc.kill('SIGTERM');
    const code = await d.exited;
    const took = Date.now() - t0;
    assert.equal(code, 0, d.stderr());
    assert.ok(took < 2000 + 1500, `exit took ${took} ms (SHUTDOWN_TIMEOUT 2 s)`);

    const rows = readStoreFile(dataDir);
    // Runs of the fast targets that completed before the signal are stored: an empty store would prove nothing.
    const fastDone = fast.requests.length;
    const fastStored = rows.filter((r) => r.measurement === 'http' && r.target.includes(`:${fast.port}/`)).length;
    assert.ok(fastDone > 0, 'some fast targets ran before the signal');
    assert.ok(fastStored >= fastDone - 1 && fastStored <= fastDone, `the completed fast runs are stored (${fastStored} of ${fastDone})`);
    // Every stored http point has its probe point and vice versa (one transaction per target run).
    const key = (r: { target: string; ts: number }) => `${r.target}@${r.ts}`;
    const http = new Set(rows.filter((r) => r.measurement === 'http').map(key));
    const probe = new Set(rows.filter((r) => r.measurement === 'probe').map(key));
    assert.deepEqual([...http].sort(), [...probe].sort());
    // Probes cut short by the shutdown stored nothing (no fake failures).
    assert.ok(rows.every((r) => !String(r.fields.reason ?? '').includes('aborted')));
    assert.ok(d.logs.some((l) => l.msg === 'stopped'));
  } finally {
    await d.cleanup();
    await web.close();
    await fast.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
