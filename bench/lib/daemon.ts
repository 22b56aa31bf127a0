import { join } from 'node:path';
import { spawnDaemon, type Daemon } from '../../scripts/lib/daemon-process.js';
import { REPO } from '../../scripts/lib/services.js';

/** The daemon as shipped (node dist/cli.js, built by bench/run.ts), not through tsx. */
export function benchDaemon(env: Record<string, string>): Promise<Daemon> {
  // Two minutes to come up: the 2-core machine is shared, and a large targets file takes a while under load.
  return spawnDaemon({ LOG_LEVEL: 'warn', SOURCE_NAME: 'bench', ...env }, { entry: [process.execPath, join(REPO, 'dist/cli.js')], liveTimeoutMs: 120_000 });
}
