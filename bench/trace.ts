import { spawn } from 'node:child_process';
import { TelemetryMetrics } from '../src/metrics/telemetry-metrics.js';
import { silentLogger } from '../src/logging/logger.js';
import { ProcessRunner } from '../src/probes/tools/process-runner.js';
import { createTraceProbe, mtrArgs } from '../src/probes/trace/trace-probe.js';
import { RouteMemory } from '../src/probes/trace/route-memory.js';
import type { TraceSpec } from '../src/probes/trace/index.js';
import { loadConfig } from '../src/config/load-config.js';
import { deadlineSignal } from '../src/util/abort.js';
import { cpu, r3 } from './lib/proc.js';

export interface TraceRow {
  tool: string;
  traces: number;
  cpuPerTraceMs: number;
  wallPerTraceMs: number;
}

/**
 * Cost of one trace: running mtr directly vs through our probe (process
 * runner, raw-output parser, route summary and change detection, points).
 * mtr's own CPU is in both (children of this process); the difference is ours.
 */
export async function benchTrace(o: { traces: number; dir: string }): Promise<TraceRow[]> {
  const [target] = loadConfig({ TARGET_FQDNS: '127.0.0.1', DEFAULT_PROBES: 'trace', PROBE_TIMEOUT: '10', TRACE_PACKET_INTERVAL: '0.2', TRACE_GRACE: '0.3' }).targets;
  const spec = target!.specs.trace as TraceSpec;
  const args = mtrArgs(spec, '127.0.0.1', 4);
  const direct = async () => {
    await new Promise<void>((resolve) => spawn('mtr', args, { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, LANG: 'C' } }).on('exit', () => resolve()));
  };
  const runner = new ProcessRunner(4, new TelemetryMetrics(false));
  const memory = new RouteMemory(o.dir, undefined, 'bench-state.db');
  await memory.start();
  const probe = createTraceProbe(runner, memory, { mtrPath: 'mtr' }, silentLogger());
  const ours = async () => {
    const { signal, dispose } = deadlineSignal(10_000);
    await probe({ target: target!, timeMs: Date.now(), tags: { target: target!.name, source: 'bench' }, signal }, spec);
    dispose();
  };
  const measure = async (name: string, fn: () => Promise<void>): Promise<TraceRow> => {
    await fn(); // warm up
    const c0 = cpu('self');
    const t0 = Date.now();
    for (let i = 0; i < o.traces; i++) await fn();
    const c1 = cpu('self');
    return { tool: name, traces: o.traces, cpuPerTraceMs: r3(((c1.total - c0.total) / o.traces) * 1000), wallPerTraceMs: Math.round((Date.now() - t0) / o.traces) };
  };
  return [await measure(`mtr ${args.join(' ')}`, direct), await measure('network-telemetry trace probe (same mtr run + parse + route state + points)', ours)];
}
