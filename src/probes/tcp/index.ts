import { z } from 'zod';
import { threshold } from '../../env/zod-env.js';
import { SpecError, type ProbeModule } from '../module.js';
import { timedProbe } from '../timing/timed-probe.js';
import { timingSlackEnv } from '../timing/timing-slack.js';
import { siblingModule } from '../../util/module-worker.js';
import { TCP, TCP_TIMED } from './measurements.js';
import { tcpProbe, type TcpSpec } from './tcp-probe.js';
import { TCP_FIGURES, TCP_METRICS, TCP_PANEL, TCP_ROLLUP } from './view.js';

/** Environment variables of the tcp probe (docs/configuration.md). */
const env = {
  ...timingSlackEnv,
  /** Connect time (ms) at or above which a target is degraded; none by default. */
  THRESHOLD_TCP_MS: threshold(),
};

/** TCP connect time — see README.md in this folder. */
export const tcpModule = {
  kind: 'tcp',
  describe: 'TCP connect time to a port',
  env,
  block: z.strictObject({ port: z.number().int().min(1).max(65535) }),
  defaultFor: [],
  measurements: { tcp: TCP },
  rollups: [TCP_ROLLUP],
  figures: TCP_FIGURES,
  panel: TCP_PANEL,
  targetMetrics: TCP_METRICS,
  spec(raw): TcpSpec {
    const b = raw as { port: number } | undefined;
    // No default port: probing 443 when the user meant their database is a silent lie.
    if (!b) throw new SpecError('tcp: needs a port (tcp: { port: 5432 } in the targets file, or host:port in TARGET_FQDNS)');
    return { port: b.port };
  },
  summary: (s: TcpSpec) => `connect to port ${s.port}`,
  timed: TCP_TIMED,
  // On the timing thread in the daemon (its own event loop: see timing/timing-thread.ts).
  timingThread: { module: siblingModule(import.meta.url, './tcp-probe'), export: 'tcpProbe' },
  create: (deps) => timedProbe('tcp', TCP_TIMED, tcpProbe, deps),
} satisfies ProbeModule<TcpSpec, typeof env>;

export type { TcpSpec };
