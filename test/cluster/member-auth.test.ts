import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterCredentials, memberUrlProblem } from '../../src/cluster/member-auth.js';
import { loadConfig, ConfigError } from '../../src/config/load-config.js';
import { ApiServer, DEFAULT_TIMEOUTS } from '../../src/server/http-server.js';
import { Deadline } from '../../src/lifecycle/component.js';
import { silentLogger } from '../../src/logging/logger.js';
import { TelemetryMetrics } from '../../src/metrics/telemetry-metrics.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';

/**
 * Membership proofs and the member-to-member read token, without Redis (the
 * forged-member attack against real replicas is hostile-members.test.ts).
 */
const NOW = 1_800_000_000_000;
const TTL = 5000;
const rec = { id: 'vm-1-abc', url: 'http://10.0.0.7:8080', config: '0123456789abcdef' };

test('a proof holds for exactly its record, its secret and one TTL around Redis time', () => {
  const c = new ClusterCredentials('s3cret-s3cret-s3cret');
  const proof = c.prove(rec, NOW);
  assert.equal(c.check(rec, proof, NOW + 1000, TTL), 'ok');
  assert.equal(c.check(rec, '', NOW, TTL), 'missing');
  assert.equal(c.check(rec, 'v1.123.garbage', NOW, TTL), 'bad_signature');
  assert.equal(c.check({ ...rec, url: 'http://127.0.0.1:29999/x' }, proof, NOW, TTL), 'bad_signature', 'another URL under the same proof');
  assert.equal(c.check({ ...rec, id: 'evil' }, proof, NOW, TTL), 'bad_signature', 'another id');
  assert.equal(c.check({ ...rec, config: 'ffffffffffffffff' }, proof, NOW, TTL), 'bad_signature', 'another target list');
  assert.equal(new ClusterCredentials('another-secret-here').check(rec, proof, NOW, TTL), 'bad_signature', 'another secret');
  assert.equal(c.check(rec, proof, NOW + TTL + 1, TTL), 'stale', 'a replayed record of a member gone for a TTL');
  assert.equal(c.check(rec, proof, NOW - TTL - 1, TTL), 'future');
  // Field boundaries are part of what is signed: moving text between fields breaks the proof.
  const p2 = c.prove({ id: 'a', url: 'b:c', config: 'd' }, NOW);
  assert.equal(c.check({ id: 'a:b', url: 'c', config: 'd' }, p2, NOW, TTL), 'bad_signature');
});

test('credentials: from CLUSTER_SECRET, else derived from COLLECT_TOKEN; the read token is neither of them', () => {
  assert.equal(ClusterCredentials.fromEnv({}), undefined);
  const fromToken = ClusterCredentials.fromEnv({ COLLECT_TOKEN: 'collect-token-0123456789' })!;
  const again = ClusterCredentials.fromEnv({ COLLECT_TOKEN: 'collect-token-0123456789' })!;
  assert.equal(fromToken.readToken, again.readToken, 'replicas sharing COLLECT_TOKEN share the derived credentials');
  assert.ok(!fromToken.readToken.includes('collect-token'));
  assert.equal(again.check(rec, fromToken.prove(rec, NOW), NOW, TTL), 'ok');
  const fromSecret = ClusterCredentials.fromEnv({ CLUSTER_SECRET: 'cluster-secret-0123456789', COLLECT_TOKEN: 'collect-token-0123456789' })!;
  assert.notEqual(fromSecret.readToken, fromToken.readToken, 'CLUSTER_SECRET wins over COLLECT_TOKEN');
  assert.equal(ClusterCredentials.fromEnv({ CLUSTER_SECRET: 'cluster-secret-0123456789', CLUSTER_READ_TOKEN: 'read-token-for-sites-0123' })!.readToken, 'read-token-for-sites-0123');
});

test('member URLs: an http(s) API root of an allowed port; https clusters take no plain http', () => {
  const open = { selfUrl: 'http://10.0.0.1:8080', ports: [] };
  assert.equal(memberUrlProblem('http://10.0.0.7:8080', open), undefined);
  assert.equal(memberUrlProblem('https://10.0.0.7:8443/', open), undefined);
  assert.match(memberUrlProblem('http://127.0.0.1:29999/x', open)!, /path/);
  assert.match(memberUrlProblem('http://u:p@10.0.0.7:8080', open)!, /user or password/);
  assert.match(memberUrlProblem('http://10.0.0.7:8080/?a=1', open)!, /query/);
  assert.match(memberUrlProblem('file:///etc/passwd', open)!, /scheme file/);
  assert.match(memberUrlProblem('not a url', open)!, /not a URL/);
  assert.match(memberUrlProblem('http://10.0.0.7:8080', { selfUrl: 'https://10.0.0.1:8443', ports: [] })!, /plain http/);
  assert.match(memberUrlProblem('http://10.0.0.7:29999', { ...open, ports: [8080] })!, /port 29999 is not in CLUSTER_PEER_PORTS \(8080\)/);
  assert.equal(memberUrlProblem('http://10.0.0.7', { ...open, ports: [80] }), undefined, 'the scheme\'s default port counts');
});

test('cluster mode without the shared COLLECT_TOKEN is refused at start, in one line; a short CLUSTER_SECRET and an advertise URL with a path too', () => {
  const base = { TARGET_FQDNS: 'x.example', REDIS_URL: 'redis://127.0.0.1:6379', DATA_DIR: '/tmp' };
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };
  const token = { COLLECT_TOKEN: 'collect-token-0123456789' };
  assert.deepEqual(problems({ ...base, ...token }), []);
  assert.deepEqual(problems({ ...base, ...token, CLUSTER_SECRET: 'cluster-secret-0123456789' }), []);
  // Cluster mode requires the one COLLECT_TOKEN of the deployment (a token per
  // replica fails behind a load balancer); it is the membership secret too
  // unless CLUSTER_SECRET is set, so a secret alone is not enough.
  const none = problems(base);
  assert.equal(none.length, 1);
  assert.match(none[0]!, /^COLLECT_TOKEN: required in cluster mode/);
  assert.match(problems({ ...base, CLUSTER_SECRET: 'cluster-secret-0123456789' }).join('\n'), /^COLLECT_TOKEN: required in cluster mode/);
  assert.match(problems({ ...base, ...token, CLUSTER_SECRET: 'short' })[0]!, /^CLUSTER_SECRET: must be at least 16 characters/);
  assert.match(problems({ ...base, ...token, CLUSTER_SECRET: 'cluster-secret-0123456789', CLUSTER_ADVERTISE_URL: 'http://10.0.0.7:8080/x' })[0]!, /^CLUSTER_ADVERTISE_URL: must be the API root/);
  assert.match(problems({ ...base, ...token, CLUSTER_SECRET: 'cluster-secret-0123456789', CLUSTER_PEER_PORTS: '80a' })[0]!, /^CLUSTER_PEER_PORTS: must be a comma-separated list of ports/);
});

test('the API takes the read token for reads only, never for POST /collect or /-/reload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nt-readtoken-'));
  const web = join(dir, 'web.yml');
  writeFileSync(web, `basic_auth_users:\n  alice: ${await bcrypt.hash('pw', 4)}\n`);
  const ok = () => ({ json: { ok: true } });
  const server = new ApiServer(
    [
      { method: 'GET', path: '/api/x', access: 'read', handler: ok },
      { method: 'POST', path: '/collect', access: 'write', handler: ok },
    ],
    { port: 0, host: '127.0.0.1', token: 'collect-token-0123456789', readToken: 'read-token-0123456789', dataDir: dir, webConfigFile: web, ...DEFAULT_TIMEOUTS, maxConnections: 10 },
    new TelemetryMetrics(),
    silentLogger(),
  );
  await server.start();
  try {
    const call = async (method: string, path: string, auth?: string) => (await fetch(`http://127.0.0.1:${server.port}${path}`, { method, headers: auth ? { authorization: auth } : {} })).status;
    assert.equal(await call('GET', '/api/x'), 401);
    assert.equal(await call('GET', '/api/x', 'Bearer read-token-0123456789'), 200, 'members read with the read token');
    assert.equal(await call('POST', '/collect', 'Bearer read-token-0123456789'), 401, 'the read token cannot probe or reload');
    assert.equal(await call('GET', '/api/x', 'Bearer collect-token-0123456789'), 200);
    assert.equal(await call('POST', '/collect', 'Bearer collect-token-0123456789'), 200);
  } finally {
    await server.stop(Deadline.in(1000));
    rmSync(dir, { recursive: true, force: true });
  }
});
