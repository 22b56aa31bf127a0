import { execFileSync } from 'node:child_process';
import { Redis } from '../scripts/lib/services.js';
import { spawnDaemon, type Daemon } from '../scripts/lib/daemon-process.js';
import { startRecordingServer } from '../test/helpers/recording-server.js';
import { r3, sleep } from './lib/proc.js';

export interface ClusterRow {
  replicas: number;
  targets: number;
  intervalS: number;
  redisCommandsPerTargetPerInterval: number;
  /** Client round trips (script-internal commands not counted). */
  redisRoundTripsPerTargetPerInterval: number;
  commands: Record<string, number>;
  /** Longest silence of an orphaned target: its last probe before the kill to its first after. */
  failoverWorstGapS: number;
  /** Longest time from the kill to an orphaned target's first probe by a survivor (the bound: TTL + interval). */
  failoverWorstAfterKillS: number;
  memberTtlS: number;
}

function commandStats(port: number): Record<string, number> {
  const out: Record<string, number> = {};
  const text = execFileSync('redis-cli', ['-p', String(port), 'INFO', 'commandstats'], { encoding: 'utf8' });
  for (const m of text.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Redis commands per target per interval in steady state, and the gap a SIGKILLed replica leaves. */
export async function benchCluster(o: { replicas: number; targets: number; seconds: number }): Promise<ClusterRow> {
  const redis = await Redis.start();
  const web = await startRecordingServer();
  const interval = 2;
  const ttl = 5;
  const targets = Array.from({ length: o.targets }, (_, i) => `${web.url}/t/${i}`);
  const env = {
    TARGET_FQDNS: targets.join(','),
    COLLECTION_INTERVAL: String(interval),
    REDIS_URL: redis.url,
    COLLECT_TOKEN: 'bench-cluster-token',
    CLUSTER_SECRET: 'cluster-test-secret-0123',
    CLUSTER_HEARTBEAT_INTERVAL: '1',
    CLUSTER_MEMBER_TTL: String(ttl),
    LOG_LEVEL: 'warn',
    SOURCE_NAME: 'bench',
  };
  const daemons: Daemon[] = [];
  try {
    for (let i = 0; i < o.replicas; i++) daemons.push(await spawnDaemon(env));
    await sleep(3 * interval * 1000);
    const s0 = commandStats(redis.port);
    await sleep(o.seconds * 1000);
    const s1 = commandStats(redis.port);
    const delta: Record<string, number> = {};
    let total = 0;
    for (const [k, v] of Object.entries(s1)) {
      const d = v - (s0[k] ?? 0);
      if (d > 0 && k !== 'info') {
        delta[k] = d;
        total += d;
      }
    }
    // Failover: SIGKILL one replica and measure the longest silence of its targets.
    const victim = daemons.shift()!;
    const orphans = (await victim.json<{ owned_targets: string[] }>('/api/cluster')).owned_targets;
    const tK = Date.now();
    await victim.kill('SIGKILL');
    await sleep((ttl + 3 * interval) * 1000);
    const req = await web.requests();
    let worst = 0;
    let afterKill = 0;
    for (const t of orphans) {
      const times = req.filter((q) => `${web.url}${q.url}` === t && q.at > tK - 2 * interval * 1000).map((q) => q.at);
      for (let i = 1; i < times.length; i++) worst = Math.max(worst, times[i]! - times[i - 1]!);
      afterKill = Math.max(afterKill, (times.find((at) => at > tK) ?? Infinity) - tK);
    }
    await victim.cleanup();
    return {
      replicas: o.replicas,
      targets: o.targets,
      intervalS: interval,
      redisCommandsPerTargetPerInterval: r3(total / (o.targets * (o.seconds / interval))),
      // Commands run inside the heartbeat and claim scripts are not round trips (the
      // daemons here use no lookup cache, so get/set only run inside the claim script).
      redisRoundTripsPerTargetPerInterval: r3(
        Object.entries(delta)
          .filter(([k]) => !['zadd', 'zremrangebyscore', 'zrangebyscore', 'pexpire', 'zrange', 'time', 'hset', 'hget', 'hdel', 'exists', 'set', 'get'].includes(k))
          .reduce((a, [, v]) => a + v, 0) /
          (o.targets * (o.seconds / interval)),
      ),
      commands: delta,
      failoverWorstGapS: r3(worst / 1000),
      failoverWorstAfterKillS: r3(afterKill / 1000),
      memberTtlS: ttl,
    };
  } finally {
    for (const d of daemons) await d.cleanup();
    await redis.cleanup();
    await web.close();
  }
}
