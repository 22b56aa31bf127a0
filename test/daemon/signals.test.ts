import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readStoreFile } from '../helpers/store-file.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../helpers/daemon.js';
import { startHttpServer } from '../helpers/net.js';

// Twelve moments spread evenly over two rounds (each at a random point of its own stretch) cover
// start-up, mid-round and between rounds as well as twenty uniform random ones did, in 60 % of the time.
const RUNS = Number(process.env.SIGNAL_RUNS ?? 12);
const WINDOW_MS = 4000;

test(`${RUNS} Ctrl-Cs (SIGINT to the whole process group) at moments spread over two rounds: exit 0, no stack, nothing stored for what was cut short`, async (t) => {
  // Every probe kind that runs a tool or waits on the network: fping and mtr
  // on loopback, an http target that answers slowly, so a signal lands
  // mid-fping, mid-trace, mid-request or mid-write.
  const slow = await startHttpServer((_q, r) => setTimeout(() => r.end('ok'), 300));
  const dataDir = mkdtempSync(join(tmpdir(), 'nt-signals-'));
  const env = {
    TARGET_FQDNS: `localhost,127.0.0.1,${slow.url}/a,${slow.url}/b`,
    COLLECTION_INTERVAL: '2',
    SHUTDOWN_TIMEOUT: '3',
    ICMP_COUNT: '10',
    ICMP_PACKET_INTERVAL: '0.1',
  };
  const codes: (number | null)[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const d = await startDaemon(env, { dataDir, group: true });
      try {
        // A random moment of the i-th stretch of two rounds (the daemon is live, its first round starts within 2 s).
        await new Promise((r) => setTimeout(r, Math.floor(((i + Math.random()) * WINDOW_MS) / RUNS)));
        d.signalGroup('SIGINT');
        // The timer cleared once the race is decided: a pending one would keep the file's process alive 10 s after its last test.
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([d.exited, new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 10_000)))]).finally(() => clearTimeout(timer));
        codes.push(code === 'hung' ? -1 : code);
        const output = `${d.logs.map((l) => JSON.stringify(l)).join('\n')}\n${d.stderr()}`;
        assert.equal(code, 0, `run ${i + 1}: exit ${code}\n${output.slice(-3000)}`);
        assert.doesNotMatch(output, /EPIPE|ERR_IPC|^\s+at /m, `run ${i + 1}: no EPIPE and no stack trace`);
        assert.ok(d.logs.some((l) => l.msg === 'stopped'), `run ${i + 1}: logged "stopped"`);
      } finally {
        await d.kill('SIGKILL');
      }
    }
    t.diagnostic(`exit codes of ${RUNS} runs: ${codes.join(' ')}`);
    const rows = readStoreFile(dataDir, ['probe', 'ping', 'route', 'http']);
    const reasons = rows.map((r) => r.fields as { reason?: string; detail?: string });
    const ours = reasons.filter((f) => f.reason === 'tool_error' || f.reason === 'internal_error' || f.reason === 'aborted');
    assert.ok(rows.length > 0, 'the runs stored points');
    assert.deepEqual(ours, [], 'no point records a failure the shutdown itself caused');
    t.diagnostic(`${rows.length} points stored over ${RUNS} runs, none from a cut-short probe`);
  } finally {
    await slow.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
