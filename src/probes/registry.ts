import { dnsModule } from './dns/index.js';
import { httpModule } from './http/index.js';
import { icmpModule } from './icmp/index.js';
import type { ProbeDeps, ProbeModule } from './module.js';
import { tcpModule } from './tcp/index.js';
import { traceModule } from './trace/index.js';
import type { RollupSpec, SparklineSpec } from '../samples/rollup.js';
import type { Probe } from './types.js';
import type { FigureSpec } from './view.js';

/**
 * Every probe kind, in the order a target runs them: the whole list in one
 * literal. Adding a probe = a folder exporting a ProbeModule + a line here.
 */
export const PROBE_MODULES = [icmpModule, traceModule, httpModule, tcpModule, dnsModule] as const;

export type ProbeKind = (typeof PROBE_MODULES)[number]['kind'];
export const PROBE_KINDS: readonly ProbeKind[] = PROBE_MODULES.map((m) => m.kind);

/** Kind -> probe function, built once with the app's shared parts. */
export type ProbeRegistry = ReadonlyMap<string, Probe>;

export function createProbes(deps: ProbeDeps, modules: readonly ProbeModule[] = PROBE_MODULES as readonly ProbeModule[]): ProbeRegistry {
  return new Map(modules.map((m) => [m.kind, m.create(deps) as Probe]));
}

export function moduleOf(kind: string, modules: readonly ProbeModule[] = PROBE_MODULES as readonly ProbeModule[]): ProbeModule | undefined {
  return modules.find((m) => m.kind === kind);
}

/** Everything the probes declare of their read side, gathered (view.ts, samples/rollup.ts). */
export function rollupsOf(modules: readonly ProbeModule[] = PROBE_MODULES as readonly ProbeModule[]): RollupSpec[] {
  return modules.flatMap((m) => m.rollups ?? []);
}

export function figuresOf(modules: readonly ProbeModule[] = PROBE_MODULES as readonly ProbeModule[]): FigureSpec[] {
  return modules.flatMap((m) => m.figures ?? []);
}

/** The overview's sparkline: the first probe that provides one. */
export function sparklineOf(modules: readonly ProbeModule[] = PROBE_MODULES as readonly ProbeModule[]): SparklineSpec | undefined {
  return modules.find((m) => m.sparkline)?.sparkline;
}
