import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../helpers/daemon.js';
import { freePort, startHttpServer, waitFor } from '../helpers/net.js';

interface Row {
  name: string;
  status: string;
  failing: { probe: string; reason: string }[];
  last: { http_total_ms: number | null };
}

test('after a restart the overview shows each target as it was, not "unknown" until its first round', async () => {
  const web = await startHttpServer((_q, r) => r.end('ok'));
  const closed = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'nt-seed-'));
  const targets = `${web.url}/,127.0.0.1:${closed}`;
  const rows = async (d: Awaited<ReturnType<typeof startDaemon>>) => (await d.json<{ targets: Row[] }>('/api/targets')).targets;
  try {
    const first = await startDaemon({ TARGET_FQDNS: targets, COLLECTION_INTERVAL: '2' }, { dataDir });
    await waitFor(async () => (await rows(first)).every((r) => r.status !== 'unknown'), 'both targets judged', 15_000, 200);
    first.proc.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    // A long interval: the restarted daemon's first round is up to a minute away.
    const second = await startDaemon({ TARGET_FQDNS: targets, COLLECTION_INTERVAL: '60' }, { dataDir });
    try {
      const seen = await waitFor(async () => {
        const r = await rows(second);
        return r.every((x) => x.status !== 'unknown') ? r : null;
      }, 'states restored from the store', 5000, 100);
      const byName = new Map(seen.map((r) => [r.name, r]));
      assert.equal(byName.get(`${web.url}/`)!.status, 'ok');
      assert.ok((byName.get(`${web.url}/`)!.last.http_total_ms ?? -1) >= 0, 'the last HTTP time is back too');
      const down = byName.get(`127.0.0.1:${closed}`)!;
      assert.equal(down.status, 'failing');
      assert.deepEqual(down.failing.map((f) => `${f.probe}:${f.reason}`), ['tcp:refused']);
      assert.equal(second.logs.filter((l) => String(l.msg).startsWith('target failing')).length, 0, 'a restored state is not a state change');
    } finally {
      await second.cleanup();
    }
  } finally {
    await web.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
