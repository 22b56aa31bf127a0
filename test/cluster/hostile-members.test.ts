// npm test: in pairs (every (target, slot) probed at the target)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startClusterRig } from '../helpers/cluster-rig.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { startHttpServer, waitFor } from '../helpers/net.js';

/**
 * Someone who can write to Redis (but does not hold CLUSTER_SECRET) lists a
 * member of their own, as an attacker did against an earlier build:
 *
 *   ZADD <prefix>members 99999999999999 evil
 *   HSET <prefix>member-urls evil http://127.0.0.1:<attacker>/x
 *
 * plus a config hash and a made-up proof, and claim keys for the coming
 * slots of every target held by "evil". Two real replicas with
 * COLLECT_TOKEN set (which they used to send to every member) must give the
 * forged member no request (so no token), no target (every slot of every
 * target still probed) and no trace of its answers in /api/targets or
 * /api/status. A second replica with another secret is not believed either.
 *
 * Seen failing before the membership proofs: the attacker's server got
 * `GET /x/api/local/targets` with `authorization: Bearer <COLLECT_TOKEN>`
 * from both replicas and the targets hashed to "evil" went unprobed.
 */
const INTERVAL = 2000;
const TOKEN = 'hostile-members-collect-token';

test('a member forged in Redis gets no request, no token and no target; a replica with another secret is ignored', { timeout: 120_000 }, async (t) => {
  const rig = await startClusterRig({ targets: 20, intervalMs: INTERVAL, heartbeatMs: 500, ttlMs: 3000, name: 'hostile-members' });
  const seen: { url: string; auth: string }[] = [];
  const attacker = await startHttpServer((req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization ?? '' });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ targets: [{ name: 'INJECTED-BY-ATTACKER', status: 'ok' }], status: 'alive', note: 'INJECTED-BY-ATTACKER' }));
  });
  const daemons: Daemon[] = [];
  const redis = (...args: string[]) => execFileSync('redis-cli', ['-p', String(rig.redis.port), ...args], { encoding: 'utf8' }).trim();
  /** Many commands in one redis-cli run (one per line). */
  const redisBatch = (commands: string[][]) => execFileSync('redis-cli', ['-p', String(rig.redis.port)], { input: commands.map((c) => c.join(' ')).join('\n'), encoding: 'utf8' });
  const prefix = rig.env.REDIS_KEY_PREFIX!;
  try {
    // Two replicas, and one run with another secret: a member of nothing.
    const started = await Promise.all([
      startDaemon({ ...rig.env, COLLECT_TOKEN: TOKEN }),
      startDaemon({ ...rig.env, COLLECT_TOKEN: TOKEN }),
      startDaemon({ ...rig.env, CLUSTER_SECRET: 'some-other-secret-0123456789', TARGET_FQDNS: `${rig.web.url}/stranger` }),
    ]);
    daemons.push(...started);
    const [a, b, stranger] = started;
    const ids = await Promise.all([a, b].map(async (d) => (await d.json('/api/cluster')).member as string));
    await waitFor(async () => (await Promise.all([a, b].map((d) => d.json('/api/cluster')))).every((v) => ids.every((id) => v.members.includes(id))), 'a and b see each other', 20_000, 100);

    // The forgery, and claim keys held by "evil" for the next five slots of every target.
    const config = redis('HGET', `${prefix}member-targets`, (await a.json('/api/cluster')).member);
    const forgedAt = Date.now();
    redis('ZADD', `${prefix}members`, '99999999999999', 'evil');
    redis('HSET', `${prefix}member-urls`, 'evil', `${attacker.url}/x`);
    redis('HSET', `${prefix}member-targets`, 'evil', config);
    redis('HSET', `${prefix}member-proofs`, 'evil', `v1.${forgedAt}.bm90LWEtcmVhbC1wcm9vZg`);
    const redisNow = Number(redis('TIME').split('\n')[0]) * 1000;
    const claims: string[][] = [];
    for (const target of rig.targets) {
      for (let k = 1; k <= 5; k++) claims.push(['SET', `${prefix}claim:${target}:${(Math.floor(redisNow / INTERVAL) + k) * INTERVAL}`, 'evil', 'PX', '60000']);
    }
    redisBatch(claims);

    // Everything that asks other members: the overview, the status strip, the peers check.
    for (let i = 0; i < 3; i++) {
      for (const d of [a, b]) {
        const text = (path: string) =>
          d.get(path).then(
            (r) => r.text(),
            (err: Error) => assert.fail(`${path}: ${err.message} (${String((err.cause as Error | undefined)?.message)}); daemon exit ${d.proc.exitCode}: ${d.stderr().slice(-500)}`),
          );
        const [targets, status, peers] = await Promise.all([text('/api/targets?limit=1000'), text('/api/status'), text('/api/cluster/peers')]);
        for (const body of [targets, status, peers]) assert.ok(!body.includes('INJECTED-BY-ATTACKER'), `the attacker's answer reflected: ${body.slice(0, 300)}`);
      }
      await new Promise((r) => setTimeout(r, INTERVAL / 2));
    }
    // Two full slots after the forgery, while the claim keys are there.
    await waitFor(() => Date.now() > forgedAt + 3 * INTERVAL + 500, 'three intervals after the forgery', 10_000, 100);
    const to = Date.now();
    assert.deepEqual(seen, [], 'the forged member got requests');

    const views = await Promise.all([a, b].map((d) => d.json('/api/cluster')));
    for (const v of views) assert.deepEqual(v.members.sort(), [...ids].sort(), `view of ${v.member}: the forged member and the replica with another secret are not members`);
    const owned = views.reduce((n, v) => n + v.owned, 0);
    assert.equal(owned, rig.targets.length, 'the two real replicas own every target between them');
    const cov = rig.slots.count(await rig.web.requests(), forgedAt, to);
    const slots = rig.slots.slotsBetween(forgedAt + 100, to);
    assert.ok(slots.length >= 2, `${slots.length} slots`);
    assert.deepEqual(rig.slots.missing(cov, slots), [], 'every target probed in every slot despite the forged member and its claim keys');

    const metrics = await a.get('/metrics').then((r) => r.text());
    // Counted once per member id: the forged one, and the replica with another
    // secret once a's view has read its record (it may not have yet).
    assert.match(metrics, /telemetry_cluster_members_rejected_total\{reason="bad_signature"\} [12]\n/);
    assert.match(metrics, /telemetry_slot_claims_total\{result="foreign"\} [1-9]/, 'claims held by the forged member were overruled');
    assert.ok(a.logs.some((l) => String(l.msg).startsWith('ignoring a cluster member') && l.member === 'evil'), 'the forgery is logged');
    const strangerId = (await stranger.json('/api/cluster')).member as string;
    await waitFor(() => a.logs.some((l) => String(l.msg).startsWith('ignoring a cluster member') && l.member === strangerId), 'the replica with another secret is ignored', 5000, 100);
    t.diagnostic(`forged member: 0 requests; ${slots.length} slots x ${rig.targets.length} targets all probed; ${(metrics.match(/telemetry_slot_claims_total\{result="foreign"\} (\d+)/) ?? [])[1]} foreign claims overruled on one replica`);
  } finally {
    await Promise.all(daemons.map((d) => d.cleanup()));
    await attacker.close();
    await rig.cleanup();
  }
});
