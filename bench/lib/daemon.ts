import { join } from 'node:path';
import { spawnDaemon, type Daemon } from '../../scripts/lib/daemon-process.js';
import { REPO } from '../../scripts/lib/services.js';

/** The daemon as shipped (node dist/cli.js, built by bench/run.ts), not through tsx. */
export function benchDaemon(env: Record<string, string>): Promise<Daemon> {
  return spawnDaemon({ LOG_LEVEL: 'warn', SOURCE_NAME: 'bench', ...env }, { entry: [process.execPath, join(REPO, 'dist/cli.js')] });
}
