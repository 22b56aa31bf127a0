import { Redis } from '../../scripts/lib/services.js';
import type { Daemon } from './daemon.js';
import { waitFor } from './net.js';
import { startRecordingServer, type RecordingServer } from './recording-server.js';
import { SlotCoverage } from './slot-coverage.js';

/**
 * What every cluster test starts with: a real Redis, a recording server
 * whose paths are the http targets, the coverage counter for them, and the
 * daemon environment that puts them in cluster mode (add REDIS_URL, or a
 * proxy's, per daemon).
 */
export interface ClusterRig {
  redis: Redis;
  web: RecordingServer;
  targets: string[];
  slots: SlotCoverage;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export async function startClusterRig(o: { targets: number; intervalMs: number; heartbeatMs: number; ttlMs: number; name: string }): Promise<ClusterRig> {
  const redis = await Redis.start();
  const web = await startRecordingServer();
  const targets = Array.from({ length: o.targets }, (_, i) => `${web.url}/t/${i}`);
  return {
    redis,
    web,
    targets,
    slots: new SlotCoverage(targets, o.intervalMs, web.url),
    env: {
      TARGET_FQDNS: targets.join(','),
      COLLECTION_INTERVAL: String(o.intervalMs / 1000),
      REDIS_URL: redis.url,
      CLUSTER_SECRET: `${o.name}-secret-0123456789`,
      REDIS_KEY_PREFIX: `${o.name}-${process.pid}:`,
      CLUSTER_HEARTBEAT_INTERVAL: String(o.heartbeatMs / 1000),
      CLUSTER_MEMBER_TTL: String(o.ttlMs / 1000),
      // Cluster mode refuses to start without one shared token.
      COLLECT_TOKEN: `${o.name}-token`,
    },
    cleanup: async () => {
      await redis.cleanup();
      await web.close();
    },
  };
}

/** Wait until every daemon's view has `n` members and is fresh. */
export async function membersEverywhere(daemons: readonly Daemon[], n: number, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await Promise.all(daemons.map((d) => d.json('/api/cluster')))).every((v) => v.members.length === n && v.view_fresh !== false), `${n} members in every view`, timeoutMs, 100);
}
