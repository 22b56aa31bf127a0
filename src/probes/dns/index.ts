import { isIP } from 'node:net';
import { z } from 'zod';
import { threshold } from '../../env/zod-env.js';
import { SpecError, type ProbeModule } from '../module.js';
import { dnsProbe, type DnsSpec } from './dns-probe.js';
import { DNS_RECORD_TYPES, type DnsRecordType } from './dns-wire.js';
import { timedProbe } from '../timing/timed-probe.js';
import { timingSlackEnv } from '../timing/timing-slack.js';
import { siblingModule } from '../../util/module-worker.js';
import { DNS, DNS_TIMED } from './measurements.js';
import { DNS_FIGURES, DNS_METRICS, DNS_PANEL, DNS_ROLLUP } from './view.js';

export function isValidDnsServer(s: string): boolean {
  if (isIP(s)) return true;
  const m = /^(?:\[([0-9a-fA-F:]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(s);
  if (!m) return false;
  const p = Number(m[3]);
  return isIP(m[1] ?? m[2] ?? '') !== 0 && p >= 1 && p <= 65535;
}

/** Environment variables of the dns probe (docs/configuration.md). */
const env = {
  ...timingSlackEnv,
  /** Query time (ms) at or above which a target is degraded; none by default. */
  THRESHOLD_DNS_MS: threshold(),
};

/** One DNS question with our own wire client — see README.md in this folder. */
export const dnsModule = {
  kind: 'dns',
  describe: 'DNS query time and answer to a nameserver (default: the system resolver)',
  env,
  block: z.strictObject({
    server: z.string().min(1).refine(isValidDnsServer, 'is not ip, ip:port or [ipv6]:port').optional(),
    record: z.enum(DNS_RECORD_TYPES).default('A'),
    name: z.string().min(1).optional(),
  }),
  defaultFor: ['name'],
  measurements: { dns: DNS },
  rollups: [DNS_ROLLUP],
  figures: DNS_FIGURES,
  panel: DNS_PANEL,
  targetMetrics: DNS_METRICS,
  spec(raw, ctx): DnsSpec {
    const b = raw as { server?: string; record: DnsRecordType; name?: string } | undefined;
    const spec: DnsSpec = {
      server: b?.server ?? null,
      record: b?.record ?? (isIP(ctx.host) === 6 ? 'AAAA' : 'A'),
      name: b?.name ?? ctx.host,
    };
    if (isIP(spec.name) && spec.record !== 'PTR') throw new SpecError('dns: a query for an IP address needs dns.name (a name to resolve) or record: PTR');
    return spec;
  },
  summary: (s: DnsSpec) => `${s.record} ${s.name} via ${s.server ?? 'the system resolver'}`,
  timed: DNS_TIMED,
  // On the timing thread in the daemon (its own event loop: see timing/timing-thread.ts).
  timingThread: { module: siblingModule(import.meta.url, './dns-probe'), export: 'dnsProbe' },
  create: (deps) => timedProbe('dns', DNS_TIMED, dnsProbe, deps),
} satisfies ProbeModule<DnsSpec, typeof env>;

export { DNS_RECORD_TYPES, type DnsRecordType, type DnsSpec };
