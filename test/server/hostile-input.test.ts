// npm test: alone (scheduled rounds never skip a slot under a POST /collect flood)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { secretEquals } from '../../src/server/web-config.js';
import { runCli, startDaemon, type Daemon } from '../helpers/daemon.js';
import { startHttpServer, waitFor } from '../helpers/net.js';

/** Send raw bytes, return what came back and how long the connection stayed open. */
function raw(port: number, request: string, waitMs = 5000): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = connect(port, '127.0.0.1', () => s.write(request));
    let text = '';
    s.on('data', (d) => (text += d.toString()));
    s.on('error', reject);
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closedAfterMs: Infinity });
    }, waitMs);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - t0 });
    });
  });
}

const TOKEN = 'hostile-test-token';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

test('POST /collect cannot amplify: names deduplicated, one run capped, runs bounded, scheduled rounds never skip a slot', async (t) => {
  const web = await startHttpServer((_q, r) => setTimeout(() => r.end('ok'), 50));
  const names = Array.from({ length: 12 }, (_, i) => `${web.url}/t${i}`);
  const daemons: Daemon[] = [];
  try {
    const d = await startDaemon({ TARGET_FQDNS: names.join(','), COLLECTION_INTERVAL: '2', COLLECT_TOKEN: TOKEN, COLLECT_MAX_PROBES: '10', MAX_ADHOC_RUNS: '2' });
    daemons.push(d);
    // One configured name repeated to fill the 64 KiB body limit: one probe, one request.
    const before = web.requests.filter((r) => r.url === '/t0').length;
    const copies = Math.floor(64_000 / (names[0]!.length + 3));
    const body = JSON.stringify({ targets: Array.from({ length: copies }, () => names[0]) });
    assert.ok(body.length > 60_000 && body.length <= 65_536, `${body.length} bytes`);
    const r = await d.get('/collect', { method: 'POST', headers: auth, body });
    const j = (await r.json()) as { results: unknown[] };
    assert.equal(r.status, 200, JSON.stringify(j));
    assert.equal(j.results.length, 1, 'one result for one distinct target');
    const sent = web.requests.filter((q) => q.url === '/t0').length - before;
    assert.ok(sent <= 2, `${sent} requests to the target for ${copies} copies of its name (one ad-hoc, at most one scheduled)`);

    // More probes than COLLECT_MAX_PROBES in one run: 400, naming the setting.
    const big = await d.get('/collect', { method: 'POST', headers: auth, body: JSON.stringify({ targets: names }) });
    assert.equal(big.status, 400);
    assert.match(((await big.json()) as { error: string }).error, /12 probes in one run exceed COLLECT_MAX_PROBES=10/);

    // Ten measurement-only point queries at once (no target: a whole-table scan before the
    // store's measurement index): answered, bounded to the default window, the daemon stays live.
    const live0 = Date.now();
    const [queries] = await Promise.all([
      Promise.all(Array.from({ length: 10 }, () => d.get('/api/points?measurement=http&limit=10000'))),
      d.get('/health/live'),
    ]);
    const liveMs = Date.now() - live0;
    for (const q of queries) assert.equal(q.status, 200);
    const window = (await queries[0]!.json()) as { points: { timestamp_ms: number }[] };
    assert.ok(window.points.every((p) => p.timestamp_ms >= Date.now() - 3_700_000), 'no since: the last hour only');
    t.diagnostic(`10 parallel /api/points?measurement=http: answered; /health/live meanwhile in ${liveMs} ms`);

    // Four heavy requests at once: at most MAX_ADHOC_RUNS run, the rest get 429; the schedule keeps every slot.
    const skippedBefore = Number(/^telemetry_targets_skipped_total (\d+)/m.exec(await (await d.get('/metrics')).text())?.[1] ?? 0);
    const slowBody = JSON.stringify({ targets: names.slice(0, 10) });
    const statuses = await Promise.all(Array.from({ length: 4 }, () => d.get('/collect', { method: 'POST', headers: auth, body: slowBody }).then((x) => x.status)));
    assert.deepEqual(statuses.filter((s) => s === 429).length >= 2, true, `statuses ${statuses}`);
    // The two rounds whose slots start after the burst: every target probed in each.
    const burstAt = Date.now();
    const after = () => d.logs.filter((l) => l.msg === 'round complete' && Date.parse(String(l.slot)) >= burstAt);
    await waitFor(() => after().length >= 2, 'two rounds after the burst', 15_000, 100);
    const lastRounds = after().slice(0, 2);
    for (const round of lastRounds) assert.equal(round.targets, 12, JSON.stringify(round));
    const skipped = Number(/^telemetry_targets_skipped_total (\d+)/m.exec(await (await d.get('/metrics')).text())?.[1] ?? 0);
    assert.equal(skipped, skippedBefore, 'no scheduled slot skipped');
    t.diagnostic(`burst statuses ${statuses.join(',')}; rounds after: ${lastRounds.map((r) => `${r.targets} targets in ${r.duration_s} s`).join(', ')}`);
  } finally {
    await Promise.all(daemons.map((d) => d.cleanup()));
    await web.close();
  }
});

test('every request gets an answer: unparsable targets are 400 at once, bad requests close, connections are capped', async () => {
  const d = await startDaemon({ TARGET_FQDNS: '127.0.0.1:9', MAX_API_CONNECTIONS: '20' });
  try {
    for (const path of ['//', '//a:b', '//[', '/api/targets/%E0%A4%A']) {
      const r = await raw(d.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(r.text, /^HTTP\/1\.1 400 /, `${path}: ${r.text.slice(0, 80)}`);
      assert.ok(r.closedAfterMs < 2000, `${path}: answered and closed (${r.closedAfterMs} ms)`);
    }
    const garbage = await raw(d.port, 'THIS IS NOT HTTP\r\n\r\n');
    assert.match(garbage.text, /^HTTP\/1\.1 400 /);
    // Past MAX_API_CONNECTIONS new connections are refused at once; the daemon stays healthy.
    const idle = await Promise.all(Array.from({ length: 30 }, () => new Promise<ReturnType<typeof connect>>((r) => { const s = connect(d.port, '127.0.0.1', () => r(s)); s.on('error', () => r(s)); })));
    await new Promise((r) => setTimeout(r, 300));
    const open = idle.filter((s) => !s.destroyed && s.readyState === 'open').length;
    for (const s of idle) s.destroy();
    assert.ok(open <= 20, `${open} of 30 idle connections kept (cap 20)`);
    assert.equal((await d.get('/health/live')).status, 200);
  } finally {
    await d.cleanup();
  }
});

test('secrets are never printed: URL passwords, userinfo, header values, key/token parameters; targets with userinfo are refused with advice', async () => {
  const env = {
    TARGET_FQDNS: 'https://api.example.com/health?token=s3cr3t-q,example.org',
    INFLUXDB_URL: 'http://writer:db-passw0rd@influx.example:8086',
    INFLUXDB_TOKEN: 'tok-123456',
    INFLUXDB_ORG: 'o',
    INFLUXDB_BUCKET: 'b',
    GEO: 'http',
    GEO_HTTP_URL: 'https://geo.example/json/?key=geo-k3y',
    PUBLIC_IP_URL: 'https://ip.example/?token=ip-t0ken',
    COLLECT_TOKEN: 'collect-s3cret',
  };
  const leaks = ['s3cr3t-q', 'db-passw0rd', 'tok-123456', 'geo-k3y', 'ip-t0ken', 'collect-s3cret', 'hdr-s3cret'];
  process.env.HOSTILE_HEADER = 'Bearer hdr-s3cret';
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'nt-secrets-'));
  const file = join(dir, 't.yaml');
  writeFileSync(file, 'targets:\n  - name: api\n    http: { url: "https://api.example.com/", headers: { Authorization: "${HOSTILE_HEADER}" } }\n');
  const json = await runCli(['check-config', '--json'], { ...env, TARGETS_FILE: file, HOSTILE_HEADER: 'Bearer hdr-s3cret', DATA_DIR: dir });
  assert.equal(json.code, 0, json.stderr);
  const human = await runCli(['check-config'], { ...env, TARGETS_FILE: file, HOSTILE_HEADER: 'Bearer hdr-s3cret', DATA_DIR: dir });
  for (const out of [json.stdout + json.stderr, human.stdout + human.stderr]) {
    for (const s of leaks) assert.ok(!out.includes(s), `"${s}" printed:\n${out}`);
  }
  assert.match(json.stdout, /"https:\/\/api\.example\.com\/health\?token=redacted"/, 'the target tag keeps its shape, without the secret');
  assert.match(json.stdout, /"Authorization": "<redacted>"/);
  // An error message shows a bad value only when it is not secret.
  const bad = await runCli(['check-config'], { ...env, INFLUXDB_URL: 'http://u:p4ss@', DATA_DIR: dir });
  assert.equal(bad.code, 2);
  assert.ok(!bad.stderr.includes('p4ss'), bad.stderr);
  // userinfo in a target URL: refused, with the way to do it instead.
  const userinfo = await runCli(['check-config'], { TARGET_FQDNS: 'https://bob:hunter22@api.example.com/', DATA_DIR: dir });
  assert.equal(userinfo.code, 2);
  assert.ok(!userinfo.stderr.includes('hunter22'), userinfo.stderr);
  assert.match(userinfo.stderr, /credentials in the URL .* send a header instead/);
});

test('the token comparison does not depend on where the first difference is, nor on the length', () => {
  assert.equal(secretEquals('abc', 'abc'), true);
  assert.equal(secretEquals('abd', 'abc'), false);
  assert.equal(secretEquals('ab', 'abc'), false);
  assert.equal(secretEquals('abcd', 'abc'), false);
  assert.equal(secretEquals('', 'abc'), false);
});
