// npm test: alone (fan-out within its 400 ms deadline)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Member } from '../../src/cluster/coordinator.js';
import { PeerClient } from '../../src/cluster/peer-client.js';
import type { HttpClient } from '../../src/http-client/http-client.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import { newClient } from '../helpers/fixtures.js';
import { freePort, startHttpServer, startSilentServer, type TestServer } from '../helpers/net.js';

/**
 * PeerClient against real HTTP servers on loopback standing for members
 * (the member list is a literal here; test/cluster/peers.test.ts runs two
 * real daemons). Every failure is an `unavailable` answer, never a throw.
 */
let ok: TestServer;
let broken: TestServer;
let silent: Awaited<ReturnType<typeof startSilentServer>>;
let http: HttpClient;
let members: Member[];
let metrics: TelemetryMetrics;
let peers: PeerClient;

before(async () => {
  ok = await startHttpServer((req, res) => {
    if (req.url === '/big') return res.end('x'.repeat(5000));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, auth: req.headers.authorization ?? null }));
  });
  broken = await startHttpServer((_req, res) => {
    res.statusCode = 500;
    res.end('boom');
  });
  silent = await startSilentServer();
  http = newClient({ breaker: { failureThreshold: 3, successThreshold: 1, recoveryTimeoutMs: 60_000, halfOpenMaxCalls: 1, idleEvictMs: 600_000, maxBreakers: 100 } });
  members = [
    { id: 'me', url: 'http://127.0.0.1:1', self: true },
    { id: 'ok', url: ok.url, self: false },
    { id: 'broken', url: broken.url, self: false },
    { id: 'silent', url: `http://127.0.0.1:${silent.port}`, self: false },
    { id: 'gone', url: `http://127.0.0.1:${await freePort()}`, self: false },
    { id: 'old', url: '', self: false },
  ];
  metrics = new TelemetryMetrics();
  peers = new PeerClient({ members: () => members }, http, metrics, { readToken: 'peer', maxBodyBytes: 1000 });
});

after(async () => {
  await http.close();
  await Promise.all([ok.close(), broken.close(), silent.close()]);
});

test('fanOut asks every other member at once and answers for each, whatever each did, within the deadline', async () => {
  const t0 = Date.now();
  const answers = await peers.fanOut('/api/x?y=1', Deadline.in(400));
  const took = Date.now() - t0;
  const by = Object.fromEntries(answers.map((a) => [a.member, a]));
  assert.deepEqual(Object.keys(by).sort(), ['broken', 'gone', 'ok', 'old', 'silent'], 'everyone but me');
  assert.equal(by.ok!.status, 'ok');
  assert.deepEqual(by.ok!.status === 'ok' && by.ok!.body, { path: '/api/x?y=1', auth: 'Bearer peer' });
  assert.deepEqual(by.broken, { status: 'unavailable', member: 'broken', url: broken.url, reason: 'http_status', detail: 'HTTP 500', statusCode: 500 });
  assert.equal(by.silent!.status === 'unavailable' && by.silent!.reason, 'timeout');
  assert.equal(by.gone!.status === 'unavailable' && by.gone!.reason, 'unreachable');
  assert.equal(by.old!.status === 'unavailable' && by.old!.reason, 'no_url');
  assert.ok(took < 1500, `fan-out took ${took} ms with a 400 ms deadline`);
});

test('a member that keeps failing gets an open breaker: then it is not even asked', async () => {
  const before = broken.requests.length;
  const reasons: string[] = [];
  for (let i = 0; i < 6; i++) {
    const a = await peers.get('broken', '/x', Deadline.in(1000));
    reasons.push(a.status === 'unavailable' ? a.reason : 'ok');
  }
  // One failure came from the fan-out test above: two more open the breaker (threshold 3).
  assert.deepEqual(reasons, ['http_status', 'http_status', 'circuit_open', 'circuit_open', 'circuit_open', 'circuit_open']);
  assert.equal(broken.requests.length - before, 2, 'an open breaker sends nothing');
  assert.equal((await peers.get('ok', '/y', Deadline.in(1000))).status, 'ok', 'other members are not affected');
});

test('unknown members, paths that would leave the member, answers over the size bound and passed deadlines are refused', async () => {
  const reason = async (p: Promise<unknown>) => ((await p) as { reason?: string }).reason;
  assert.equal(await reason(peers.get('nobody', '/x', Deadline.in(1000))), 'unknown_member');
  assert.equal(await reason(peers.get('ok', '//evil.example/x', Deadline.in(1000))), undefined, '//x stays a path on the member');
  assert.equal(await reason(peers.get('ok', 'x', Deadline.in(1000))), 'bad_path');
  assert.equal(await reason(peers.get('ok', '/big', Deadline.in(1000))), 'too_large');
  assert.equal(await reason(peers.get('ok', '/x', Deadline.in(0))), 'timeout');
  // A member URL this replica does not call: refused before any request reaches it.
  const guarded = new PeerClient({ members: () => [{ id: 'pathy', url: `${ok.url}/x`, self: false }, { id: 'port', url: ok.url, self: false }] }, http, metrics, { urlPolicy: { selfUrl: 'http://127.0.0.1:1', ports: [1] } });
  const before = ok.requests.length;
  assert.equal(await reason(guarded.get('pathy', '/x', Deadline.in(1000))), 'url_refused');
  assert.match(((await guarded.get('port', '/x', Deadline.in(1000))) as { detail: string }).detail, /port \d+ is not in CLUSTER_PEER_PORTS \(1\)/);
  assert.equal(ok.requests.length, before, 'no request sent');
  const counted = Object.fromEntries((await metrics.peerRequests.get()).values.map((v) => [v.labels.result, v.value]));
  for (const r of ['ok', 'http_status', 'circuit_open', 'timeout', 'unreachable', 'no_url', 'unknown_member', 'bad_path', 'too_large', 'url_refused']) assert.ok(counted[r]! > 0, `${r} counted`);
});
