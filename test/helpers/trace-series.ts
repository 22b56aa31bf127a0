import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deadline } from '../../src/lifecycle/component.js';
import { silentLogger } from '../../src/logging/logger.js';
import { ProcessRunner } from '../../src/probes/tools/process-runner.js';
import { RouteMemory } from '../../src/probes/trace/route-memory.js';
import { createTraceProbe, type TraceSpec } from '../../src/probes/trace/trace-probe.js';
import type { AnySample, Sample } from '../../src/samples/sample.js';

export interface TracedSlot {
  route: Sample<'route'>['fields'];
  hops: Sample<'hop'>['fields'][];
  samples: AnySample[];
  /** Slot time given to the probe. */
  timeMs: number;
  /** mtr's own output for this trace. */
  raw: string;
}

export interface TraceSeriesOptions {
  protocol?: TraceSpec['protocol'];
  cycles?: number;
  /** Slot spacing the probe is told (the traces themselves run back to back). */
  intervalS?: number;
  confirm?: number;
  /** Runs before trace i starts, or (with `during`) that many ms into it. */
  before?: (i: number) => void;
  during?: (i: number) => { atMs: number; run: () => void } | undefined;
}

/**
 * `n` traces of `host` from namespace `ns`, back to back, through the real
 * trace probe and its route memory (a fresh DATA_DIR), with short mtr
 * budgets (-i 0.1 -G 0.3; root only). Slot times are `intervalS` apart as
 * if the daemon had run them, so the route logic sees a normal cadence.
 */
export async function traceSeries(ns: string, host: string, n: number, o: TraceSeriesOptions = {}): Promise<TracedSlot[]> {
  const dir = mkdtempSync(join(tmpdir(), 'nt-trace-series-'));
  // mtr inside the namespace, its output kept for the test: the probe runs the tool it is given.
  const mtr = join(dir, 'mtr');
  const last = join(dir, 'last-output');
  writeFileSync(mtr, `#!/bin/sh\nip netns exec ${ns} mtr "$@" > ${last}\nrc=$?\ncat ${last}\nexit $rc\n`);
  chmodSync(mtr, 0o755);
  const memory = new RouteMemory(dir);
  await memory.start();
  const intervalS = o.intervalS ?? 10;
  const probe = createTraceProbe(new ProcessRunner(1), memory, { mtrPath: mtr, confirm: o.confirm }, silentLogger());
  const spec: TraceSpec = { protocol: o.protocol ?? 'icmp', port: null, maxHops: 8, cycles: o.cycles ?? 3, packetIntervalS: 0.1, graceS: 0.3, intervalS };
  const target = { name: 't', host, family: 4 as const, intervalS, timeoutS: 15 };
  const out: TracedSlot[] = [];
  const t0 = 1_800_000_000_000;
  try {
    for (let i = 0; i < n; i++) {
      o.before?.(i);
      const mid = o.during?.(i);
      const timer = mid ? setTimeout(mid.run, mid.atMs) : undefined;
      const timeMs = t0 + i * intervalS * 1000;
      const r = await probe({ target, timeMs, tags: { target: 't', source: 'test' }, signal: AbortSignal.timeout(20_000) }, spec);
      if (timer) clearTimeout(timer);
      const route = r.samples.find((s) => s.measurement === 'route') as Sample<'route'>;
      if (typeof route.fields.route_hash !== 'string') throw new Error(`trace ${i} of ${host} in ${ns} did not run: ${r.reason} ${r.detail ?? ''}`);
      const hops = r.samples.filter((s): s is Sample<'hop'> => s.measurement === 'hop').map((s) => s.fields);
      out.push({ route: route.fields, hops, samples: r.samples, timeMs, raw: readFileSync(last, 'utf8') });
    }
  } finally {
    await memory.stop(Deadline.in(1000));
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
