import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDaemon } from './lib/daemon.js';
import { mb, peakRss, r3, rss, sleep } from './lib/proc.js';
import { startTargetServer } from './lib/target-server.js';

export interface ScaleRow {
  targets: number;
  /** icmp + http, plus a trace every 10 intervals when true. */
  trace: boolean;
  intervalS: number;
  rounds: number;
  roundDurationMaxS: number;
  overruns: number;
  probesFailed: number;
  /** Resident memory at the end of the measured rounds. */
  rssMb: number;
  /** High-water mark (start-up included: parsing the targets file). */
  peakRssMb: number;
  rssPer1000Mb: number;
  eventLoopLagP99Ms: number;
}

/** The daemon settings of the scale runs (also used by profile-scale.ts). */
export const SCALE_ENV = {
  BATCH_SIZE: '100',
  MAX_CONCURRENT_TARGETS: '2000',
  MAX_CONCURRENT_OPERATIONS: '2000',
  WORKER_POOL_SIZE: '20',
  TRACE_PACKET_INTERVAL: '0.2',
  TRACE_GRACE: '0.3',
  LOG_LEVEL: 'info',
};

/** N loopback targets (127.5.x.y) with icmp + http (+ a trace every 10 intervals). */
export function writeScaleTargets(file: string, o: { targets: number; intervalS: number; httpUrl: string; trace: boolean }): void {
  const lines = [`defaults: { interval: ${o.intervalS}, timeout: ${Math.min(10, o.intervalS * 0.8)} }`, 'targets:'];
  for (let i = 0; i < o.targets; i++) {
    const host = `127.5.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const trace = o.trace ? `, trace: { interval: ${o.intervalS * 10} }` : '';
    lines.push(`  - { name: t${i}, host: "${host}", probes: [icmp, http${o.trace ? ', trace' : ''}], http: { url: "${o.httpUrl}/t/${i}" }${trace} }`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/**
 * N targets at a 60 s interval, each with icmp + http (and a trace every
 * 10 minutes, spread over the slots): does a round finish within half the
 * interval? RSS and event-loop lag at that load.
 */
export async function benchScale(o: { sizes: { targets: number; trace: boolean }[]; rounds: number; intervalS?: number; dir: string }): Promise<ScaleRow[]> {
  const interval = o.intervalS ?? 60;
  const server = await startTargetServer(0);
  const rows: ScaleRow[] = [];
  try {
    for (const { targets: n, trace } of o.sizes) {
      const file = join(o.dir, `targets-${n}.yaml`);
      writeScaleTargets(file, { targets: n, intervalS: interval, httpUrl: server.url, trace });
      const d = await benchDaemon({ TARGETS_FILE: file, ...SCALE_ENV });
      try {
        const rounds = () => d.logs.filter((l) => l.msg === 'round complete');
        let lagMax = 0;
        const lag = setInterval(() => {
          void d
            .get('/metrics')
            .then((r) => r.text())
            .then((t) => {
              const m = /^nodejs_eventloop_lag_p99_seconds ([\d.e+-]+)$/m.exec(t);
              if (m) lagMax = Math.max(lagMax, Number(m[1]));
            })
            .catch(() => {});
        }, 5000);
        // The first slot is partial (targets whose offset had passed start next slot): skip it.
        const skip = rounds().length + 1;
        while (rounds().length < skip + o.rounds) await sleep(1000);
        clearInterval(lag);
        const mine = rounds().slice(skip, skip + o.rounds);
        const now = rss(d.proc.pid!);
        const peak = peakRss(d.proc.pid!);
        rows.push({
          targets: n,
          trace,
          intervalS: interval,
          rounds: mine.length,
          roundDurationMaxS: r3(Math.max(...mine.map((r) => r.duration_s as number))),
          overruns: mine.reduce((a, r) => a + (r.skipped_overrun as number), 0),
          probesFailed: mine.reduce((a, r) => a + (r.probes_failed as number), 0),
          rssMb: mb(now),
          peakRssMb: mb(peak),
          rssPer1000Mb: r3(mb(now) / (n / 1000)),
          eventLoopLagP99Ms: r3(lagMax * 1000),
        });
      } finally {
        await d.cleanup();
      }
    }
  } finally {
    await server.close();
  }
  return rows;
}
