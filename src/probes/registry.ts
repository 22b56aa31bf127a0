import type { Logger } from 'pino';
import type { HttpClient } from '../http-client/http-client.js';
import { dnsProbe } from './dns/dns-probe.js';
import { createHttpProbe } from './http/http-probe.js';
import { createIcmpProbe, FpingBatcher, type IcmpOptions } from './icmp/icmp-probe.js';
import type { ProcessRunner } from './tools/process-runner.js';
import { tcpProbe } from './tcp/tcp-probe.js';
import { createTraceProbe, type TraceOptions } from './trace/trace-probe.js';
import type { RouteMemory } from './trace/route-memory.js';
import type { ProbeRegistry } from './types.js';

export interface ProbeDeps {
  http: HttpClient;
  /** fping processes. */
  pingRunner: ProcessRunner;
  /** mtr processes (WORKER_POOL_SIZE). */
  traceRunner: ProcessRunner;
  routeMemory: RouteMemory;
  icmp: IcmpOptions;
  trace: TraceOptions;
  log: Logger;
}

/** Probe kind -> implementation: the whole list, in one literal. */
export function createProbeRegistry(d: ProbeDeps): ProbeRegistry {
  return {
    icmp: createIcmpProbe(new FpingBatcher(d.pingRunner, d.icmp, d.log)),
    trace: createTraceProbe(d.traceRunner, d.routeMemory, d.trace, d.log),
    http: createHttpProbe(d.http),
    tcp: tcpProbe,
    dns: dnsProbe,
  };
}
