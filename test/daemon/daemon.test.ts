// npm test: alone (/health/live within 5 s of the start)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { freePort, startHttpServer, waitFor, type TestServer } from '../helpers/net.js';

let web: TestServer;
let slowWeb: TestServer;
let daemon: Daemon;
let closedPort: number;
let spawnedAt: number;
let liveAfterMs: number;

before(async () => {
  web = await startHttpServer((_q, r) => r.end('ok'));
  slowWeb = await startHttpServer((_q, r) => setTimeout(() => r.end('slow'), 1500));
  closedPort = await freePort();
  spawnedAt = Date.now();
  daemon = await startDaemon({
    TARGET_FQDNS: `${web.url}/,127.0.0.1:${web.port},127.0.0.1:${closedPort},${slowWeb.url}/slow`,
    COLLECTION_INTERVAL: '5',
    MAX_ADHOC_RUNS: '1',
    COLLECT_TOKEN: 'test-token-123',
  });
  liveAfterMs = Date.now() - spawnedAt;
});

after(async () => {
  await daemon?.cleanup();
  await web?.close();
  await slowWeb?.close();
});

const auth = { authorization: 'Bearer test-token-123' };

test('answers /health/live within 5 s of start', () => {
  assert.ok(liveAfterMs < 5000, `live after ${liveAfterMs} ms`);
});

test('collects on schedule: points carry slot timestamps (multiples of the interval)', async () => {
  const pts = await waitFor(async () => {
    const r = await daemon.json<{ points: { measurement: string; timestamp_ms: number; tags: Record<string, string>; fields: Record<string, unknown> }[] }>(
      `/api/points?measurement=tcp&target=${encodeURIComponent(`127.0.0.1:${web.port}`)}`,
    );
    return r.points.filter((p) => !p.tags.mode).length >= 2 ? r.points : null;
  }, 'two scheduled tcp points', 20_000, 250);
  for (const p of pts.filter((p) => !p.tags.mode)) {
    assert.equal(p.timestamp_ms % 5000, 0, `timestamp ${p.timestamp_ms} is a slot start`);
    assert.equal(p.tags.source, 'test-source');
    assert.equal(p.fields.success, true);
  }
  const slots = new Set(pts.map((p) => p.timestamp_ms));
  assert.ok(slots.size >= 2, 'one point per slot');
  // The closed port is recorded as a failure with a reason, in both measurements.
  const failed = await daemon.json<{ points: { measurement: string; fields: Record<string, unknown> }[] }>(
    `/api/points?target=${encodeURIComponent(`127.0.0.1:${closedPort}`)}`,
  );
  const probePoint = failed.points.find((p) => p.measurement === 'probe');
  assert.equal(probePoint?.fields.success, false);
  assert.equal(probePoint?.fields.reason, 'refused');
  assert.ok(failed.points.some((p) => p.measurement === 'tcp' && p.fields.success === false));
});

test('a round summary is logged with targets, probes ok/failed and duration', async () => {
  const line = await waitFor(() => daemon.logs.find((l) => l.msg === 'round complete'), 'round summary', 15_000);
  assert.equal(line.targets, 4);
  assert.equal(typeof line.duration_s, 'number');
  assert.ok((line.probes_failed as number) >= 1);
});

test('POST /collect runs every target now and returns the results', async () => {
  const res = await daemon.get('/collect', { method: 'POST', headers: auth });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { results: { target: string; probe: string; success: boolean; reason: string | null }[] };
  const targets = new Set(body.results.map((r) => r.target));
  assert.equal(targets.size, 4);
  const closed = body.results.find((r) => r.target === `127.0.0.1:${closedPort}`)!;
  assert.equal(closed.success, false);
  assert.equal(closed.reason, 'refused');
  const ok = body.results.find((r) => r.target === `${web.url}/`)! as unknown as Record<string, unknown>;
  assert.equal(ok.success, true);
  assert.equal(ok.status_code, 200);
  // Ad-hoc points are stored with mode=adhoc and the request time, never a slot time.
  const pts = await daemon.json<{ points: { tags: Record<string, string>; timestamp_ms: number }[] }>(`/api/points?measurement=http&since=1m`);
  assert.ok(pts.points.some((p) => p.tags.mode === 'adhoc'));
});

test('POST /collect with named targets and probes runs only those', async () => {
  const res = await daemon.get('/collect', {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ targets: [`127.0.0.1:${web.port}`], probes: ['tcp'] }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { results: { target: string; probe: string }[] };
  assert.deepEqual(body.results.map((r) => `${r.target}/${r.probe}`), [`127.0.0.1:${web.port}/tcp`]);
});

test('bad requests get their status code and a reason', async () => {
  const post = (body: string | undefined, headers: Record<string, string> = auth) => daemon.get('/collect', { method: 'POST', headers, body });
  let r = await post('{not json');
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as { error: string }).error, /not valid JSON/);
  r = await post(JSON.stringify({ targets: 'all' }));
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as { error: string }).error, /targets/);
  r = await post(JSON.stringify({ probes: ['smoke'] }));
  assert.equal(r.status, 400);
  r = await post(JSON.stringify({ everything: true }));
  assert.equal(r.status, 400);
  r = await post(JSON.stringify({ targets: ['evil.example'] }));
  assert.equal(r.status, 404, 'only configured targets: no open relay');
  assert.deepEqual(((await r.json()) as { unknown: string[] }).unknown, ['evil.example']);
  r = await post('x'.repeat(70 * 1024));
  assert.equal(r.status, 413);
  r = await post('{}', {});
  assert.equal(r.status, 401);
  r = await post('{}', { authorization: 'Bearer wrong' });
  assert.equal(r.status, 401);
  r = await daemon.get('/collect');
  assert.equal(r.status, 405);
  r = await daemon.get('/nope');
  assert.equal(r.status, 404);
  r = await daemon.get('/api/points?limit=0');
  assert.equal(r.status, 400);
  r = await daemon.get('/api/points?since=yesterday-ish');
  assert.equal(r.status, 400);
});

test('too many ad-hoc runs in flight: 429', async () => {
  const slow = daemon.get('/collect', { method: 'POST', headers: auth, body: JSON.stringify({ targets: [`${slowWeb.url}/slow`] }) });
  await waitFor(async () => (await (await daemon.get('/metrics')).text()).includes('telemetry_adhoc_runs_in_flight 1'), 'ad-hoc run in flight', 5000, 20);
  const second = await daemon.get('/collect', { method: 'POST', headers: auth, body: '{}' });
  assert.equal(second.status, 429);
  assert.ok(second.headers.get('retry-after'));
  assert.equal((await slow).status, 200);
});

test('/health, /health/ready and /metrics (valid for promtool check metrics)', async () => {
  const h = await daemon.get('/health');
  assert.equal(h.status, 200);
  const body = (await h.json()) as { status: string; components: Record<string, { status: string; last_round_age_s?: number }> };
  assert.equal(body.status, 'ok');
  assert.equal(body.components.scheduler!.status, 'ok');
  assert.equal(typeof body.components.scheduler!.last_round_age_s, 'number');
  assert.equal(body.components.store!.status, 'ok');
  assert.equal((await daemon.get('/health/ready')).status, 200);

  const text = await (await daemon.get('/metrics')).text();
  for (const name of [
    'telemetry_collection_duration_seconds',
    'telemetry_round_duration_seconds_bucket',
    'telemetry_probe_duration_seconds_bucket',
    'telemetry_probes_total',
    'telemetry_queue_depth',
    'telemetry_connection_pool_max',
    'process_resident_memory_bytes',
  ]) {
    assert.match(text, new RegExp(`^${name}`, 'm'), name);
  }
  assert.match(text, /^telemetry_probes_total\{probe="tcp",result="failure"\} \d+/m);
  const dir = mkdtempSync(join(tmpdir(), 'nt-prom-'));
  writeFileSync(join(dir, 'metrics.txt'), text);
  const out = execFileSync('sh', ['-c', `promtool check metrics < ${join(dir, 'metrics.txt')} 2>&1; echo rc=$?`]).toString();
  assert.match(out, /rc=0/, out);
});

test('logs: JSON with level names off a terminal; a failing target logged once, not every round; the round summary names it', async () => {
  const closed = `127.0.0.1:${closedPort}`;
  await waitFor(() => daemon.logs.filter((l) => l.msg === 'round complete').length >= 3, 'three rounds', 20_000, 200);
  assert.ok(daemon.logs.every((l) => l.raw !== undefined || typeof l.level === 'string'), 'every line is JSON with a level name');
  assert.ok(daemon.logs.some((l) => l.level === 'info'));
  const failing = daemon.logs.filter((l) => String(l.msg).startsWith('target failing') && l.target === closed);
  assert.equal(failing.length, 1, `one "target failing" line for ${closed} over several rounds`);
  assert.equal(failing[0]!.reason, 'refused');
  const summary = daemon.logs.filter((l) => l.msg === 'round complete').at(-1)!;
  assert.match(String(summary.failing), new RegExp(`${closed.replace(/\./g, '\\.')} tcp: refused`));
  const started = daemon.logs.find((l) => String(l.msg).startsWith('network-telemetry started'))!;
  assert.match(String(started.msg), /UI and API at http:\/\/127\.0\.0\.1:\d+\/, 4 target\(s\) from TARGET_FQDNS \(the default targets are off\), first probes in \d+ s/);
});

test('the instance tag of the collector measurement is unique per process (host name and port)', async () => {
  const pts = await waitFor(async () => {
    const r = await daemon.json<{ points: { tags: Record<string, string> }[] }>('/api/points?measurement=collector');
    return r.points.length ? r.points : null;
  }, 'a collector point', 15_000, 250);
  assert.match(pts[0]!.tags.instance!, new RegExp(`:${daemon.port}$`));
});

test('/api/status: the status strip knows the HTTP hosts with a breaker and lists the ones not closed', async () => {
  const s = await daemon.json<{ breakers: { host: string; state: string }[]; breaker_hosts: number; last_round: { duration_s: number } | null }>('/api/status');
  assert.ok(s.breaker_hosts >= 2, `the http targets' origins have breakers (${s.breaker_hosts})`);
  assert.ok(Array.isArray(s.breakers));
  assert.equal(typeof s.last_round?.duration_s, 'number');
});
